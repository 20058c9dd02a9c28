package mpc

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// costProtocols are the protocols of the cost table and the benchmarks,
// for n elements, with input ranges where Run is meaningful.
func costProtocols(cfg Config, n int) []struct {
	name   string
	p      Protocol
	lo, hi float64
	run    func(s *Session, x Pair) error
} {
	type entry = struct {
		name   string
		p      Protocol
		lo, hi float64
		run    func(s *Session, x Pair) error
	}
	mul := Mul{Config: cfg, N: n, Fixed: true}
	tr := Trunc{Config: cfg, N: n}
	sg := Sign{Config: cfg, N: n}
	mx := Max{Config: cfg, Rows: 1, Cols: n}
	am := Argmax{Config: cfg, N: n}
	ex := Exp{Config: cfg, N: n}
	rc := Reciprocal{Config: cfg, N: n, Lo: 0, Hi: 10}
	rs := Rsqrt{Config: cfg, N: n, Lo: -10, Hi: 16}
	sm := Softmax{Config: cfg, Rows: 1, Cols: n}
	si := SiLU{Config: cfg, N: n}
	ge := GELU{Config: cfg, N: n}
	rn := RMSNorm{Config: cfg, Rows: 1, Dim: n, Eps: 1e-5}
	ln := LayerNorm{Config: cfg, Rows: 1, Dim: n, Eps: 1e-5}
	lut := cfg
	lut.Nonlinear = LUT
	lk := Lookup{Config: cfg, N: n, Offset: cfg.Ring.Encode(16), Shift: cfg.Ring.Frac() - 4, Bits: 10, Tables: [][]uint64{IndexTable(10)}}
	sl := SiLU{Config: lut, N: n}
	gl := GELU{Config: lut, N: n}
	rl := RMSNorm{Config: lut, Rows: 1, Dim: n, Eps: 1e-5}
	sml := Softmax{Config: lut, Rows: 1, Cols: n}
	ll := LayerNorm{Config: lut, Rows: 1, Dim: n, Eps: 1e-5}
	mxl := Max{Config: lut, Rows: 1, Cols: n}
	aml := Argmax{Config: lut, N: n}
	tm := TruncMul{Config: cfg, N: n, Shift: cfg.Ring.Frac()}
	tp := TruncPair{Config: cfg, N: n, Shift: cfg.Ring.Frac()}
	sw := SwiGLU{Config: lut, N: n}
	return []entry{
		{"mul (fixed)", mul, -4, 4, func(s *Session, x Pair) error { _, err := mul.Run(s, x, x); return err }},
		{"trunc", tr, -100, 100, func(s *Session, x Pair) error { _, err := tr.Run(s, x); return err }},
		{"sign", sg, -100, 100, func(s *Session, x Pair) error { _, err := sg.Run(s, x); return err }},
		{"max", mx, -10, 10, func(s *Session, x Pair) error { _, err := mx.Run(s, x); return err }},
		{"argmax", am, -10, 10, func(s *Session, x Pair) error { _, err := am.Run(s, x); return err }},
		{"exp", ex, -20, 0, func(s *Session, x Pair) error { _, err := ex.Run(s, x); return err }},
		{"reciprocal [1,2^10)", rc, 1, 1000, func(s *Session, x Pair) error { _, err := rc.Run(s, x); return err }},
		{"rsqrt [2^-10,2^16)", rs, 0.01, 1000, func(s *Session, x Pair) error { _, err := rs.Run(s, x); return err }},
		{"softmax (1 row)", sm, -8, 8, func(s *Session, x Pair) error { _, err := sm.Run(s, x); return err }},
		{"silu", si, -8, 8, func(s *Session, x Pair) error { _, err := si.Run(s, x); return err }},
		{"gelu", ge, -8, 8, func(s *Session, x Pair) error { _, err := ge.Run(s, x); return err }},
		{"trunc·mul (fused)", tm, -100, 100, func(s *Session, x Pair) error { _, err := tm.Run(s, x, x); return err }},
		{"trunc pair (fused)", tp, -100, 100, func(s *Session, x Pair) error { _, err := tp.Run(s, x, x); return err }},
		{"lookup (2^10, 1 table)", lk, -8, 8, func(s *Session, x Pair) error { _, err := lk.Run(s, x); return err }},
		{"max lut (1 row)", mxl, -10, 10, func(s *Session, x Pair) error { _, err := mxl.Run(s, x); return err }},
		{"argmax lut", aml, -10, 10, func(s *Session, x Pair) error { _, err := aml.Run(s, x); return err }},
		{"silu lut", sl, -8, 8, func(s *Session, x Pair) error { _, err := sl.Run(s, x); return err }},
		{"gelu lut", gl, -8, 8, func(s *Session, x Pair) error { _, err := gl.Run(s, x); return err }},
		{"swiglu lut", sw, -8, 8, func(s *Session, x Pair) error { _, err := sw.Run(s, x, x); return err }},
		{"softmax lut (1 row)", sml, -8, 8, func(s *Session, x Pair) error { _, err := sml.Run(s, x); return err }},
		{"rmsnorm lut (1 row)", rl, -3, 3, func(s *Session, x Pair) error { _, err := rl.Run(s, x); return err }},
		{"layernorm lut (1 row)", ll, -3, 3, func(s *Session, x Pair) error { _, err := ll.Run(s, x); return err }},
		{"rmsnorm (1 row)", rn, -3, 3, func(s *Session, x Pair) error { _, err := rn.Run(s, x); return err }},
		{"layernorm (1 row)", ln, -3, 3, func(s *Session, x Pair) error { _, err := ln.Run(s, x); return err }},
	}
}

