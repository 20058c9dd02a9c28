package exec_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/internal/hetest"
	"github.com/cgsim/cgsim/kv"
)

// TestKernelNoiseOverCache measures, with the client's key, the payload of
// the decode kernels' results just before the server floods them, when
// the kernels read a real kv cache: one filled by many client appends (a
// sum of fresh encryptions per ciphertext) and one filled by homomorphic
// appends with refreshes (rescaled, masked products). The kernels the
// cache plans (kv.Config.Kernels, for kv.Config.CacheBits) must bound the
// measurement: their flooding is sized from that bound. The kernels
// planned for fresh ciphertexts (CacheBits 0) are logged beside them: the
// difference is the flooding they would have been short of.
func TestKernelNoiseOverCache(t *testing.T) {
	type run struct {
		preset string
		m      kv.Method
		pol    kv.Policy
		tokens int
	}
	// smallShape of package kv's tests: 4 query heads over 2 KV heads of
	// 16, KVDim 32: B = 64 tokens per ciphertext at N = 2048 (so 130
	// tokens fill two ciphertexts and open a third), 512 at N = 16384.
	runs := []run{
		{"bgv-test-insecure", kv.ClientEncrypt, kv.Never{}, 130},
		{"bgv-test-insecure", kv.Homomorphic, kv.Lazy{Tau: 0}, 70},
	}
	if !testing.Short() {
		runs = append(runs,
			run{"bgv-n14", kv.ClientEncrypt, kv.Never{}, 512},
			run{"bgv-n14", kv.Homomorphic, kv.Lazy{Tau: 0}, 12},
		)
	}
	for _, r := range runs {
		t.Run(fmt.Sprintf("%s/%s/%s/ctx=%d", r.preset, r.m, r.pol, r.tokens), func(t *testing.T) {
			env := hetest.ForTest(t, r.preset)
			prof := env.Profile
			pl, err := exec.PlannerFor(env.Preset, prof)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := kv.NewConfig(kv.Config{Preset: r.preset, Planner: pl, Layers: 1, Heads: 4, KVHeads: 2, HeadDim: 16,
				MaxContext: r.tokens, Method: r.m, Policy: r.pol})
			if err != nil {
				t.Fatal(err)
			}
			sc, vk, err := cfg.Kernels(r.tokens)
			if err != nil {
				t.Fatal(err)
			}
			bp := cfg.Params
			s, err := exec.NewSession(bp, sc, vk)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			c, err := kv.NewCache(cfg)
			if err != nil {
				t.Fatal(err)
			}
			tm := bp.PlaintextModulus()
			tally := cost.NewTally(prof)
			for i := 0; i < r.tokens; i++ {
				k, v := share(t, tm, cfg.KVDim()), share(t, tm, cfg.KVDim())
				if r.m == kv.ClientEncrypt {
					err = c.Append(s, tally, 0, k, v)
				} else {
					var src *kv.Source
					if src, err = kv.NewSource(s, tally, cfg, k, v); err == nil {
						err = c.AppendSource(s, tally, 0, src)
					}
				}
				if err != nil {
					t.Fatalf("token %d: %v", i, err)
				}
			}
			measured := math.Inf(-1)
			exec.SetInspect(s, func(cts []*rlwe.Ciphertext) {
				for _, ct := range cts {
					measured = math.Max(measured, exec.PayloadBits(s, ct))
				}
			})
			fresh := cfg.Shape(r.tokens)
			fresh.CacheBits = 0
			for kind, k := range []interface{ Noise() float64 }{sc, vk} {
				cts, shares, err := c.KernelInputs(tally, 0, kind)
				if err != nil {
					t.Fatal(err)
				}
				measured = math.Inf(-1)
				var naive float64
				if kind == 0 {
					_, err = sc.Run(s, tally, cts, shares, share(t, tm, cfg.Heads*cfg.HeadDim))
					f, e := exec.NewDecodeScores(bp, prof, fresh)
					if e != nil {
						t.Fatal(e)
					}
					naive = f.Noise()
				} else {
					_, err = vk.Run(s, tally, cts, shares, share(t, tm, cfg.Heads*r.tokens))
					f, e := exec.NewDecodeValues(bp, prof, fresh)
					if e != nil {
						t.Fatal(e)
					}
					naive = f.Noise()
				}
				if err != nil {
					t.Fatal(err)
				}
				name := [2]string{"scores", "values"}[kind]
				t.Logf("%s: cache bound %.1f bits; payload before flooding: measured %.1f, model %.1f (margin %.1f); planned for fresh ciphertexts: %.1f (%.1f bits short of the model)",
					name, cfg.CacheBits, measured, k.Noise(), k.Noise()-measured, naive, k.Noise()-naive)
				if measured > k.Noise() {
					t.Errorf("%s: measured payload %.1f bits above the model's %.1f: the flooding is too small", name, measured, k.Noise())
				}
			}
		})
	}
}

// share is a random vector of n values modulo tm, shared.
func share(t *testing.T, tm uint64, n int) exec.Shared {
	c, s := hetest.Share(hetest.RandVec(tm, n), tm)
	return exec.Shared{C: c, S: s}
}
