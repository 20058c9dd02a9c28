package exec

import (
	crand "crypto/rand"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/net"
)

// StatisticalSecurity is the default statistical security, in bits, of the
// noise flooding before a server-to-client ciphertext: the distribution of
// what the client decrypts is within statistical distance 2^-40 of one that
// depends only on the client's share. A session floods each ciphertext for
// more (see NoiseModel.FloodBits and package sim's session budget).
const StatisticalSecurity = 40

// NoiseModel bounds, in bits, the "payload" of a BGV ciphertext: decryption
// times t gives X = m + t·e over the integers (lattigo's BGV scales
// plaintexts by t^-1 mod Q and products by t), and the payload is
// log2 ||X||_inf. Decryption is exact while ||X||_inf < Q_level/2, that is
// while the payload is at most log2(Q_level) - 1. It is the one noise model
// of the project: every primitive of this package plans its levels and its
// flooding with it, and package kv tracks its cache with it.
//
// # The bounds are worst cases
//
// Every rule is a worst-case bound on the infinity norm, a consequence of
// the triangle inequality and of ||a·b|| <= ||a||_1·||b|| <= N·||a||·||b||
// in Z[X]/(X^N + 1); none is an average or a fitted constant. The only
// facts about the randomness used are the supports of lattigo's
// distributions: errors are discrete Gaussians truncated at B_e = 19.2
// (rlwe.DefaultXe: rejection sampling, never larger), secrets are ternary
// (rlwe.DefaultXs: ||s||_1 <= N, or h for a fixed Hamming weight h). With
// n = log2 N:
//
//   - Fresh secret-key encryption of m in [0, t)^N: c0 + c1·s = t^-1·m + e
//     with ||e|| <= B_e, so ||X|| <= (t-1) + t·B_e  (FreshSK; about T + 4.34).
//   - Public-key encryption of zero (the server's re-randomizer, drawn over
//     Q·P and divided by P): e = (u·e_pk + e0 + e1·s)/P + r0 + r1·s with u
//     ternary, |r_i| <= 1/2, so ||e|| <= (2N + 1)·B_e/P + (1 + ||s||_1)/2
//     and ||X|| <= t·||e||  (ZeroPK; about T + n - 1).
//   - Adding a plaintext (coefficients in [0, t)): + (t - 1)  (AddPlain).
//   - Product by a plaintext: ||X·m'|| <= N·||X||·(t-1)  (MulPlain).
//   - Product of two ciphertexts (tensor, times t): ||X1·X2|| <= N·||X1||·||X2||,
//     then a relinearization  (MulCipher).
//   - Key switching (a rotation or a relinearization; an automorphism only
//     permutes coefficients up to sign): the gadget product adds
//     Σ_i d_i·e_i/P with |d_i| below the digit modulus D_i and ||e_i|| <= B_e,
//     plus the rounding of the division by P, r0 + r1·s:
//   - t·(N·B_e·Σ_i D_i/P + (1 + ||s||_1)/2)  (KeySwitch).
//   - Rescaling by q_l (lattigo divides and rounds each component):
//     ||X'|| <= ||X||/q_l + t·(1 + ||s||_1)/2  (Rescale).
//   - Sums: ||Σ X_i|| <= Σ ||X_i||  (Sum); a fold y <- y + rot(y) at most
//     doubles the bound and adds one key switch (Fold).
//
// # Flooding
//
// Before a ciphertext goes to the client the server adds a pad (pads.go):
// a public-key encryption of the mask's opposite (a plaintext, AddPlain,
// in a fresh encryption of zero, ZeroPK: it re-randomizes c1) with t·E in
// c0's error, E uniform on the integers of [-2^f, 2^f). What the client
// decrypts is X = y + t·(e + E) for its output y and an error e that
// depends on the server's data, with ||e|| <= (||X_pre|| + t)/t where X_pre
// (payload nu, the pad's mask and encryption included) is what the model
// bounds.
// For one coefficient the statistical distance between e + E and E is at
// most |e|/2^(f+1); over the N coefficients at most N·||e||/2^(f+1). With
// f = ceil(log2 ||e|| + κ + n - 1) (FloodBits) that is at most 2^-κ: κ bits
// for the ciphertext, whatever computation produced it. Over a session of D
// returned ciphertexts the distances add (a hybrid over the transcript), so
// a session floods each ciphertext for κ + log2 D bits to keep κ for the
// whole transcript (package sim). Rescaling after flooding keeps the
// distance: a public function of the flooded ciphertext cannot increase it.
//
// A NoiseModel is a value, safe for concurrent use.
type NoiseModel struct {
	logN, logT float64
	logQ       []float64 // log2 of each prime of Q
	kappa      int       // statistical security of the flooding, bits

	t      float64 // t
	errMax float64 // B_e, the bound of the error distribution
	secL1  float64 // bound of ||s||_1
	ks     float64 // payload a key switch adds, bits (at the top level)
	zero   float64 // payload of the server's public-key encryption of zero, bits
	round  float64 // payload the rounding of a rescale adds, bits
}

