package sim

import (
	"slices"
	"testing"

	"github.com/cgsim/cgsim/cost"
)

// TestMeasurePlan: a cached strategy's point is the steps reading C-2 to
// C+2 tokens (step i of a generation after a prompt of P tokens reads
// P+i), its middle one reading C; recompute's measured pass is its second,
// over C, after an unmeasured one over C-1. The generation reads exactly
// MeasureStory tokens of the story.
func TestMeasurePlan(t *testing.T) {
	const seqLen = 512
	for _, s := range []Strategy{Cryptogen, Recompute} {
		lo, hi := MeasureRange(s, seqLen)
		for _, ctx := range []int{lo, lo + 1, 64, hi} {
			story := make([]int, MeasureStory(s, ctx))
			for i := range story {
				story[i] = i + 2
			}
			prompt, gen, phases := MeasurePlan(s, story, ctx)
			if prompt[0] != 1 || !slices.Equal(prompt[1:], story[:len(prompt)-1]) {
				t.Errorf("%s at %d: the prompt is not BOS and the story's start", s, ctx)
			}
			if len(prompt)-1+gen != len(story) || len(prompt)+gen > seqLen+1 {
				t.Errorf("%s at %d: prompt of %d and %d generated for a story of %d", s, ctx, len(prompt), gen, len(story))
			}
			mid := phases[len(phases)/2]
			if len(prompt)+mid != ctx || phases[len(phases)-1] >= gen {
				t.Errorf("%s at %d: prompt of %d, %d generated, phases %v", s, ctx, len(prompt), gen, phases)
			}
			want := MeasuredSteps
			if !s.KeepsCache() {
				want = 1
			}
			if len(phases) != want {
				t.Errorf("%s at %d: %d phases, want %d", s, ctx, len(phases), want)
			}
		}
	}
}

// TestMedianStep: the counters are the middle phase's, the seconds the
// medians (here of 1, 5, 2: 2, from another phase than the middle one).
func TestMedianStep(t *testing.T) {
	phase := func(secs float64, rounds int64) PhaseCost {
		return PhaseCost{Kinds: map[Kind]cost.Cost{KindLinear: {ComputeSeconds: secs, WallSeconds: 2 * secs, Rounds: rounds}}}
	}
	r := &Report{Breakdown: []PhaseCost{phase(9, 9), phase(1, 1), phase(5, 2), phase(2, 3)}}
	got, err := r.MedianStep([]int{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if got.Rounds != 2 || got.ComputeSeconds != 2 || got.WallSeconds != 4 {
		t.Errorf("MedianStep = %d rounds, %g s, %g s wall; want 2, 2, 4", got.Rounds, got.ComputeSeconds, got.WallSeconds)
	}
	if _, err := r.MedianStep([]int{4}); err == nil {
		t.Error("a phase beyond the report: no error")
	}
}
