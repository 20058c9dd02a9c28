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
// The per-operation rules are exec's (exec.NoiseModel, whose doc lists
// them and the measurements behind them); the cache adds one refinement,
// the sum of fresh encryptions (see NoiseState). The flooding is for the
// statistical security of the exec.Planner the configuration was built
// with (the preset's κ, 40 bits).
type Model struct {
	nm exec.NoiseModel
}

// NewModel is the model for p (κ = exec.StatisticalSecurity).
func NewModel(p bgv.Parameters) Model { return Model{nm: exec.NewNoiseModel(p)} }

// Exec is exec's noise model, on which this one is built.
func (m Model) Exec() exec.NoiseModel { return m.nm }

// LogQ is log2 of the modulus at a level.
func (m Model) LogQ(level int) float64 { return m.nm.LogQ(level) }

func log2Add(a, b float64) float64 { return exec.Log2Add(a, b) }

// FreshSK is exec's payload of a fresh secret-key encryption.
func (m Model) FreshSK() float64 { return m.nm.FreshSK() }

// MulPlain is the payload after a product by an encoded plaintext.
func (m Model) MulPlain(nu float64) float64 { return m.nm.MulPlain(nu) }

// Rescale is the payload after dividing by the prime of level.
func (m Model) Rescale(nu float64, level int) float64 { return m.nm.Rescale(nu, level) }

// Flooded is the payload after the flooding that precedes every
// server-to-client ciphertext (exec.NoiseModel.Flooded).
func (m Model) Flooded(nu float64) float64 { return m.nm.Flooded(nu) }

// NoiseState is what the server knows about the noise of one cache
// ciphertext: its level and a bound of its payload, kept in three parts so
// that sums of fresh encryptions are bounded tightly:
//
//	payload <= Msgs·(t-1) + Fresh·B_e·t + 2^Extra
//
// Msgs counts the plaintext polynomials summed (each has coefficients in
// [0, t), so their sum is below Msgs·(t-1)), Fresh the fresh secret-key
// encryption errors summed (each below B_e, the bound of lattigo's error
// distribution: worst case, not an average), and Extra bounds everything
// else (the result of homomorphic products and rescales). One fresh
// encryption (Msgs = Fresh = 1) is exec's FreshSK.
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
		t := math.Exp2(m.nm.LogT())
		p = math.Log2(s.Msgs*(t-1) + s.Fresh*m.nm.ErrorBound()*t)
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
// the ciphertext is rescaled down to kernelLevel, gets the server's share
// added, is multiplied by a fresh encryption, summed over sumTerms
// products, flooded, and must still decrypt (exec.NoiseModel.KernelSlack).
// Negative slack means the next product would be wrong; -Inf if s is below
// kernelLevel.
func (m Model) KernelSlack(s NoiseState, kernelLevel, sumTerms int) float64 {
	if s.Level < kernelLevel {
		return math.Inf(-1)
	}
	return m.nm.KernelSlack(m.downTo(s, kernelLevel), kernelLevel, sumTerms)
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
