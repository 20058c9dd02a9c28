package sim

import "github.com/cgsim/cgsim/model"

func init() { register(Recompute, recompute{}) }

// recompute keeps nothing between steps: each decode step resets the
// engine and runs the whole prefix (prompt and tokens generated so far)
// from position 0 with the prefill's kernels, as a discriminative secure
// inference system (BOLT, BumbleBee) would generate.
type recompute struct{}

func (recompute) doc() string      { return "whole prefix re-run per token, no cache" }
func (recompute) keepsCache() bool { return false }

func (recompute) decode(e Engine, cfg model.Config, prompt, out []int, _ int) ([]int, error) {
	if err := e.Reset(); err != nil {
		return nil, err
	}
	prefix := append(append([]int(nil), prompt...), out...)
	tok, err := Forward(e, cfg, prefix, 0)
	return []int{tok}, err
}

func (recompute) passes(prompt, gen, _ int) ([]int, []int) {
	sizes := make([]int, gen)
	for i := range sizes {
		sizes[i] = prompt + i
	}
	return sizes, nil
}
