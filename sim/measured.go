package sim

import (
	"fmt"

	"github.com/montanaflynn/stats"

	"github.com/cgsim/cgsim/cost"
)

// Measured decode steps. Wherever a decode step is measured for real to
// be set against its estimate (validate --sweep, the scaling experiment),
// it is taken the same way, by MeasurePlan:
//
//   - a strategy that keeps its cache: the median of MeasuredSteps decode
//     steps around the context C, those reading C-2 to C+2 tokens (C-4 to
//     C where C+2 would pass the model's last position), the third to the
//     seventh of a generation (the two steps before them warm up what a
//     step first uses after the prefill, as every step of a long
//     generation finds it). One step of a small model is short enough for
//     a collection, the runtime's return of memory to the system or
//     another process's burst to move one kind noticeably; the median
//     does not follow one of them;
//   - a strategy without a cache: its second pass, over C tokens, after a
//     first over C-1 that grows the process's memory to what a pass uses.
//     Each fresh page costs the kernel a fault (dear on a virtual machine:
//     see the README), a cost of the process's start that a server's later
//     tokens do not pay.

// MeasuredSteps is the number of decode steps whose median is a cached
// strategy's measured point.
const MeasuredSteps = 5

const measuredHalf = MeasuredSteps / 2

// A MeasuredPlan is the generation that measures a decode step: Prompt
// (BOS and the story's first tokens) and Gen tokens generated, the story's
// next ones; Phases (of Report.Breakdown: 0 the prefill, i the i-th decode
// step) are the steps whose median is the point, and At the one among them
// that reads the context itself (whose counters an estimate of that step
// predicts).
type MeasuredPlan struct {
	Prompt []int
	Gen    int
	Phases []int
	At     int
}

// MeasurePlan is the plan that measures strategy s's decode step at
// context ctx (within MeasureRange) for a model of seqLen positions, on a
// story from BOS: story[i] is the token at position i+1, and it must hold
// MeasureStory(s, ctx, seqLen) tokens.
func MeasurePlan(s Strategy, story []int, ctx, seqLen int) MeasuredPlan {
	if !s.KeepsCache() { // the pass over C tokens, after one over C-1
		return MeasuredPlan{Prompt: append([]int{1}, story[:ctx-2]...), Gen: 2, Phases: []int{1}, At: 1}
	}
	// Steps 3 to 7 of a generation after a prompt of first-3 tokens read
	// first to first+4.
	first := min(ctx-measuredHalf, seqLen-MeasuredSteps+1)
	p := MeasuredPlan{Prompt: append([]int{1}, story[:first-4]...), Gen: 2 + MeasuredSteps + 1, At: 3 + ctx - first}
	for i := range MeasuredSteps {
		p.Phases = append(p.Phases, 3+i)
	}
	return p
}

// MeasureRange is the least and the largest context MeasurePlan takes for
// s with a model of seqLen positions.
func MeasureRange(s Strategy, seqLen int) (lo, hi int) {
	if s.KeepsCache() { // BOS at least in the prompt; the first step measured reads 4 or more
		if seqLen < MeasuredSteps+3 {
			return measuredHalf + 4, measuredHalf + 3 // none
		}
		return measuredHalf + 4, seqLen
	}
	return 2, seqLen
}

// MeasureStory is the number of story tokens MeasurePlan reads for s at
// ctx (its prompt's and the tokens it generates).
func MeasureStory(s Strategy, ctx, seqLen int) int {
	p := MeasurePlan(s, make([]int, seqLen+1), ctx, seqLen)
	return len(p.Prompt) - 1 + p.Gen
}

// MedianStep is the measured point of a run made by plan p: the cost of
// its phase p.At with the compute and wall seconds the medians over
// p.Phases.
func (r *Report) MedianStep(p MeasuredPlan) (cost.Cost, error) {
	if len(p.Phases) == 0 {
		return cost.Cost{}, fmt.Errorf("sim: no phases")
	}
	var compute, wall []float64
	for _, ph := range append(p.Phases, p.At) {
		if ph < 0 || ph >= len(r.Breakdown) {
			return cost.Cost{}, fmt.Errorf("sim: phase %d of a report of %d", ph, len(r.Breakdown))
		}
	}
	for _, ph := range p.Phases {
		t := r.Breakdown[ph].Total()
		compute, wall = append(compute, t.ComputeSeconds), append(wall, t.WallSeconds)
	}
	c := r.Breakdown[p.At].Total()
	c.ComputeSeconds, _ = stats.Median(compute)
	c.WallSeconds, _ = stats.Median(wall)
	return c, nil
}
