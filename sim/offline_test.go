package sim

import (
	"fmt"
	"math"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
)

// dealerPriced returns the embedded profile of a preset with the dealer's
// operations priced as given (per level, all equal), or removed for nil.
// Zero prices, which a profile file cannot hold (Validate wants them
// positive), let a test count one kind of item alone.
func dealerPriced(t *testing.T, name string, prices map[cost.Op]float64) *cost.Profile {
	t.Helper()
	p, err := cost.Default(name) // a fresh copy at every call
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range cost.OfflineOps() {
		delete(p.Seconds, op)
		if prices != nil {
			row := make([]float64, p.MaxLevel+1)
			for i := range row {
				row[i] = prices[op]
			}
			p.Seconds[op] = row
		}
	}
	return p
}

// TestEstimateOfflineSeconds checks the offline seconds of the estimate
// engine: positive with the embedded profiles; the server's pads alone
// (positive: every step returns ciphertexts), with every counter and the
// online seconds unchanged, for a profile without the dealer's
// operations; the pads and the dealer's prices otherwise (priced at one
// second per triple and nothing else, the dealer's count the triples
// dealt, which every protocol consumes: the estimate's triples counter,
// exactly; at one second per dealing, they count the dealings, at least
// one per norm).
func TestEstimateOfflineSeconds(t *testing.T) {
	cfg := config(t, "stories260K")
	for _, name := range []string{"bgv-n13", "bgv-test-insecure"} {
		for _, strat := range []Strategy{Cryptogen, Recompute} {
			t.Run(fmt.Sprintf("%s/%s", name, strat), func(t *testing.T) {
				run := func(prof *cost.Profile) cost.Cost {
					t.Helper()
					r, err := Estimate(EstimateOptions{Model: cfg, Preset: preset(t, name), Profile: prof, Network: net.LAN,
						Strategy: strat, Prompt: 8, Gen: 3})
					if err != nil {
						t.Fatal(err)
					}
					return r.Total
				}
				embedded, err := cost.Default(name)
				if err != nil {
					t.Fatal(err)
				}
				full := run(embedded)
				if !(full.OfflineSeconds > 0) {
					t.Errorf("offline seconds %v with the embedded profile, want > 0", full.OfflineSeconds)
				}
				bare := run(dealerPriced(t, name, nil))
				pads := bare.OfflineSeconds
				if !(pads > 0) {
					t.Errorf("offline seconds %v without the dealer's operations, want the pads' (> 0)", pads)
				}
				if d := cost.CounterDiff(bare, full); len(d) != 0 || bare.Seconds() != full.Seconds() || bare.OfflineBytes != full.OfflineBytes {
					t.Errorf("pricing the dealer changed the rest: %v; %v vs %v s", d, bare.Seconds(), full.Seconds())
				}
				triples := run(dealerPriced(t, name, map[cost.Op]float64{cost.OpDealTriple: 1}))
				if got := triples.OfflineSeconds - pads; math.Abs(got-float64(full.Triples)) > 1e-6 {
					t.Errorf("at 1 s per triple: %v offline seconds beside the pads' %v, want the %d triples", got, pads, full.Triples)
				}
				// Two norms per layer and a final one per forward pass, one
				// pass per generated token with either strategy: a lower
				// bound of the dealings.
				dealings := run(dealerPriced(t, name, map[cost.Op]float64{cost.OpDeal: 1}))
				if minimum := float64(3 * (2*cfg.NumLayers + 1)); dealings.OfflineSeconds-pads < minimum {
					t.Errorf("at 1 s per dealing: %v offline seconds beside the pads', want at least %v", dealings.OfflineSeconds-pads, minimum)
				}
			})
		}
	}
}
