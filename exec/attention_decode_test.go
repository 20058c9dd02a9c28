package exec

import (
	"fmt"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
	"github.com/cgsim/cgsim/model"
)

// attentionShapes: stories260K (8 heads over 4 KV heads of 8: grouped-query)
// and a GPT-2 layer (12 heads of 64), at a few context lengths, one of which
// spills into a second cache ciphertext at the test preset.
func attentionShapes(t testing.TB) []struct {
	name string
	sh   AttentionShape
} {
	var out []struct {
		name string
		sh   AttentionShape
	}
	for _, m := range []struct {
		name string
		ctx  []int
	}{{"stories260K", []int{1, 7, 100}}, {"gpt2", []int{1, 5}}} {
		c, err := model.ConfigByName(m.name)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m.ctx {
			out = append(out, struct {
				name string
				sh   AttentionShape
			}{fmt.Sprintf("%s/ctx=%d", m.name, p), AttentionShape{Heads: c.NumHeads, KVHeads: c.NumKVHeads, HeadDim: c.HeadDim(), Context: p}})
		}
	}
	return out
}

func TestDecodeAttention(t *testing.T) {
	for _, name := range hetest.Presets() {
		e := hetest.ForTest(t, name)
		for _, tc := range attentionShapes(t) {
			sh := tc.sh
			t.Run(name+"/"+tc.name, func(t *testing.T) { checkDecodeAttention(t, e, sh) })
		}
	}
}

// checkDecodeAttention runs both decode kernels on random inputs: exact
// against the plaintext, Run == Estimate, rotations at the bound.
func checkDecodeAttention(t *testing.T, e *hetest.Env, sh AttentionShape) {
	p := e.Params
	tm := p.PlaintextModulus()
	sc, err := NewDecodeScores(p, e.Profile, sh)
	if err != nil {
		t.Fatal(err)
	}
	vk, err := NewDecodeValues(p, e.Profile, sh)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := NewSession(p, sc, vk)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	kv := sh.KVHeads * sh.HeadDim
	G := sh.Heads / sh.KVHeads
	K := hetest.RandVec(tm, sh.Context*kv)
	V := hetest.RandVec(tm, sh.Context*kv)
	q := hetest.RandVec(tm, sh.Heads*sh.HeadDim)
	Pw := hetest.RandVec(tm, sh.Heads*sh.Context)
	Ksh, Vsh := share(t, K, tm), share(t, V, tm)
	kc := encryptVecs(t, sess, sc.Level, sc.Layout.Vectors(Ksh.C))
	vc := encryptVecs(t, sess, vk.Level, vk.Layout.Vectors(Vsh.C))

	tally := cost.NewTally(e.Profile)
	s, err := sc.Run(sess, tally, kc, Ksh.S, share(t, q, tm))
	if err != nil {
		t.Fatal(err)
	}
	hetest.CheckCounters(t, "scores", tally.Cost(), sc.Estimate())
	got := s.Reveal(tm)
	for h := 0; h < sh.Heads; h++ {
		for j := 0; j < sh.Context; j++ {
			var want uint64
			for c := 0; c < sh.HeadDim; c++ {
				want = (want + hetest.MulMod(q[h*sh.HeadDim+c], K[j*kv+(h/G)*sh.HeadDim+c], tm)) % tm
			}
			if got[h*sh.Context+j] != want {
				t.Fatalf("score head %d token %d: got %d, want %d", h, j, got[h*sh.Context+j], want)
			}
		}
	}

	tally = cost.NewTally(e.Profile)
	o, err := vk.Run(sess, tally, vc, Vsh.S, share(t, Pw, tm))
	if err != nil {
		t.Fatal(err)
	}
	hetest.CheckCounters(t, "values", tally.Cost(), vk.Estimate())
	got = o.Reveal(tm)
	for h := 0; h < sh.Heads; h++ {
		for c := 0; c < sh.HeadDim; c++ {
			var want uint64
			for j := 0; j < sh.Context; j++ {
				want = (want + hetest.MulMod(Pw[h*sh.Context+j], V[j*kv+(h/G)*sh.HeadDim+c], tm)) % tm
			}
			if got[h*sh.HeadDim+c] != want {
				t.Fatalf("output head %d elem %d: got %d, want %d", h, c, got[h*sh.HeadDim+c], want)
			}
		}
	}
	for _, k := range []interface {
		RotationCount() int64
		RotationLowerBound() int64
	}{sc, vk} {
		if k.RotationCount() < k.RotationLowerBound() {
			t.Errorf("rotations %d below bound %d", k.RotationCount(), k.RotationLowerBound())
		}
	}
	t.Logf("scores: %d rotations (bound %d), values: %d rotations (bound %d), B=%d, levels %d/%d",
		sc.RotationCount(), sc.RotationLowerBound(), vk.RotationCount(), vk.RotationLowerBound(), sc.Layout.TokensPerCt, sc.Level, vk.Level)
}