// NewNoiseModel is the model of p with StatisticalSecurity bits of
// statistical security for the flooding.
func NewNoiseModel(p bgv.Parameters) NoiseModel {
	N := float64(p.N())
	m := NoiseModel{logN: float64(p.LogN()), t: float64(p.PlaintextModulus()), kappa: StatisticalSecurity}
	m.logT = math.Log2(m.t)
	for _, q := range p.Q() {
		m.logQ = append(m.logQ, math.Log2(float64(q)))
	}
	m.errMax = rlwe.DefaultNoiseBound
	if g, ok := p.Xe().(ring.DiscreteGaussian); ok && g.Bound > 0 {
		m.errMax = g.Bound
	}
	m.secL1 = N
	if tr, ok := p.Xs().(ring.Ternary); ok && tr.H > 0 && float64(tr.H) < N {
		m.secL1 = float64(tr.H)
	}
	logP := 0.0
	for _, q := range p.P() {
		logP += math.Log2(float64(q))
	}
	// Σ_i D_i / P over the digits of the RNS gadget decomposition at the top
	// level: PCount() consecutive primes of Q per digit.
	digits, per := 0.0, max(p.PCount(), 1)
	for i := 0; i < len(m.logQ); i += per {
		logD := 0.0
		for _, lq := range m.logQ[i:min(i+per, len(m.logQ))] {
			logD += lq
		}
		digits += math.Exp2(logD - logP)
	}
	half := (1 + m.secL1) / 2
	m.ks = math.Log2(m.t * (N*m.errMax*digits + half))
	m.zero = math.Log2(m.t * ((2*N+1)*m.errMax*math.Exp2(-logP) + half))
	m.round = math.Log2(m.t * half)
	return m
}

// WithStatSecurity returns the model with kappa bits of statistical
// security per flooded ciphertext (kappa <= 0 means StatisticalSecurity).
func (m NoiseModel) WithStatSecurity(kappa int) NoiseModel {
	if kappa <= 0 {
		kappa = StatisticalSecurity
	}
	m.kappa = kappa
	return m
}

// StatSecurity is the statistical security, in bits, the model floods
// each ciphertext for.
func (m NoiseModel) StatSecurity() int { return m.kappa }

// LogT and LogN are log2 t and log2 N.
func (m NoiseModel) LogT() float64 { return m.logT }
func (m NoiseModel) LogN() float64 { return m.logN }

// MaxLevel is the top level of the parameters.
func (m NoiseModel) MaxLevel() int { return len(m.logQ) - 1 }

// LogQ is log2 of the modulus at a level.
func (m NoiseModel) LogQ(level int) float64 {
	s := 0.0
	for _, q := range m.logQ[:level+1] {
		s += q
	}
	return s
}

// LogPrime is log2 of the prime of a level.
func (m NoiseModel) LogPrime(level int) float64 { return m.logQ[level] }

// Log2Add is log2(2^a + 2^b) (-Inf stands for an empty term).
func Log2Add(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	hi, lo := math.Max(a, b), math.Min(a, b)
	return hi + math.Log2(1+math.Exp2(lo-hi))
}

