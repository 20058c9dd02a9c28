package mpc

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSelects: a select opens the bit [x >= 0] and its products with m
// shared values exactly, in one round, with the counters and the
// material of its bill. The x are the comparison's edge cases (0, ±1,
// the largest positive and negative elements around t/2) and random
// elements of the whole field, the values uniform in Z_t (the identity
// holds for any).
func TestSelects(t *testing.T) {
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		r := cfg.Ring
		for m := 1; m < maxPayloads; m++ {
			t.Run(fmt.Sprintf("%s/values=%d", preset, m), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(m), 41))
				x := []uint64{0, 1, r.t - 1, r.half - 1, r.half, r.half + 1, r.Encode(2.5), r.Encode(-2.5)}
				for range 24 {
					x = append(x, rng.Uint64N(r.t))
				}
				n := len(x)
				in := []Pair{}
				for _, v := range append([][]uint64{x}, uniformRows(rng, r, m, n)...) {
					p, err := r.SplitElements(v)
					if err != nil {
						t.Fatal(err)
					}
					in = append(in, p)
				}
				ys := make([][]uint64, m)
				for j := range ys {
					ys[j], _ = r.Open(in[1+j])
				}
				p := newBill(cfg)
				p.selects(n, m)
				got := playStep(t, cfg, p, in, func(pt *party, mine ...[]uint64) ([]uint64, error) {
					bit, prods, err := pt.selects(mine[0], mine[1:]...)
					return concat(append([][]uint64{bit}, prods...)...), err
				})
				for i, v := range x {
					want := uint64(0)
					if v <= r.half { // the centered encoding: [x >= 0]
						want = 1
					}
					if got[i] != want {
						t.Fatalf("x = %d: bit %d, want %d", v, got[i], want)
					}
					for j := range m {
						if g, w := got[(1+j)*n+i], r.Mul(want, ys[j][i]); g != w {
							t.Errorf("x = %d: product %d is %d, want %d", v, j, g, w)
						}
					}
				}
			})
		}
	}
}

// uniformRows is m rows of n uniform elements of Z_t.
func uniformRows(rng *rand.Rand, r *Ring, m, n int) [][]uint64 {
	out := make([][]uint64, m)
	for j := range out {
		out[j] = make([]uint64, n)
		for i := range out[j] {
			out[j][i] = rng.Uint64N(r.t)
		}
	}
	return out
}
