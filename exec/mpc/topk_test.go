package mpc

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cgsim/cgsim/cost"
)

// TestTopK: both methods, both rings and both tournaments keep exactly
// the K first positions in the order (value, then position), ties
// included, sink the others by exactly Sink, and record the counters of
// their Estimate.
func TestTopK(t *testing.T) {
	for _, preset := range testPresets {
		for _, nl := range []Nonlinear{Iterative, LUT} {
			for _, method := range []topKMethod{topKRanks, topKExtract} {
				cfg := testConfig(t, preset)
				cfg.Nonlinear = nl
				r := cfg.Ring
				for _, tc := range []struct{ n, k int }{{2, 1}, {9, 3}, {9, 8}, {40, 5}} {
					t.Run(fmt.Sprintf("%s/%v/%v/n=%d/k=%d", preset, nl, method, tc.n, tc.k), func(t *testing.T) {
						rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.k)))
						// Values on a coarse grid so that ties occur.
						v := make([]float64, tc.n)
						for i := range v {
							v[i] = float64(rng.IntN(7)-3) / 2
						}
						x, err := r.Split(v)
						if err != nil {
							t.Fatal(err)
						}
						p := TopK{Config: cfg, N: tc.n, K: tc.k, Sink: r.Encode(16), force: method}
						var y Pair
						got := measure(t, cfg, func(s *Session) error { y, err = p.Run(s, x); return err })
						if d := cost.CounterDiff(got, p.Estimate()); len(d) != 0 {
							t.Errorf("Run vs Estimate: %v", d)
						}
						out, err := r.Open(y)
						if err != nil {
							t.Fatal(err)
						}
						order := make([]int, tc.n)
						for i := range order {
							order[i] = i
						}
						slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(v[b], v[a]) })
						kept := make([]bool, tc.n)
						for _, i := range order[:tc.k] {
							kept[i] = true
						}
						for i := range v {
							want := r.Encode(v[i])
							if !kept[i] {
								want = r.Sub(want, p.Sink)
							}
							if out[i] != want {
								t.Errorf("values %v: position %d (kept %v) is %v", v, i, kept[i], r.Decode(out[i]))
							}
						}
					})
				}
			}
		}
	}
}

// TestTopKErrors: a K outside [1, N) is refused, with no panic and no
// material taken.
func TestTopKErrors(t *testing.T) {
	cfg := testConfig(t, "bgv-n14")
	x, err := cfg.Ring.Split([]float64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{0, 3, -1} {
		s := NewSession(cfg, TrustedDealer{})
		if _, err := (TopK{Config: cfg, N: 3, K: k}).Run(s, x); err == nil {
			t.Errorf("K = %d of 3 accepted", k)
		}
		s.Close()
	}
}

// TestTopKPlan: the ranks' two rounds win where a round trip is worth
// many comparisons or the vocabulary is small, the extraction where round
// trips are cheap and K is small against N, and never past topKMaxPairs.
func TestTopKPlan(t *testing.T) {
	cfg := testConfig(t, "bgv-n14")
	for _, tc := range []struct {
		n, k, worth int
		want        topKMethod
	}{
		{9, 3, -1, topKRanks},          // 36 + 9 comparisons against 3 tournaments of 8 and 27
		{512, 40, 3500, topKRanks},     // stories260K on the WAN
		{512, 40, 44, topKExtract},     // on the LAN
		{50257, 40, 3500, topKExtract}, // GPT-2: 1.26e9 pairs
		{725, 2, 1 << 30, topKExtract}, // 262450 pairs > 2^18
	} {
		cfg.RoundCompares = tc.worth
		if got := (TopK{Config: cfg, N: tc.n, K: tc.k}).method(); got != tc.want {
			t.Errorf("N = %d, K = %d, round worth %d: %v, want %v", tc.n, tc.k, tc.worth, got, tc.want)
		}
	}
}
