package params

import (
	"fmt"
	"math/bits"
	"os"
	"strings"
	"testing"
)

// presetTable renders the preset table of the package documentation from
// the presets themselves.
func presetTable() []string {
	const format = "%-19s %-6s %5v %7v %6v %7v %6v %9v %6v %6v"
	lines := []string{fmt.Sprintf(format, "name", "scheme", "log N", "log Q", "log P", "log QP", "bound", "max level", "t bits", "slots")}
	for _, p := range All() {
		bound, err := MaxLogQP(p.LogN)
		if err != nil {
			bound = 0
		}
		tbits := "-"
		if p.Scheme == BGV {
			tbits = fmt.Sprint(bits.Len64(p.PlaintextModulus()))
		}
		lines = append(lines, fmt.Sprintf(format, p.Name, p.Scheme, p.LogN, fmt.Sprintf("%.1f", p.LogQ()), fmt.Sprintf("%.1f", p.LogP()),
			fmt.Sprintf("%.1f", p.LogQP()), bound, p.MaxLevel(), tbits, p.Slots()))
	}
	return lines
}

// TestDocTable checks that the table in doc.go is the one the presets give,
// so the manual cannot drift from the code. On failure it prints the table
// to paste.
func TestDocTable(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(src)
	table := presetTable()
	for _, line := range table {
		if !strings.Contains(doc, "//\t"+line+"\n") {
			t.Errorf("doc.go lacks the table line:\n%s\nthe table is:\n//\t%s", line, strings.Join(table, "\n//\t"))
			return
		}
	}
}
