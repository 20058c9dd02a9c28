package sim_test

import (
	"fmt"

	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
	"github.com/cgsim/cgsim/sim"
)

// ExampleEstimate costs GPT-2 generating 4 tokens after a 128-token prompt
// with the encrypted KV cache, on the paper's ring (N = 8192), and prints
// the attention's ct-ct products of the first decode step: they come from the primitives'
// shapes only, so they do not depend on the machine.
func ExampleEstimate() {
	cfg, _ := model.ConfigByName("gpt2")
	preset, _ := params.ByName("bgv-n13")
	rep, err := sim.Estimate(sim.EstimateOptions{Model: cfg, Preset: preset, Network: net.WAN,
		Strategy: sim.Cryptogen, Prompt: 128, Gen: 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	d := rep.Decode[0]
	fmt.Printf("%d decode steps; the first makes %d ct-ct products and %d ct-pt products\n", len(rep.Decode), d.CtCtMul, d.CtPtMul)
	// Output:
	// 3 decode steps; the first makes 0 ct-ct products and 22144 ct-pt products
}
