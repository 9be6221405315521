package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The Suite speed section is replaced in place, the sections around it kept; a report without one
// gets it before its first section.
func TestReplaceSection(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{"# B\n\nintro\n\n## Suite speed\n\nold\n\n## Reading\n\nr\n", "# B\n\nintro\n\n## Suite speed\n\nnew\n\n## Reading\n\nr\n"},
		{"# B\n\nintro\n\n## Reading\n\nr\n", "# B\n\nintro\n\n## Suite speed\n\nnew\n\n## Reading\n\nr\n"},
		{"# B\n\n## Suite speed\n\nold\n", "# B\n\n## Suite speed\n\nnew\n\n"},
	} {
		p := filepath.Join(t.TempDir(), "b.md")
		os.WriteFile(p, []byte(c.doc), 0o644)
		if err := replaceSection(p, "## Suite speed\n\nnew\n\n"); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != c.want {
			t.Errorf("got %q, want %q", b, c.want)
		}
	}
}
