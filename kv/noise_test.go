package kv

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"testing"

	"github.com/cgsim/cgsim/internal/hetest"
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

// harness plays the client with a secret key of its own, so that the test
// can measure the noise of the ciphertexts the cache's server code
// produces (exec does not expose its client's key).
type harness struct {
	p   bgv.Parameters
	enc *rlwe.Encryptor
	dec *rlwe.Decryptor
	ecd *bgv.Encoder
}

func newHarness(p bgv.Parameters) *harness {
	sk := bgv.NewKeyGenerator(p).GenSecretKeyNew()
	return &harness{p: p, enc: bgv.NewEncryptor(p, sk), dec: bgv.NewDecryptor(p, sk), ecd: bgv.NewEncoder(p)}
}

func (h *harness) encrypt(t testing.TB, v []uint64, level int, scale uint64) *rlwe.Ciphertext {
	t.Helper()
	pt := bgv.NewPlaintext(h.p, level)
	pt.Scale = h.p.NewScale(scale)
	if err := h.ecd.Encode(v, pt); err != nil {
		t.Fatal(err)
	}
	ct := bgv.NewCiphertext(h.p, 1, level)
	if err := h.enc.Encrypt(pt, ct); err != nil {
		t.Fatal(err)
	}
	return ct
}

func (h *harness) decrypt(t testing.TB, ct *rlwe.Ciphertext) []uint64 {
	t.Helper()
	v := make([]uint64, h.p.MaxSlots())
	if err := h.ecd.Decode(h.dec.DecryptNew(ct), v); err != nil {
		t.Fatal(err)
	}
	return v
}

// payload measures log2 ||t·(c0 + c1·s) mod Q||_inf, centered: the
// quantity the model bounds.
func (h *harness) payload(ct *rlwe.Ciphertext) float64 {
	pt := h.dec.DecryptNew(ct)
	rq := h.p.RingQ().AtLevel(ct.Level())
	if pt.IsNTT {
		rq.INTT(pt.Value, pt.Value)
	}
	rq.MulScalar(pt.Value, h.p.PlaintextModulus(), pt.Value)
	coeffs := make([]*big.Int, h.p.N())
	for i := range coeffs {
		coeffs[i] = new(big.Int)
	}
	rq.PolyToBigintCentered(pt.Value, 1, coeffs)
	mx := new(big.Int)
	for _, c := range coeffs {
		if c.CmpAbs(mx) > 0 {
			mx.Abs(c)
		}
	}
	f, _ := new(big.Float).SetInt(mx).Float64()
	return math.Log2(f)
}

