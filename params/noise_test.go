package params

import (
	"crypto/rand"
	"math"
	"math/big"
	"math/bits"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
	"github.com/tuneinsight/lattigo/v5/utils/sampling"
)

// bgvKit bundles what the BGV tests need for one preset.
type bgvKit struct {
	p      bgv.Parameters
	sk     *rlwe.SecretKey
	pk     *rlwe.PublicKey
	ecd    *bgv.Encoder
	encPK  *rlwe.Encryptor
	encSK  *rlwe.Encryptor
	dec    *rlwe.Decryptor
	eval   *bgv.Evaluator
	sample *ring.UniformSampler
}

// newBGVKit instantiates the preset and generates keys: a relinearization
// key and the Galois key of a rotation by one slot if evk is true.
func newBGVKit(t *testing.T, pr Preset, evk bool) *bgvKit {
	t.Helper()
	p, err := pr.BGV()
	if err != nil {
		t.Fatal(err)
	}
	kg := rlwe.NewKeyGenerator(p)
	sk, pk := kg.GenKeyPairNew()
	var keys rlwe.EvaluationKeySet
	if evk {
		keys = rlwe.NewMemEvaluationKeySet(kg.GenRelinearizationKeyNew(sk), kg.GenGaloisKeyNew(p.GaloisElement(1), sk))
	}
	prng, err := sampling.NewPRNG()
	if err != nil {
		t.Fatal(err)
	}
	return &bgvKit{
		p: p, sk: sk, pk: pk,
		ecd:    bgv.NewEncoder(p),
		encPK:  rlwe.NewEncryptor(p, pk),
		encSK:  rlwe.NewEncryptor(p, sk),
		dec:    rlwe.NewDecryptor(p, sk),
		eval:   bgv.NewEvaluator(p, keys),
		sample: ring.NewUniformSampler(prng, p.RingT()),
	}
}

// random returns N values uniform modulo t.
func (k *bgvKit) random() []uint64 {
	return k.sample.ReadNew().Coeffs[0]
}

// plaintext encodes values at the top level.
func (k *bgvKit) plaintext(t *testing.T, values []uint64) *rlwe.Plaintext {
	t.Helper()
	pt := bgv.NewPlaintext(k.p, k.p.MaxLevel())
	if err := k.ecd.Encode(values, pt); err != nil {
		t.Fatal(err)
	}
	return pt
}

