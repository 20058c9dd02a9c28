package params

import (
	"math"
	"math/big"
	"strings"
	"testing"
)

// TestPresetsInstantiate checks that lattigo accepts every literal and that
// the preset's own accessors agree with lattigo's parameters.
func TestPresetsInstantiate(t *testing.T) {
	for _, p := range All() {
		t.Run(p.Name, func(t *testing.T) {
			var logN, maxLevel, slots int
			var logQ, logP float64
			switch p.Scheme {
			case BGV:
				bp, err := p.BGV()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := p.CKKS(); err == nil {
					t.Error("CKKS() of a BGV preset: want an error")
				}
				if got := bp.PlaintextModulus(); got != p.PlaintextModulus() {
					t.Errorf("PlaintextModulus() = %d, lattigo has %d", p.PlaintextModulus(), got)
				}
				logN, maxLevel, slots, logQ, logP = bp.LogN(), bp.MaxLevel(), bp.MaxSlots(), bp.LogQ(), bp.LogP()
			case CKKS:
				cp, err := p.CKKS()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := p.BGV(); err == nil {
					t.Error("BGV() of a CKKS preset: want an error")
				}
				if p.PlaintextModulus() != 0 {
					t.Errorf("PlaintextModulus() = %d for CKKS, want 0", p.PlaintextModulus())
				}
				if p.FixedPoint != (FixedPoint{}) {
					t.Errorf("CKKS preset has a fixed point setting %+v", p.FixedPoint)
				}
				logN, maxLevel, slots, logQ, logP = cp.LogN(), cp.MaxLevel(), cp.MaxSlots(), cp.LogQ(), cp.LogP()
			default:
				t.Fatalf("unknown scheme %v", p.Scheme)
			}
			if p.LogN != logN {
				t.Errorf("LogN = %d, lattigo has %d", p.LogN, logN)
			}
			if p.MaxLevel() != maxLevel {
				t.Errorf("MaxLevel() = %d, lattigo has %d", p.MaxLevel(), maxLevel)
			}
			if p.Slots() != slots {
				t.Errorf("Slots() = %d, lattigo has %d", p.Slots(), slots)
			}
			// 1e-9 bits: both sides sum float64 logarithms of the same primes.
			if math.Abs(p.LogQ()-logQ) > 1e-9 || math.Abs(p.LogP()-logP) > 1e-9 {
				t.Errorf("LogQ, LogP = %.6f, %.6f; lattigo has %.6f, %.6f", p.LogQ(), p.LogP(), logQ, logP)
			}
			if math.Abs(p.LogQP()-(logQ+logP)) > 1e-9 {
				t.Errorf("LogQP() = %.6f, lattigo has %.6f", p.LogQP(), logQ+logP)
			}
			if strings.TrimSpace(p.Doc) == "" || strings.Contains(p.Doc, "\n") {
				t.Errorf("Doc must be one non-empty line, got %q", p.Doc)
			}
		})
	}
}

// TestLogSizesLiteral checks the accessors on a literal given by prime sizes
// instead of primes: they instantiate it to learn the primes.
func TestLogSizesLiteral(t *testing.T) {
	p, err := ByName("ckks-n13")
	if err != nil {
		t.Fatal(err)
	}
	p.CKKSLiteral.Q, p.CKKSLiteral.P = nil, nil
	p.CKKSLiteral.LogQ, p.CKKSLiteral.LogP = []int{50, 40, 40, 40}, []int{47}
	cp, err := p.CKKS()
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.LogQP()-cp.LogQP()) > 1e-9 || p.MaxLevel() != 3 {
		t.Errorf("LogQP, MaxLevel = %.4f, %d; lattigo has %.4f, 3", p.LogQP(), p.MaxLevel(), cp.LogQP())
	}
	// An invalid literal falls back to the sum of the sizes.
	p.CKKSLiteral.LogQ = []int{50, 40, 99}
	if got := p.LogQ(); got != 189 {
		t.Errorf("LogQ of a rejected literal = %v, want the sum of sizes 189", got)
	}
}

func TestByName(t *testing.T) {
	for _, name := range Names() {
		p, err := ByName(name)
		if err != nil {
			t.Fatalf("ByName(%q): %v", name, err)
		}
		if p.Name != name {
			t.Errorf("ByName(%q).Name = %q", name, p.Name)
		}
	}
	if p, err := ByName("  BGV-N14 "); err != nil || p.Name != "bgv-n14" {
		t.Errorf("ByName ignores case and blanks: got %q, %v", p.Name, err)
	}
	for _, bad := range []string{"", "bgv", "bgv-n12", "ckks-n17", "bgv-n14x"} {
		_, err := ByName(bad)
		if err == nil {
			t.Errorf("ByName(%q): want an error", bad)
			continue
		}
		for _, known := range Names() {
			if !strings.Contains(err.Error(), known) {
				t.Errorf("ByName(%q) error %q does not list %q", bad, err, known)
			}
		}
	}
}