func log2Add(a, b float64) float64 { return Log2Add(a, b) }

// ErrorBound is B_e, the bound of lattigo's error distribution.
func (m NoiseModel) ErrorBound() float64 { return m.errMax }

// FreshSK is the payload of the client's secret-key encryption of a
// message in [0, t): (t-1) + t·B_e.
func (m NoiseModel) FreshSK() float64 { return math.Log2(m.t - 1 + m.t*m.errMax) }

// ZeroPK is the payload of the server's public-key encryption of zero (see
// the type's documentation).
func (m NoiseModel) ZeroPK() float64 { return m.zero }

// KeySwitchNoise is the payload one key switch adds, in bits.
func (m NoiseModel) KeySwitchNoise() float64 { return m.ks }

// KeySwitch is the payload after a rotation or a relinearization.
func (m NoiseModel) KeySwitch(nu float64) float64 { return log2Add(nu, m.ks) }

// AddPlain is the payload after adding an encoded plaintext (coefficients
// in [0, t)).
func (m NoiseModel) AddPlain(nu float64) float64 { return log2Add(nu, math.Log2(m.t-1)) }

// MulPlain is the payload after a product with an encoded plaintext
// (coefficients in [0, t)): N·2^nu·(t-1).
func (m NoiseModel) MulPlain(nu float64) float64 { return nu + m.logN + math.Log2(m.t-1) }

// MulCipher is the payload of a relinearized product of two ciphertexts of
// payloads a and b: N·2^a·2^b, plus a key switch.
func (m NoiseModel) MulCipher(a, b float64) float64 { return m.KeySwitch(a + b + m.logN) }

// Sum is the payload of a sum of k terms of payload nu each.
func (m NoiseModel) Sum(nu float64, k int) float64 {
	if k <= 1 {
		return nu
	}
	return nu + math.Log2(float64(k))
}

// Fold is the payload after f folding steps y <- y + rot(y) (a rotate and
// add sum over 2^f slot blocks): 2^f·2^nu + (2^f - 1) key switches.
func (m NoiseModel) Fold(nu float64, f int) float64 {
	if f <= 0 {
		return nu
	}
	k := math.Exp2(float64(f))
	return log2Add(nu+float64(f), m.ks+math.Log2(k-1))
}

// Rescale is the payload after dividing by the prime of a level: the
// payload shrinks by q, and rounding adds t·(1 + ||s||_1)/2.
func (m NoiseModel) Rescale(nu float64, level int) float64 {
	return log2Add(nu-m.logQ[level], m.round)
}

// dataError is log2 of the bound of the data-dependent error e =
// (X - y)/t of a ciphertext whose payload before the flooding is at most
// 2^nu (the pad but for its flooding included): (2^nu + t)/t.
func (m NoiseModel) dataError(nu float64) float64 { return log2Add(nu, m.logT) - m.logT }

// FloodBits is log2 of the flooding bound f, before rounding up, for a
// ciphertext whose payload before the flooding is at most 2^nu (the pad
// but for its flooding included, see premask): log2 ||e|| + κ + n - 1,
// so that N·||e||/2^(f+1) <= 2^-κ.
func (m NoiseModel) FloodBits(nu float64) float64 {
	return m.dataError(nu) + float64(m.kappa) + m.logN - 1
}

// Flooded is the payload after flooding a ciphertext of payload nu (the
// pad but for its flooding included) with E uniform in
// [-2^f, 2^f), f = ceil(FloodBits(nu)): 2^nu + t·2^f.
func (m NoiseModel) Flooded(nu float64) float64 {
	return log2Add(nu, m.logT+math.Ceil(m.FloodBits(nu)))
}

// premask is the payload of a result of payload nu once the server has
// added its pad but for the flooding (the mask and the encryption of it):
// what the flooding must cover.
func (m NoiseModel) premask(nu float64) float64 { return log2Add(m.AddPlain(nu), m.zero) }

// Fits reports whether a ciphertext of payload nu at level decrypts
// correctly: nu <= log2 Q_level - 1.
func (m NoiseModel) Fits(nu float64, level int) bool { return nu <= m.LogQ(level)-1 }

