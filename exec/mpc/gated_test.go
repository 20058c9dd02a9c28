package mpc

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cgsim/cgsim/cost"
)

// TestGatedProducts: the gated products of rows of unequal lengths open
// Σ_q b_q·T_q·z exactly (b one-hot over the octaves, T and z uniform in
// Z_t: the identity holds for any values), in one round, with the
// counters and the material of their bill.
func TestGatedProducts(t *testing.T) {
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		r := cfg.Ring
		for _, Q := range []int{1, 3, 9} {
			t.Run(fmt.Sprintf("%s/octaves=%d", preset, Q), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(Q), 31))
				lens := []int{1, 37, 0, 3, 16} // a row may have no elements, or span blocks
				rows, n := len(lens), sum(lens)
				b, tv := make([]uint64, Q*rows), make([]uint64, Q*rows) // octave-major
				for row := range rows {
					b[rng.IntN(Q)*rows+row] = 1
				}
				for i := range tv {
					tv[i] = rng.Uint64N(r.t)
				}
				z := make([]uint64, n)
				for i := range z {
					z[i] = rng.Uint64N(r.t)
				}
				var in []Pair
				for _, v := range [][]uint64{b, tv, z} {
					p, err := r.SplitElements(v)
					if err != nil {
						t.Fatal(err)
					}
					in = append(in, p)
				}
				p := newBill(cfg)
				p.open(gatedPiece(Q, n, gatedBlocks(lens)))
				got := playStep(t, cfg, p, in, func(pt *party, mine ...[]uint64) ([]uint64, error) {
					bs, ts := make([][]uint64, Q), make([][]uint64, Q)
					for q := range Q {
						bs[q], ts[q] = mine[0][q*rows:(q+1)*rows], mine[1][q*rows:(q+1)*rows]
					}
					var res []uint64
					return res, pt.open(pt.gatedOp(bs, ts, mine[2], lens, &res))
				})
				e := 0
				for row, l := range lens {
					for range l {
						want := uint64(0)
						for q := range Q {
							want = r.Add(want, r.Mul(r.Mul(b[q*rows+row], tv[q*rows+row]), z[e]))
						}
						if got[e] != want {
							t.Errorf("row %d element %d: %d, want %d", row, e, got[e], want)
						}
						e++
					}
				}
			})
		}
	}
}

// TestGatedFits: the fused round is taken up to the bound a Config sets
// (at most maxGatedTerms; none for a negative GatedTerms).
func TestGatedFits(t *testing.T) {
	def := Config{}.gatedBound()
	for _, c := range []struct {
		bound  int
		q      int
		widths []int
		fits   bool
	}{
		{def, 32, []int{1, 768}, true},          // a decoded token's GPT-2 norm
		{def, 30, []int{1, 4096}, true},         // a decoded token's Llama-3-8B norm
		{def, 10, []int{12, 12 * 513}, true},    // GPT-2's decode softmax at 512 keys
		{def, 11, []int{12, 12 * 2049}, false},  // at 2048 keys
		{def, 32, []int{128, 128 * 768}, false}, // a prefill's 128 rows
		{def, 1, []int{maxGatedTerms}, true},
		{def, 1, []int{maxGatedTerms, 1}, false},
		{Config{GatedTerms: 3906}.gatedBound(), 32, []int{1, 768}, false}, // the LAN's bound
		{Config{GatedTerms: -1}.gatedBound(), 1, []int{1}, false},
		{Config{GatedTerms: 1 << 30}.gatedBound(), 1, []int{maxGatedTerms + 1}, false},
	} {
		if got := gatedFits(c.bound, c.q, c.widths...); got != c.fits {
			t.Errorf("%d octaves over %v under %d: fits %v, want %v", c.q, c.widths, c.bound, got, c.fits)
		}
	}
}

// TestGatedFallback: without gated products (GatedTerms < 0) the norms and
// the softmax gate and multiply in two rounds, one more than with them;
// Run's counters equal Estimate's either way.
func TestGatedFallback(t *testing.T) {
	cases := map[string]bool{"rmsnorm-lut": true, "rmsnorm-lut-scaled": true, "layernorm-lut-rows": true, "softmax-lut": true, "softmax-lut-causal-heads": true}
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		off := cfg
		off.GatedTerms = -1
		for _, c := range contractCases() {
			if !cases[c.name] {
				continue
			}
			for _, n := range []int{1, 7} {
				t.Run(fmt.Sprintf("%s/t=%d-bit/n=%d", c.name, cfg.Ring.Bits(), n), func(t *testing.T) {
					fused, _ := c.run(t, cfg, n)
					est, got := c.run(t, off, n)
					if d := cost.CounterDiff(got, est); len(d) != 0 {
						t.Errorf("Run vs Estimate: %v", d)
					}
					if est.Rounds != fused.Rounds+1 {
						t.Errorf("%d rounds without gated products, %d with: want one more", est.Rounds, fused.Rounds)
					}
				})
			}
		}
	}
}
