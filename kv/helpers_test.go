package kv

import (
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/internal/hetest"
	"github.com/cgsim/cgsim/net"
)

// planner is a preset's protocol context: exec.PlannerFor over the
// parameters and profile of the shared test kit.
func planner(t testing.TB, preset string) exec.Planner {
	t.Helper()
	e := hetest.ForTest(t, preset)
	pl, err := exec.PlannerFor(e.Preset, e.Profile)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

// smallShape: 4 query heads over 2 KV heads of 16 (grouped-query): KVDim
// 32, so B = 64 tokens per ciphertext at N = 2048 and 512 tokens span 8
// ciphertexts; the properties tested do not depend on the model's size.
type shape struct{ layers, heads, kvHeads, headDim int }

var smallShape = shape{layers: 1, heads: 4, kvHeads: 2, headDim: 16}

// stories260K's attention: 5 layers, 8 heads over 4 KV heads of 8.
var storiesShape = shape{layers: 5, heads: 8, kvHeads: 4, headDim: 8}

func newConfig(t testing.TB, preset string, sh shape, maxCtx int, m Method, pol Policy) Config {
	t.Helper()
	cfg, err := NewConfig(Config{Preset: preset, Planner: planner(t, preset), Layers: sh.layers, Heads: sh.heads,
		KVHeads: sh.kvHeads, HeadDim: sh.headDim, MaxContext: maxCtx, Method: m, Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// kernels are the decode attention kernels at a context.
func kernels(t testing.TB, cfg Config, ctx int) (*exec.DecodeScores, *exec.DecodeValues) {
	t.Helper()
	sc, vk, err := cfg.Kernels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sc, vk
}

// newSession has the Galois keys of the decode kernels (the cache itself
// rotates nothing).
func newSession(t testing.TB, cfg Config) *exec.Session {
	t.Helper()
	sc, vk := kernels(t, cfg, cfg.validatedFor) // the tests may raise MaxContext past it
	s, err := exec.NewSession(cfg.Params, sc, vk)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newSessionWithClient is newSession for a test that plays the client
// too: it keeps the client's party, which the session does not hand out.
func newSessionWithClient(t testing.TB, cfg Config) (*exec.Session, *exec.Client) {
	t.Helper()
	sc, vk := kernels(t, cfg, cfg.validatedFor)
	cc, sconn, meter, closePipe := net.Pipe()
	cl := exec.NewClient(cfg.Params, cc)
	s, err := exec.NewSessionWithClient(cfg.Params, cl, sconn, meter, closePipe, exec.GaloisElements(cfg.Params, sc, vk))
	if err != nil {
		closePipe()
		t.Fatal(err)
	}
	return s, cl
}

func share(t testing.TB, v []uint64, tm uint64) exec.Shared {
	t.Helper()
	c, s := hetest.Share(v, tm)
	return exec.Shared{C: c, S: s}
}

// plainKV is the plaintext K and V (tokens x KVDim) of what was appended.
type plainKV struct{ k, v []uint64 }

// appendTokens appends n random tokens to every layer with the cache's
// method and returns the plaintext values.
func appendTokens(t testing.TB, s *exec.Session, tally *cost.Tally, c *Cache, n int, pk *plainKV) {
	t.Helper()
	cfg := c.Config()
	tm := cfg.Params.PlaintextModulus()
	kv := cfg.KVDim()
	for i := 0; i < n; i++ {
		k, v := hetest.RandVec(tm, kv), hetest.RandVec(tm, kv)
		pk.k = append(pk.k, k...)
		pk.v = append(pk.v, v...)
		for l := 0; l < cfg.Layers; l++ {
			ks, vs := share(t, k, tm), share(t, v, tm)
			var err error
			if cfg.Method == ClientEncrypt {
				err = c.Append(s, tally, l, ks, vs)
			} else {
				var src *Source
				src, err = NewSource(s, hetest.NopTally(), cfg, ks, vs)
				if err == nil {
					err = c.AppendSource(s, tally, l, src)
				}
			}
			if err != nil {
				t.Fatalf("token %d layer %d: %v", c.Len(), l, err)
			}
		}
	}
}

// reveal decrypts a layer's cache of one kind through exec.H2S (the
// client decrypts masked values) and adds the server's shares: the
// plaintext K or V (tokens x KVDim) the cache holds.
func reveal(t testing.TB, s *exec.Session, c *Cache, layer, kind int) []uint64 {
	t.Helper()
	cfg := c.Config()
	cts, sh, err := c.KernelInputs(hetest.NopTally(), layer, kind)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Model()
	bitsMax := 0.0
	st := c.States(layer, kind)
	for i := range cts {
		if b := m.downTo(st[i], cfg.KernelLevel[kind]); b > bitsMax {
			bitsMax = b
		}
		cts[i] = cts[i].CopyNew()
	}
	N := cfg.Params.MaxSlots()
	h, err := exec.NewH2S(cfg.Params, cfg.Profile, N*len(cts), cfg.KernelLevel[kind], bitsMax)
	if err != nil {
		t.Fatal(err)
	}
	y, err := h.Run(s, hetest.NopTally(), cts)
	if err != nil {
		t.Fatal(err)
	}
	vals := y.Reveal(cfg.Params.PlaintextModulus())
	tm := cfg.Params.PlaintextModulus()
	kvd := cfg.KVDim()
	n := c.Len()
	out := make([]uint64, n*kvd)
	B := cfg.Layout.TokensPerCt
	for j := 0; j < n; j++ {
		for e := 0; e < kvd; e++ {
			out[j*kvd+e] = (vals[(j/B)*N+cfg.Layout.Slot(j, e)] + sh[j*kvd+e]) % tm
		}
	}
	// the slots outside the tokens must decrypt to zero
	for ci := 0; ci < len(cts); ci++ {
		used := map[int]bool{}
		for jj := 0; jj < B && ci*B+jj < n; jj++ {
			for e := 0; e < kvd; e++ {
				used[cfg.Layout.Slot(jj, e)] = true
			}
		}
		for i := 0; i < N; i++ {
			if !used[i] && vals[ci*N+i] != 0 {
				t.Fatalf("%s ciphertext %d slot %d outside the tokens decrypts to %d", kindName(kind), ci, i, vals[ci*N+i])
			}
		}
	}
	return out
}
