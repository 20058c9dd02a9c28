package params

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"sync"

	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
	"github.com/tuneinsight/lattigo/v5/schemes/ckks"
)

// Scheme is the homomorphic encryption scheme of a preset.
type Scheme int

const (
	// BGV is the exact integer scheme (lattigo schemes/bgv) used by the hybrid
	// protocol: plaintext slots hold integers modulo a prime t.
	BGV Scheme = iota + 1
	// CKKS is the approximate scheme (lattigo schemes/ckks) used by the
	// non-interactive FHE strategy: slots hold complex numbers at a scale.
	CKKS
)

// String returns "BGV", "CKKS", or "Scheme(k)" for an unknown value.
func (s Scheme) String() string {
	switch s {
	case BGV:
		return "BGV"
	case CKKS:
		return "CKKS"
	default:
		return fmt.Sprintf("Scheme(%d)", int(s))
	}
}

// Preset is a named homomorphic encryption parameter set.
//
// A Preset is a plain value: its lattigo literal is checked only when BGV or
// CKKS instantiates it. The presets of this package are returned as deep
// copies by ByName and All, so a caller may modify what it gets without
// affecting anybody else.
type Preset struct {
	// Name identifies the preset on the command line, e.g. "bgv-n14".
	Name string
	// Scheme selects which of BGVLiteral and CKKSLiteral is meaningful.
	Scheme Scheme
	// LogN is log2 of the ring degree N; it equals the LogN of the literal.
	LogN int
	// BGVLiteral is the lattigo literal of a BGV preset (zero for CKKS).
	BGVLiteral bgv.ParametersLiteral
	// CKKSLiteral is the lattigo literal of a CKKS preset (zero for BGV).
	CKKSLiteral ckks.ParametersLiteral
	// Insecure marks parameters meant for unit tests only. Their names
	// contain "insecure" and CheckSecurity does not hold them to the
	// 128-bit bound.
	Insecure bool
	// Doc is a one-line description of what the preset is for.
	Doc string
	// FixedPoint is the fixed-point encoding of real values modulo the
	// plaintext modulus t of a BGV preset (zero for CKKS).
	FixedPoint FixedPoint
}

// BGV instantiates the lattigo parameters of a BGV preset. It returns an
// error if the preset is not a BGV preset or if lattigo rejects the literal.
// Parameters are immutable: they are built once per literal (building one
// costs milliseconds: the NTT tables of every prime) and shared.
func (p Preset) BGV() (bgv.Parameters, error) {
	if p.Scheme != BGV {
		return bgv.Parameters{}, fmt.Errorf("params: preset %q is a %v preset, not BGV", p.Name, p.Scheme)
	}
	key := fmt.Sprintf("%+v", p.BGVLiteral)
	if bp, ok := bgvBuilt.Load(key); ok {
		return bp.(bgv.Parameters), nil
	}
	bp, err := bgv.NewParametersFromLiteral(p.BGVLiteral)
	if err != nil {
		return bgv.Parameters{}, fmt.Errorf("params: preset %q: lattigo rejects the BGV literal: %w", p.Name, err)
	}
	bgvBuilt.Store(key, bp)
	return bp, nil
}

// bgvBuilt holds the BGV parameters built so far, by literal.
var bgvBuilt sync.Map

// CKKS instantiates the lattigo parameters of a CKKS preset. It returns an
// error if the preset is not a CKKS preset or if lattigo rejects the literal.
func (p Preset) CKKS() (ckks.Parameters, error) {
	if p.Scheme != CKKS {
		return ckks.Parameters{}, fmt.Errorf("params: preset %q is a %v preset, not CKKS", p.Name, p.Scheme)
	}
	cp, err := ckks.NewParametersFromLiteral(p.CKKSLiteral)
	if err != nil {
		return ckks.Parameters{}, fmt.Errorf("params: preset %q: lattigo rejects the CKKS literal: %w", p.Name, err)
	}
	return cp, nil
}

// moduli returns the ciphertext moduli Q and the key-switching moduli P of
// the preset. A literal given by prime sizes (LogQ, LogP) instead of primes
// is instantiated to learn its primes; if that fails, ok is false.
func (p Preset) moduli() (q, pp []uint64, ok bool) {
	switch p.Scheme {
	case BGV:
		if p.BGVLiteral.Q != nil {
			return p.BGVLiteral.Q, p.BGVLiteral.P, true
		}
		bp, err := bgv.NewParametersFromLiteral(p.BGVLiteral)
		if err != nil {
			return nil, nil, false
		}
		return bp.Q(), bp.P(), true
	case CKKS:
		if p.CKKSLiteral.Q != nil {
			return p.CKKSLiteral.Q, p.CKKSLiteral.P, true
		}
		cp, err := ckks.NewParametersFromLiteral(p.CKKSLiteral)
		if err != nil {
			return nil, nil, false
		}
		return cp.Q(), cp.P(), true
	}
	return nil, nil, false
}

// logSizes returns the prime sizes of a literal given by LogQ and LogP.
func (p Preset) logSizes() (logQ, logP []int) {
	switch p.Scheme {
	case BGV:
		return p.BGVLiteral.LogQ, p.BGVLiteral.LogP
	case CKKS:
		return p.CKKSLiteral.LogQ, p.CKKSLiteral.LogP
	}
	return nil, nil
}

