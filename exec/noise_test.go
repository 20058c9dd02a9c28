package exec

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
)

// noisePresets: the noise check runs at the test preset, and at both
// secure presets unless -short.
func noisePresets() []string {
	if testing.Short() {
		return []string{"bgv-test-insecure"}
	}
	return []string{"bgv-test-insecure", "bgv-n13", "bgv-n14"}
}

// maxModelMargin is the largest accepted gap, in bits, between the noise
// model's payload and the measured one at log N = n. The model is a worst
// case (NoiseModel): a product by a polynomial of N random-looking
// coefficients is bounded by N times the norms where it typically grows as
// sqrt(N) (n/2 bits); a key switch before a product (a linear layer's baby
// step) is bounded by N·B_e times the digits where it is typically
// sqrt(N·digits)·σ (about n/2 + 3 bits more); sums are counted linearly
// (+log2 k) where their random parts grow as sqrt(k) (up to 4 bits for the
// 2^8 terms summed here). n + 10 bits: looser than that, the model wastes
// levels.
func maxModelMargin(n float64) float64 { return n + 10 }

// TestNoiseModel decrypts, with the client's key, the server's ciphertexts
// just before they are masked and flooded, and compares their payload with
// the noise model's prediction (the bound every primitive plans its levels
// and its flooding with): the model must bound the measurement, by at most
// maxModelMargin bits.
func TestNoiseModel(t *testing.T) {
	type kernel struct {
		name  string
		noise float64
		prims []Primitive
		run   func(t *testing.T, s *Session)
	}
	for _, name := range noisePresets() {
		e := hetest.ForTest(t, name)
		p := e.Params
		tm := p.PlaintextModulus()
		var ks []kernel
		for _, sh := range []struct{ out, in, m int }{{64, 64, 1}, {768, 768, 1}, {64, 64, 16}} {
			enc := Decode
			if sh.m > 1 {
				enc = Prefill
			}
			l, err := NewLinear(p, e.Profile, sh.out, sh.in, sh.m, enc)
			if err != nil {
				t.Fatal(err)
			}
			w := randMatrix(t, tm, sh.out, sh.in)
			x := share(t, hetest.RandVec(tm, sh.m*sh.in), tm)
			ks = append(ks, kernel{fmt.Sprintf("linear-%dx%d-m=%d", sh.out, sh.in, sh.m), l.Noise(), []Primitive{l}, func(t *testing.T, s *Session) {
				if _, err := l.Run(s, cost.NewTally(e.Profile), w, x); err != nil {
					t.Fatal(err)
				}
			}})
		}
		for _, a := range []struct {
			label string
			sh    AttentionShape
		}{
			{"stories260K", AttentionShape{Heads: 8, KVHeads: 4, HeadDim: 8, Context: 256}},
			{"gpt2-head", AttentionShape{Heads: 1, KVHeads: 1, HeadDim: 64, Context: 64}},
		} {
			sh := a.sh
			kv := sh.KVHeads * sh.HeadDim
			K := share(t, hetest.RandVec(tm, sh.Context*kv), tm)
			q := share(t, hetest.RandVec(tm, sh.Heads*sh.HeadDim), tm)
			P := share(t, hetest.RandVec(tm, sh.Heads*sh.Context), tm)
			sc, vk := decodeKernels(t, e, sh)
			ks = append(ks, kernel{"decode-scores-" + a.label, sc.Noise(), []Primitive{sc}, func(t *testing.T, s *Session) {
				cache := encryptVecs(t, s, sc.Level, sc.Layout.Vectors(K.C))
				if _, err := sc.Run(s, cost.NewTally(e.Profile), cache, K.S, q); err != nil {
					t.Fatal(err)
				}
			}}, kernel{"decode-values-" + a.label, vk.Noise(), []Primitive{vk}, func(t *testing.T, s *Session) {
				cache := encryptVecs(t, s, vk.Level, vk.Layout.Vectors(K.C))
				if _, err := vk.Run(s, cost.NewTally(e.Profile), cache, K.S, P); err != nil {
					t.Fatal(err)
				}
			}})
			if classes := MaxFeatureClasses(p.MaxSlots(), sh.Heads, sh.HeadDim); classes > 0 {
				fs, err := Planner{Params: p, Profile: e.Profile, StatSecurity: StatisticalSecurity}.FeatureScores(sh, classes)
				if err != nil {
					t.Fatal(err)
				}
				fv, err := Planner{Params: p, Profile: e.Profile, StatSecurity: StatisticalSecurity}.FeatureValues(sh, classes)
				if err != nil {
					t.Fatal(err)
				}
				ks = append(ks, kernel{"feature-scores-" + a.label, fs.Noise(), []Primitive{fs}, func(t *testing.T, s *Session) {
					cache := encryptVecs(t, s, fs.Level, fs.Layout.KeyVectors(K.C))
					if _, err := fs.Run(s, cost.NewTally(e.Profile), cache, nil, K.C, K.S, q); err != nil {
						t.Fatal(err)
					}
				}}, kernel{"feature-values-" + a.label, fv.Noise(), []Primitive{fv}, func(t *testing.T, s *Session) {
					cache := encryptVecs(t, s, fv.Level, fv.Layout.ValueVectors(K.C))
					if _, err := fv.Run(s, cost.NewTally(e.Profile), cache, nil, K.C, K.S, P); err != nil {
						t.Fatal(err)
					}
				}})
			}
			psh := sh
			psh.Context = 32
			ps, pv := prefillKernels(t, e, psh)
			PK := share(t, hetest.RandVec(tm, psh.Context*kv), tm)
			PQ := share(t, hetest.RandVec(tm, psh.Context*psh.Heads*psh.HeadDim), tm)
			PP := share(t, hetest.RandVec(tm, psh.Heads*psh.Context*psh.Context), tm)
			ks = append(ks, kernel{"prefill-scores-" + a.label, ps.Noise(), []Primitive{ps}, func(t *testing.T, s *Session) {
				keys := encryptVecs(t, s, ps.Level, ps.Layout.Vectors(PK.C))
				if _, err := ps.Run(s, cost.NewTally(e.Profile), keys, PK.S, PQ); err != nil {
					t.Fatal(err)
				}
			}}, kernel{"prefill-values-" + a.label, pv.Noise(), []Primitive{pv}, func(t *testing.T, s *Session) {
				vals := encryptVecs(t, s, pv.Level, pv.Layout.Vectors(PK.C))
				if _, err := pv.Run(s, cost.NewTally(e.Profile), vals, PK.S, PP); err != nil {
					t.Fatal(err)
				}
			}})
		}
		for _, k := range ks {
			t.Run(name+"/"+k.name, func(t *testing.T) {
				sess, err := NewSession(p, k.prims...)
				if err != nil {
					t.Fatal(err)
				}
				defer sess.Close()
				measured := math.Inf(-1)
				sess.InspectReturns(func(cts []*rlwe.Ciphertext, _ ReturnPlan) {
					for _, ct := range cts {
						measured = math.Max(measured, sess.client.PayloadBits(ct))
					}
				})
				k.run(t, sess)
				margin := k.noise - measured
				t.Logf("payload: model %.1f bits, measured %.1f bits (error %.1f bits), margin %.1f bits", k.noise, measured, measured-math.Log2(float64(tm)), margin)
				if margin < 0 {
					t.Errorf("the noise model (%.1f bits) does not bound the measured payload (%.1f bits)", k.noise, measured)
				}
				limit := maxModelMargin(float64(p.LogN()))
				if strings.HasPrefix(k.name, "feature-") {
					// The feature kernels multiply their baby steps'
					// key-switch noise by a plaintext: the key switch's
					// worst-case bound, which the other kernels add below
					// their products' payload, stands out by its distance
					// to a fresh encryption's (32 bits at bgv-n13, whose
					// special prime is 30 bits).
					nm := NewNoiseModel(p)
					limit += nm.KeySwitchNoise() - nm.FreshSK()
				}
				if margin > limit {
					t.Errorf("the noise model (%.1f bits) is %.1f bits above the measured payload (%.1f bits): more than %.0f", k.noise, margin, measured, limit)
				}
			})
		}
	}
}
