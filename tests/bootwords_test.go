package tests

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"lazymm/kernel/catalog"
)

// TestBootWordsCatalogued: every word the kernel looks for with CmdlineHas is one the catalogue
// knows, so the arch layers and the runner cannot drift apart on a word's spelling.
func TestBootWordsCatalogued(t *testing.T) {
	n := 0
	filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		ast.Inspect(f, func(x ast.Node) bool {
			call, ok := x.(*ast.CallExpr)
			if !ok || len(call.Args) != 1 || !isCmdlineHas(call.Fun) {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok {
				t.Errorf("%s: CmdlineHas with a word that is not a literal", path)
				return true
			}
			word, _ := strconv.Unquote(lit.Value)
			if err := catalog.CheckWord(word); err != nil {
				t.Errorf("%s: CmdlineHas(%q): %v", path, word, err)
			}
			n++
			return true
		})
		return nil
	})
	if n == 0 {
		t.Fatal("found no CmdlineHas call: the test reads nothing")
	}
}

func isCmdlineHas(fun ast.Expr) bool {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name == "CmdlineHas"
	case *ast.SelectorExpr:
		return f.Sel.Name == "CmdlineHas"
	}
	return false
}
