package exec

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
)

func TestCtBytes(t *testing.T) {
	for _, name := range hetest.Presets() {
		e := hetest.ForTest(t, name)
		for lvl := 0; lvl <= e.Params.MaxLevel(); lvl++ {
			ct := bgv.NewCiphertext(e.Params, 1, lvl)
			b, err := ct.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ctBytes(e.Params.LogN(), lvl), int64(len(b)+8); got != want {
				t.Errorf("%s level %d: ctBytes %d, marshalled+frame %d", name, lvl, got, want)
			}
		}
	}
}

// TestShareConversion converts a random shared vector to a ciphertext (C2S)
// and back to shares (H2S): the value must survive exactly, and the counters
// of both Runs equal their Estimates.
func TestShareConversion(t *testing.T) {
	for _, name := range hetest.Presets() {
		e := hetest.ForTest(t, name)
		p := e.Params
		sess, err := NewSession(p)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		tm := p.PlaintextModulus()
		// Lengths: one element, a partial ciphertext, exactly one, and a
		// spill into a second ciphertext.
		for _, n := range []int{1, 100, p.MaxSlots(), p.MaxSlots() + 3} {
			t.Run(fmt.Sprintf("%s/len=%d", name, n), func(t *testing.T) {
				x := hetest.RandVec(tm, n)
				c2s := NewC2S(p, e.Profile, n)
				tally := cost.NewTally(e.Profile)
				cts, err := c2s.Run(sess, tally, share(t, x, tm))
				if err != nil {
					t.Fatal(err)
				}
				hetest.CheckCounters(t, "C2S", tally.Cost(), c2s.Estimate())
				h2s, err := NewH2S(p, e.Profile, n, c2s.Level, NewNoiseModel(p).FreshSK())
				if err != nil {
					t.Fatal(err)
				}
				tally = cost.NewTally(e.Profile)
				y, err := h2s.Run(sess, tally, cts)
				if err != nil {
					t.Fatal(err)
				}
				hetest.CheckCounters(t, "H2S", tally.Cost(), h2s.Estimate())
				if !slices.Equal(y.Reveal(tm), x) {
					t.Fatal("round trip changed the vector")
				}
				if h2s.SendLevel() >= c2s.Level && p.MaxLevel() > 0 {
					t.Logf("sent at level %d (from %d)", h2s.SendLevel(), c2s.Level)
				}
			})
		}
	}
}
