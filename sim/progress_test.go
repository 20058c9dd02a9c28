package sim

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
)

// TestRunProgress checks the run engine's progress reports (a secure run
// showed nothing during the key exchange and the prefill, minutes for a
// long prompt): the key exchange, then each layer of the prefill, then
// each layer of each decode step, for both strategies; and that the hook
// changes no counter (the run still equals its estimate).
func TestRunProgress(t *testing.T) {
	m := loadStories(t)
	layers := m.Config.NumLayers
	pre := preset(t, "bgv-test-insecure")
	for _, s := range []Strategy{Cryptogen, Recompute} {
		t.Run(string(s), func(t *testing.T) {
			var got []string
			opts := RunOptions{Model: m, Preset: pre, Network: net.LAN, Strategy: s, Gen: 2,
				OnProgress: func(p Progress) { got = append(got, fmt.Sprintf("%s %d %d/%d", p.Stage, p.Step, p.Layer, p.Layers)) }}
			prompt := []int{1, 403}
			run, err := Run(opts, prompt, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{fmt.Sprintf("%s 0 0/0", StageKeyExchange)}
			for _, stage := range []Stage{StagePrefill, StageDecode} {
				for l := range layers {
					want = append(want, fmt.Sprintf("%s 0 %d/%d", stage, l, layers))
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("progress\n%v\nwant\n%v", got, want)
			}
			est, err := Estimate(EstimateOptions{Model: m.Config, Preset: pre, Network: net.LAN, Strategy: s, Prompt: len(prompt), Gen: 2})
			if err != nil {
				t.Fatal(err)
			}
			if d := cost.CounterDiff(est.Total, run.Total); len(d) > 0 {
				t.Errorf("counters differ from the estimate: %v", d)
			}
		})
	}
}
