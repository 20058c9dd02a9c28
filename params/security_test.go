package params

import (
	"strings"
	"testing"

	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

func bgvLit(logN int, q, p []uint64, t uint64) bgv.ParametersLiteral {
	return bgv.ParametersLiteral{LogN: logN, Q: q, P: p, PlaintextModulus: t}
}

func TestMaxLogQP(t *testing.T) {
	// The 128-bit classical bounds for a uniform ternary secret: the HE
	// standard (2018) for log N 10..15, the smallest published value (current
	// OpenFHE) for log N 16.
	for _, c := range []struct {
		logN int
		want float64
	}{{10, 27}, {11, 54}, {12, 109}, {13, 218}, {14, 438}, {15, 881}, {16, 1747}} {
		got, err := MaxLogQP(c.logN)
		if err != nil || got != c.want {
			t.Errorf("MaxLogQP(%d) = %v, %v; want %v", c.logN, got, err, c.want)
		}
	}
	for _, logN := range []int{-1, 0, 9, 17, 20} {
		if _, err := MaxLogQP(logN); err == nil {
			t.Errorf("MaxLogQP(%d): want an error", logN)
		}
	}
}

// TestCheckSecurity runs the check on every preset: the secure ones pass, the
// insecure ones say so in their name and are skipped.
func TestCheckSecurity(t *testing.T) {
	secure := 0
	for _, p := range All() {
		t.Run(p.Name, func(t *testing.T) {
			if err := p.CheckSecurity(); err != nil {
				t.Fatalf("CheckSecurity: %v", err)
			}
			named := strings.Contains(p.Name, "insecure")
			if p.Insecure != named {
				t.Fatalf("Insecure = %v but name %q", p.Insecure, p.Name)
			}
			if p.Insecure {
				if !strings.Contains(p.Doc, "INSECURE") {
					t.Errorf("Doc of an insecure preset must say INSECURE: %q", p.Doc)
				}
				return
			}
			secure++
			bound, err := MaxLogQP(p.LogN)
			if err != nil {
				t.Fatal(err)
			}
			if p.LogQP() > bound {
				t.Errorf("log QP = %.2f > %v", p.LogQP(), bound)
			}
			if p.Scheme == BGV && p.FixedPoint.StatSecurity < MinStatSecurity {
				t.Errorf("StatSecurity = %d < %d", p.FixedPoint.StatSecurity, MinStatSecurity)
			}
		})
	}
	if secure != 8 {
		t.Errorf("%d secure presets, want 8 (BGV and CKKS at log N 13..16)", secure)
	}
}

// TestCheckSecurityRejects checks that the check catches each way a preset
// can fail.
func TestCheckSecurityRejects(t *testing.T) {
	base, err := ByName("bgv-n13")
	if err != nil {
		t.Fatal(err)
	}
	ck, err := ByName("ckks-n14")
	if err != nil {
		t.Fatal(err)
	}
	with := func(p Preset, f func(*Preset)) Preset {
		p = p.clone()
		f(&p)
		return p
	}
	for _, c := range []struct {
		name string
		p    Preset
		want string // a fragment of the error
	}{
		{"oversized-bgv-n13", with(base, func(p *Preset) {
			// One more 54-bit prime: log QP = 272 > 218.
			p.BGVLiteral.Q = append(p.BGVLiteral.Q, 0x3fffffffe7c001)
		}), "exceeds"},
		{"oversized-by-sizes", with(ck, func(p *Preset) {
			// 60 + 8·45 + 61 = 481 > 438, given by sizes only.
			p.CKKSLiteral.Q, p.CKKSLiteral.P = nil, nil
			p.CKKSLiteral.LogQ = []int{60, 45, 45, 45, 45, 45, 45, 45, 45}
			p.CKKSLiteral.LogP = []int{61}
		}), "exceeds"},
		{"sparse-secret", with(base, func(p *Preset) { p.BGVLiteral.Xs = ring.Ternary{H: 192} }), "ternary"},
		{"low-density-secret", with(base, func(p *Preset) { p.BGVLiteral.Xs = ring.Ternary{P: 0.5} }), "ternary"},
		{"gaussian-secret", with(ck, func(p *Preset) { p.CKKSLiteral.Xs = ring.DiscreteGaussian{Sigma: 3.2, Bound: 19.2} }), "not ternary"},
		{"small-error", with(base, func(p *Preset) { p.BGVLiteral.Xe = ring.DiscreteGaussian{Sigma: 1, Bound: 6} }), "standard deviation"},
		{"uniform-error", with(ck, func(p *Preset) { p.CKKSLiteral.Xe = ring.Ternary{P: 2.0 / 3} }), "Gaussian"},
		{"fixed-point-modulus-mismatch", with(base, func(p *Preset) { p.FixedPoint.T += 2 }), "not the plaintext modulus"},
		{"low-stat-security", with(base, func(p *Preset) { p.FixedPoint.StatSecurity = 30 }), "statistical security"},
		{"unknown-logN", with(base, func(p *Preset) { p.LogN, p.BGVLiteral.LogN = 17, 17 }), "no 128-bit security bound"},
		{"logN-mismatch", with(base, func(p *Preset) { p.LogN = 14 }), "literal has LogN"},
		{"insecure-flag-without-name", with(base, func(p *Preset) { p.Insecure = true }), "name does not say"},
		{"insecure-name-without-flag", with(base, func(p *Preset) { p.Name = "bgv-insecure-n13" }), "not marked Insecure"},
		{"unknown-scheme", with(base, func(p *Preset) { p.Scheme = 0 }), "unknown scheme"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.CheckSecurity()
			if err == nil {
				t.Fatal("CheckSecurity: want an error")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "params: ") {
				t.Errorf("error %q: want the prefix \"params: \" and %q", err, c.want)
			}
		})
	}

	// The defaults written out are accepted like nil.
	ok := with(base, func(p *Preset) {
		p.BGVLiteral.Xs = ring.Ternary{P: 2.0 / 3}
		p.BGVLiteral.Xe = ring.DiscreteGaussian{Sigma: 3.2, Bound: 19.2}
	})
	if err := ok.CheckSecurity(); err != nil {
		t.Errorf("explicit default distributions: %v", err)
	}
	// An oversized literal that is marked and named insecure is skipped.
	big := with(base, func(p *Preset) {
		p.Name, p.Insecure = "bgv-big-insecure", true
		p.BGVLiteral.Q = append(p.BGVLiteral.Q, 0x3fffffffe7c001)
	})
	if err := big.CheckSecurity(); err != nil {
		t.Errorf("insecure preset must be skipped: %v", err)
	}
}
