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

// noiseModel tracks, in bits, the size of the "payload" of a BGV ciphertext:
// decryption times t gives m + t·e over the integers (lattigo's BGV scales
// plaintexts by t^-1 mod Q), and the payload is log2 ||m + t·e||_inf.
// Decryption is exact while the payload stays below log2(Q_level) - 1.
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
// attention).
type noiseModel struct {
	logN, logT float64
	logQ       []float64 // log2 of each prime of Q
}

func newNoiseModel(p bgv.Parameters) noiseModel {
	m := noiseModel{logN: float64(p.LogN()), logT: math.Log2(float64(p.PlaintextModulus()))}
	for _, q := range p.Q() {
		m.logQ = append(m.logQ, math.Log2(float64(q)))
	}
	return m
}

// logQAt is log2 of the modulus at a level.
func (m noiseModel) logQAt(level int) float64 {
	s := 0.0
	for _, q := range m.logQ[:level+1] {
		s += q
	}
	return s
}

// log2Add is log2(2^a + 2^b).
func log2Add(a, b float64) float64 {
	hi, lo := math.Max(a, b), math.Min(a, b)
	return hi + math.Log2(1+math.Exp2(lo-hi))
}

// freshSK is the payload of the client's secret-key encryptions (the
// client owns the secret key; these are smaller than public-key ones).
func (m noiseModel) freshSK() float64 { return m.logT + 5 }

// keySwitch is the payload after a rotation or a relinearization: the
// key-switching error, divided by the special prime P (at least as large as
// every digit), is about one fresh public-key encryption.
func (m noiseModel) keySwitch(nu float64) float64 { return log2Add(nu, m.logT+m.logN/2+3) }

// mulPlain is the payload after a product with an encoded plaintext (its
// coefficients are uniform modulo t): the message part m·m' (up to N·t²)
// or the noise part t·e·m' (the noise grows by t·sqrt(N)), whichever is
// larger.
func (m noiseModel) mulPlain(nu float64) float64 {
	return math.Max(2*m.logT+m.logN+2, nu+m.logT+m.logN/2)
}

// mulCipher is the payload of a relinearized product of two ciphertexts of
// payloads a and b: the message part (2T + n + 2 for fresh inputs, as
// measured) or the product of the payloads times sqrt(N).
func (m noiseModel) mulCipher(a, b float64) float64 {
	return m.keySwitch(math.Max(2*m.logT+m.logN+2, a+b+m.logN/2-3))
}

// sum is the payload of a sum of k terms of payload nu each, counted
// linearly (the systematic parts need not cancel).
func (m noiseModel) sum(nu float64, k int) float64 {
	if k <= 1 {
		return nu
	}
	return nu + math.Log2(float64(k))
}

// rescale is the payload after dividing by the prime of a level: the
// payload shrinks by q, and rounding adds t·(r0 + r1·s) with |r| <= 1/2.
func (m noiseModel) rescale(nu float64, level int) float64 {
	return log2Add(nu-m.logQ[level], m.logT+m.logN/2+2)
}

// floodBits is log2 of the flooding bound: E uniform in [-2^f, 2^f) is
// added to the error of a ciphertext whose payload is below 2^nu, that is
// whose error e is below 2^nu/t. For one coefficient the statistical
// distance between e + E and E is at most |e|/2^(f+1); over the N
// coefficients, by the union bound, N·|e|/2^(f+1). With
// f = nu - T + 40 + n - 1 that is at most 2^-40: 40 bits of statistical
// security for the whole ciphertext, whatever computation produced it
// (nu bounds it). The server also adds a fresh public-key encryption of
// zero, which re-randomizes c1 (a deterministic function of the client's
// ciphertexts and the weights otherwise).
func (m noiseModel) floodBits(nu float64) float64 {
	return nu - m.logT + StatisticalSecurity + m.logN - 1
}

// flooded is the payload after flooding: t·2^f plus what was there.
func (m noiseModel) flooded(nu float64) float64 { return log2Add(m.logT+m.floodBits(nu), nu) + 0.1 }

// fits reports whether a ciphertext of payload nu at level decrypts
// correctly: nu <= log2 Q_level - 1.
func (m noiseModel) fits(nu float64, level int) bool { return nu <= m.logQAt(level)-1 }

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
func (m noiseModel) planSend(nu float64, from int) (sendPlan, error) {
	f := m.flooded(nu)
	if !m.fits(f, from) {
		return sendPlan{}, fmt.Errorf("exec: a payload of %.1f bits at level %d (log Q %.1f) leaves no room for %d bits of flooding: it would need log Q >= %.1f",
			nu, from, m.logQAt(from), StatisticalSecurity, f+1)
	}
	sp := sendPlan{from: from, to: from, floodBits: m.floodBits(nu), payload: f}
	for sp.to > 0 {
		next := m.rescale(sp.payload, sp.to)
		if !m.fits(next, sp.to-1) {
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
func (m noiseModel) inputLevel(compute func(nu float64) float64) (in int, send sendPlan, err error) {
	out := compute(m.freshSK())
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
