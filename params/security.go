package params

import (
	"fmt"
	"math"
	"strings"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// maxLogQP128 is the largest log2(QP) that keeps RLWE with a uniform ternary
// secret and a discrete Gaussian error of standard deviation 3.2 at 128 bits
// of classical security, indexed by log2 N.
//
// Sources. Log N 10 to 15: Table 1 of the Homomorphic Encryption Standard
// (Albrecht et al., HomomorphicEncryption.org, November 2018), row "128,
// classical", ternary secret: 27, 54, 109, 218, 438, 881. The same numbers
// are in lattigo's example parameters (ExampleParametersLogN14LogQP438, the
// N13QP218, N14QP438 and N15QP881 sets of lattigo/examples) and in OpenFHE's
// stdlatticeparms (HEStd_ternary, HEStd_128_classic).
//
// Log N 16 is not in the 2018 standard. Published extrapolations disagree:
// lattigo's examples use 1761 (e.g. HEFloatComplexParamsPN16QP1761), older
// OpenFHE releases 1772, and current OpenFHE 1747, from a rerun of the lattice
// estimator. We take the smallest, 1747, so that a preset accepted here is
// accepted by all three.
var maxLogQP128 = map[int]float64{
	10: 27,
	11: 54,
	12: 109,
	13: 218,
	14: 438,
	15: 881,
	16: 1747,
}

// MinStatSecurity is the statistical security, in bits, that CheckSecurity
// demands of the fixed-point setting of a secure BGV preset (DESIGN.md:
// statistical security >= 40 bits).
const MinStatSecurity = 40

// minSigma is the smallest error standard deviation the standard's table
// assumes: 8/sqrt(2·pi) ≈ 3.19; lattigo's default is 3.2.
const minSigma = 3.19

// MaxLogQP returns the largest log2(QP) giving 128-bit classical security for
// ring degree N = 2^logN with a uniform ternary secret, after the
// HomomorphicEncryption.org standard (see the package documentation). It
// returns an error for a logN outside 10..16.
func MaxLogQP(logN int) (float64, error) {
	b, ok := maxLogQP128[logN]
	if !ok {
		return 0, fmt.Errorf("params: no 128-bit security bound for log N = %d (known for log N 10..16)", logN)
	}
	return b, nil
}

// CheckSecurity reports whether the preset meets the project's security
// requirements. For a preset that is not marked Insecure it returns an error
// if
//
//   - the name contains "insecure" (names must not lie),
//   - log N has no bound or differs from the literal's log N,
//   - log2(QP) exceeds MaxLogQP(LogN),
//   - the secret distribution is not uniform ternary (lattigo's default
//     ring.Ternary{P: 2/3}; sparse secrets are not covered by the bound),
//   - the error distribution is not a discrete Gaussian of standard
//     deviation at least 3.19 (lattigo's default is 3.2),
//   - it is a BGV preset whose FixedPoint.StatSecurity is below
//     MinStatSecurity.
//
// A preset marked Insecure is skipped: CheckSecurity returns nil for it as
// long as its name contains "insecure". Callers that must refuse test
// parameters check the Insecure field.
func (p Preset) CheckSecurity() error {
	named := strings.Contains(strings.ToLower(p.Name), "insecure")
	if p.Insecure {
		if !named {
			return fmt.Errorf("params: preset %q is marked insecure but its name does not say \"insecure\"", p.Name)
		}
		return nil
	}
	if named {
		return fmt.Errorf("params: preset %q is named insecure but not marked Insecure", p.Name)
	}

	bound, err := MaxLogQP(p.LogN)
	if err != nil {
		return fmt.Errorf("params: preset %q: %w", p.Name, err)
	}

	var litLogN int
	var xs, xe ring.DistributionParameters
	switch p.Scheme {
	case BGV:
		litLogN, xs, xe = p.BGVLiteral.LogN, p.BGVLiteral.Xs, p.BGVLiteral.Xe
	case CKKS:
		litLogN, xs, xe = p.CKKSLiteral.LogN, p.CKKSLiteral.Xs, p.CKKSLiteral.Xe
	default:
		return fmt.Errorf("params: preset %q: unknown scheme %v", p.Name, p.Scheme)
	}
	if litLogN != p.LogN {
		return fmt.Errorf("params: preset %q: LogN = %d but its literal has LogN = %d", p.Name, p.LogN, litLogN)
	}

	if logQP := p.LogQP(); logQP > bound {
		return fmt.Errorf("params: preset %q: log2(QP) = %.2f exceeds the 128-bit bound %.0f for log N = %d",
			p.Name, logQP, bound, p.LogN)
	}

	if err := checkSecret(xs); err != nil {
		return fmt.Errorf("params: preset %q: %w", p.Name, err)
	}
	if err := checkError(xe); err != nil {
		return fmt.Errorf("params: preset %q: %w", p.Name, err)
	}

	if p.Scheme == BGV && p.FixedPoint.T != p.BGVLiteral.PlaintextModulus {
		return fmt.Errorf("params: preset %q: fixed-point modulus %d is not the plaintext modulus %d",
			p.Name, p.FixedPoint.T, p.BGVLiteral.PlaintextModulus)
	}
	if p.Scheme == BGV && p.FixedPoint.StatSecurity < MinStatSecurity {
		return fmt.Errorf("params: preset %q: statistical security %d bits is below the required %d",
			p.Name, p.FixedPoint.StatSecurity, MinStatSecurity)
	}
	return nil
}

// checkSecret accepts the uniform ternary secret: nil (lattigo substitutes
// its default ring.Ternary{P: 2/3}) or ring.Ternary with P = 2/3 and H = 0.
func checkSecret(xs ring.DistributionParameters) error {
	if xs == nil {
		return nil
	}
	t, ok := xs.(ring.Ternary)
	if !ok {
		return fmt.Errorf("secret distribution %s is not ternary; the security bound assumes a uniform ternary secret", xs.Type())
	}
	if t.H != 0 || math.Abs(t.P-2.0/3.0) > 1e-9 {
		return fmt.Errorf("secret distribution ternary{P: %g, H: %d} is not uniform ternary (P = 2/3, H = 0); sparse secrets are not covered by the bound", t.P, t.H)
	}
	return nil
}

// checkError accepts nil (lattigo substitutes DiscreteGaussian{3.2, 19.2})
// or a discrete Gaussian with standard deviation at least minSigma.
func checkError(xe ring.DistributionParameters) error {
	if xe == nil {
		return nil
	}
	g, ok := xe.(ring.DiscreteGaussian)
	if !ok {
		return fmt.Errorf("error distribution %s is not a discrete Gaussian", xe.Type())
	}
	if g.Sigma < minSigma {
		return fmt.Errorf("error standard deviation %g is below %.2f", g.Sigma, minSigma)
	}
	return nil
}