// TestNoiseModelBounds follows the cache's trajectory (the ledger's plans)
// on real ciphertexts encrypted under the harness's key, with the cache's
// own server code for homomorphic appends, and checks after every step
// that the payload the client would measure is below the model's bound,
// for the cache ciphertexts and their copies at the kernel level. The
// refresh is the one of Cache.refresh without the network: rescale,
// decrypt, re-encrypt (value - r)·S at the home level, add r·S.
func TestNoiseModelBounds(t *testing.T) {
	type run struct {
		preset string
		m      Method
		pol    Policy
		tokens int
	}
	runs := []run{
		{"bgv-test-insecure", ClientEncrypt, Never{}, 130},    // two full ciphertexts (B = 64) and two tokens
		{"bgv-test-insecure", Homomorphic, Lazy{Tau: 0}, 70},  // refresh every other append
		{"bgv-test-insecure", Homomorphic, Lazy{Tau: 44}, 70}, // refresh every other append, then every one
	}
	if !testing.Short() {
		runs = append(runs,
			run{"bgv-n13", ClientEncrypt, Lazy{Tau: 0}, 40}, // Never does not fit at n13 (256 appends per ciphertext)
			run{"bgv-n14", ClientEncrypt, Never{}, 40},
			run{"bgv-n14", Homomorphic, Lazy{Tau: 0}, 12},
		)
	}
	for _, r := range runs {
		t.Run(fmt.Sprintf("%s/%s/%s", r.preset, r.m, r.pol), func(t *testing.T) {
			cfg := newConfig(t, r.preset, smallShape, 512, r.m, r.pol)
			c, err := NewCache(cfg)
			if err != nil {
				t.Fatal(err)
			}
			p := cfg.Params
			tm := p.PlaintextModulus()
			h := newHarness(p)
			m := cfg.Model()
			var led ledger
			var cts [2][]*rlwe.Ciphertext
			var vals [2][][]uint64 // plaintext slots of each ciphertext
			minGap, maxGap := math.Inf(1), math.Inf(-1)
			check := func(what string, ct *rlwe.Ciphertext, bound float64) {
				got := h.payload(ct)
				gap := bound - got
				if gap < 0 {
					t.Errorf("%s: measured payload %.2f bits above the model's %.2f", what, got, bound)
				}
				minGap, maxGap = math.Min(minGap, gap), math.Max(maxGap, gap)
			}
			for n := 0; n < r.tokens; n++ {
				ap, err := cfg.nextAppend(&led)
				if err != nil {
					t.Fatal(err)
				}
				jj := n % cfg.Layout.TokensPerCt
				for kind := 0; kind < 2; kind++ {
					tok := hetest.RandVec(tm, cfg.KVDim())
					if ap.empty {
						vals[kind] = append(vals[kind], make([]uint64, p.MaxSlots()))
					}
					for e, a := range tok {
						vals[kind][ap.ct][cfg.Layout.Slot(jj, e)] = a
					}
					switch cfg.Method {
					case ClientEncrypt:
						v := make([]uint64, p.MaxSlots())
						for e, a := range tok {
							v[cfg.Layout.Slot(jj, e)] = a
						}
						x := h.encrypt(t, v, cfg.HomeLevel[kind], 1)
						if ap.empty {
							cts[kind] = append(cts[kind], x)
						} else if err := c.add(hetest.NopTally(), cts[kind][ap.ct], x); err != nil {
							t.Fatal(err)
						}
					case Homomorphic:
						src := h.encrypt(t, cfg.Broadcast(tok), cfg.SourceLevel, 1)
						var acc *rlwe.Ciphertext
						if !ap.empty {
							acc = cts[kind][ap.ct]
						}
						out, err := c.homStep(hetest.NopTally(), kind, src, acc, ap.srcTo[kind], jj)
						if err != nil {
							t.Fatal(err)
						}
						if ap.empty {
							cts[kind] = append(cts[kind], out)
						}
					}
				}
				cfg.applyAppend(&led, ap)
				rr, err := cfg.dueRefresh(&led, ap.ct)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range rr.due {
					kind, i := d[0], d[1]
					ct := cts[kind][i]
					for ct.Level() > rr.level {
						if err := c.eval.Rescale(ct, ct); err != nil {
							t.Fatal(err)
						}
					}
					check(fmt.Sprintf("token %d: %s ciphertext %d sent for refresh", n, kindName(kind), i), ct, rr.bits)
					y := h.decrypt(t, ct)
					rr := hetest.RandVec(tm, len(y))
					home := cfg.HomeLevel[kind]
					S := scaleAt(p, cfg.KernelLevel[kind], home)
					for e := range y {
						y[e] = mulMod((y[e]+tm-rr[e])%tm, S, tm)
						rr[e] = mulMod(rr[e], S, tm)
					}
					fresh := h.encrypt(t, y, home, 1)
					pt := bgv.NewPlaintext(p, home)
					if err := h.ecd.Encode(rr, pt); err != nil {
						t.Fatal(err)
					}
					if err := c.eval.Add(fresh, pt, fresh); err != nil {
						t.Fatal(err)
					}
					fresh.Scale = p.NewScale(S)
					cts[kind][i] = fresh
				}
				cfg.applyRefresh(&led, rr)
				for kind := 0; kind < 2; kind++ {
					ct, st := cts[kind][ap.ct], led.states[kind][ap.ct]
					if ct.Level() != st.Level {
						t.Fatalf("token %d: %s ciphertext at level %d, ledger %d", n, kindName(kind), ct.Level(), st.Level)
					}
					check(fmt.Sprintf("token %d: %s ciphertext %d", n, kindName(kind), ap.ct), ct, m.Payload(st))
					x := ct.CopyNew()
					for x.Level() > cfg.KernelLevel[kind] {
						if err := c.eval.Rescale(x, x); err != nil {
							t.Fatal(err)
						}
					}
					check(fmt.Sprintf("token %d: %s ciphertext %d at the kernel level", n, kindName(kind), ap.ct), x, m.downTo(st, cfg.KernelLevel[kind]))
					if got := h.decrypt(t, x); !slices.Equal(got, vals[kind][ap.ct]) {
						t.Fatalf("token %d: %s ciphertext %d decrypts wrong", n, kindName(kind), ap.ct)
					}
				}
			}
			t.Logf("model minus measured payload: %.1f to %.1f bits (final state %+v, payload bound %.1f)", minGap, maxGap, led.states[0][len(led.states[0])-1], m.Payload(led.states[0][len(led.states[0])-1]))
		})
	}
}
