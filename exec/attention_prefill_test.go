package exec

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
	"github.com/cgsim/cgsim/model"
)

type prefillCase struct {
	name string
	sh   AttentionShape // Context is the prompt length m
}

// prefillShapes: stories260K (8 heads over 4 KV heads of 8: grouped-query),
// one GPT-2 head (64 wide) and, at m = 5, a whole GPT-2 layer (12 heads, a
// token block of 1024 slots: at the test preset its keys take three
// ciphertexts). Prompt lengths 1, 5 (not a power of two) and 32 (at the
// test preset: two copies of stories260K's span per ciphertext, one GPT-2
// head's keys fill a whole ciphertext).
func prefillShapes(t testing.TB, ms []int) []prefillCase {
	c, err := model.ConfigByName("stories260K")
	if err != nil {
		t.Fatal(err)
	}
	g, err := model.ConfigByName("gpt2")
	if err != nil {
		t.Fatal(err)
	}
	var out []prefillCase
	for _, m := range ms {
		out = append(out,
			prefillCase{fmt.Sprintf("stories260K/m=%d", m), AttentionShape{Heads: c.NumHeads, KVHeads: c.NumKVHeads, HeadDim: c.HeadDim(), Context: m}},
			prefillCase{fmt.Sprintf("gpt2-head/m=%d", m), AttentionShape{Heads: 1, KVHeads: 1, HeadDim: g.HeadDim(), Context: m}})
		if m == 5 {
			out = append(out, prefillCase{fmt.Sprintf("gpt2-layer/m=%d", m), AttentionShape{Heads: g.NumHeads, KVHeads: g.NumKVHeads, HeadDim: g.HeadDim(), Context: m}})
		}
	}
	return out
}

// prefillScoresRef is the plaintext causal Q K^T: Heads x m x m, zero
// above the diagonal.
func prefillScoresRef(sh AttentionShape, q, k []uint64, tm uint64) []uint64 {
	m, d, G := sh.Context, sh.HeadDim, sh.Heads/sh.KVHeads
	kv := sh.KVHeads * d
	s := make([]uint64, sh.Heads*m*m)
	for h := 0; h < sh.Heads; h++ {
		for i := 0; i < m; i++ {
			for j := 0; j <= i; j++ {
				var acc uint64
				for c := 0; c < d; c++ {
					acc = (acc + hetest.MulMod(q[(i*sh.Heads+h)*d+c], k[j*kv+(h/G)*d+c], tm)) % tm
				}
				s[(h*m+i)*m+j] = acc
			}
		}
	}
	return s
}

// prefillValuesRef is the plaintext causal P V: m x Heads x HeadDim.
func prefillValuesRef(sh AttentionShape, p, v []uint64, tm uint64) []uint64 {
	m, d, G := sh.Context, sh.HeadDim, sh.Heads/sh.KVHeads
	kv := sh.KVHeads * d
	o := make([]uint64, m*sh.Heads*d)
	for i := 0; i < m; i++ {
		for h := 0; h < sh.Heads; h++ {
			for c := 0; c < d; c++ {
				var acc uint64
				for j := 0; j <= i; j++ {
					acc = (acc + hetest.MulMod(p[(h*m+i)*m+j], v[j*kv+(h/G)*d+c], tm)) % tm
				}
				o[(i*sh.Heads+h)*d+c] = acc
			}
		}
	}
	return o
}

// runPrefill runs both prefill kernels on random inputs and checks them
// against the plaintext reference and their Estimates. The attention
// weights are random everywhere, above the diagonal too: the kernel must
// ignore those entries (the causal mask).
func runPrefill(t *testing.T, e *hetest.Env, sh AttentionShape) (*PrefillScores, *PrefillValues) {
	p := e.Params
	tm := p.PlaintextModulus()
	sc, err := NewPrefillScores(p, e.Profile, sh)
	if err != nil {
		t.Fatal(err)
	}
	vk, err := NewPrefillValues(p, e.Profile, sh)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := NewSession(p, sc, vk)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	m := sh.Context
	kv := sh.KVHeads * sh.HeadDim
	K := hetest.RandVec(tm, m*kv)
	V := hetest.RandVec(tm, m*kv)
	q := hetest.RandVec(tm, m*sh.Heads*sh.HeadDim)
	Pw := hetest.RandVec(tm, sh.Heads*m*m)
	Ksh, Vsh := share(t, K, tm), share(t, V, tm)
	kc := encryptVecs(t, sess, sc.Level, sc.Layout.Vectors(Ksh.C))
	vc := encryptVecs(t, sess, vk.Level, vk.Layout.Vectors(Vsh.C))

	tally := cost.NewTally(e.Profile)
	s, err := sc.Run(sess, tally, kc, Ksh.S, share(t, q, tm))
	if err != nil {
		t.Fatal(err)
	}
	hetest.CheckCounters(t, "scores", tally.Cost(), sc.Estimate())
	if !slices.Equal(s.Reveal(tm), prefillScoresRef(sh, q, K, tm)) {
		t.Fatal("scores differ from the plaintext causal Q K^T")
	}
	for i, x := range s.C {
		if h, r := i/(m*m), i%(m*m); r%m > r/m && (x != 0 || s.S[i] != 0) {
			t.Fatalf("head %d: masked score (%d, %d) has non-zero shares", h, r/m, r%m)
		}
	}

	tally = cost.NewTally(e.Profile)
	o, err := vk.Run(sess, tally, vc, Vsh.S, share(t, Pw, tm))
	if err != nil {
		t.Fatal(err)
	}
	hetest.CheckCounters(t, "values", tally.Cost(), vk.Estimate())
	if !slices.Equal(o.Reveal(tm), prefillValuesRef(sh, Pw, V, tm)) {
		t.Fatal("outputs differ from the plaintext causal P V")
	}
	return sc, vk
}

// TestPrefillAttention checks both prefill kernels for exactness modulo t,
// Run == Estimate counters, and rotation counts against their bounds.
func TestPrefillAttention(t *testing.T) {
	for _, name := range hetest.Presets() {
		e := hetest.ForTest(t, name)
		for _, tc := range prefillShapes(t, []int{1, 5, 32}) {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				sc, vk := runPrefill(t, e, tc.sh)
				for _, k := range []interface {
					RotationCount() int64
					RotationLowerBound() int64
				}{sc, vk} {
					if k.RotationCount() < k.RotationLowerBound() {
						t.Errorf("rotations %d below the bound %d", k.RotationCount(), k.RotationLowerBound())
					}
				}
				if vk.RotationCount() != vk.RotationLowerBound() {
					t.Errorf("P V: %d rotations, bound %d: the kernel should meet it", vk.RotationCount(), vk.RotationLowerBound())
				}
				lay := sc.Layout
				t.Logf("S=%d R=%d B=%d, %d key cts, %d groups; QK^T: %d products, %d rotations (bound %d); PV: %d rotations (bound %d); levels %d/%d",
					lay.Span, lay.Copies, lay.TokensPerCt, lay.Cts(), lay.Groups(), sc.Products(), sc.RotationCount(), sc.RotationLowerBound(),
					vk.RotationCount(), vk.RotationLowerBound(), sc.Level, vk.Level)
			})
		}
	}
}
