package sim

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
)

// TestPassOverCache: a pass of several new tokens over the feature-major
// cache (the prompt cut in two: a prefill, then the rest in one pass at
// its position) chooses the reference's tokens, and the run engine
// records per phase exactly the counters of the estimate engine over the
// same schedule; the decode steps after it go on from the cache.
func TestPassOverCache(t *testing.T) {
	m := loadStories(t)
	prompt := []int{1, 403, 407, 261, 378, 432}
	const gen = 3
	want, err := model.Generate(m, prompt, gen)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{1, 2, 4} {
		for _, nl := range []mpc.Nonlinear{mpc.Iterative, mpc.LUT} {
			t.Run(fmt.Sprintf("cut=%d/%v", cut, nl), func(t *testing.T) {
				r, err := NewRunner(RunOptions{Model: m, Preset: preset(t, "bgv-test-insecure"), Network: net.LAN, Strategy: Cryptogen,
					PromptTokens: cut, Gen: gen, Nonlinear: nl, PassRows: []int{len(prompt) - cut}, MaxSessionTokens: len(prompt) + gen})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				got := chunkedGenerate(t, r, m.Config, prompt, cut, gen)
				if !slices.Equal(got, want) {
					t.Errorf("tokens %v, reference %v", got, want)
				}
				est, err := NewEstimatorFor(EstimateOptions{Model: m.Config, Preset: preset(t, "bgv-test-insecure"), Network: net.LAN, Strategy: Cryptogen,
					Prompt: cut, Gen: gen, Nonlinear: nl, MaxSessionTokens: len(prompt) + gen})
				if err != nil {
					t.Fatal(err)
				}
				chunkedGenerate(t, est, m.Config, prompt, cut, gen)
				checkPhases(t, r.Breakdown(), est.Breakdown())
			})
		}
	}
}

// chunkedGenerate runs prompt[:cut] as the prefill, prompt[cut:] as one
// pass at position cut (phase decode 0), then greedy decode steps, and
// returns the tokens chosen after the whole prompt and after each step.
func chunkedGenerate(t *testing.T, e Engine, cfg model.Config, prompt []int, cut, gen int) []int {
	t.Helper()
	e.Begin(Phase{Kind: Prefill})
	if _, err := Forward(e, cfg, prompt[:cut], 0); err != nil {
		t.Fatal(err)
	}
	e.Begin(Phase{Kind: Decode, Step: 0})
	tok, err := Forward(e, cfg, prompt[cut:], cut)
	if err != nil {
		t.Fatal(err)
	}
	out := []int{tok}
	for i := 1; i < gen; i++ {
		e.Begin(Phase{Kind: Decode, Step: i})
		if tok, err = Forward(e, cfg, []int{tok}, len(prompt)+i-1); err != nil {
			t.Fatal(err)
		}
		out = append(out, tok)
	}
	return out
}
