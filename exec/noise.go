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

// StatisticalSecurity is the statistical security, in bits, of the noise
// flooding before every server-to-client ciphertext: the distribution of
// what the client decrypts is within statistical distance 2^-40 of one that
// depends only on the client's share.
const StatisticalSecurity = 40

// NoiseModel tracks, in bits, the size of the "payload" of a BGV
// ciphertext: decryption times t gives m + t·e over the integers (lattigo's
// BGV scales plaintexts by t^-1 mod Q), and the payload is
// log2 ||m + t·e||_inf. Decryption is exact while the payload stays below
// log2(Q_level) - 1. It is the one noise model of the project: every
// primitive of this package plans its levels and its flooding with it, and
// package kv tracks its cache with it.
//
// The constants are those of the noise budget of package params (see the
// comment on its moduli chains), which were measured with lattigo: with
// n = log2 N and T = log2 t, a fresh secret-key encryption has payload
// T + 4.3, a public-key one T + n/2 + 1.5; a product by a plaintext whose
// coefficients are uniform modulo t is dominated by the systematic part
// m·m' of size N·t², 2T + n - 1; a ct-ct product of two fresh secret-key
// encryptions measures 2T + n - 0.7. Sums grow linearly (+ log2 k for k
// terms), which is an upper bound, not an average; a fold over k slot
// blocks counts k terms even where the slots are zero (the payload is a
// polynomial: zero slots do not make zero coefficients). The exactness
// tests of every primitive decrypt at the levels this model chooses, and
// TestNoiseModel decrypts the server's ciphertexts just before flooding at
// bgv-test-insecure, bgv-n13 and bgv-n14: the model bounds every
// measurement, by 1.5 to 6.2 bits (linear layers, decode and prefill
// attention); TestKernelNoiseOverCache does the same for the attention
// kernels over a kv cache (many client appends; homomorphic appends and
// refreshes).
//
// A NoiseModel is a value, safe for concurrent use.
type NoiseModel struct {
	logN, logT float64
	logQ       []float64 // log2 of each prime of Q
	kappa      int       // statistical security of the flooding, bits
}

// NewNoiseModel is the model of p with StatisticalSecurity bits of
// statistical security for the flooding.
func NewNoiseModel(p bgv.Parameters) NoiseModel {
	m := NoiseModel{logN: float64(p.LogN()), logT: math.Log2(float64(p.PlaintextModulus())), kappa: StatisticalSecurity}
	for _, q := range p.Q() {
		m.logQ = append(m.logQ, math.Log2(float64(q)))
	}
	return m
}

// newNoiseModel is NewNoiseModel (the name the package used first).
func newNoiseModel(p bgv.Parameters) NoiseModel { return NewNoiseModel(p) }

// WithStatSecurity returns the model with kappa bits of statistical
// security for the flooding (kappa <= 0 means StatisticalSecurity).
func (m NoiseModel) WithStatSecurity(kappa int) NoiseModel {
	if kappa <= 0 {
		kappa = StatisticalSecurity
	}
	m.kappa = kappa
	return m
}

// StatSecurity is the statistical security, in bits, the model floods for.
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

// FreshSK is the payload of the client's secret-key encryptions (the
// client owns the secret key; these are smaller than public-key ones),
// with room for one plaintext added by the server: T + 5.
func (m NoiseModel) FreshSK() float64 { return m.logT + 5 }

// KeySwitch is the payload after a rotation or a relinearization: the
// key-switching error, divided by the special prime P (at least as large as
// every digit), is about one fresh public-key encryption.
func (m NoiseModel) KeySwitch(nu float64) float64 { return log2Add(nu, m.logT+m.logN/2+3) }

// AddPlain is the payload after adding an encoded plaintext (coefficients
// below t).
func (m NoiseModel) AddPlain(nu float64) float64 { return log2Add(nu, m.logT) }

// MulPlain is the payload after a product with an encoded plaintext (its
// coefficients are uniform modulo t): the message part m·m' (up to N·t²)
// or the noise part t·e·m' (the noise grows by t·sqrt(N)), whichever is
// larger.
func (m NoiseModel) MulPlain(nu float64) float64 {
	return math.Max(2*m.logT+m.logN+2, nu+m.logT+m.logN/2)
}

