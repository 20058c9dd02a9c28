package sim

import (
	"testing"

	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
)

// TestPlanSharedProtocol: Plan's sessions share one protocol and its memo
// (linear layers planned once per flooding and shape, two-party protocols
// estimated once per value), and that changes no number: every point of
// the plan is, field for field, the decode step its own session costs
// (DecodeStep). GPT-2 from 256 tokens, whose causal softmax fits in whole
// heads, to 1536, whose heads are cut into pieces the longer passes
// share, on one server core and on three.
func TestPlanSharedProtocol(t *testing.T) {
	for _, cores := range []int{0, 3} {
		opts := PlanOptions{
			EstimateOptions: EstimateOptions{Model: config(t, "gpt2"), Preset: preset(t, params.DefaultBGV), Network: net.WAN, ServerCores: cores},
			Contexts:        PlanContexts(256, 1536),
		}
		rep, err := Plan(opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, pt := range rep.Points {
			for _, s := range rep.Strategies {
				o := opts.EstimateOptions
				o.Strategy = s
				want, err := DecodeStep(o, pt.Context)
				if err != nil {
					t.Fatal(err)
				}
				if got := pt.Costs[s]; got != want || pt.Errors[s] != "" {
					t.Errorf("%d cores, %s at %d tokens: the plan's %+v (%q), its own session's %+v", cores, s, pt.Context, got, pt.Errors[s], want)
				}
			}
		}
	}
}
