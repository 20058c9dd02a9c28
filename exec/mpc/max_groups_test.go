package mpc

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cgsim/cgsim/model"
)

// TestGroupSize: the fewest levels whose group is at most the cap, and
// the least group for them; the cap of a level from its candidates.
func TestGroupSize(t *testing.T) {
	for _, c := range []struct{ l, gmax, g int }{
		{1, 24, 1}, {2, 24, 2}, {3, 24, 3}, {24, 24, 24}, // one level
		{25, 24, 5}, {65, 24, 9}, {129, 24, 12}, {512, 24, 23}, {576, 24, 24}, // two: 9² = 81 >= 65 > 8², 23² = 529
		{577, 24, 9},              // three: 9³ = 729 >= 577 > 8³
		{65, 17, 9}, {512, 17, 8}, // at a cap of 17: two levels and three (8³ = 512)
		{50257, 5, 5}, // seven: 5^7 = 78125 >= 50257 > 4^7
		{7, 2, 2},     // the tree
	} {
		if got := groupSize(c.l, c.gmax); got != c.g {
			t.Errorf("groupSize(%d, %d) = %d, want %d", c.l, c.gmax, got, c.g)
		}
	}
	for _, c := range []struct{ m, cap int }{
		{1, 24}, {520, 24}, {1548, 21}, // a decode's rows (stories260K: 8 heads x 65; GPT-2: 12 x 129)
		{4096, 9},    // 4 pairs per entry
		{8192, 5},    // 2
		{10923, 2},   // 1.5: groups of 3 would be a tree's reduction for more comparisons
		{1 << 15, 2}, // a prefill's piece
		{50257, 2},   // GPT-2's logits
	} {
		if got := levelCap(c.m); got != c.cap {
			t.Errorf("levelCap(%d) = %d, want %d", c.m, got, c.cap)
		}
	}
}

// TestMaxGroupsExact: the grouped tournaments return every row's maximum
// and the argmax its first position, exactly, on ties too (values drawn
// from a few levels so that rows repeat their maximum), at one, two and
// three levels of groups, and after tree levels.
func TestMaxGroupsExact(t *testing.T) {
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		lut := cfg
		lut.Nonlinear = LUT
		for _, n := range []int{1, 2, 3, 5, 64, 129, 700, 6000, 9001} { // beyond 8192 candidates a tree level first (the argmax: 9001)
			t.Run(fmt.Sprintf("t=%d-bit/n=%d", cfg.Ring.Bits(), n), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(n), 5))
				rows := 2
				v := make([]float64, rows*n)
				for i := range v {
					v[i] = float64(rng.IntN(6)) - 3 + 0.25*float64(rng.IntN(2))
				}
				x, err := cfg.Ring.Split(v)
				if err != nil {
					t.Fatal(err)
				}
				s := NewSession(lut, TrustedDealer{})
				defer s.Close()
				mx, err := Max{Config: lut, Rows: rows, Cols: n}.Run(s, x)
				if err != nil {
					t.Fatal(err)
				}
				got, err := cfg.Ring.Open(mx)
				if err != nil {
					t.Fatal(err)
				}
				for i := range rows {
					row := v[i*n : (i+1)*n]
					want := row[model.Argmax(row)]
					if g := cfg.Ring.Decode(got[i]); g != want {
						t.Errorf("row %d: max %v, want %v", i, g, want)
					}
				}
				row0, err := cfg.Ring.Split(v[:n])
				if err != nil {
					t.Fatal(err)
				}
				pos, err := Argmax{Config: lut, N: n}.Run(s, row0)
				if err != nil {
					t.Fatal(err)
				}
				if want := model.Argmax(v[:n]); pos != want {
					t.Errorf("argmax %d, want %d (first of ties)", pos, want)
				}
			})
		}
	}
}
