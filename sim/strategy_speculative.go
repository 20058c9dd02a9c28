package sim

import (
	"fmt"

	"github.com/cgsim/cgsim/model"
)

func init() { registerExtra(Speculative, speculative{}) }

// speculative is POST's speculative decoding over the encrypted cache,
// greedy or sampled: at each step the client's public draft proposes up
// to gamma tokens (Engine.Propose), one pass over the feature-major cache
// runs the last token and the proposals (a pass of several tokens: the
// rows at once but for the queries' attention kernels, which share one
// causal softmax; see the package documentation) and keeps every row's
// logits, the accept protocol (Engine.Verify) reveals to the client how
// many proposals it accepts and the model's token after them, and the
// cache drops the rejected proposals (Engine.Rollback). A step yields the
// accepted proposals and one more.
//
// Greedy (mpc.Accept): a proposal is accepted while it equals the
// model's greedy choice; the tokens are exactly greedy decoding's.
// Sampled (a temperature; mpc.AcceptSampled): speculative sampling on
// shares, with the draft's probabilities and the acceptance uniforms the
// client's and the residual's uniform the server's; the tokens are
// distributed as sampling from the model (model.GenerateSpeculative is
// the reference, coin for coin).
//
// What it reveals beyond greedy decoding: the cache's length after each
// step, hence to the server the number of proposals each step accepted.
type speculative struct{}

func (speculative) doc() string {
	return "POST's speculative decoding, greedy or sampled (--temperature): the client's public draft (--draft) proposes --gamma tokens, one pass over the encrypted cache verifies them"
}

func (speculative) keepsCache() bool { return true }

func (speculative) decode(e Engine, cfg model.Config, prompt, out []int, left int) ([]int, error) {
	pos := len(prompt) + len(out) - 1
	last := out[len(out)-1]
	drafts, err := e.Propose(append(append([]int(nil), prompt...), out...), left-1)
	if err != nil {
		return nil, err
	}
	if len(drafts) == 0 {
		tok, err := Forward(e, cfg, []int{last}, pos)
		return []int{tok}, err
	}
	logits, err := forwardLogits(e, cfg, append([]int{last}, drafts...), pos, false)
	if err != nil {
		return nil, err
	}
	accepted, tok, err := e.Verify(logits, drafts)
	if err != nil {
		return nil, err
	}
	if accepted < len(drafts) {
		if err := e.Rollback(pos + 1 + accepted); err != nil {
			return nil, err
		}
	}
	return append(drafts[:accepted:accepted], tok), nil
}

// maxGamma bounds the draft tokens of a speculative step.
const maxGamma = 64

// checkSpeculative checks a session's speculative options: a gamma from 1
// to maxGamma and the feature-major cache with the strategy, none without.
func checkSpeculative(s Strategy, co CacheOptions, gamma int) error {
	if s != Speculative {
		if gamma != 0 {
			return fmt.Errorf("sim: a draft length (%d) without the speculative strategy", gamma)
		}
		return nil
	}
	if gamma < 1 || gamma > maxGamma {
		return fmt.Errorf("sim: the speculative strategy proposes %d draft tokens: want 1 to %d", gamma, maxGamma)
	}
	if co.Layout != FeatureLayout {
		return fmt.Errorf("sim: the speculative strategy needs the feature-major cache (--layout feature)")
	}
	return nil
}

// passes: the prompt, then passes over the cache of 1 to gamma + 1 tokens
// (the last token and at most gamma proposals).
func (speculative) passes(prompt, gen, gamma int) ([]int, []int) {
	if gen < 2 {
		return []int{prompt}, nil
	}
	var over []int
	for m := 1; m <= max(gamma, 0)+1; m++ {
		over = append(over, m)
	}
	return []int{prompt}, over
}
