package exec

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
)

// TestPads checks the server's pads (pads.go) with the client's key, in
// both domains: each decrypts to the opposite of its mask, which covers
// every slot; its payload is the flooding's (log2 t + f, within a bit:
// E is uniform in [-2^f, 2^f), and the fresh encryption and the mask are
// far below it); the masks of two pads differ; and the tally holds
// exactly padCost's counters, with the pads' time as offline seconds and
// none online.
func TestPads(t *testing.T) {
	for _, name := range hetest.Presets() {
		e := hetest.ForTest(t, name)
		p := e.Params
		sess, err := NewSession(p)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		nm := NewNoiseModel(p)
		sp, err := nm.returnPathFor(nm.FreshSK(), p.MaxLevel())
		if err != nil {
			t.Fatal(err)
		}
		tm := p.PlaintextModulus()
		for _, dom := range []Domain{Slots, Coefficients} {
			t.Run(fmt.Sprintf("%s/%s", name, dom), func(t *testing.T) {
				cts := make([]*rlwe.Ciphertext, 3)
				for i := range cts {
					cts[i] = bgv.NewCiphertext(p, 1, sp.from)
					cts[i].IsBatched = bool(dom)
				}
				tally := cost.NewTally(e.Profile)
				pads, err := sess.Server.makePads(tally, cts, sp)
				if err != nil {
					t.Fatal(err)
				}
				c := sess.client
				for i, pd := range pads {
					if pd.z.Level() != sp.from || pd.z.IsBatched != bool(dom) || pd.z.Scale.Cmp(cts[i].Scale) != 0 {
						t.Fatalf("pad %d: level %d, batched %v, scale %v; the ciphertext's %d, %v, %v",
							i, pd.z.Level(), pd.z.IsBatched, pd.z.Scale, sp.from, cts[i].IsBatched, cts[i].Scale)
					}
					got := make([]uint64, p.MaxSlots())
					if err := c.ecd.Decode(c.dec.DecryptNew(pd.z), got); err != nil {
						t.Fatal(err)
					}
					if len(pd.r) != p.MaxSlots() {
						t.Fatalf("pad %d: a mask of %d values for %d slots", i, len(pd.r), p.MaxSlots())
					}
					for j, r := range pd.r {
						if (got[j]+r)%tm != 0 {
							t.Fatalf("pad %d, slot %d: decrypts to %d, the mask is %d", i, j, got[j], r)
						}
					}
					want := math.Log2(float64(tm)) + float64(sp.floodInt())
					if bits := c.PayloadBits(pd.z); math.Abs(bits-want) > 1 {
						t.Errorf("pad %d: payload of %.2f bits, the flooding's is %.2f", i, bits, want)
					}
					if i > 0 && slices.Equal(pd.r, pads[i-1].r) {
						t.Errorf("pads %d and %d have the same mask", i-1, i)
					}
				}
				got := tally.Cost()
				hetest.CheckCounters(t, "pads", got, padCost(e.Profile, p.LogN(), sp, dom, int64(len(cts))))
				if got.ComputeSeconds != 0 || !(got.OfflineSeconds > 0) {
					t.Errorf("pads: %v s online, %v s offline", got.ComputeSeconds, got.OfflineSeconds)
				}
			})
		}
	}
}
