package exec

import (
	"fmt"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
)

// TestLinearSearchTerms: the packing search's memo of estimate terms
// changes no estimate. Every packing of a layer, priced with one memo
// shared over all of them (as the search prices them), equals its
// estimate without the memo, field for field, on one core and on three;
// for GPT-2's and Llama-3-8B's shapes at both presets, two floodings and
// decode and prefill token counts.
func TestLinearSearchTerms(t *testing.T) {
	shapes := append(modelShapes(t, "gpt2", true), modelShapes(t, "llama3-8b", false)...)
	for _, name := range []string{"bgv-n13", "bgv-n14"} {
		pr, err := params.ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		prof, err := cost.Default(name)
		if err != nil {
			t.Fatal(err)
		}
		pl, err := PlannerFor(pr, prof)
		if err != nil {
			t.Fatal(err)
		}
		for _, kappa := range []int{pl.StatSecurity, pl.StatSecurity + 17} {
			pl.StatSecurity = kappa
			for _, sh := range shapes {
				for _, m := range []int{1, 7, 300} {
					enc := Prefill
					if m == 1 {
						enc = Decode
					}
					l, err := pl.Linear(sh.out, sh.in, m, enc)
					if err != nil {
						continue // the noise does not fit this preset
					}
					t.Run(fmt.Sprintf("%s/kappa=%d/%s/m=%d", name, kappa, sh.name, m), func(t *testing.T) {
						checkSearchTerms(t, pl, *l)
					})
				}
			}
		}
	}
}

// checkSearchTerms prices every packing of l's shape, of both families,
// with and without a memo of terms, and checks that the planner's choice
// is the cheapest of them on its network (the LAN).
func checkSearchTerms(t *testing.T, pl Planner, l Linear) {
	n, chunks := slotLanes(l.Params, l.In)
	chosen := l.pack
	l.cores = 0
	best := workSeconds(net.LAN.Price(l.Estimate()))
	for _, cores := range []int{0, 3} {
		l.cores = cores
		terms, count := newEstimateTerms(), 0
		check := func(pk linearPacking) {
			l.pack = pk
			count++
			got, want := l.estimate(terms), l.Estimate()
			if got != want {
				t.Errorf("%d cores, packing %+v: %+v with the memo, %+v without", cores, pk, got, want)
			}
			if sec := workSeconds(net.LAN.Price(want)); cores == 0 && sec < best {
				t.Errorf("packing %+v: %.6f s, below the chosen %+v's %.6f s", pk, sec, chosen, best)
			}
		}
		if byBaby := pl.linearLevels(n * chunks); byBaby[0].err == nil {
			l.packings(n, chunks, byBaby, check)
		}
		l.coeffPackings(pl.NoiseModel(), check)
		if count < 2 || len(terms.terms) == 0 {
			t.Fatalf("%d packings, %d terms memoized", count, len(terms.terms))
		}
	}
}
