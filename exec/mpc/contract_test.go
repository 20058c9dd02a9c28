package mpc

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cgsim/cgsim/cost"
)

// contractCase runs one protocol of length n on a fresh session and
// returns its Estimate and what its Run recorded.
type contractCase struct {
	name string
	run  func(t *testing.T, cfg Config, n int) (est, got cost.Cost)
}

// randomPair shares n values drawn uniformly from [lo, hi).
func randomPair(t testing.TB, r *Ring, rng *rand.Rand, n int, lo, hi float64) ([]float64, Pair) {
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*rng.Float64()
	}
	p, err := r.Split(v)
	if err != nil {
		t.Fatal(err)
	}
	for i := range v {
		v[i] = r.Decode(r.Encode(v[i])) // the values actually shared
	}
	return v, p
}

// scaledPair shares n values drawn uniformly from [lo, hi) with 2f
// fractional bits, as an untruncated product holds them.
func scaledPair(t testing.TB, r *Ring, rng *rand.Rand, n int, lo, hi float64) Pair {
	x := make([]uint64, n)
	for i := range x {
		x[i] = r.encodeAt(lo+(hi-lo)*rng.Float64(), 2*r.frac)
	}
	p, err := r.SplitElements(x)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// measure runs fn on a fresh session with the trusted dealer and returns
// the session's recorded cost.
func measure(t *testing.T, cfg Config, fn func(s *Session) error) cost.Cost {
	t.Helper()
	s := NewSession(cfg, TrustedDealer{})
	defer s.Close()
	if err := fn(s); err != nil {
		t.Fatal(err)
	}
	if left := s.Left(); left != (Need{}) {
		t.Errorf("material left over after the run: %v", left)
	}
	return s.Cost()
}

func unary(name string, mk func(cfg Config, n int) (Protocol, func(*Session, Pair) error), lo, hi float64) contractCase {
	return contractCase{name, func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
		rng := rand.New(rand.NewPCG(uint64(n), 7))
		_, x := randomPair(t, cfg.Ring, rng, n, lo, hi)
		p, fn := mk(cfg, n)
		return p.Estimate(), measure(t, cfg, func(s *Session) error { return fn(s, x) })
	}}
}

// acceptCase is Accept over 2 + n%7 rows of n + 1 logits, drafts drawn
// at random.
func acceptCase(name string, nl Nonlinear) contractCase {
	return contractCase{name, func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
		rng := rand.New(rand.NewPCG(uint64(n), 16))
		cfg.Nonlinear = nl
		a := Accept{Config: cfg, Rows: 2 + n%7, N: n + 1}
		_, x := randomPair(t, cfg.Ring, rng, a.Rows*a.N, -10, 10)
		d := make([]uint64, a.Rows-1)
		for i := range d {
			d[i] = uint64(rng.IntN(a.N))
		}
		drafts := Pair{{Mod: cfg.Ring.t, V: d}, {Mod: cfg.Ring.t, V: make([]uint64, len(d))}}
		return a.Estimate(), measure(t, cfg, func(s *Session) error { _, _, err := a.Run(s, x, drafts); return err })
	}}
}

// acceptSampledCase is AcceptSampled over 2 + n%5 rows of n + 1 logits
// (scale extra fractional bits, -1 for f: an untruncated product's) at
// temperature temp, drafts and uniforms drawn at random.
func acceptSampledCase(name string, nl Nonlinear, scale int, temp float64) contractCase {
	return contractCase{name, func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
		rng := rand.New(rand.NewPCG(uint64(n), 17))
		cfg.Nonlinear = nl
		if scale < 0 {
			scale = cfg.Ring.Frac()
		}
		a := AcceptSampled{Config: cfg, Rows: 2 + n%5, N: n + 1, Temperature: temp, Scale: scale}
		x := scaledPair(t, cfg.Ring, rng, a.Rows*a.N, -6, 6)
		if scale == 0 {
			_, x = randomPair(t, cfg.Ring, rng, a.Rows*a.N, -6, 6)
		}
		sd := sampledDraft{u: rng.Float64()}
		for range a.Rows - 1 {
			q := make([]float64, a.N)
			for j := range q {
				q[j] = 1 / float64(a.N)
			}
			sd.tokens, sd.r, sd.q = append(sd.tokens, rng.IntN(a.N)), append(sd.r, rng.Float64()), append(sd.q, q)
		}
		hot, v, q, u := sd.inputs(cfg.Ring, a.N, a.InputBits())
		return a.Estimate(), measure(t, cfg, func(s *Session) error { _, _, err := a.Run(s, x, hot, v, q, u); return err })
	}}
}

