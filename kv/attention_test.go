package kv

import (
	"fmt"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/internal/hetest"
)

// decodeAttention runs exec's decode kernels of a layer over the cache
// (scores for query q, values for weights w) and returns the revealed
// results.
func decodeAttention(t testing.TB, s *exec.Session, tally *cost.Tally, c *Cache, layer int, q, w []uint64) (scores, out []uint64) {
	t.Helper()
	cfg := c.Config()
	tm := cfg.Params.PlaintextModulus()
	sc, vk := kernels(t, cfg, c.Len())
	kc, kS, err := c.KernelInputs(tally, layer, kindK)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sc.Run(s, tally, kc, kS, share(t, q, tm))
	if err != nil {
		t.Fatal(err)
	}
	vc, vS, err := c.KernelInputs(tally, layer, kindV)
	if err != nil {
		t.Fatal(err)
	}
	o, err := vk.Run(s, tally, vc, vS, share(t, w, tm))
	if err != nil {
		t.Fatal(err)
	}
	return r.Reveal(tm), o.Reveal(tm)
}

// TestDecodeAttentionOverCache runs the decode kernels over caches built
// by each method (several ciphertexts, at different levels and scales for
// the homomorphic one) and checks the scores and outputs exactly, and the
// kernel-preparation counters against Trajectory.Prepare.
func TestDecodeAttentionOverCache(t *testing.T) {
	for _, sc := range []struct {
		m   Method
		pol Policy
	}{{ClientEncrypt, Never{}}, {Homomorphic, Lazy{Tau: 0}}} {
		n := 131 // three ciphertexts at B = 64
		if testing.Short() {
			n = 67
		}
		t.Run(fmt.Sprintf("bgv-test-insecure/%s/%s/ctx=%d", sc.m, sc.pol, n), func(t *testing.T) {
			cfg := newConfig(t, "bgv-test-insecure", smallShape, 256, sc.m, sc.pol)
			s := newSession(t, cfg)
			defer s.Close()
			c, err := NewCache(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var pk plainKV
			appendTokens(t, s, hetest.NopTally(), c, n, &pk)
			tm := cfg.Params.PlaintextModulus()
			q := hetest.RandVec(tm, cfg.Heads*cfg.HeadDim)
			w := hetest.RandVec(tm, cfg.Heads*n)
			prep := cost.NewTally(cfg.Profile)
			got, out := decodeAttentionPrep(t, s, prep, c, q, w)
			tr := cfg.NewTrajectory()
			for tr.Len() < n {
				if _, err := tr.Step(); err != nil {
					t.Fatal(err)
				}
			}
			hetest.CheckCounters(t, "kernel inputs", prep.Cost(), tr.Prepare())
			checkAttention(t, cfg, pk, n, q, w, got, out)
		})
	}
}

// decodeAttentionPrep is decodeAttention with the preparation (rescales
// of the kernel inputs) recorded in prep and the kernels' cost elsewhere.
func decodeAttentionPrep(t testing.TB, s *exec.Session, prep *cost.Tally, c *Cache, q, w []uint64) ([]uint64, []uint64) {
	t.Helper()
	cfg := c.Config()
	tm := cfg.Params.PlaintextModulus()
	sc, vk := kernels(t, cfg, c.Len())
	kc, kS, err := c.KernelInputs(prep, 0, kindK)
	if err != nil {
		t.Fatal(err)
	}
	vc, vS, err := c.KernelInputs(prep, 0, kindV)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sc.Run(s, hetest.NopTally(), kc, kS, share(t, q, tm))
	if err != nil {
		t.Fatal(err)
	}
	o, err := vk.Run(s, hetest.NopTally(), vc, vS, share(t, w, tm))
	if err != nil {
		t.Fatal(err)
	}
	return r.Reveal(tm), o.Reveal(tm)
}

func checkAttention(t testing.TB, cfg Config, pk plainKV, n int, q, w, scores, out []uint64) {
	t.Helper()
	sh := shape{layers: cfg.Layers, heads: cfg.Heads, kvHeads: cfg.KVHeads, headDim: cfg.HeadDim}
	checkAttentionOf(t, sh, cfg.Params.PlaintextModulus(), pk, n, q, w, scores, out)
}

// checkAttentionOf checks the scores (Heads x n) of the query q and the
// outputs (Heads x HeadDim) of the weights w over the first n tokens of pk
// against the plaintext, modulo tm.
func checkAttentionOf(t testing.TB, sh shape, tm uint64, pk plainKV, n int, q, w, scores, out []uint64) {
	t.Helper()
	kv, G, d := sh.kvHeads*sh.headDim, sh.heads/sh.kvHeads, sh.headDim
	for h := 0; h < sh.heads; h++ {
		for j := 0; j < n; j++ {
			var want uint64
			for e := 0; e < d; e++ {
				want = (want + hetest.MulMod(q[h*d+e], pk.k[j*kv+(h/G)*d+e], tm)) % tm
			}
			if scores[h*n+j] != want {
				t.Fatalf("score head %d token %d: got %d, want %d", h, j, scores[h*n+j], want)
			}
		}
		for e := 0; e < d; e++ {
			var want uint64
			for j := 0; j < n; j++ {
				want = (want + hetest.MulMod(w[h*n+j], pk.v[j*kv+(h/G)*d+e], tm)) % tm
			}
			if out[h*d+e] != want {
				t.Fatalf("output head %d element %d: got %d, want %d", h, e, out[h*d+e], want)
			}
		}
	}
}