// TestCostTable prints the per-element costs of the package documentation
// (go test -run TestCostTable -v), from the Estimates at n = 512.
func TestCostTable(t *testing.T) {
	const n = 512
	var b strings.Builder
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		fmt.Fprintf(&b, "\nt %d-bit, n = %d:\n%-20s %12s %12s %7s %10s %12s\n", cfg.Ring.Bits(), n,
			"protocol", "c2s B/elem", "s2c B/elem", "rounds", "triples/el", "offline B/el")
		for _, e := range costProtocols(cfg, n) {
			c := e.p.Estimate()
			fmt.Fprintf(&b, "%-20s %12.1f %12.1f %7d %10.1f %12.1f\n", e.name, float64(c.BytesC2S)/n, float64(c.BytesS2C)/n,
				c.Rounds, float64(c.Triples)/n, float64(c.OfflineBytes)/n)
		}
	}
	t.Log(b.String())
}

// BenchmarkProtocols runs every protocol at n = 64 and 512 with bgv-n14's
// fixed point and reports the online bytes (both directions) per element,
// the rounds and the dealer's offline bytes per element of one Run.
func BenchmarkProtocols(b *testing.B) {
	cfg := testConfig(b, "bgv-n14")
	for _, n := range []int{64, 512} {
		for _, e := range costProtocols(cfg, n) {
			b.Run(fmt.Sprintf("%s/n=%d", e.name, n), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, uint64(n)))
				_, x := randomPair(b, cfg.Ring, rng, n, e.lo, e.hi)
				s := NewSession(cfg, TrustedDealer{})
				defer s.Close()
				for b.Loop() {
					if err := e.run(s, x); err != nil {
						b.Fatal(err)
					}
				}
				c := e.p.Estimate()
				b.ReportMetric(float64(c.BytesC2S+c.BytesS2C)/float64(n), "bytes/elem")
				b.ReportMetric(float64(c.Rounds), "rounds")
				b.ReportMetric(float64(c.OfflineBytes)/float64(n), "offline-B/elem")
			})
		}
	}
}

// BenchmarkDCF times the dealer's key generation and one party's
// evaluation of a comparison key on bgv-n14's share ring, per key (ns/op
// over r.bits levels) with the allocations of each.
func BenchmarkDCF(b *testing.B) {
	r := testConfig(b, "bgv-n14").Ring
	rng := rand.New(rand.NewPCG(3, 4))
	s0, s1 := block{rng.Uint64(), rng.Uint64()}.clearLSB(), block{rng.Uint64(), rng.Uint64()}.clearLSB()
	var pg dcfPRG
	k := r.dcfGen(&pg, r.bits, rng.Uint64N(r.t), 1, s0, s1)
	b.Run("gen", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.dcfGen(&pg, r.bits, rng.Uint64N(r.t), 1, s0, s1)
		}
	})
	b.Run("eval", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.dcfEval(&pg, 0, s0, k.cw, k.final[0], rng.Uint64N(r.t))
		}
	})
}