// topKCase is TopK by method over n + 1 values, keeping min(1 + n%5, n).
func topKCase(name string, m topKMethod, nl Nonlinear) contractCase {
	return contractCase{name, func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
		rng := rand.New(rand.NewPCG(uint64(n), 15))
		cfg.Nonlinear = nl
		_, x := randomPair(t, cfg.Ring, rng, n+1, -10, 10)
		p := TopK{Config: cfg, N: n + 1, K: min(1+n%5, n), Sink: cfg.Ring.Encode(32), force: m}
		return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
	}}
}

func contractCases() []contractCase {
	return []contractCase{
		{"mul", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			rng := rand.New(rand.NewPCG(uint64(n), 1))
			_, x := randomPair(t, cfg.Ring, rng, n, -4, 4)
			_, y := randomPair(t, cfg.Ring, rng, n, -4, 4)
			m := Mul{Config: cfg, N: n, Fixed: true}
			return m.Estimate(), measure(t, cfg, func(s *Session) error { _, err := m.Run(s, x, y); return err })
		}},
		unary("trunc", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			p := Trunc{Config: cfg, N: n}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -100, 100),
		{"truncmul", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			rng := rand.New(rand.NewPCG(uint64(n), 13))
			_, x := randomPair(t, cfg.Ring, rng, n, -4, 4)
			_, y := randomPair(t, cfg.Ring, rng, n, -4, 4)
			m := TruncMul{Config: cfg, N: n, Shift: cfg.Ring.Frac()}
			return m.Estimate(), measure(t, cfg, func(s *Session) error { _, err := m.Run(s, x, y); return err })
		}},
		{"truncpair", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			rng := rand.New(rand.NewPCG(uint64(n), 14))
			_, x := randomPair(t, cfg.Ring, rng, n, -4, 4)
			_, y := randomPair(t, cfg.Ring, rng, n, -4, 4)
			m := TruncPair{Config: cfg, N: n, Shift: 3}
			return m.Estimate(), measure(t, cfg, func(s *Session) error { _, err := m.Run(s, x, y); return err })
		}},
		unary("sign", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			p := Sign{Config: cfg, N: n}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -100, 100),
		unary("max", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			p := Max{Config: cfg, Rows: 1, Cols: n}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -10, 10),
		unary("argmax", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			p := Argmax{Config: cfg, N: n}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -10, 10),
		{"max-lut-rows", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			// Grouped tournaments: one level up to 24 entries, two up to
			// 576; 3 x (n + 4000) >= 12003 candidates (above 8192) start
			// with a tree level.
			rng := rand.New(rand.NewPCG(uint64(n), 12))
			cfg.Nonlinear = LUT
			cols := n
			if n%2 == 0 {
				cols += 4000
			}
			p := Max{Config: cfg, Rows: 3, Cols: cols}
			_, x := randomPair(t, cfg.Ring, rng, 3*cols, -10, 10)
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		unary("argmax-lut", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			cfg.Nonlinear = LUT
			p := Argmax{Config: cfg, N: n}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -10, 10),
		unary("exp", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			p := Exp{Config: cfg, N: n}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -20, 0),
		unary("reciprocal", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			p := Reciprocal{Config: cfg, N: n, Lo: 0, Hi: 10}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, 1, 1000),
		unary("rsqrt", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			p := Rsqrt{Config: cfg, N: n, Lo: -4, Hi: 10}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, 0.1, 1000),
		unary("softmax", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			p := Softmax{Config: cfg, Rows: 1, Cols: n}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -8, 8),
		{"softmax-causal", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			rng := rand.New(rand.NewPCG(uint64(n), 3))
			p := Softmax{Config: cfg, Rows: 1 + n%5, Cols: n + n%5, Causal: true}
			_, x := randomPair(t, cfg.Ring, rng, p.Rows*p.Cols, -8, 8)
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		{"softmax-causal-heads", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			// 3 heads of 1 + n%4 queries each over n + 1 keys.
			rng := rand.New(rand.NewPCG(uint64(n), 4))
			p := Softmax{Config: cfg, Rows: 3 * (1 + n%4), Cols: n + 1, Causal: true, Heads: 3}
			_, x := randomPair(t, cfg.Ring, rng, p.Rows*p.Cols, -8, 8)
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		unary("silu", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			p := SiLU{Config: cfg, N: n}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -20, 20),
		unary("gelu", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			p := GELU{Config: cfg, N: n}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -10, 10),
		unary("lookup", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			// Values in [-100, 100) read at bits [f, f+8) after adding 128:
			// in [28, 228), inside the window's [1, 255).
			k := 8
			p := Lookup{Config: cfg, N: n, Offset: cfg.Ring.Encode(128), Shift: cfg.Ring.Frac(), Bits: k,
				Tables: [][]uint64{IndexTable(k), IndexTable(k), IndexTable(k)}}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -100, 100),
		unary("silu-lut", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			cfg.Nonlinear = LUT
			p := SiLU{Config: cfg, N: n}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -20, 20),
		unary("gelu-lut", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			cfg.Nonlinear = LUT
			p := GELU{Config: cfg, N: n}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -10, 10),
		{"mul-scaled", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			rng := rand.New(rand.NewPCG(uint64(n), 15))
			_, x := randomPair(t, cfg.Ring, rng, n, -4, 4)
			y := scaledPair(t, cfg.Ring, rng, n, -4, 4)
			m := Mul{Config: cfg, N: n, Fixed: true, Scale: cfg.Ring.Frac()}
			return m.Estimate(), measure(t, cfg, func(s *Session) error { _, err := m.Run(s, x, y); return err })
		}},
		{"silu-lut-scaled", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			cfg.Nonlinear = LUT
			x := scaledPair(t, cfg.Ring, rand.New(rand.NewPCG(uint64(n), 16)), n, -20, 20)
			p := SiLU{Config: cfg, N: n, Scale: cfg.RawScale()}
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		{"gelu-lut-scaled", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			cfg.Nonlinear = LUT
			x := scaledPair(t, cfg.Ring, rand.New(rand.NewPCG(uint64(n), 17)), n, -10, 10)
			p := GELU{Config: cfg, N: n, Scale: cfg.RawScale()}
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		{"softmax-lut-scaled-causal-heads", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			cfg.Nonlinear = LUT
			p := Softmax{Config: cfg, Rows: 3 * (1 + n%4), Cols: n + 1, Causal: true, Heads: 3, Scale: cfg.RawScale()}
			x := scaledPair(t, cfg.Ring, rand.New(rand.NewPCG(uint64(n), 18)), p.Rows*p.Cols, -8, 8)
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		{"rmsnorm-lut-scaled", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			cfg.Nonlinear = LUT
			p := RMSNorm{Config: cfg, Rows: 2, Dim: n, Eps: 1e-5, Scale: cfg.RawScale()}
			x := scaledPair(t, cfg.Ring, rand.New(rand.NewPCG(uint64(n), 19)), 2*n, -3, 3)
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		{"layernorm-lut-scaled", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			// Rows of at most 64: wider ones with 2f bits may pass the
			// 41-bit ring's truncation range (LayerNormTakesRaw).
			cfg.Nonlinear = LUT
			dim := min(n, 64)
			p := LayerNorm{Config: cfg, Rows: max(1, n/dim), Dim: dim, Eps: 1e-5, Scale: cfg.RawScale()}
			x := scaledPair(t, cfg.Ring, rand.New(rand.NewPCG(uint64(n), 20)), p.Rows*dim, -3, 3)
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		{"swiglu-lut", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			cfg.Nonlinear = LUT
			rng := rand.New(rand.NewPCG(uint64(n), 21))
			_, g := randomPair(t, cfg.Ring, rng, n, -20, 20)
			_, u := randomPair(t, cfg.Ring, rng, n, -4, 4)
			p := SwiGLU{Config: cfg, N: n}
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, g, u); return err })
		}},
		{"swiglu-lut-raw-out", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			cfg.Nonlinear = LUT
			rng := rand.New(rand.NewPCG(uint64(n), 23))
			g, u := scaledPair(t, cfg.Ring, rng, n, -20, 20), scaledPair(t, cfg.Ring, rng, n, -4, 4)
			p := SwiGLU{Config: cfg, N: n, Scale: cfg.RawScale(), Raw: true}
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, g, u); return err })
		}},
		{"softmax-lut-raw-out", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			cfg.Nonlinear = LUT
			x := scaledPair(t, cfg.Ring, rand.New(rand.NewPCG(uint64(n), 24)), 2*n, -8, 8)
			p := Softmax{Config: cfg, Rows: 2, Cols: n, Scale: cfg.RawScale(), Raw: cfg.SoftmaxRawBits() > 0} // the ring's choice, as sim's
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		{"rmsnorm-lut-2f", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			cfg.Nonlinear = LUT
			scale := cfg.RawScale()
			if 2*scale <= cfg.MaxNormScale() { // a residual stream after a raw gated product, as sim's
				scale *= 2
			}
			x := make([]uint64, 2*n)
			rng := rand.New(rand.NewPCG(uint64(n), 25))
			for i := range x {
				x[i] = cfg.Ring.encodeAt(-3+6*rng.Float64(), cfg.Ring.frac+scale)
			}
			xp, err := cfg.Ring.SplitElements(x)
			if err != nil {
				t.Fatal(err)
			}
			p := RMSNorm{Config: cfg, Rows: 2, Dim: n, Eps: 1e-5, Scale: scale}
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, xp); return err })
		}},
		{"softmax-lut-plain", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			cfg.Nonlinear, cfg.RoundCompares = LUT, -1 // no selects: comparisons, then products
			x := scaledPair(t, cfg.Ring, rand.New(rand.NewPCG(uint64(n), 28)), 2*n, -8, 8)
			p := Softmax{Config: cfg, Rows: 2, Cols: n, Scale: cfg.RawScale()}
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		{"max-lut-tree", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			cfg.Nonlinear, cfg.RoundCompares = LUT, -1 // a round worth nothing: tree levels
			_, x := randomPair(t, cfg.Ring, rand.New(rand.NewPCG(uint64(n), 26)), 3*n, -8, 8)
			p := Max{Config: cfg, Rows: 3, Cols: n}
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		{"argmax-lut-plain", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			cfg.Nonlinear, cfg.RoundCompares = LUT, -1 // no selects: the positions' products in rounds of their own
			_, x := randomPair(t, cfg.Ring, rand.New(rand.NewPCG(uint64(n), 29)), n, -8, 8)
			p := Argmax{Config: cfg, N: n}
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		{"argmax-lut-groups", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			cfg.Nonlinear, cfg.RoundCompares = LUT, 1<<20 // a round worth many comparisons: groups
			_, x := randomPair(t, cfg.Ring, rand.New(rand.NewPCG(uint64(n), 27)), n, -8, 8)
			p := Argmax{Config: cfg, N: n}
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		{"swiglu-lut-scaled", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			cfg.Nonlinear = LUT
			rng := rand.New(rand.NewPCG(uint64(n), 22))
			g, u := scaledPair(t, cfg.Ring, rng, n, -20, 20), scaledPair(t, cfg.Ring, rng, n, -4, 4)
			p := SwiGLU{Config: cfg, N: n, Scale: cfg.RawScale()}
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, g, u); return err })
		}},
		unary("rmsnorm", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			p := RMSNorm{Config: cfg, Rows: 1, Dim: n, Eps: 1e-5}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -3, 3),
		unary("softmax-lut", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			cfg.Nonlinear = LUT
			p := Softmax{Config: cfg, Rows: 1, Cols: n}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -8, 8),
		{"softmax-lut-causal-heads", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			rng := rand.New(rand.NewPCG(uint64(n), 11))
			cfg.Nonlinear = LUT
			p := Softmax{Config: cfg, Rows: 3 * (1 + n%4), Cols: n + 1, Causal: true, Heads: 3}
			_, x := randomPair(t, cfg.Ring, rng, p.Rows*p.Cols, -8, 8)
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		unary("rmsnorm-lut", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			cfg.Nonlinear = LUT
			p := RMSNorm{Config: cfg, Rows: 1, Dim: n, Eps: 1e-5}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -3, 3),
		{"layernorm-lut-rows", func(t *testing.T, cfg Config, n int) (cost.Cost, cost.Cost) {
			rng := rand.New(rand.NewPCG(uint64(n), 9))
			cfg.Nonlinear = LUT
			p := LayerNorm{Config: cfg, Rows: 3, Dim: n, Eps: 1e-5}
			_, x := randomPair(t, cfg.Ring, rng, 3*n, -3, 3)
			return p.Estimate(), measure(t, cfg, func(s *Session) error { _, err := p.Run(s, x); return err })
		}},
		acceptCase("accept", Iterative),
		acceptCase("accept-lut", LUT),
		acceptSampledCase("accept-sampled", Iterative, 0, 0.8),
		acceptSampledCase("accept-sampled-lut", LUT, 0, 1),
		acceptSampledCase("accept-sampled-lut-scaled", LUT, -1, 1.7),
		topKCase("topk-ranks", topKRanks, Iterative),
		topKCase("topk-extraction", topKExtract, Iterative),
		topKCase("topk-extraction-lut", topKExtract, LUT),
		unary("layernorm", func(cfg Config, n int) (Protocol, func(*Session, Pair) error) {
			p := LayerNorm{Config: cfg, Rows: 1, Dim: n, Eps: 1e-5}
			return p, func(s *Session, x Pair) error { _, err := p.Run(s, x); return err }
		}, -3, 3),
	}
}