// MulCipher is the payload of a relinearized product of two ciphertexts of
// payloads a and b: the message part (2T + n + 2 for fresh inputs, as
// measured) or the product of the payloads times sqrt(N).
func (m NoiseModel) MulCipher(a, b float64) float64 {
	return m.KeySwitch(math.Max(2*m.logT+m.logN+2, a+b+m.logN/2-3))
}

// Sum is the payload of a sum of k terms of payload nu each, counted
// linearly (the systematic parts need not cancel).
func (m NoiseModel) Sum(nu float64, k int) float64 {
	if k <= 1 {
		return nu
	}
	return nu + math.Log2(float64(k))
}

// Rescale is the payload after dividing by the prime of a level: the
// payload shrinks by q, and rounding adds t·(r0 + r1·s) with |r| <= 1/2.
func (m NoiseModel) Rescale(nu float64, level int) float64 {
	return log2Add(nu-m.logQ[level], m.logT+m.logN/2+2)
}

// FloodBits is log2 of the flooding bound: E uniform in [-2^f, 2^f) is
// added to the error of a ciphertext whose payload is below 2^nu, that is
// whose error e is below 2^nu/t. For one coefficient the statistical
// distance between e + E and E is at most |e|/2^(f+1); over the N
// coefficients, by the union bound, N·|e|/2^(f+1). With
// f = nu - T + κ + n - 1 that is at most 2^-κ: κ bits of statistical
// security for the whole ciphertext, whatever computation produced it
// (nu bounds it). The server also adds a fresh public-key encryption of
// zero, which re-randomizes c1 (a deterministic function of the client's
// ciphertexts and the weights otherwise).
func (m NoiseModel) FloodBits(nu float64) float64 {
	return nu - m.logT + float64(m.kappa) + m.logN - 1
}

// Flooded is the payload after flooding: t·2^f plus what was there.
func (m NoiseModel) Flooded(nu float64) float64 { return log2Add(m.logT+m.FloodBits(nu), nu) + 0.1 }

// Fits reports whether a ciphertext of payload nu at level decrypts
// correctly: nu <= log2 Q_level - 1.
func (m NoiseModel) Fits(nu float64, level int) bool { return nu <= m.LogQ(level)-1 }

// CacheInput is the payload of a cache ciphertext (keys or values) as the
// attention kernels multiply it: the cache's payload bound cacheBits plus
// the server's plaintext share. cacheBits = 0 stands for a fresh
// secret-key encryption (FreshSK, which has room for the share).
func (m NoiseModel) CacheInput(cacheBits float64) float64 {
	if cacheBits == 0 {
		return m.FreshSK()
	}
	return math.Max(m.FreshSK(), m.AddPlain(cacheBits))
}

// CacheMessages is the number of plaintext messages (coefficients in
// [0, t), never centered) summed in a cache ciphertext, as the attention
// kernels count it: 1 for a fresh one (cacheBits = 0), cacheMsgs if given
// (> 0), else the worst case that the whole payload is such a sum,
// 2^(CacheInput(cacheBits) - T).
func (m NoiseModel) CacheMessages(cacheBits, cacheMsgs float64) float64 {
	switch {
	case cacheBits == 0:
		return 1
	case cacheMsgs > 0:
		return math.Max(cacheMsgs, 1)
	}
	return math.Max(1, math.Exp2(m.CacheInput(cacheBits)-m.logT))
}

// Attention is the payload of an attention kernel's output before the
// flooding: a product of the client's fresh encryption (payload in) with a
// cache ciphertext of payload bound cacheBits (see CacheInput) holding a
// sum of cacheMsgs messages (see CacheMessages), summed over terms
// products (HeadDim for the scores; for the values every token block of
// every cache ciphertext, see DecodeValues.Terms), then a key switch (the
// folding rotations).
//
// The product has two parts. The messages are not centered (their
// coefficients are in [0, t)): the product of a sum of k of them (plus the
// server's share) with the client's message has a systematic part of up
// to N·(k+1)·t²/8, bounded by MulCipher's 2T + n + 2 (measured for k = 1)
// plus log2((k+1)/2). The rest (noise times message, noise times noise)
// is centered and grows as MulCipher's a + b + n/2 - 3. Measured
// (TestKernelNoiseOverCache): 512 client appends at bgv-n14 put the
// systematic part 6 bits above what a fresh cache gives.
func (m NoiseModel) Attention(in, cacheBits, cacheMsgs float64, terms int) float64 {
	msgs := m.CacheMessages(cacheBits, cacheMsgs)
	sys := 2*m.logT + m.logN + 2 + math.Log2((msgs+1)/2)
	prod := math.Max(m.MulCipher(in, m.CacheInput(cacheBits)), m.KeySwitch(sys))
	return m.KeySwitch(m.Sum(prod, terms))
}

