package mpc

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cgsim/cgsim/cost"
)

// TestAccept: for drafts that agree with the rows' argmax for 0 to all of
// their tokens, Accept reveals the agreeing prefix's length and the
// argmax at the row after it, on both rings and with both tournaments,
// ties included (values on a coarse grid: the first maximum counts), with
// the counters of its Estimate.
func TestAccept(t *testing.T) {
	for _, preset := range testPresets {
		for _, nl := range []Nonlinear{Iterative, LUT} {
			cfg := testConfig(t, preset)
			cfg.Nonlinear = nl
			r := cfg.Ring
			for _, tc := range []struct{ rows, n int }{{2, 5}, {5, 9}, {9, 33}} {
				for agree := 0; agree < tc.rows; agree++ {
					t.Run(fmt.Sprintf("%s/%v/rows=%d/n=%d/agree=%d", preset, nl, tc.rows, tc.n, agree), func(t *testing.T) {
						rng := rand.New(rand.NewPCG(uint64(tc.rows*100+tc.n), uint64(agree)))
						v := make([]float64, tc.rows*tc.n)
						for i := range v {
							v[i] = float64(rng.IntN(9)-4) / 2
						}
						best := make([]int, tc.rows)
						for i := range best {
							row := v[i*tc.n : (i+1)*tc.n]
							for j, x := range row {
								if x > row[best[i]] {
									best[i] = j
								}
							}
						}
						drafts := make([]uint64, tc.rows-1)
						for i := range drafts {
							drafts[i] = uint64(best[i])
							if i == agree { // the first disagreement
								drafts[i] = uint64((best[i] + 1 + rng.IntN(tc.n-1)) % tc.n)
							}
						}
						logits, err := r.Split(v)
						if err != nil {
							t.Fatal(err)
						}
						d := Pair{{Mod: r.t, V: drafts}, {Mod: r.t, V: make([]uint64, len(drafts))}}
						a := Accept{Config: cfg, Rows: tc.rows, N: tc.n}
						var acc, tok int
						got := measure(t, cfg, func(s *Session) error { acc, tok, err = a.Run(s, logits, d); return err })
						if acc != agree || tok != best[agree] {
							t.Errorf("accepted %d, token %d; want %d, %d (argmax %v, drafts %v)", acc, tok, agree, best[agree], best, drafts)
						}
						if d := cost.CounterDiff(got, a.Estimate()); len(d) != 0 {
							t.Errorf("Run vs Estimate: %v", d)
						}
					})
				}
			}
		}
	}
}

// TestAcceptErrors: no draft token, or draft shares of the wrong length,
// are refused.
func TestAcceptErrors(t *testing.T) {
	cfg := testConfig(t, "bgv-n14")
	r := cfg.Ring
	logits, err := r.Split([]float64{1, 2, 3, 4, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rows   int
		drafts int
	}{{1, 0}, {2, 2}, {3, 1}} {
		s := NewSession(cfg, TrustedDealer{})
		d := Pair{{Mod: r.t, V: make([]uint64, tc.drafts)}, {Mod: r.t, V: make([]uint64, tc.drafts)}}
		if _, _, err := (Accept{Config: cfg, Rows: tc.rows, N: 6 / tc.rows}).Run(s, logits, d); err == nil {
			t.Errorf("%d rows with %d draft tokens accepted", tc.rows, tc.drafts)
		}
		s.Close()
	}
}