// CacheInput is the payload of a cache ciphertext (keys or values) as the
// attention kernels multiply it: the cache's payload bound cacheBits plus
// the server's plaintext share. cacheBits = 0 stands for a fresh
// secret-key encryption.
func (m NoiseModel) CacheInput(cacheBits float64) float64 {
	if cacheBits == 0 {
		cacheBits = m.FreshSK()
	}
	return m.AddPlain(cacheBits)
}

// Attention is the payload of an attention kernel's output before the
// flooding: a product of the client's encryption (payload in, the server's
// share added) with a cache ciphertext of payload bound cacheBits (see
// CacheInput), relinearized, then terms such products summed by additions
// and folds (HeadDim for the scores, C·B for the values: see the kernels).
// A fold of f steps over a sum of k products is bounded by 2^f·k products
// plus 2^f key switches; terms = 2^f·k, so terms·(product + key switch)
// bounds it.
func (m NoiseModel) Attention(in, cacheBits float64, terms int) float64 {
	prod := m.MulCipher(m.AddPlain(in), m.CacheInput(cacheBits))
	return m.Sum(m.KeySwitch(prod), terms)
}

// KernelSlack is the margin, in bits, that a cache ciphertext of payload
// cacheBits at level leaves an attention kernel there (terms products
// summed, then masked and flooded): log2 Q_level - 1 minus the flooded
// payload. Negative means the kernel's result would not decrypt.
func (m NoiseModel) KernelSlack(cacheBits float64, level, terms int) float64 {
	return m.LogQ(level) - 1 - m.Flooded(m.premask(m.Attention(m.FreshSK(), cacheBits, terms)))
}

// returnPath is how a server ciphertext of payload nu at level from goes
// back to the client: masked and flooded at level from (the flooding must
// fit there), then rescaled down to level to, the lowest level at which it
// still decrypts: fewer bytes to send. Rescaling after flooding keeps the
// statistical security: the rescaled ciphertext is a public function of
// the flooded one, and no function increases statistical distance.
type returnPath struct {
	from, to  int
	nu        float64 // payload bound of the result, before the mask
	floodBits float64 // FloodBits of the masked result
	payload   float64 // when sent
	kappa     int     // statistical security of this ciphertext's flooding
}

// floodInt is the flooding bound as flood takes it: ceil(floodBits).
func (sp returnPath) floodInt() int { return int(math.Ceil(sp.floodBits)) }

// returnPathFor is the return path of a ciphertext of payload nu at level
// from. It is an error if the flooding does not fit at that level: the
// parameters are too small for the computation plus the flooding.
func (m NoiseModel) returnPathFor(nu float64, from int) (returnPath, error) {
	if from < 0 || from >= len(m.logQ) {
		return returnPath{}, fmt.Errorf("exec: level %d outside 0..%d", from, len(m.logQ)-1)
	}
	if math.IsNaN(nu) || math.IsInf(nu, 0) {
		return returnPath{}, fmt.Errorf("exec: payload of %v bits", nu)
	}
	pre := m.premask(nu)
	f := m.Flooded(pre)
	if !m.Fits(f, from) {
		return returnPath{}, fmt.Errorf("exec: a payload of %.1f bits at level %d (log Q %.1f) leaves no room for %d bits of flooding: it would need log Q >= %.1f",
			nu, from, m.LogQ(from), m.kappa, f+1)
	}
	sp := returnPath{from: from, to: from, nu: nu, floodBits: m.FloodBits(pre), payload: f, kappa: m.kappa}
	for sp.to > 0 {
		next := m.Rescale(sp.payload, sp.to)
		if !m.Fits(next, sp.to-1) {
			break
		}
		sp.to--
		sp.payload = next
	}
	return sp, nil
}

