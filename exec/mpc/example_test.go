package mpc_test

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/params"
)

// profile prices every operation at one microsecond.
func profile() *cost.Profile {
	p := &cost.Profile{Params: "example", Scheme: "BGV", LogN: 13, Seconds: map[cost.Op][]float64{}}
	for _, op := range cost.Ops() {
		p.Seconds[op] = []float64{1e-6}
	}
	return p
}

// A softmax on shares: the estimate is known before the run, and the run
// records exactly the same counters.
func Example() {
	preset, err := params.ByName("bgv-n14") // 60-bit t, 14 fractional bits
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, err := mpc.NewConfig(preset.FixedPoint, profile())
	if err != nil {
		fmt.Println(err)
		return
	}
	sm := mpc.Softmax{Config: cfg, Rows: 1, Cols: 4}
	est := sm.Estimate()

	s := mpc.NewSession(cfg, mpc.TrustedDealer{})
	defer s.Close()
	x, _ := cfg.Ring.Split([]float64{1, 2, 3, 4})
	p, err := sm.Run(s, x)
	if err != nil {
		fmt.Println(err)
		return
	}
	probs, _ := cfg.Ring.Reveal(p)
	fmt.Printf("probabilities %.3f\n", probs)
	fmt.Println("rounds", est.Rounds, "bytes c2s", est.BytesC2S, "triples", est.Triples)
	fmt.Println("run equals estimate:", len(cost.CounterDiff(s.Cost(), est)) == 0)
	// Output:
	// probabilities [0.032 0.087 0.237 0.644]
	// rounds 30 bytes c2s 1120 triples 45
	// run equals estimate: true
}
