package mpc

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDCF checks the distributed comparison function against [c < α] on
// edge values (0, 1, the middle of Z_t, t-1 and their neighbours) and
// random ones, for both presets' moduli, with β = 1 and β = -1.
func TestDCF(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, preset := range testPresets {
		r := testConfig(t, preset).Ring
		edges := []uint64{0, 1, 2, r.half - 1, r.half, r.half + 1, r.t - 2, r.t - 1}
		var vals []uint64
		vals = append(vals, edges...)
		for range 12 {
			vals = append(vals, rng.Uint64N(r.t))
		}
		for _, alpha := range vals {
			for _, beta := range []uint64{1, r.t - 1} {
				s0 := block{rng.Uint64(), rng.Uint64()}.clearLSB()
				s1 := block{rng.Uint64(), rng.Uint64()}.clearLSB()
				var pg dcfPRG
				k := r.dcfGen(&pg, r.bits, alpha, beta, s0, s1)
				cs := append([]uint64{alpha - min(alpha, 1), alpha, min(alpha+1, r.t-1)}, vals...)
				for _, c := range cs {
					got := r.Add(r.dcfEval(&pg, 0, s0, k.cw, k.final[0], c), r.dcfEval(&pg, 1, s1, k.cw, k.final[0], c))
					want := uint64(0)
					if c < alpha {
						want = beta
					}
					if got != want {
						t.Fatalf("%s: α=%d β=%d c=%d: got %d want %d", preset, alpha, beta, c, got, want)
					}
				}
			}
		}
	}
}

// TestDCFPayloads checks keys of several payloads on one path (dcfGenN):
// every payload's shares sum to β_j·[c < α], and payload 0 evaluated
// alone (dcfEval) agrees with it.
func TestDCFPayloads(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, preset := range testPresets {
		r := testConfig(t, preset).Ring
		for m := 1; m <= maxPayloads; m++ {
			for range 10 {
				alpha := rng.Uint64N(r.t)
				betas := make([]uint64, m)
				for j := range betas {
					betas[j] = rng.Uint64N(r.t)
				}
				s0 := block{rng.Uint64(), rng.Uint64()}.clearLSB()
				s1 := block{rng.Uint64(), rng.Uint64()}.clearLSB()
				var pg dcfPRG
				k := r.dcfGenN(&pg, r.bits, alpha, betas, s0, s1)
				o0, o1 := make([]uint64, m), make([]uint64, m)
				for _, c := range []uint64{0, alpha - min(alpha, 1), alpha, min(alpha+1, r.t-1), r.t - 1, rng.Uint64N(r.t)} {
					r.dcfEvalN(&pg, 0, s0, k.cw, k.xv, k.final, c, o0)
					r.dcfEvalN(&pg, 1, s1, k.cw, k.xv, k.final, c, o1)
					for j := range m {
						want := uint64(0)
						if c < alpha {
							want = betas[j]
						}
						if got := r.Add(o0[j], o1[j]); got != want {
							t.Fatalf("%s: %d payloads, α=%d c=%d: payload %d got %d want %d", preset, m, alpha, c, j, got, want)
						}
					}
					if one := r.dcfEval(&pg, 0, s0, k.cw, k.final[0], c); one != o0[0] {
						t.Fatalf("%s: payload 0 alone %d, with the others %d", preset, one, o0[0])
					}
				}
			}
		}
	}
}

