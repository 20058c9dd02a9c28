package exec

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
)

// testServerCores and testClientCores are the parties' cores in the
// sessions checkLinear, checkARCC and checkFeature make: 1, except inside
// TestParallelServer.
var testServerCores, testClientCores = 1, 1

// TestParallelServer reruns the exact checks of the linear layer (Run and
// RunEncoded), the four ARCC kernels, the feature kernels and a share
// conversion with the server and the client on 3 cores each (more than
// the machine may have: the goroutines interleave either way): the
// results equal the plaintext ones and the counters their Estimates',
// which do not depend on the cores. Shapes with several input and output
// ciphertexts, token groups and products, so that every parallel section
// and every batch of the client has pieces to share. Run it with -race.
func TestParallelServer(t *testing.T) {
	testServerCores, testClientCores = 3, 3
	defer func() { testServerCores, testClientCores = 1, 1 }()
	e := hetest.ForTest(t, hetest.Presets()[0])
	for _, c := range []struct{ out, in, m int }{{512, 64, 1}, {172, 64, 1}, {64, 64, 16}, {172, 64, 3}} {
		t.Run(fmt.Sprintf("linear/%dx%d/m=%d", c.out, c.in, c.m), func(t *testing.T) { checkLinear(t, e, c.out, c.in, c.m) })
	}
	sh := AttentionShape{Heads: 8, KVHeads: 4, HeadDim: 8, Context: 200}
	t.Run("decode", func(t *testing.T) {
		sc, vk := decodeKernels(t, e, sh)
		checkARCC(t, e, sc, vk)
	})
	sh.Context = 24
	t.Run("prefill", func(t *testing.T) {
		sc, vk := prefillKernels(t, e, sh)
		checkARCC(t, e, sc, vk)
	})
	t.Run("feature", func(t *testing.T) {
		checkFeature(t, e, AttentionShape{Heads: 8, KVHeads: 4, HeadDim: 8, Context: 300}, 4)
	})
	t.Run("H2S", func(t *testing.T) {
		p := e.Params
		sess, err := NewSession(p)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		if err := sess.SetServerCores(3); err != nil {
			t.Fatal(err)
		}
		if err := sess.SetClientCores(3); err != nil {
			t.Fatal(err)
		}
		tm := p.PlaintextModulus()
		n := 5*p.MaxSlots() + 7
		x := hetest.RandVec(tm, n)
		c2s := NewC2S(p, e.Profile, n)
		cts, err := c2s.Run(sess, hetest.NopTally(), share(t, x, tm))
		if err != nil {
			t.Fatal(err)
		}
		pl := Planner{Params: p, Profile: e.Profile, StatSecurity: StatisticalSecurity, Cores: 3}
		h2s, err := pl.H2S(n, c2s.Level, NewNoiseModel(p).FreshSK())
		if err != nil {
			t.Fatal(err)
		}
		tally := cost.NewTally(e.Profile)
		y, err := h2s.Run(sess, tally, cts)
		if err != nil {
			t.Fatal(err)
		}
		hetest.CheckCounters(t, "H2S", tally.Cost(), h2s.Estimate())
		if !slices.Equal(y.Reveal(tm), x) {
			t.Fatal("round trip on 3 cores changed the vector")
		}
	})
}

// TestEstimateOnCores: an estimate priced for more cores (server and
// client) has the same
// counters and no more compute seconds, strictly fewer where a section
// has several pieces; a section of n alike pieces on n cores costs one
// piece's seconds.
func TestEstimateOnCores(t *testing.T) {
	e := hetest.ForTest(t, hetest.Presets()[0])
	one := Planner{Params: e.Params, Profile: e.Profile, StatSecurity: StatisticalSecurity}
	many := one
	many.Cores, many.ClientCores = 16, 16
	type pair struct {
		name       string
		one, many  cost.Cost
		manyPieces bool
	}
	var cases []pair
	for _, c := range []struct{ out, in, m int }{{512, 64, 1}, {64, 64, 1}, {64, 64, 16}} {
		a, err := one.Linear(c.out, c.in, c.m, map[bool]Encoding{true: Decode, false: Prefill}[c.m == 1])
		if err != nil {
			t.Fatal(err)
		}
		b, err := many.Linear(c.out, c.in, c.m, map[bool]Encoding{true: Decode, false: Prefill}[c.m == 1])
		if err != nil {
			t.Fatal(err)
		}
		if a.pack != b.pack {
			t.Fatalf("linear %v: the packing depends on the cores", c)
		}
		cases = append(cases, pair{fmt.Sprintf("linear %v", c), a.Estimate(), b.Estimate(), a.OutputCiphertexts() > 1})
	}
	sh := AttentionShape{Heads: 8, KVHeads: 4, HeadDim: 8, Context: 200}
	s1, err := one.DecodeScores(sh)
	if err != nil {
		t.Fatal(err)
	}
	s16, err := many.DecodeScores(sh)
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, pair{"decode scores", s1.Estimate(), s16.Estimate(), true})
	// The feature kernels: their split is chosen by price, on one core
	// whatever the cores.
	fsh := AttentionShape{Heads: 8, KVHeads: 4, HeadDim: 8, Context: 300}
	f1, err := one.FeatureScores(fsh, 4)
	if err != nil {
		t.Fatal(err)
	}
	f16, err := many.FeatureScores(fsh, 4)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := one.FeatureValues(fsh, 4)
	if err != nil {
		t.Fatal(err)
	}
	v16, err := many.FeatureValues(fsh, 4)
	if err != nil {
		t.Fatal(err)
	}
	split := func(p featureProducts) [3]int { return [3]int{p.level, p.baby, p.giant} }
	if split(f1.prod) != split(f16.prod) || split(v1.prod) != split(v16.prod) || v1.perResult != v16.perResult {
		t.Fatal("feature kernels: the plan depends on the cores")
	}
	cases = append(cases, pair{"feature scores", f1.Estimate(), f16.Estimate(), true}, pair{"feature values", v1.Estimate(), v16.Estimate(), true})
	// A share conversion: the client prepares its ciphertexts on its cores.
	c1, err := one.C2S(5*e.Params.MaxSlots(), 1)
	if err != nil {
		t.Fatal(err)
	}
	c16, err := many.C2S(5*e.Params.MaxSlots(), 1)
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, pair{"C2S", c1.Estimate(), c16.Estimate(), true})
	for _, c := range cases {
		if d := cost.CounterDiff(c.one, c.many); len(d) > 0 {
			t.Errorf("%s: counters differ with the cores: %v", c.name, d)
		}
		if c.many.ComputeSeconds > c.one.ComputeSeconds || c.manyPieces && !(c.many.ComputeSeconds < c.one.ComputeSeconds) {
			t.Errorf("%s: %.4f s on 16 cores, %.4f s on one", c.name, c.many.ComputeSeconds, c.one.ComputeSeconds)
		}
	}
	// onCores: 8 pieces of 1 s inside a 10 s cost: 3 s on 8 cores (2 +
	// one piece), 4 s on 5 (two pieces each on the busiest core).
	piece := cost.Cost{ComputeSeconds: 8}
	c := cost.Cost{ComputeSeconds: 10}
	for _, tc := range []struct {
		cores int
		want  float64
	}{{1, 10}, {5, 4}, {8, 3}, {64, 3}} {
		if got := onCores(c, 8, tc.cores, func() cost.Cost { return piece }).ComputeSeconds; got != tc.want {
			t.Errorf("onCores on %d cores: %v s, want %v", tc.cores, got, tc.want)
		}
	}
}