// encrypt encrypts values with the public key, or the secret key if sk.
func (k *bgvKit) encrypt(t *testing.T, values []uint64, sk bool) *rlwe.Ciphertext {
	t.Helper()
	enc := k.encPK
	if sk {
		enc = k.encSK
	}
	ct, err := enc.EncryptNew(k.plaintext(t, values))
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// decrypt decrypts and decodes ct.
func (k *bgvKit) decrypt(t *testing.T, ct *rlwe.Ciphertext) []uint64 {
	t.Helper()
	out := make([]uint64, k.p.MaxSlots())
	if err := k.ecd.Decode(k.dec.DecryptNew(ct), out); err != nil {
		t.Fatal(err)
	}
	return out
}

// payloadBits returns log2 of the infinity norm of the payload
// t·(c0 + c1·s) mod Q_level, lifted to (-Q/2, Q/2] (see presets.go).
func (k *bgvKit) payloadBits(ct *rlwe.Ciphertext) float64 {
	pt := k.dec.DecryptNew(ct)
	rq := k.p.RingQ().AtLevel(ct.Level())
	if pt.IsNTT {
		rq.INTT(pt.Value, pt.Value)
	}
	rq.MulScalar(pt.Value, k.p.PlaintextModulus(), pt.Value)
	coeffs := make([]*big.Int, k.p.N())
	for i := range coeffs {
		coeffs[i] = new(big.Int)
	}
	rq.PolyToBigintCentered(pt.Value, 1, coeffs)
	max := new(big.Int)
	for _, c := range coeffs {
		if c.CmpAbs(max) > 0 {
			max.Abs(c)
		}
	}
	f, _ := new(big.Float).SetInt(max).Float64()
	return math.Log2(f)
}

// flood adds t·E to the payload of ct, E uniform in [-2^logE, 2^logE], as
// the server does before returning a ciphertext (presets.go, point 5). In
// lattigo's representation c0 + c1·s = t^-1·payload, so adding E to c0 adds
// t·E to the payload.
func (k *bgvKit) flood(t *testing.T, ct *rlwe.Ciphertext, logE int) {
	t.Helper()
	bound := new(big.Int).Lsh(big.NewInt(1), uint(logE))
	width := new(big.Int).Add(new(big.Int).Lsh(bound, 1), big.NewInt(1))
	coeffs := make([]*big.Int, k.p.N())
	for i := range coeffs {
		e, err := rand.Int(rand.Reader, width)
		if err != nil {
			t.Fatal(err)
		}
		coeffs[i] = e.Sub(e, bound)
	}
	rq := k.p.RingQ().AtLevel(ct.Level())
	e := rq.NewPoly()
	rq.SetCoefficientsBigint(coeffs, e)
	if ct.IsNTT {
		rq.NTT(e, e)
	}
	rq.Add(ct.Value[0], e, ct.Value[0])
}

// mulMod returns a·b mod t.
func mulMod(a, b, t uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	_, r := bits.Div64(hi%t, lo, t)
	return r
}

// skipLarge skips presets with log N >= 15 in -short mode.
func skipLarge(t *testing.T, p Preset) {
	if testing.Short() && p.LogN >= 15 {
		t.Skipf("log N = %d: skipped in -short mode", p.LogN)
	}
}

// Worst-case payload bounds (see exec.NoiseModel, which every primitive
// plans with; params cannot import it): a fresh secret-key encryption is
// below t·(1 + B_e) with B_e = 19.2, the bound of lattigo's error
// distribution; a product by a plaintext multiplies a bound by N·t; a
// product of two ciphertexts multiplies the bounds and N.
const logFresh = 4.3407 // log2(1 + 19.2)

// sessionBits is the statistical security a session's flooding adds above
// κ for the largest session these tests stand for (2^15 returned
// ciphertexts: stories260K's whole context at bgv-n13).
const sessionBits = 15

// floodFor is the flooding exponent for a payload bound of nu bits:
// log2 of the data-dependent error plus κ + sessionBits + n - 1.
func floodFor(nu, T, n float64, kappa int) int {
	return int(math.Ceil(nu - T + float64(kappa+sessionBits) + n - 1))
}

// TestBGVRoundTrip checks at every BGV preset that a fresh secret-key
// encryption times an arbitrary plaintext, flooded for its worst-case bound
// and a session of 2^15 ciphertexts, then rescaled, decrypts exactly to the
// slot-wise product modulo t.
func TestBGVRoundTrip(t *testing.T) {
	for _, pr := range All() {
		if pr.Scheme != BGV {
			continue
		}
		t.Run(pr.Name, func(t *testing.T) {
			skipLarge(t, pr)
			k := newBGVKit(t, pr, false)
			tm := k.p.PlaintextModulus()
			a, b := k.random(), k.random()
			ct, err := k.eval.MulNew(k.encrypt(t, a, true), k.plaintext(t, b))
			if err != nil {
				t.Fatal(err)
			}
			n, T := float64(pr.LogN), math.Log2(float64(tm))
			k.flood(t, ct, floodFor(2*T+n+logFresh, T, n, pr.FixedPoint.StatSecurity))
			if ct.Level() > 0 {
				if err := k.eval.Rescale(ct, ct); err != nil {
					t.Fatal(err)
				}
			}
			got := k.decrypt(t, ct)
			for i := range a {
				if want := mulMod(a[i], b[i], tm); got[i] != want {
					t.Fatalf("slot %d: got %d, want %d = %d·%d mod t", i, got[i], want, a[i], b[i])
				}
			}
		})
	}
}

// TestNoiseBudget checks the worst-case bounds above against lattigo at
// every BGV preset (a fresh secret-key encryption, a ct-pt product, a
// ct-ct product), and that a ct-ct product flooded for its bound plus the
// 2^HeadDim-fold sum of an attention score still decrypts exactly: the
// chains hold the attention kernels' flooding. The measurements are logged
// (go test -v -run NoiseBudget).
func TestNoiseBudget(t *testing.T) {
	const foldBits = 6 // log2 of a head of 64, the scores' fold
	for _, pr := range All() {
		if pr.Scheme != BGV {
			continue
		}
		t.Run(pr.Name, func(t *testing.T) {
			skipLarge(t, pr)
			n := float64(pr.LogN)
			T := math.Log2(float64(pr.PlaintextModulus()))
			k := newBGVKit(t, pr, true)
			a := k.encrypt(t, k.random(), true)
			fresh := k.payloadBits(a)
			if bound := T + logFresh; fresh > bound {
				t.Errorf("fresh secret-key encryption: %.1f bits > bound %.1f", fresh, bound)
			}
			m, err := k.eval.MulNew(a, k.plaintext(t, k.random()))
			if err != nil {
				t.Fatal(err)
			}
			one := k.payloadBits(m)
			if bound := 2*T + n + logFresh; one > bound {
				t.Errorf("ct-pt product: %.1f bits > bound %.1f", one, bound)
			}
			va, vb := k.random(), k.random()
			c, err := k.eval.MulRelinNew(k.encrypt(t, va, true), k.encrypt(t, vb, true))
			if err != nil {
				t.Fatal(err)
			}
			cc := k.payloadBits(c)
			bound := 2*(T+logFresh) + n
			if cc > bound {
				t.Errorf("ct-ct product: %.1f bits > bound %.1f", cc, bound)
			}
			k.flood(t, c, floodFor(bound+foldBits, T, n, pr.FixedPoint.StatSecurity))
			got := k.decrypt(t, c)
			for i := range va {
				if want := mulMod(va[i], vb[i], k.p.PlaintextModulus()); got[i] != want {
					t.Fatalf("flooded ct-ct product, slot %d: got %d, want %d", i, got[i], want)
				}
			}
			t.Logf("measured (bound): fresh %.1f (%.1f), ct-pt %.1f (%.1f), ct-ct %.1f (%.1f)",
				fresh, T+logFresh, one, 2*T+n+logFresh, cc, bound)
		})
	}
}
