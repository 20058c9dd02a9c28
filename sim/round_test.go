package sim

import (
	"math"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
)

// TestRoundPriced: a profile that prices cost.OpRound adds, to every
// kind's compute seconds, its rounds times that price, and changes no
// counter; a profile without it adds nothing.
func TestRoundPriced(t *testing.T) {
	cfg, pr := config(t, "stories260K"), preset(t, "bgv-test-insecure")
	builtin, err := cost.Default(pr.Name)
	if err != nil {
		t.Fatal(err)
	}
	// The baseline is the built-in profile without its round's price, the
	// priced one the same with a round at price.
	const price = 1e-3 // a millisecond per round: far above rounding
	base, priced := *builtin, *builtin
	base.Seconds, priced.Seconds = map[cost.Op][]float64{}, map[cost.Op][]float64{}
	for op, row := range builtin.Seconds {
		if op != cost.OpRound {
			base.Seconds[op], priced.Seconds[op] = row, row
		}
	}
	row := make([]float64, base.MaxLevel+1)
	for i := range row {
		row[i] = price
	}
	priced.Seconds[cost.OpRound] = row
	if err := priced.Validate(); err != nil {
		t.Fatal(err)
	}
	run := func(p *cost.Profile) *Report {
		r, err := Estimate(EstimateOptions{Model: cfg, Preset: pr, Profile: p, Network: net.LAN, Strategy: Cryptogen, Prompt: 5, Gen: 3})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b := run(&base), run(&priced)
	if d := cost.CounterDiff(a.Total, b.Total); len(d) > 0 {
		t.Errorf("counters differ: %v", d)
	}
	for k, ca := range a.ByKind(Prefill, Decode) {
		cb := b.ByKind(Prefill, Decode)[k]
		want := ca.ComputeSeconds + float64(ca.Rounds)*price
		if math.Abs(cb.ComputeSeconds-want) > 1e-9*max(1, want) {
			t.Errorf("%s: compute %.6f s, want %.6f + %d rounds x %g", k, cb.ComputeSeconds, ca.ComputeSeconds, ca.Rounds, price)
		}
	}
}