// TestSignEdges runs Sign on the edge cases of the centered encoding — 0,
// ±1 unit, ±1, the limits ±(2^IntBits - 2^-f) of the fixed-point range,
// the elements around t/2 (the largest positive and negative elements) —
// and random elements of the whole field, and checks [x >= 0] exactly.
func TestSignEdges(t *testing.T) {
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		r := cfg.Ring
		limit := math.Ldexp(1, r.fp.IntBits) - math.Ldexp(1, -r.frac)
		var xs []uint64
		for _, v := range []float64{0, math.Ldexp(1, -r.frac), -math.Ldexp(1, -r.frac), 1, -1, limit, -limit} {
			xs = append(xs, r.Encode(v))
		}
		xs = append(xs, r.half-1, r.half, r.half+1, r.half+2, 1, r.t-1, r.t-2)
		rng := rand.New(rand.NewPCG(7, 8))
		for range 300 {
			xs = append(xs, rng.Uint64N(r.t))
		}
		x, err := r.SplitElements(xs)
		if err != nil {
			t.Fatal(err)
		}
		s := NewSession(cfg, TrustedDealer{})
		b, err := Sign{Config: cfg, N: len(xs)}.Run(s, x)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := r.Open(b)
		for i, v := range xs {
			want := uint64(0)
			if v <= r.half {
				want = 1
			}
			if got[i] != want {
				t.Errorf("%s: sign of element %d (centered %d): got %d want %d", preset, v, r.ToInt(v), got[i], want)
			}
		}
		if c := s.Cost(); c.Rounds != 1 {
			t.Errorf("%s: sign took %d rounds, want 1", preset, c.Rounds)
		}
	}
}

// TestTruncShifts checks truncation by several shifts at the edges of its
// range |x| < 2^ℓ: within 2 units of the last place.
func TestTruncShifts(t *testing.T) {
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		r := cfg.Ring
		rng := rand.New(rand.NewPCG(9, 10))
		for _, k := range []int{1, r.frac, r.work, 2*r.work - r.frac} {
			t.Run(fmt.Sprintf("%s/k=%d", preset, k), func(t *testing.T) {
				ints, x := truncInputs(t, r, rng, k)
				s := NewSession(cfg, TrustedDealer{})
				defer s.Close()
				if err := s.Preprocess(truncPiece(len(ints), k).need); err != nil {
					t.Fatal(err)
				}
				z, err := s.playBoth([]Pair{x}, func(p *party, mine ...[]uint64) ([]uint64, error) {
					return p.trunc(mine[0], k)
				})
				if err != nil {
					t.Fatal(err)
				}
				got, _ := r.Open(z)
				for i, v := range ints {
					want := v >> k // floor division
					if d := r.ToInt(got[i]) - want; d < -2 || d > 2 {
						t.Errorf("⌊%d/2^%d⌋ = %d, got %d", v, k, want, r.ToInt(got[i]))
					}
				}
			})
		}
	}
}

// TestWireEncoding: encode and decodeInto round-trip vectors at every
// element width, appending to a destination that holds something already
// and to one of exactly the capacity needed, and decodeInto refuses an
// element that is not reduced.
func TestWireEncoding(t *testing.T) {
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		r := cfg.Ring
		for _, n := range []int{0, 1, 7, 64} {
			x := make([]uint64, n)
			for i := range x {
				x[i] = r.t - 1 - uint64(i) // the widest elements
			}
			head := []byte{0xAA, 0xBB}
			exact := make([]byte, 0, n*r.width+8-r.width)
			for _, dst := range [][]byte{nil, head, exact} {
				w := r.encode(slices.Clone(dst), x)
				if len(w) != len(dst)+n*r.width || !bytes.Equal(w[:len(dst)], dst) {
					t.Fatalf("%s n=%d: encoded %d bytes after %d", preset, n, len(w), len(dst))
				}
				got, err := r.decodeInto([]uint64{42}, w[len(dst):], n)
				if err != nil || got[0] != 42 || !slices.Equal(got[1:], x) {
					t.Fatalf("%s n=%d: decoded %v, %v", preset, n, got, err)
				}
			}
		}
		bad := r.encode(nil, []uint64{r.t - 1})
		bad[0]++ // t, or past it: not reduced
		if r.width < 8 && bad[0] != 0 {
			if _, err := r.decodeInto(nil, bad, 1); err == nil {
				t.Errorf("%s: an unreduced element decoded", preset)
			}
		}
	}
}
