package mpc

import (
	"strings"
	"testing"
)

// TestErrors checks that bad input gives an error with context, never a
// panic: wrong lengths, shares of another modulus, unreduced elements,
// exhausted dealer material, bad shapes and a session broken earlier.
func TestErrors(t *testing.T) {
	cfg := testConfig(t, "bgv-n13")
	other := testConfig(t, "bgv-n14")
	x, _ := cfg.Ring.Split([]float64{1, 2, 3})
	y, _ := other.Ring.Split([]float64{1, 2, 3})
	unreduced, _ := cfg.Ring.Split([]float64{1, 2, 3})
	unreduced[Server].V = []uint64{0, cfg.Ring.Modulus(), 0}

	tests := []struct {
		name string
		run  func(s *Session) error
		want string
	}{
		{"short share", func(s *Session) error { _, err := Exp{Config: cfg, N: 4}.Run(s, x); return err }, "has 3 elements, want 4"},
		{"second operand", func(s *Session) error {
			_, err := Mul{Config: cfg, N: 3}.Run(s, x, Pair{x[0], {Mod: x[1].Mod, V: x[1].V[:2]}})
			return err
		}, "server share has 2 elements"},
		{"other modulus", func(s *Session) error { _, err := SiLU{Config: cfg, N: 3}.Run(s, y); return err }, "share is modulo"},
		{"mixed moduli", func(s *Session) error { _, err := Sign{Config: cfg, N: 3}.Run(s, Pair{x[0], y[1]}); return err }, "share is modulo"},
		{"unreduced", func(s *Session) error { _, err := Trunc{Config: cfg, N: 3}.Run(s, unreduced); return err }, "not reduced"},
		{"protocol of another ring", func(s *Session) error { _, err := Sign{Config: other, N: 3}.Run(s, y); return err }, "is not the session's"},
		{"zero length", func(s *Session) error { _, err := Argmax{Config: cfg, N: 0}.Run(s, Pair{}); return err }, "length is 0"},
		{"causal shape", func(s *Session) error {
			_, err := Softmax{Config: cfg, Rows: 3, Cols: 1, Causal: true}.Run(s, x)
			return err
		}, "more queries than keys"},
		{"causal heads", func(s *Session) error {
			_, err := Softmax{Config: cfg, Rows: 3, Cols: 1, Causal: true, Heads: 2}.Run(s, x)
			return err
		}, "Heads must divide"},
		{"empty range", func(s *Session) error {
			_, err := Reciprocal{Config: cfg, N: 3, Lo: 4, Hi: 4}.Run(s, x)
			return err
		}, "range"},
		{"bad epsilon", func(s *Session) error {
			_, err := RMSNorm{Config: cfg, Rows: 1, Dim: 3, Eps: -1}.Run(s, x)
			return err
		}, "epsilon"},
		{"incomplete config", func(s *Session) error { _, err := Exp{N: 3}.Run(s, x); return err }, "incomplete Config"},
		{"scaled inputs without lookups", func(s *Session) error { _, err := SiLU{Config: cfg, N: 3, Scale: 12}.Run(s, x); return err },
			"only the lookup method"},
		{"scale beyond f", func(s *Session) error {
			lut := cfg
			lut.Nonlinear = LUT
			_, err := GELU{Config: lut, N: 3, Scale: 13}.Run(s, x)
			return err
		}, "want 0 to f"},
		{"untruncated rows too wide", func(s *Session) error {
			lut := cfg
			lut.Nonlinear = LUT
			wide, _ := cfg.Ring.Split(make([]float64, 768))
			_, err := LayerNorm{Config: lut, Rows: 1, Dim: 768, Eps: 1e-5, Scale: 12}.Run(s, wide)
			return err
		}, "may pass the truncation's range"},
		{"gated activation without lookups", func(s *Session) error { _, err := SwiGLU{Config: cfg, N: 3}.Run(s, x, x); return err },
			"by lookup only"},
		{"bad fused shift", func(s *Session) error { _, err := TruncMul{Config: cfg, N: 3, Shift: 0}.Run(s, x, x); return err }, "want a shift from 1"},

		{"exhausted", func(s *Session) error {
			s.Manual = true
			need := Exp{Config: cfg, N: 3}.Need()
			need.Triples--
			if err := s.Preprocess(need); err != nil {
				return err
			}
			_, err := Exp{Config: cfg, N: 3}.Run(s, x)
			return err
		}, "dealer material exhausted"},
		{"nothing dealt", func(s *Session) error {
			s.Manual = true
			_, err := Sign{Config: cfg, N: 3}.Run(s, x)
			return err
		}, "dealer material exhausted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSession(cfg, TrustedDealer{})
			defer s.Close()
			err := tt.run(s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "mpc: ") {
				t.Errorf("error %q has no package prefix", err)
			}
		})
	}
}

