package sim

import (
	"slices"
	"testing"

	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
)

// TestRunSpeculativeSampled: secure speculative sampling draws the
// plaintext reference's tokens with the same seed, coin for coin
// (model.GenerateSpeculative at the temperature), accepts what it
// accepts, and records, phase by phase, the counters of the estimate
// replaying its accepted counts at that temperature. The seed's passes
// accept some proposals and reject others, twice at least, each time
// drawing the correction from the residual (checked), and every decision
// of the reference lies at least 0.02 from its boundary (SpecStats.Margin,
// in probability units), far above the secure probabilities' error (a
// few 2^-14 per probability): a protocol that compared the wrong values
// or drew the correction from the wrong distribution would fail. (The
// model as its own draft is model.TestGenerateSpeculativeSampled's: on
// shares p is the fixed point's softmax and q the draft's float one, so
// "every proposal accepted" holds only up to their difference.)
func TestRunSpeculativeSampled(t *testing.T) {
	m := loadStories(t)
	q4, err := model.Derive(m, model.DraftOptions{Bits: 4})
	if err != nil {
		t.Fatal(err)
	}
	prompt := []int{1, 403, 407, 261}
	const gen, gamma = 12, 3
	sampler := model.Sampler{Temperature: 1.2, Seed: 11}
	for _, tc := range []struct {
		name  string
		draft *model.Model
		nl    mpc.Nonlinear
	}{
		{"q4/lut", q4, mpc.LUT},
		{"q4/iterative", q4, mpc.Iterative},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, ref, err := model.GenerateSpeculative(m, tc.draft, prompt, gen, gamma, sampler)
			if err != nil {
				t.Fatal(err)
			}
			if ref.Margin < 0.02 || ref.Rejected < 2 || ref.Accepted == 0 {
				t.Fatalf("the seed no longer makes a telling test: accepted %v, margin %.4f", ref.PerPass, ref.Margin)
			}
			greedy, _, err := model.GenerateSpeculative(m, tc.draft, prompt, gen, gamma, model.Sampler{})
			if err != nil {
				t.Fatal(err)
			}
			if slices.Equal(greedy, want) {
				t.Fatalf("the sampled tokens are the greedy ones: %v", want)
			}
			rep, err := Run(RunOptions{Model: m, Preset: preset(t, "bgv-test-insecure"), Network: net.LAN, Strategy: Speculative,
				Gen: gen, Nonlinear: tc.nl, Draft: tc.draft, Gamma: gamma, Sampler: sampler}, prompt, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rep.Tokens, want) || !slices.Equal(rep.Accepted, ref.PerPass) {
				t.Errorf("tokens %v accepted %v; the reference's %v, %v", rep.Tokens, rep.Accepted, want, ref.PerPass)
			}
			t.Logf("accepted %v (margin %.3f)", rep.Accepted, ref.Margin)
			if rep.Temperature != sampler.Temperature || rep.Seed == nil || *rep.Seed != sampler.Seed {
				t.Errorf("report: temperature %v, seed %v", rep.Temperature, rep.Seed)
			}
			est, err := Estimate(EstimateOptions{Model: m.Config, Preset: preset(t, "bgv-test-insecure"), Network: net.LAN, Strategy: Speculative,
				Prompt: len(prompt), Gen: gen, Nonlinear: tc.nl, Gamma: gamma, Accepted: rep.Accepted, Temperature: sampler.Temperature})
			if err != nil {
				t.Fatal(err)
			}
			checkPhases(t, rep.Breakdown, est.Breakdown)
			if est.Temperature != sampler.Temperature {
				t.Errorf("the estimate reports temperature %v", est.Temperature)
			}
		})
	}
}
