package exec

import (
	"fmt"
	"testing"

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

// TestDecodeAttention checks both decode kernels (checkARCC); they meet
// their rotation bounds.
func TestDecodeAttention(t *testing.T) {
	for _, name := range hetest.Presets() {
		e := hetest.ForTest(t, name)
		for _, tc := range attentionShapes(t) {
			sh := tc.sh
			t.Run(name+"/"+tc.name, func(t *testing.T) { checkDecodeAttention(t, e, sh) })
		}
	}
}

// checkDecodeAttention runs both decode kernels of a shape (checkARCC).
func checkDecodeAttention(t *testing.T, e *hetest.Env, sh AttentionShape) {
	sc, vk := decodeKernels(t, e, sh)
	checkARCC(t, e, sc, vk)
	t.Logf("scores: %d rotations (bound %d), values: %d rotations (bound %d), B=%d, levels %d/%d",
		sc.RotationCount(), sc.RotationLowerBound(), vk.RotationCount(), vk.RotationLowerBound(), sc.Layout.TokensPerCt, sc.Level, vk.Level)
}
