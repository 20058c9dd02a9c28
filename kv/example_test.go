package kv_test

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/kv"
	"github.com/cgsim/cgsim/params"
)

// Planning a cache for stories260K at bgv-n14 without any ciphertext:
// how many refreshes each policy costs over 512 tokens, and the memory.
func Example() {
	// The protocol context, resolved once from the preset's name.
	pr, err := params.ByName("bgv-n14")
	if err != nil {
		fmt.Println(err)
		return
	}
	prof, err := cost.Default(pr.Name)
	if err != nil {
		fmt.Println(err)
		return
	}
	pl, err := exec.PlannerFor(pr, prof)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range []struct {
		m   kv.Method
		pol kv.Policy
	}{
		{kv.ClientEncrypt, kv.Never{}},
		{kv.Homomorphic, kv.Eager{}},
		{kv.Homomorphic, kv.Lazy{Tau: 0}},
		{kv.Homomorphic, kv.Never{}},
	} {
		cfg, err := kv.NewConfig(kv.Config{Preset: pr.Name, Planner: pl, Layers: 5, Heads: 8, KVHeads: 4, HeadDim: 8,
			MaxContext: 512, Method: c.m, Policy: c.pol})
		if err != nil {
			fmt.Printf("%s/%s: rejected\n", c.m, c.pol)
			continue
		}
		n, _, _ := cfg.Refreshes(512)
		est, _ := cfg.Estimate(0, 512)
		fmt.Printf("%s/%s: B=%d, kernel level %d, home level %d, %d refreshes, %d rounds, %.0f cache bytes/token (plaintext fp16: %d)\n",
			c.m, c.pol, cfg.Layout.TokensPerCt, cfg.KernelLevel[0], cfg.HomeLevel[0], n, est.Rounds, cfg.BytesPerToken(), cfg.PlaintextBytesPerToken())
	}
	// Output:
	// client-encrypt/never: B=512, kernel level 3, home level 3, 0 refreshes, 2560 rounds, 23047 cache bytes/token (plaintext fp16: 640)
	// homomorphic/eager: B=512, kernel level 3, home level 5, 5120 refreshes, 2560 rounds, 33287 cache bytes/token (plaintext fp16: 640)
	// homomorphic/lazy(tau=0): B=512, kernel level 3, home level 5, 2550 refreshes, 1275 rounds, 33287 cache bytes/token (plaintext fp16: 640)
	// homomorphic/never: rejected
}
