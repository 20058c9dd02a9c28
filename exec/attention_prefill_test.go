package exec

import (
	"fmt"
	"testing"

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

// runPrefill runs both prefill kernels of a shape (checkARCC).
func runPrefill(t *testing.T, e *hetest.Env, sh AttentionShape) (*PrefillScores, *PrefillValues) {
	sc, vk := prefillKernels(t, e, sh)
	checkARCC(t, e, sc, vk)
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
