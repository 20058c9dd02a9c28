package sim

import (
	"slices"
	"testing"

	"github.com/cgsim/cgsim/cost"
)

// TestMeasurePlan: a cached strategy's point is the steps reading C-2 to
// C+2 tokens (step i of a generation after a prompt of P tokens reads
// P+i), or C-4 to C at the model's last positions, At the one reading C;
// recompute's measured pass is its second, over C, after an unmeasured one
// over C-1. The generation reads exactly MeasureStory tokens of the story
// and stays within the model's positions.
func TestMeasurePlan(t *testing.T) {
	const seqLen = 512
	for _, s := range []Strategy{Cryptogen, Recompute} {
		lo, hi := MeasureRange(s, seqLen)
		for _, ctx := range []int{lo, lo + 1, 64, hi - 2, hi - 1, hi} {
			story := make([]int, MeasureStory(s, ctx, seqLen))
			for i := range story {
				story[i] = i + 2
			}
			p := MeasurePlan(s, story, ctx, seqLen)
			if p.Prompt[0] != 1 || !slices.Equal(p.Prompt[1:], story[:len(p.Prompt)-1]) {
				t.Errorf("%s at %d: the prompt is not BOS and the story's start", s, ctx)
			}
			last := len(p.Prompt) + p.Gen - 1 // the tokens the last step reads
			if len(p.Prompt)-1+p.Gen != len(story) || last > seqLen {
				t.Errorf("%s at %d: prompt of %d and %d generated for a story of %d", s, ctx, len(p.Prompt), p.Gen, len(story))
			}
			if len(p.Prompt)+p.At != ctx || !slices.Contains(p.Phases, p.At) || p.Phases[len(p.Phases)-1] >= p.Gen {
				t.Errorf("%s at %d: prompt of %d, %d generated, phases %v, at %d", s, ctx, len(p.Prompt), p.Gen, p.Phases, p.At)
			}
			want := MeasuredSteps
			if !s.KeepsCache() {
				want = 1
			}
			if len(p.Phases) != want {
				t.Errorf("%s at %d: %d phases, want %d", s, ctx, len(p.Phases), want)
			}
			if s.KeepsCache() && ctx+2 <= seqLen && p.At != p.Phases[len(p.Phases)/2] {
				t.Errorf("%s at %d: the step at the context is not the middle one: phases %v, at %d", s, ctx, p.Phases, p.At)
			}
		}
	}
	if lo, hi := MeasureRange(Cryptogen, 7); lo <= hi {
		t.Errorf("a model of 7 positions: contexts %d to %d, want none", lo, hi)
	}
}

// TestMedianStep: the counters are phase At's, the seconds the medians
// (here of 1, 5, 2: 2, from another phase than At).
func TestMedianStep(t *testing.T) {
	phase := func(secs float64, rounds int64) PhaseCost {
		return PhaseCost{Kinds: map[Kind]cost.Cost{KindLinear: {ComputeSeconds: secs, WallSeconds: 2 * secs, Rounds: rounds}}}
	}
	r := &Report{Breakdown: []PhaseCost{phase(9, 9), phase(1, 1), phase(5, 2), phase(2, 3)}}
	got, err := r.MedianStep(MeasuredPlan{Phases: []int{1, 2, 3}, At: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got.Rounds != 2 || got.ComputeSeconds != 2 || got.WallSeconds != 4 {
		t.Errorf("MedianStep = %d rounds, %g s, %g s wall; want 2, 2, 4", got.Rounds, got.ComputeSeconds, got.WallSeconds)
	}
	if _, err := r.MedianStep(MeasuredPlan{Phases: []int{4}, At: 4}); err == nil {
		t.Error("a phase beyond the report: no error")
	}
}