// KernelSlack is the margin, in bits, that a cache ciphertext of payload
// cacheBits holding cacheMsgs messages (see Attention) at level leaves an
// attention kernel there (terms products summed, then flooded):
// log2 Q_level - 1 minus the flooded payload. Negative means the kernel's
// result would not decrypt.
func (m NoiseModel) KernelSlack(cacheBits, cacheMsgs float64, level, terms int) float64 {
	return m.LogQ(level) - 1 - m.Flooded(m.Attention(m.FreshSK(), cacheBits, cacheMsgs, terms))
}

// sendPlan is how a server ciphertext of payload nu at level from is sent
// to the client: flooded at level from (the flooding must fit there), then
// rescaled down to level to, the lowest level at which it still decrypts:
// fewer bytes to send. Rescaling after flooding keeps the statistical
// security: the rescaled ciphertext is a public function of the flooded
// one, and no function increases statistical distance.
type sendPlan struct {
	from, to  int
	floodBits float64
	payload   float64 // when sent
}

// floodInt is the flooding bound as flood takes it: ceil(floodBits).
func (sp sendPlan) floodInt() int { return int(math.Ceil(sp.floodBits)) }

// planSend plans the return of a ciphertext of payload nu at level from.
// It is an error if the flooding does not fit at that level: the
// parameters are too small for the computation plus the flooding.
func (m NoiseModel) planSend(nu float64, from int) (sendPlan, error) {
	if from < 0 || from >= len(m.logQ) {
		return sendPlan{}, fmt.Errorf("exec: level %d outside 0..%d", from, len(m.logQ)-1)
	}
	if math.IsNaN(nu) || math.IsInf(nu, 0) {
		return sendPlan{}, fmt.Errorf("exec: payload of %v bits", nu)
	}
	f := m.Flooded(nu)
	if !m.Fits(f, from) {
		return sendPlan{}, fmt.Errorf("exec: a payload of %.1f bits at level %d (log Q %.1f) leaves no room for %d bits of flooding: it would need log Q >= %.1f",
			nu, from, m.LogQ(from), m.kappa, f+1)
	}
	sp := sendPlan{from: from, to: from, floodBits: m.FloodBits(nu), payload: f}
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
func (m NoiseModel) inputLevel(compute func(nu float64) float64) (in int, send sendPlan, err error) {
	out := compute(m.FreshSK())
	for lvl := 0; lvl < len(m.logQ); lvl++ {
		if sp, e := m.planSend(out, lvl); e == nil {
			return lvl, sp, nil
		}
	}
	top := len(m.logQ) - 1
	_, err = m.planSend(out, top)
	return top, sendPlan{}, err
}

// ctBytes is the size of one framed degree-1 ciphertext at a level, as
// net.SendObject sends it: frame header, metadata flag, metadata, and two
// polynomials of (level+1) rows of N words each with their length
// prefixes.
func ctBytes(logN, level int) int64 {
	n := int64(1) << logN
	poly := 8 + int64(level+1)*(8+8*n)
	return net.FrameOverhead + 1 + int64(rlwe.MetaData{}.BinarySize()) + 8 + 2*poly
}

// flooder adds the flooding error to ciphertexts and draws the masks of
// the server's shares. It draws from ChaCha8 (math/rand/v2's
// cryptographically strong generator) keyed with 32 bytes from
// crypto/rand, so masks and errors are cryptographically uniform; it is
// several times faster than reading crypto/rand for every value, which
// makes a mask cost about one share operation per element (see
// maskCost).
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
