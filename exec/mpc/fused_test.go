package mpc

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// truncInputs are integers at the edges of the truncation's range
// |x| < 2^ℓ (and ±2^k) and random ones, shared.
func truncInputs(t *testing.T, r *Ring, rng *rand.Rand, k int) ([]int64, Pair) {
	l := r.TruncBound()
	ints := []int64{0, 1, -1, 1<<l - 1, -(1<<l - 1), 1 << k, -(1 << k)}
	for range 200 {
		ints = append(ints, rng.Int64N(1<<l)-1<<(l-1))
	}
	xs := make([]uint64, len(ints))
	for i, v := range ints {
		xs[i] = r.FromInt(v)
	}
	x, err := r.SplitElements(xs)
	if err != nil {
		t.Fatal(err)
	}
	return ints, x
}

// TestTruncMul: trunc(x, k)·y is the truncation's result (within 2 units
// of ⌊x/2^k⌋, as trunc) times y, for small integers y, at the edges of
// the range.
func TestTruncMul(t *testing.T) {
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		r := cfg.Ring
		rng := rand.New(rand.NewPCG(15, 16))
		for _, k := range []int{1, r.frac, r.work} {
			t.Run(fmt.Sprintf("%s/k=%d", preset, k), func(t *testing.T) {
				ints, x := truncInputs(t, r, rng, k)
				ys := make([]uint64, len(ints))
				yv := make([]int64, len(ints))
				for i := range ys {
					yv[i] = rng.Int64N(7) - 3
					ys[i] = r.FromInt(yv[i])
				}
				y, _ := r.SplitElements(ys)
				s := NewSession(cfg, TrustedDealer{})
				defer s.Close()
				z, err := TruncMul{Config: cfg, N: len(ints), Shift: k}.Run(s, x, y)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := r.Open(z)
				for i, v := range ints {
					want := (v >> k) * yv[i]
					if d := r.ToInt(got[i]) - want; d < -2*abs64(yv[i]) || d > 2*abs64(yv[i]) {
						t.Errorf("⌊%d/2^%d⌋·%d = %d, got %d", v, k, yv[i], want, r.ToInt(got[i]))
					}
				}
			})
		}
	}
}

// TestTruncPair: both truncations within 2 units of ⌊x/2^k⌋, and the
// product exactly theirs (mod t), the truncations' magnitudes kept small
// enough (k large) that it is an integer product.
func TestTruncPair(t *testing.T) {
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		r := cfg.Ring
		rng := rand.New(rand.NewPCG(17, 18))
		for _, k := range []int{r.frac, r.work, r.TruncBound() - 8} {
			t.Run(fmt.Sprintf("%s/k=%d", preset, k), func(t *testing.T) {
				ints1, x1 := truncInputs(t, r, rng, k)
				ints2, x2 := truncInputs(t, r, rng, k)
				n := len(ints1)
				s := NewSession(cfg, TrustedDealer{})
				defer s.Close()
				out, err := TruncPair{Config: cfg, N: n, Shift: k}.Run(s, x1, x2)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := r.Open(out)
				for i := range n {
					z1, z2, pr := got[i], got[n+i], got[2*n+i]
					for j, c := range []struct {
						v int64
						z uint64
					}{{ints1[i], z1}, {ints2[i], z2}} {
						if d := r.ToInt(c.z) - c.v>>k; d < -2 || d > 2 {
							t.Errorf("operand %d: ⌊%d/2^%d⌋ = %d, got %d", j, c.v, k, c.v>>k, r.ToInt(c.z))
						}
					}
					if pr != r.Mul(z1, z2) {
						t.Errorf("product %d, want %d·%d = %d", pr, z1, z2, r.Mul(z1, z2))
					}
				}
			})
		}
	}
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