// TestRunMatchesEstimate checks, for every protocol, both moduli and
// several lengths, that the counters a Run records (bytes each way,
// rounds, share operations, triples, offline bytes) equal its Estimate.
func TestRunMatchesEstimate(t *testing.T) {
	lengths := []int{1, 7, 64, 500}
	if testing.Short() {
		lengths = []int{1, 7, 64}
	}
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		for _, c := range contractCases() {
			for _, n := range lengths {
				t.Run(fmt.Sprintf("%s/t=%d-bit/n=%d", c.name, cfg.Ring.Bits(), n), func(t *testing.T) {
					est, got := c.run(t, cfg, n)
					if d := cost.CounterDiff(got, est); len(d) != 0 {
						t.Errorf("Run vs Estimate: %v", d)
					}
				})
			}
		}
	}
}

// TestSoftmaxRuns: the runs Softmax bills its tree maximum over are its
// rows' lengths, counted (including the shapes Run refuses, which
// Estimate still prices).
func TestSoftmaxRuns(t *testing.T) {
	for _, m := range []Softmax{
		{Rows: 5, Cols: 7},
		{Rows: 4, Cols: 9, Causal: true},
		{Rows: 12, Cols: 20, Causal: true, Heads: 3},
		{Rows: 7, Cols: 9, Causal: true, Heads: 3}, // heads do not divide rows
		{Rows: 2, Cols: 9, Causal: true, Heads: 5}, // more heads than rows
	} {
		want := map[int]int{}
		for _, l := range m.lens() {
			want[l]++
		}
		got := map[int]int{}
		prev := math.MinInt
		for _, r := range m.runs() {
			if r.len <= prev {
				t.Errorf("%+v: runs not ascending: %v", m, m.runs())
			}
			prev = r.len
			got[r.len] += r.count
		}
		if !maps.Equal(got, want) {
			t.Errorf("%+v: runs %v, lens count %v", m, got, want)
		}
	}
}
