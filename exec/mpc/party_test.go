package mpc

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPartyCodeSeesOneShare reads the package's source and checks that
// the code of a party (every method of *party and every protocol's play
// method) names none of the things through which it could reach the other
// party's share: a Pair or a Share (both parties' shares, resp. a share
// with its modulus, which only Run handles), a Session (which holds both
// parties) or its parties array. A party's code works on []uint64 values
// that are its own shares, received as arguments or computed from them.
func TestPartyCodeSeesOneShare(t *testing.T) {
	forbidden := map[string]bool{"Pair": true, "Share": true, "Session": true, "parties": true, "playBoth": true, "each": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Body == nil {
				continue
			}
			recv := types(fn.Recv.List[0].Type)
			if recv != "*party" && fn.Name.Name != "play" {
				continue
			}
			checked++
			ast.Inspect(fn, func(n ast.Node) bool {
				if id, ok := n.(*ast.Ident); ok && forbidden[id.Name] {
					t.Errorf("%s: %s.%s names %s: party code must see only its own shares", fset.Position(id.Pos()), recv, fn.Name.Name, id.Name)
				}
				return true
			})
		}
	}
	// mul, trunc, sign, the openings, the local operations, the building
	// blocks and the 13 protocols: a count far below this means the test
	// no longer finds the party code.
	if checked < 40 {
		t.Fatalf("checked %d functions of party code, expected at least 40", checked)
	}
}

// types renders a receiver type: T or *T.
func types(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return "*" + types(e.X)
	case *ast.Ident:
		return e.Name
	}
	return "?"
}
