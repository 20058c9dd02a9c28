package sim

import (
	"fmt"
	"slices"

	"github.com/montanaflynn/stats"

	"github.com/cgsim/cgsim/cost"
)

// Measured decode steps. Wherever a decode step is measured for real to
// be set against its estimate (validate --sweep, the scaling experiment),
// it is taken the same way, by MeasurePlan:
//
//   - a strategy that keeps its cache: the median of MeasuredSteps decode
//     steps centred on the context C, those reading C-2 to C+2 tokens,
//     the third to the seventh of a generation after a prompt of C-5
//     tokens (the two steps before them warm up what a step first uses
//     after the prefill, as every step of a long generation finds it). One
//     step of a small model is short enough for a collection, the
//     runtime's return of memory to the system or another process's burst
//     to move one kind noticeably; the median does not follow one of them;
//   - a strategy without a cache: its second pass, over C tokens, after a
//     first over C-1 that grows the process's memory to what a pass uses.
//     Each fresh page costs the kernel a fault (dear on a virtual machine:
//     see the README), a cost of the process's start that a server's later
//     tokens do not pay.

// MeasuredSteps is the number of decode steps whose median is a cached
// strategy's measured point.
const MeasuredSteps = 5

const measuredHalf = MeasuredSteps / 2

// MeasurePlan is the generation that measures strategy s's decode step at
// context ctx on a story from BOS (story[i] is the token at position
// i+1, and must hold MeasureStory(s, ctx) tokens): the prompt (BOS and
// the story's first tokens), the tokens to generate, and the phases (of
// Report.Breakdown: 0 the prefill, i the i-th decode step) whose median is
// the point. The generated tokens are the story's next ones.
func MeasurePlan(s Strategy, story []int, ctx int) (prompt []int, gen int, phases []int) {
	if !s.KeepsCache() { // the pass over C tokens, after one over C-1
		return append([]int{1}, story[:ctx-2]...), 2, []int{1}
	}
	prompt = append([]int{1}, story[:ctx-measuredHalf-4]...)
	for i := range MeasuredSteps {
		phases = append(phases, 3+i)
	}
	return prompt, 2 + MeasuredSteps + 1, phases
}

// MeasureRange is the least and the largest context MeasurePlan takes for
// s with a model of seqLen positions.
func MeasureRange(s Strategy, seqLen int) (lo, hi int) {
	if s.KeepsCache() { // BOS at least in the prompt; the last step reads C+2
		return measuredHalf + 4, seqLen - measuredHalf
	}
	return 2, seqLen
}

// MeasureStory is the number of story tokens MeasurePlan reads for s at
// ctx (its prompt's and the tokens it generates).
func MeasureStory(s Strategy, ctx int) int {
	prompt, gen, _ := MeasurePlan(s, make([]int, ctx+measuredHalf), ctx)
	return len(prompt) - 1 + gen
}

// MedianStep is the measured point of a run made by MeasurePlan: the cost
// of its middle phase (the step that reads the context itself, whose
// counters an estimate of that step predicts) with the compute and wall
// seconds the medians over phases.
func (r *Report) MedianStep(phases []int) (cost.Cost, error) {
	if len(phases) == 0 {
		return cost.Cost{}, fmt.Errorf("sim: no phases")
	}
	var compute, wall []float64
	for _, ph := range phases {
		if ph < 0 || ph >= len(r.Breakdown) {
			return cost.Cost{}, fmt.Errorf("sim: phase %d of a report of %d", ph, len(r.Breakdown))
		}
		t := r.Breakdown[ph].Total()
		compute, wall = append(compute, t.ComputeSeconds), append(wall, t.WallSeconds)
	}
	c := r.Breakdown[phases[len(phases)/2]].Total()
	c.ComputeSeconds, _ = stats.Median(slices.Clone(compute))
	c.WallSeconds, _ = stats.Median(slices.Clone(wall))
	return c, nil
}