// TestStockExhaustedMidProtocol takes material away behind the session's
// back, so that a party runs out in the middle of a protocol: the error
// reaches the caller, the other party is not left waiting, and the session
// refuses further work.
func TestStockExhaustedMidProtocol(t *testing.T) {
	cfg := testConfig(t, "bgv-n13")
	x, _ := cfg.Ring.Split([]float64{-1, 0.5, 2})
	s := NewSession(cfg, TrustedDealer{})
	defer s.Close()
	s.Manual = true
	if err := s.Preprocess(Exp{Config: cfg, N: 3}.Need()); err != nil {
		t.Fatal(err)
	}
	s.parties[Server].stock.tripleA.pos = len(s.parties[Server].stock.tripleA.v) - 1
	_, err := Exp{Config: cfg, N: 3}.Run(s, x)
	if err == nil || !strings.Contains(err.Error(), "exhausted") {
		t.Fatalf("error %v, want exhausted material", err)
	}
	if _, err := (Sign{Config: cfg, N: 3}).Run(s, x); err == nil || !strings.Contains(err.Error(), "unusable") {
		t.Fatalf("after a failure: error %v, want an unusable session", err)
	}
}

// TestPreprocessTwice deals in two batches and runs on the merged stock.
func TestPreprocessTwice(t *testing.T) {
	cfg := testConfig(t, "bgv-n13")
	xs := []float64{-3, 0.25, 7, -0.5}
	x, _ := cfg.Ring.Split(xs)
	s := NewSession(cfg, TrustedDealer{})
	defer s.Close()
	s.Manual = true
	half := Need{Compares: 1, Triples: 2}
	rest := Need{Compares: 3}
	if err := s.Preprocess(half); err != nil {
		t.Fatal(err)
	}
	if err := s.Preprocess(rest); err != nil {
		t.Fatal(err)
	}
	b, err := Sign{Config: cfg, N: 4}.Run(s, x)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := cfg.Ring.Open(b)
	for i, v := range xs {
		if want := v >= 0; (got[i] == 1) != want {
			t.Errorf("sign(%v) = %d", v, got[i])
		}
	}
}

// TestEstimateRefusedShapes: the Estimate and Need of shapes that Run
// refuses (out-of-range scales, shifts and table sizes) are prices, not
// panics, and Run refuses them with an error.
func TestEstimateRefusedShapes(t *testing.T) {
	cfg := testConfig(t, "bgv-n14")
	lut := cfg
	lut.Nonlinear = LUT
	x, _ := cfg.Ring.Split([]float64{1, 2, 3})
	for _, c := range []struct {
		name string
		p    Protocol
		run  func(s *Session) error
	}{
		{"negative scale", SiLU{Config: lut, N: 3, Scale: -1}, func(s *Session) error { _, err := SiLU{Config: lut, N: 3, Scale: -1}.Run(s, x); return err }},
		{"negative product scale", Mul{Config: cfg, N: 3, Scale: -1}, func(s *Session) error { _, err := Mul{Config: cfg, N: 3, Scale: -1}.Run(s, x, x); return err }},
		{"shift 63", TruncMul{Config: cfg, N: 3, Shift: 63}, func(s *Session) error { _, err := TruncMul{Config: cfg, N: 3, Shift: 63}.Run(s, x, x); return err }},
		{"table of 2^20", Lookup{Config: cfg, N: 3, Bits: 20, Tables: [][]uint64{{0}}}, func(s *Session) error {
			_, err := Lookup{Config: cfg, N: 3, Bits: 20, Tables: [][]uint64{{0}}}.Run(s, x)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_ = c.p.Estimate()
			_ = c.p.Need()
			s := NewSession(cfg, TrustedDealer{})
			defer s.Close()
			if err := c.run(s); err == nil {
				t.Error("Run accepted it")
			}
		})
	}
}
