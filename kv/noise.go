package kv

import (
	"math"
	"math/big"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/exec"
)

// Model is the server-side noise model of the cache: it bounds, in bits,
// the payload of a ciphertext (decryption times t gives m + t·e over the
// integers; decryption is exact while log2 ||m + t·e||_inf < log2 Q_l - 1)
// from public information only: the operations applied and the levels.
//
// The per-operation rules are those of package exec (see exec's doc and
// the budget comment of package params), repeated here because exec does
// not export its model; the sum of fresh encryptions is refined (see
// NoiseState). With n = log2 N and T = log2 t:
//
//	fresh secret-key encryption     T + 5
//	key switch (rotation, relin)    nu ⊕ (T + n/2 + 3)
//	product by an encoded plaintext max(2T + n + 2, nu + T + n/2)
//	ct-ct product                   keyswitch(max(2T + n + 2, a + b + n/2 - 3))
//	sum of k terms                  nu + log2 k
//	rescale by q_l                  (nu - log2 q_l) ⊕ (T + n/2 + 2)
//	flooding for 40 bits            (nu + 40 + n - 1) ⊕ nu, + 0.1
//
// where a ⊕ b = log2(2^a + 2^b).
type Model struct {
	logN, logT float64
	logQ       []float64
}

// NewModel is the model for p.
func NewModel(p bgv.Parameters) Model {
	m := Model{logN: float64(p.LogN()), logT: math.Log2(float64(p.PlaintextModulus()))}
	for _, q := range p.Q() {
		m.logQ = append(m.logQ, math.Log2(float64(q)))
	}
	return m
}

// LogQ is log2 of the modulus at a level.
func (m Model) LogQ(level int) float64 {
	s := 0.0
	for _, q := range m.logQ[:level+1] {
		s += q
	}
	return s
}

func log2Add(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	hi, lo := math.Max(a, b), math.Min(a, b)
	return hi + math.Log2(1+math.Exp2(lo-hi))
}

// freshErr bounds the error of one fresh secret-key encryption (6 standard
// deviations of the discrete Gaussian of standard deviation 3.2), and
// freshMargin is the slack exec's model adds: T + log2(1 + 19.2) + 0.66 =
// T + 5.
const (
	freshErr    = 19.2
	freshMargin = 0.66
)

// FreshSK is exec's payload of a fresh secret-key encryption: T + 5.
func (m Model) FreshSK() float64 { return m.logT + 5 }

func (m Model) keySwitch(nu float64) float64 { return log2Add(nu, m.logT+m.logN/2+3) }

// MulPlain is the payload after a product by an encoded plaintext.
func (m Model) MulPlain(nu float64) float64 {
	return math.Max(2*m.logT+m.logN+2, nu+m.logT+m.logN/2)
}

func (m Model) mulCipher(a, b float64) float64 {
	return m.keySwitch(math.Max(2*m.logT+m.logN+2, a+b+m.logN/2-3))
}

func sumBits(nu float64, k int) float64 {
	if k <= 1 {
		return nu
	}
	return nu + math.Log2(float64(k))
}

// Rescale is the payload after dividing by the prime of level.
func (m Model) Rescale(nu float64, level int) float64 {
	return log2Add(nu-m.logQ[level], m.logT+m.logN/2+2)
}

// Flooded is the payload after the 40-bit flooding that precedes every
// server-to-client ciphertext (exec.StatisticalSecurity).
func (m Model) Flooded(nu float64) float64 {
	f := nu - m.logT + exec.StatisticalSecurity + m.logN - 1
	return log2Add(m.logT+f, nu) + 0.1
}

// NoiseState is what the server knows about the noise of one cache
// ciphertext: its level and a bound of its payload, kept in three parts so
// that sums of fresh encryptions are bounded tightly:
//
//	payload <= 2^(T + 0.66)·(Msgs + 19.2·sqrt(Fresh)) + 2^Extra
//
// Msgs counts the plaintext polynomials summed (each has coefficients in
// [0, t), so their sum is below Msgs·t), Fresh the fresh secret-key
// encryption errors summed (independent Gaussians: the sum of k has k times
// the variance, so its 6-sigma bound grows as sqrt(k)), and Extra bounds
// everything else (the result of homomorphic products and rescales).
// One fresh encryption (Msgs = Fresh = 1) is exec's T + 5.
type NoiseState struct {
	Level int
	Msgs  float64
	Fresh float64
	Extra float64 // log2 bound, -Inf if none
}

// freshState is a client encryption at level plus n plaintexts added.
func freshState(level int, plaintexts float64) NoiseState {
	return NoiseState{Level: level, Msgs: 1 + plaintexts, Fresh: 1, Extra: math.Inf(-1)}
}

// Payload is the state's bound in bits.
func (m Model) Payload(s NoiseState) float64 {
	p := math.Inf(-1)
	if s.Msgs > 0 || s.Fresh > 0 {
		p = m.logT + freshMargin + math.Log2(s.Msgs+freshErr*math.Sqrt(s.Fresh))
	}
	return log2Add(p, s.Extra)
}

// add is the state of the sum of two ciphertexts at the same level.
func add(a, b NoiseState) NoiseState {
	return NoiseState{Level: a.Level, Msgs: a.Msgs + b.Msgs, Fresh: a.Fresh + b.Fresh, Extra: log2Add(a.Extra, b.Extra)}
}

// opaque collapses a state to its bound (after a product or a rescale the
// parts no longer have their special form).
func (m Model) opaque(s NoiseState, bits float64) NoiseState {
	return NoiseState{Level: s.Level, Extra: bits}
}

// downTo is the payload after rescaling from the state's level to level.
func (m Model) downTo(s NoiseState, level int) float64 {
	nu := m.Payload(s)
	for l := s.Level; l > level; l-- {
		nu = m.Rescale(nu, l)
	}
	return nu
}

// KernelSlack is the margin, in bits, that a cache ciphertext in state s
// leaves to the decode attention kernel that consumes it at kernelLevel:
// the ciphertext is rescaled down to kernelLevel, multiplied by a fresh
// encryption, summed over sumTerms products, flooded for 40 bits of
// statistical security, and must still decrypt. Negative slack means the
// next product would be wrong; -Inf if s is below kernelLevel.
func (m Model) KernelSlack(s NoiseState, kernelLevel, sumTerms int) float64 {
	if s.Level < kernelLevel {
		return math.Inf(-1)
	}
	nu := m.downTo(s, kernelLevel)
	prod := m.keySwitch(sumBits(m.mulCipher(m.FreshSK(), nu), sumTerms))
	return m.LogQ(kernelLevel) - 1 - m.Flooded(prod)
}

// scaleAt is prod_{from < i <= level} q_i mod t: the scale a cache
// ciphertext at level carries so that rescaling it down to from leaves
// scale 1 (the exec kernels add products of different cache ciphertexts
// and must not match scales, which would multiply the noise).
func scaleAt(p bgv.Parameters, from, level int) uint64 {
	t := new(big.Int).SetUint64(p.PlaintextModulus())
	s := big.NewInt(1)
	for i := from + 1; i <= level; i++ {
		s.Mul(s, new(big.Int).SetUint64(p.Q()[i]))
		s.Mod(s, t)
	}
	return s.Uint64()
}

// invMod is a^-1 mod t (t prime).
func invMod(a, t uint64) uint64 {
	return new(big.Int).ModInverse(new(big.Int).SetUint64(a), new(big.Int).SetUint64(t)).Uint64()
}

// mulMod is a·b mod t.
func mulMod(a, b, t uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	_, r := bits.Div64(hi%t, lo, t)
	return r
}
