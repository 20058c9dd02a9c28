package exec

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/params"
)

// TestDefaultPreset runs every primitive at the default secure preset,
// bgv-n14 (params.DefaultBGV), on the stories260K shapes (and one GPT-2
// head for the prefill kernels): exact results modulo t and Run == Estimate
// counters. Skipped with -short: at log N 14 it takes about half a minute
// on two cores, so the shapes are the model's own and the prompt and
// context lengths few: a partial and a full (m = 32 tokens: four groups of
// eight) prefill, a short context and one of 600 tokens (two cache
// ciphertexts of B = 512 tokens).
func TestDefaultPreset(t *testing.T) {
	if testing.Short() {
		t.Skip("log N 14: skipped with -short")
	}
	e := hetest.ForTest(t, params.DefaultBGV)
	p := e.Params
	tm := p.PlaintextModulus()
	c, err := model.ConfigByName("stories260K")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("C2S+H2S", func(t *testing.T) {
		sess, err := NewSession(p)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		n := p.MaxSlots() + 3 // spills into a second ciphertext
		x := hetest.RandVec(tm, n)
		c2s := NewC2S(p, e.Profile, n)
		tally := cost.NewTally(e.Profile)
		cts, err := c2s.Run(sess, tally, share(t, x, tm))
		if err != nil {
			t.Fatal(err)
		}
		hetest.CheckCounters(t, "C2S", tally.Cost(), c2s.Estimate())
		h2s, err := NewH2S(p, e.Profile, n, c2s.Level, NewNoiseModel(p).FreshSK())
		if err != nil {
			t.Fatal(err)
		}
		tally = cost.NewTally(e.Profile)
		y, err := h2s.Run(sess, tally, cts)
		if err != nil {
			t.Fatal(err)
		}
		hetest.CheckCounters(t, "H2S", tally.Cost(), h2s.Estimate())
		if !slices.Equal(y.Reveal(tm), x) {
			t.Fatal("round trip changed the vector")
		}
	})
	for _, sh := range modelShapes(t, "stories260K", true) {
		for _, m := range []int{1, 3} {
			t.Run(fmt.Sprintf("linear/%s/m=%d", sh.name, m), func(t *testing.T) { checkLinear(t, e, sh.out, sh.in, m) })
		}
	}
	for _, ctx := range []int{7, 600} {
		sh := AttentionShape{Heads: c.NumHeads, KVHeads: c.NumKVHeads, HeadDim: c.HeadDim(), Context: ctx}
		t.Run(fmt.Sprintf("decode-attention/stories260K/ctx=%d", ctx), func(t *testing.T) { checkDecodeAttention(t, e, sh) })
	}
	for _, tc := range prefillShapes(t, []int{5, 32}) {
		if tc.sh.Heads > 8 { // the whole GPT-2 layer: covered at the other presets
			continue
		}
		t.Run("prefill-attention/"+tc.name, func(t *testing.T) { runPrefill(t, e, tc.sh) })
	}
	t.Run("embedding/stories260K", func(t *testing.T) { checkEmbedding(t, e, c.VocabSize, c.Dim) })
}
