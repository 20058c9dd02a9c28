package sim

import "github.com/cgsim/cgsim/model"

func init() { register(Cryptogen, cryptogen{}) }

// cryptogen is CryptoGen's strategy: the prompt's keys and values are
// switched into an encrypted KV cache after the prefill, and each decode
// step runs one token against it (its attention through the decode
// kernels over the cache, see decodeAttnStep).
type cryptogen struct{}

func (cryptogen) doc() string      { return "encrypted KV cache reused across steps" }
func (cryptogen) keepsCache() bool { return true }

func (cryptogen) decode(e Engine, cfg model.Config, prompt, out []int, _ int) ([]int, error) {
	tok, err := Forward(e, cfg, out[len(out)-1:], len(prompt)+len(out)-1)
	return []int{tok}, err
}

func (cryptogen) passes(prompt, gen, _ int) ([]int, []int) {
	if gen > 1 {
		return []int{prompt}, []int{1}
	}
	return []int{prompt}, nil
}
