package exec

import (
	"slices"
	"testing"
)

// TestPrefillLayout checks the layout's packing on a few shapes by hand.
func TestPrefillLayout(t *testing.T) {
	tests := []struct {
		slots, kvHeads, headDim, m int
		span, copies, cts, groups  int
	}{
		// stories260K at N = 8192: W = 32, B = 256 (128 per row).
		{8192, 4, 8, 1, 1, 256, 1, 1},
		{8192, 4, 8, 5, 8, 32, 1, 1},
		{8192, 4, 8, 32, 32, 8, 1, 4},
		{8192, 4, 8, 128, 128, 2, 1, 64},
		{8192, 4, 8, 129, 256, 1, 1, 129}, // beyond a row: the decode layout
		{8192, 4, 8, 300, 256, 1, 2, 300},
		// GPT-2 at N = 8192: W = 1024, B = 8 (4 per row).
		{8192, 12, 64, 5, 8, 1, 1, 5},
		{8192, 12, 64, 3, 4, 2, 1, 2},
	}
	for _, tt := range tests {
		l, err := NewPromptLayout(tt.slots, tt.kvHeads, tt.headDim, tt.m)
		if err != nil {
			t.Fatal(err)
		}
		if l.Span != tt.span || l.Copies != tt.copies || l.Cts() != tt.cts || l.Groups() != tt.groups {
			t.Errorf("%+v: got S=%d R=%d cts=%d groups=%d", tt, l.Span, l.Copies, l.Cts(), l.Groups())
		}
		// Copies never straddle a slot row.
		for r := 0; r < l.Copies; r++ {
			first, last := l.Slot(r, 0, 0), l.Slot(r, l.Span-1, 0)
			if first/(tt.slots/2) != last/(tt.slots/2) && l.Copies > 1 {
				t.Errorf("%+v: copy %d straddles the rows", tt, r)
			}
		}
	}
	if _, err := NewPromptLayout(8192, 4, 8, 0); err == nil {
		t.Error("empty prompt accepted")
	}
}

// TestLayoutsAgree checks the claim of PromptLayout's documentation that
// a prompt longer than a slot row of blocks is laid out in the decode
// layout, and the decode layout's slots against their formula.
func TestLayoutsAgree(t *testing.T) {
	// stories260K at N = 8192: W = 32, B = 256; GPT-2: W = 1024, B = 8.
	for _, tt := range []struct{ slots, kvHeads, headDim, m int }{{8192, 4, 8, 300}, {8192, 12, 64, 20}} {
		dec, err := NewCacheLayout(tt.slots, tt.kvHeads, tt.headDim)
		if err != nil {
			t.Fatal(err)
		}
		pre, err := NewPromptLayout(tt.slots, tt.kvHeads, tt.headDim, tt.m)
		if err != nil {
			t.Fatal(err)
		}
		if pre.Span != dec.TokensPerCt || pre.Copies != 1 || pre.Cts() != dec.Cts(tt.m) {
			t.Fatalf("%+v: prefill S=%d R=%d cts=%d, decode B=%d cts=%d", tt, pre.Span, pre.Copies, pre.Cts(), dec.TokensPerCt, dec.Cts(tt.m))
		}
		B, row := dec.TokensPerCt, tt.slots/2
		for j := 0; j < tt.m; j++ {
			for _, e := range []int{0, dec.KVDim() - 1} {
				want := (j%B)/(B/2)*row + (j%(B/2))*dec.Block + e
				if got := dec.Slot(j, e); got != want {
					t.Fatalf("%+v: decode slot of token %d element %d is %d, want %d", tt, j, e, got, want)
				}
				if got := pre.Slot(0, j%B, e); got != want {
					t.Fatalf("%+v: prefill slot of token %d element %d is %d, want %d", tt, j, e, got, want)
				}
			}
		}
		rows := make([]uint64, tt.m*dec.KVDim())
		for i := range rows {
			rows[i] = uint64(i + 1)
		}
		if dv, pv := dec.Vectors(rows), pre.Vectors(rows); !slices.Equal(flatten(dv), flatten(pv)) {
			t.Fatalf("%+v: the layouts' vectors differ", tt)
		}
	}
}

func flatten(vs [][]uint64) []uint64 {
	var out []uint64
	for _, v := range vs {
		out = append(out, v...)
	}
	return out
}