// log2Sum returns the sum of log2 of the moduli, that is log2 of their product.
func log2Sum(moduli []uint64) float64 {
	s := 0.0
	for _, m := range moduli {
		s += log2(m)
	}
	return s
}

// log2 returns log2(m). The conversion of m to float64 rounds it to 53
// bits, an error below 2^-52 bits on the result.
func log2(m uint64) float64 {
	return math.Log2(float64(m))
}

func sumInts(xs []int) float64 {
	s := 0
	for _, x := range xs {
		s += x
	}
	return float64(s)
}

// LogQ returns log2 of the ciphertext modulus Q (the product of the Q primes),
// computed from the primes themselves. For a literal given only by prime
// sizes that lattigo rejects, it returns the sum of the sizes.
func (p Preset) LogQ() float64 {
	if q, _, ok := p.moduli(); ok {
		return log2Sum(q)
	}
	lq, _ := p.logSizes()
	return sumInts(lq)
}

// LogP returns log2 of the key-switching modulus P (the product of the P
// primes); see LogQ.
func (p Preset) LogP() float64 {
	if _, pp, ok := p.moduli(); ok {
		return log2Sum(pp)
	}
	_, lp := p.logSizes()
	return sumInts(lp)
}

// LogQP returns log2(Q·P), the quantity bounded by the HE security standard,
// computed exactly from the moduli (see LogQ).
func (p Preset) LogQP() float64 {
	return p.LogQ() + p.LogP()
}

// MaxLevel returns the level of a fresh ciphertext: the number of Q primes
// minus one. It returns -1 for an empty modulus.
func (p Preset) MaxLevel() int {
	if q, _, ok := p.moduli(); ok {
		return len(q) - 1
	}
	lq, _ := p.logSizes()
	return len(lq) - 1
}

// PlaintextModulus returns the plaintext modulus t of a BGV preset, and 0
// for any other scheme.
func (p Preset) PlaintextModulus() uint64 {
	if p.Scheme != BGV {
		return 0
	}
	return p.BGVLiteral.PlaintextModulus
}

// Slots returns the number of plaintext slots of one ciphertext: N for BGV
// when t = 1 mod 2N (fewer when t has a smaller power-of-two order, as in
// lattigo), N/2 for CKKS on the standard ring, N for CKKS on the
// conjugate-invariant ring. It returns 0 for an unknown scheme or a LogN out
// of lattigo's range.
func (p Preset) Slots() int {
	if p.LogN < 0 || p.LogN > 30 {
		return 0
	}
	n := 1 << uint(p.LogN)
	switch p.Scheme {
	case BGV:
		t := p.BGVLiteral.PlaintextModulus
		if t < 2 {
			return 0
		}
		// The largest power of two 2^k dividing t-1 allows a plaintext ring
		// of degree 2^(k-1) that splits fully into slots.
		k := bits.TrailingZeros64(t - 1)
		if k < 1 {
			return 0
		}
		if k-1 >= p.LogN {
			return n
		}
		return 1 << uint(k-1)
	case CKKS:
		if p.CKKSLiteral.RingType == ring.ConjugateInvariant {
			return n
		}
		return n / 2
	}
	return 0
}

// clone returns a deep copy of p: the moduli slices are copied.
func (p Preset) clone() Preset {
	p.BGVLiteral.Q = cloneU64(p.BGVLiteral.Q)
	p.BGVLiteral.P = cloneU64(p.BGVLiteral.P)
	p.BGVLiteral.LogQ = cloneInt(p.BGVLiteral.LogQ)
	p.BGVLiteral.LogP = cloneInt(p.BGVLiteral.LogP)
	p.CKKSLiteral.Q = cloneU64(p.CKKSLiteral.Q)
	p.CKKSLiteral.P = cloneU64(p.CKKSLiteral.P)
	p.CKKSLiteral.LogQ = cloneInt(p.CKKSLiteral.LogQ)
	p.CKKSLiteral.LogP = cloneInt(p.CKKSLiteral.LogP)
	return p
}

func cloneU64(s []uint64) []uint64 {
	if s == nil {
		return nil
	}
	return append([]uint64(nil), s...)
}

func cloneInt(s []int) []int {
	if s == nil {
		return nil
	}
	return append([]int(nil), s...)
}

// ByName returns a copy of the preset with the given name. Surrounding blanks
// and letter case are ignored, so names may come straight from a command-line
// flag. An unknown name yields an error that lists the known names.
func ByName(name string) (Preset, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	for _, p := range presets {
		if p.Name == key {
			return p.clone(), nil
		}
	}
	return Preset{}, fmt.Errorf("params: unknown preset %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Names returns the names of all presets in table order: the BGV presets by
// increasing log N, the CKKS presets by increasing log N, then the insecure
// test presets.
func Names() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.Name
	}
	return names
}

// All returns copies of all presets, in the order of Names.
func All() []Preset {
	all := make([]Preset, len(presets))
	for i, p := range presets {
		all[i] = p.clone()
	}
	return all
}
