package tests

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the longest function, from func to its closing brace, allowed in kernel/ and
// tools/ outside tests: one screen.
const maxFuncLines = 80

// TestFunctionLength keeps kernel/ and tools/ readable a screen at a time.
func TestFunctionLength(t *testing.T) {
	fset := token.NewFileSet()
	funcs := 0
	for _, root := range []string{"../kernel", "../tools"} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				return nil
			}
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
					funcs++
					if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > maxFuncLines {
						t.Errorf("%s: %s is %d lines (at most %d)", path, fd.Name.Name, n, maxFuncLines)
					}
				}
			}
			return nil
		})
	}
	if funcs < 100 {
		t.Fatalf("read only %d functions: the walk went wrong", funcs)
	}
}
