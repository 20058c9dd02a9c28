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

// TestBGVRoundTrip checks at every BGV preset that a fresh public-key
// encryption times an arbitrary plaintext, flooded as for the worst sum the
// preset is sized for, then rescaled, decrypts exactly to the slot-wise
// product modulo t.
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
			ct, err := k.eval.MulNew(k.encrypt(t, a, false), k.plaintext(t, b))
			if err != nil {
				t.Fatal(err)
			}
			// Flood for B_lin (presets.go, points 3 and 5): E has
			// B_lin - T + κ - 1 + n bits.
			n, T := float64(pr.LogN), math.Log2(float64(tm))
			blin := 2*T + n + float64(bgvBudgets[pr.Name].sumBits) + 2
			k.flood(t, ct, int(math.Ceil(blin-T+float64(pr.FixedPoint.StatSecurity)-1+n)))
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

// TestNoiseBudget checks the noise arithmetic of presets.go at every BGV
// preset: the chains satisfy the requirements computed from the model, and
// the noise measured after one ct-pt product, a sum of 64 rotated products and
// a ct-ct product stays within the model. The measured values are logged
// (go test -v -run NoiseBudget).
func TestNoiseBudget(t *testing.T) {
	const kappa = MinStatSecurity
	for _, pr := range All() {
		if pr.Scheme != BGV {
			continue
		}
		t.Run(pr.Name, func(t *testing.T) {
			bud, ok := bgvBudgets[pr.Name]
			if !ok {
				t.Fatal("no entry in bgvBudgets")
			}
			n := float64(pr.LogN)
			T := math.Log2(float64(pr.PlaintextModulus()))
			D := float64(bud.sumBits)
			logQ := pr.LogQ()

			// The requirements (presets.go, "Hence").
			reqLin := 2*T + 2*n + D + kappa + 3
			reqAttPK := 2*T + 2.5*n + D + kappa + 2
			if logQ < reqLin {
				t.Errorf("log Q = %.2f < %.2f needed by the linear layer", logQ, reqLin)
			}
			if bud.attnSKOnly {
				if logQ >= reqAttPK {
					t.Errorf("attnSKOnly is set but attention with public-key encryptions fits (%.2f >= %.2f)", logQ, reqAttPK)
				}
			} else if logQ < reqAttPK {
				t.Errorf("log Q = %.2f < %.2f needed by attention", logQ, reqAttPK)
			}
			t.Logf("T = %.2f, log Q = %.2f, needs %.2f (linear, D = %d), %.2f (attention, public key)", T, logQ, reqLin, bud.sumBits, reqAttPK)

			skipLarge(t, pr)
			k := newBGVKit(t, pr, true)
			// The linear layer works on public-key encryptions.
			a := k.encrypt(t, k.random(), false)
			fresh := k.payloadBits(a)
			if model := T + n/2 + 1.5; fresh > model {
				t.Errorf("fresh public-key encryption: %.1f bits > model %.1f", fresh, model)
			}

			// One ct-pt product (point 2): model 2T + n + 2.
			m, err := k.eval.MulNew(a, k.plaintext(t, k.random()))
			if err != nil {
				t.Fatal(err)
			}
			one := k.payloadBits(m)
			if model := 2*T + n + 2; one > model {
				t.Errorf("ct-pt product: %.1f bits > model %.1f", one, model)
			}

			// 64 products of successive rotations (point 3, the worst
			// pattern measured): model 2T + n + 6 + 2.
			acc := m
			r := a
			for i := 1; i < 64; i++ {
				if r, err = k.eval.RotateColumnsNew(r, 1); err != nil {
					t.Fatal(err)
				}
				if err = k.eval.MulThenAdd(r, k.plaintext(t, k.random()), acc); err != nil {
					t.Fatal(err)
				}
			}
			sum := k.payloadBits(acc)
			if model := 2*T + n + 6 + 2; sum > model {
				t.Errorf("sum of 64 rotated products: %.1f bits > model %.1f", sum, model)
			}

			// One ct-ct product with relinearization (point 4), model
			// B_att at D = 0; then flooded for B_att at the preset's D
			// (point 5), it must still decrypt exactly.
			va, vb := k.random(), k.random()
			c, err := k.eval.MulRelinNew(k.encrypt(t, va, bud.attnSKOnly), k.encrypt(t, vb, bud.attnSKOnly))
			if err != nil {
				t.Fatal(err)
			}
			cc := k.payloadBits(c)
			model := 2*T + 1.5*n + 1
			if bud.attnSKOnly {
				model = 2*T + n + 2
			}
			if cc > model {
				t.Errorf("ct-ct product: %.1f bits > model %.1f", cc, model)
			}
			k.flood(t, c, int(math.Ceil(model+D-T+kappa-1+n)))
			got := k.decrypt(t, c)
			for i := range va {
				if want := mulMod(va[i], vb[i], k.p.PlaintextModulus()); got[i] != want {
					t.Fatalf("flooded ct-ct product, slot %d: got %d, want %d", i, got[i], want)
				}
			}
			t.Logf("measured: fresh %.1f (model %.1f); relative to 2T+n = %.1f: ct-pt %+.1f, 64 rotated ct-pt %+.1f, ct-ct (secret key only: %v) %+.1f",
				fresh, T+n/2+1.5, 2*T+n, one-(2*T+n), sum-(2*T+n), bud.attnSKOnly, cc-(2*T+n))
		})
	}
}