func TestNames(t *testing.T) {
	names := Names()
	all := All()
	if len(names) != len(all) {
		t.Fatalf("len(Names()) = %d, len(All()) = %d", len(names), len(all))
	}
	seen := map[string]bool{}
	for i, n := range names {
		if seen[n] {
			t.Errorf("duplicate preset name %q", n)
		}
		seen[n] = true
		if all[i].Name != n {
			t.Errorf("All()[%d].Name = %q, Names()[%d] = %q", i, all[i].Name, i, n)
		}
		if n != strings.ToLower(strings.TrimSpace(n)) {
			t.Errorf("name %q is not lower case without blanks (ByName could not find it)", n)
		}
	}
	for _, want := range []string{"bgv-n13", "bgv-n14", "bgv-n15", "bgv-n16", "ckks-n13", "ckks-n14", "ckks-n15", "ckks-n16", "bgv-test-insecure", "ckks-test-insecure", DefaultBGV, DefaultCKKS} {
		if !seen[want] {
			t.Errorf("missing preset %q", want)
		}
	}
}

// TestCopies checks that callers cannot change the registry through what
// ByName and All return.
func TestCopies(t *testing.T) {
	p, err := ByName(DefaultBGV)
	if err != nil {
		t.Fatal(err)
	}
	want := p.BGVLiteral.Q[0]
	p.BGVLiteral.Q[0] = 3
	all := All()
	all[1].BGVLiteral.Q[0] = 5
	again, _ := ByName(DefaultBGV)
	if again.BGVLiteral.Q[0] != want {
		t.Errorf("registry modified through a returned preset: Q[0] = %d, want %d", again.BGVLiteral.Q[0], want)
	}
}

func TestDefaults(t *testing.T) {
	for _, c := range []struct {
		name   string
		scheme Scheme
	}{{DefaultBGV, BGV}, {DefaultCKKS, CKKS}} {
		p, err := ByName(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if p.Scheme != c.scheme || p.Insecure {
			t.Errorf("default %q: scheme %v, insecure %v; want %v, secure", c.name, p.Scheme, p.Insecure, c.scheme)
		}
	}
}

// TestPlaintextModulus checks the requirements on t stated in the brief and
// in presets.go: prime, 1 mod 2N (here even 1 mod 2^17 for every preset),
// between 2^40 and 2^60, not a Q prime, and at most Q[0] (lattigo's rule).
func TestPlaintextModulus(t *testing.T) {
	for _, p := range All() {
		if p.Scheme != BGV {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			tm := p.PlaintextModulus()
			if !new(big.Int).SetUint64(tm).ProbablyPrime(32) {
				t.Errorf("t = %d is not prime", tm)
			}
			if tm%(1<<17) != 1 {
				t.Errorf("t = %d is not 1 mod 2^17", tm)
			}
			if tm%(2<<uint(p.LogN)) != 1 {
				t.Errorf("t = %d is not 1 mod 2N", tm)
			}
			if tm <= 1<<40 || tm >= 1<<60 {
				t.Errorf("t = 2^%.2f is outside (2^40, 2^60)", math.Log2(float64(tm)))
			}
			for i, q := range p.BGVLiteral.Q {
				if q == tm {
					t.Errorf("t equals Q[%d]", i)
				}
			}
			if tm > p.BGVLiteral.Q[0] {
				t.Errorf("t > Q[0]")
			}
			if p.Slots() != 1<<uint(p.LogN) {
				t.Errorf("Slots() = %d, want N = %d", p.Slots(), 1<<uint(p.LogN))
			}
			if p.FixedPoint.T != tm {
				t.Errorf("FixedPoint.T = %d, want t = %d", p.FixedPoint.T, tm)
			}
		})
	}
}

func TestSchemeString(t *testing.T) {
	for _, c := range []struct {
		s    Scheme
		want string
	}{{BGV, "BGV"}, {CKKS, "CKKS"}, {Scheme(0), "Scheme(0)"}, {Scheme(7), "Scheme(7)"}} {
		if got := c.s.String(); got != c.want {
			t.Errorf("Scheme(%d).String() = %q, want %q", int(c.s), got, c.want)
		}
	}
}

// TestZeroPreset checks that a zero or nonsensical Preset yields errors and
// zero values rather than panics.
func TestZeroPreset(t *testing.T) {
	for _, p := range []Preset{{}, {Scheme: BGV, LogN: 99}, {Scheme: CKKS, LogN: -1}, {Scheme: BGV, LogN: 12, BGVLiteral: bgvLit(12, nil, nil, 4)}} {
		if _, err := p.BGV(); err == nil {
			t.Errorf("%+v: BGV(): want an error", p)
		}
		if _, err := p.CKKS(); err == nil {
			t.Errorf("%+v: CKKS(): want an error", p)
		}
		if err := p.CheckSecurity(); err == nil {
			t.Errorf("%+v: CheckSecurity(): want an error", p)
		}
		_ = p.LogQP()
		_ = p.MaxLevel()
		_ = p.Slots()
	}
}