// inputLevel picks the lowest level at which the client can encrypt the
// input of a computation (payload in -> payload out, no level consumed) so
// that the result can still be flooded and sent: fewer bytes and cheaper
// operations.
func (m NoiseModel) inputLevel(compute func(nu float64) float64) (in int, send returnPath, err error) {
	out := compute(m.FreshSK())
	for lvl := 0; lvl < len(m.logQ); lvl++ {
		if sp, e := m.returnPathFor(out, lvl); e == nil {
			return lvl, sp, nil
		}
	}
	top := len(m.logQ) - 1
	_, err = m.returnPathFor(out, top)
	return top, returnPath{}, err
}

// ctBytes is the size of one framed degree-1 ciphertext at a level, as
// net.SendObject sends it: the frame header and CiphertextSize.
func ctBytes(logN, level int) int64 { return net.FrameOverhead + CiphertextSize(logN, 1, level) }

// flooder adds the flooding error to ciphertexts and draws the masks of
// the server's shares. It draws from ChaCha8 (math/rand/v2's
// cryptographically strong generator) keyed with 32 bytes from
// crypto/rand, so masks and errors are cryptographically uniform; it is
// several times faster than reading crypto/rand for every value, which
// makes a mask cost about one share operation per element (see
// layoutCost and padCost).
type flooder struct {
	prng *rand.ChaCha8
	rng  *rand.Rand
	buf  []byte
}

func newFlooder() (*flooder, error) {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("exec: seeding the flooding PRNG: %w", err)
	}
	prng := rand.NewChaCha8(seed)
	return &flooder{prng: prng, rng: rand.New(prng)}, nil
}

// mask returns n values uniform modulo t (Lemire's unbiased method).
func (f *flooder) mask(t uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = f.rng.Uint64N(t)
	}
	return out
}

// flood adds to ct's first component a polynomial whose coefficients are
// uniform in [-2^bits, 2^bits) (bits <= 1000), in the NTT domain of ct's
// level: the decrypted error grows by exactly that polynomial.
func (f *flooder) flood(rq *ring.Ring, ct *rlwe.Ciphertext, bits int) error {
	if bits < 1 || bits > 1000 {
		return fmt.Errorf("exec: flooding bound 2^%d out of range", bits)
	}
	level := ct.Level()
	rq = rq.AtLevel(level)
	n := rq.N()
	// A coefficient is v - 2^bits with v uniform in [0, 2^(bits+1)), read as
	// words little-endian words, the top one masked.
	total := bits + 1
	words := (total + 63) / 64
	topBits := total - 64*(words-1)
	if cap(f.buf) < 8*words*n {
		f.buf = make([]byte, 8*words*n)
	}
	buf := f.buf[:8*words*n]
	if _, err := f.prng.Read(buf); err != nil {
		return fmt.Errorf("exec: flooding PRNG: %w", err)
	}
	e := rq.NewPoly()
	for j, s := range rq.SubRings[:level+1] {
		q, bred := s.Modulus, s.BRedConstant
		two64 := ring.BRedAdd(1<<63, q, bred) * 2 % q // 2^64 mod q (q < 2^62)
		offset := powMod2(bits, q, bred)
		coeffs := e.Coeffs[j]
		for i := 0; i < n; i++ {
			w := buf[8*words*i:]
			// Horner from the top word down.
			var v uint64
			for k := words - 1; k >= 0; k-- {
				word := le64(w[8*k:])
				if k == words-1 && topBits < 64 {
					word &= 1<<topBits - 1
				}
				v = ring.BRed(v, two64, q, bred) + ring.BRedAdd(word, q, bred)
				if v >= q {
					v -= q
				}
			}
			if v >= offset {
				coeffs[i] = v - offset
			} else {
				coeffs[i] = v + q - offset
			}
		}
	}
	rq.NTT(e, e)
	rq.Add(ct.Value[0], e, ct.Value[0])
	return nil
}

// powMod2 is 2^k mod q.
func powMod2(k int, q uint64, bred []uint64) uint64 {
	r, b := uint64(1), uint64(2)%q
	for ; k > 0; k >>= 1 {
		if k&1 == 1 {
			r = ring.BRed(r, b, q, bred)
		}
		b = ring.BRed(b, b, q, bred)
	}
	return r
}

func le64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}
