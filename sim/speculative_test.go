package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
)

// TestRunSpeculative: secure speculative decoding makes exactly the greedy
// tokens, with the model as its own draft (every proposal accepted) and
// with a derived draft (4-bit weights: some rejected, so steps roll the
// cache back), and its run records, phase by phase, the counters of the
// estimate replaying its accepted counts: verification passes with 0 to
// gamma accepted and the rollbacks.
func TestRunSpeculative(t *testing.T) {
	m := loadStories(t)
	q4, err := model.Derive(m, model.DraftOptions{Bits: 4})
	if err != nil {
		t.Fatal(err)
	}
	prompt := []int{1, 403, 407, 261}
	const gen, gamma = 12, 3
	want, err := model.Generate(m, prompt, gen)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		draft *model.Model
		nl    mpc.Nonlinear
	}{
		{"self", m, mpc.Iterative},
		{"q4", q4, mpc.Iterative},
		{"q4/lut", q4, mpc.LUT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Run(RunOptions{Model: m, Preset: preset(t, "bgv-test-insecure"), Network: net.LAN, Strategy: Speculative,
				Gen: gen, Nonlinear: tc.nl, Draft: tc.draft, Gamma: gamma}, prompt, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rep.Tokens, want) {
				t.Errorf("tokens %v, greedy %v", rep.Tokens, want)
			}
			t.Logf("accepted %v over %d decode steps", rep.Accepted, len(rep.Decode))
			_, ref, err := model.GenerateSpeculative(m, tc.draft, prompt, gen, gamma, model.Sampler{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rep.Accepted, ref.PerPass) {
				t.Errorf("accepted %v, the plaintext reference's %v", rep.Accepted, ref.PerPass)
			}
			// Every step verifies min(gamma, tokens left - 1) proposals but
			// one with no room for any (the last token alone).
			got, passes := 1, 0
			for got < gen {
				k := min(gamma, gen-got-1)
				if k == 0 {
					got++
					continue
				}
				if passes == len(rep.Accepted) {
					t.Fatalf("%d accepted counts for a generation of %d tokens: %v", passes, gen, rep.Accepted)
				}
				a := rep.Accepted[passes]
				if tc.draft == m && a != k {
					t.Errorf("self-draft pass %d: accepted %d of %d", passes, a, k)
				}
				got += a + 1
				passes++
			}
			if passes != len(rep.Accepted) {
				t.Errorf("%d verification passes, %d accepted counts", passes, len(rep.Accepted))
			}
			if tc.draft != m && !slices.ContainsFunc(rep.Accepted, func(a int) bool { return a < gamma }) {
				t.Errorf("the derived draft had every proposal accepted: %v", rep.Accepted)
			}
			est, err := Estimate(EstimateOptions{Model: m.Config, Preset: preset(t, "bgv-test-insecure"), Network: net.LAN, Strategy: Speculative,
				Prompt: len(prompt), Gen: gen, Nonlinear: tc.nl, Gamma: gamma, Accepted: rep.Accepted})
			if err != nil {
				t.Fatal(err)
			}
			checkPhases(t, rep.Breakdown, est.Breakdown)
			if rep.StatSecurityBits < 40 {
				t.Errorf("statistical security %.1f bits", rep.StatSecurityBits)
			}
		})
	}
}

// TestSpeculativeOptions: the strategy's options are checked.
func TestSpeculativeOptions(t *testing.T) {
	m := loadStories(t)
	p := preset(t, "bgv-test-insecure")
	for _, tc := range []struct {
		name string
		opts RunOptions
	}{
		{"no draft", RunOptions{Strategy: Speculative, Gamma: 2}},
		{"gamma 0", RunOptions{Strategy: Speculative, Draft: m}},
		{"gamma without the strategy", RunOptions{Strategy: Cryptogen, Gamma: 2}},
		{"token layout", RunOptions{Strategy: Speculative, Draft: m, Gamma: 2, Cache: CacheOptions{Layout: TokenLayout}}},
		{"top-k", RunOptions{Strategy: Speculative, Draft: m, Gamma: 2, Sampler: model.Sampler{Temperature: 1, TopK: 3}}},
		{"logit check", RunOptions{Strategy: Speculative, Draft: m, Gamma: 2, RevealLogits: func([]float64) {}}},
		{"other vocabulary", RunOptions{Strategy: Speculative, Draft: model.NewRandom(model.Config{Name: "x", Arch: model.ArchLlama, Dim: 8, HiddenDim: 8,
			NumLayers: 1, NumHeads: 2, NumKVHeads: 2, VocabSize: 7, SeqLen: 512, NormEps: 1e-5, RopeTheta: 10000}, 1), Gamma: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.Model, o.Preset, o.Network, o.Gen = m, p, net.LAN, 4
			if _, err := Run(o, []int{1}, false, nil); err == nil {
				t.Error("accepted")
			}
		})
	}
	for _, a := range []float64{-0.1, 1.5} {
		if _, err := Estimate(EstimateOptions{Model: m.Config, Preset: p, Network: net.LAN, Strategy: Speculative, Prompt: 4, Gen: 4, Gamma: 2, Acceptance: a}); err == nil {
			t.Error(fmt.Sprintf("acceptance %v accepted", a))
		}
	}
	// Gen 8 with gamma 2, all accepted: the prefill's token, two passes of
	// 2 proposals and 3 tokens each, and a last step alone.
	for _, acc := range [][]int{{2}, {2, 2, 1}, {3, 2}, {2, 2, 0}} {
		if _, err := Estimate(EstimateOptions{Model: m.Config, Preset: p, Network: net.LAN, Strategy: Speculative, Prompt: 4, Gen: 8, Gamma: 2, Accepted: acc}); err == nil {
			t.Errorf("replayed counts %v accepted", acc)
		}
	}
	if _, err := Estimate(EstimateOptions{Model: m.Config, Preset: p, Network: net.LAN, Strategy: Speculative, Prompt: 4, Gen: 8, Gamma: 2, Accepted: []int{2, 2}}); err != nil {
		t.Errorf("replayed counts of acceptance 1: %v", err)
	}
	if _, err := Estimate(EstimateOptions{Model: m.Config, Preset: p, Network: net.LAN, Strategy: Speculative, Prompt: 4, Gen: 4, Gamma: 2, Acceptance: 1, TopK: 3}); err == nil {
		t.Error("a top-k filter with the speculative strategy accepted")
	}
	for _, o := range []EstimateOptions{{Gamma: 0, Acceptance: 0.5}, {Gamma: 2, Acceptance: 1.5}, {Gamma: 2, Acceptance: 0.5, Cache: CacheOptions{Layout: TokenLayout}}} {
		o.Model, o.Preset, o.Network = m.Config, p, net.LAN
		if _, err := Plan(PlanOptions{EstimateOptions: o, Strategies: []Strategy{Speculative}, Contexts: []int{16}}); err == nil {
			t.Errorf("a plan of the speculative strategy with gamma %d, acceptance %v, cache %v accepted", o.Gamma, o.Acceptance, o.Cache)
		}
	}
}

// TestSpecModel: the estimate's passes accept at about the rate they are
// given (the low-discrepancy trials), full passes included, and none at 0.
func TestSpecModel(t *testing.T) {
	for _, rate := range []float64{0, 0.3, 0.7, 0.857, 1} {
		m := specModel{gamma: 4, rate: rate}
		var st model.SpecStats
		for range 400 {
			a, err := m.next(4)
			if err != nil {
				t.Fatal(err)
			}
			st.Add(4, a)
		}
		full := slices.Contains(st.PerPass, 4)
		if d := st.Acceptance() - rate; d < -0.02 || d > 0.02 || (rate > 0.5 && !full) {
			t.Errorf("rate %v: acceptance %.3f over 400 passes, a full pass: %v", rate, st.Acceptance(), full)
		}
	}
}

// TestTopKFits: a top-k filter whose comparisons exceed what the dealer
// holds at once is refused before anything runs.
func TestTopKFits(t *testing.T) {
	cfg, err := model.ConfigByName("llama3-8b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Estimate(EstimateOptions{Model: cfg, Preset: preset(t, "bgv-n14"), Network: net.WAN, Prompt: 8, Gen: 2, TopK: 40}); err == nil {
		t.Error("top-k 40 over 128256 tokens accepted")
	}
	st, err := model.ConfigByName("stories260K")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Estimate(EstimateOptions{Model: st, Preset: preset(t, "bgv-n14"), Network: net.WAN, Prompt: 8, Gen: 2, TopK: 40}); err != nil {
		t.Errorf("top-k 40 over stories260K's 512: %v", err)
	}
}

// TestTuneSpeculative: with every proposal accepted, speculative decoding
// beats plain decoding on the WAN and longer drafts make fewer steps; with
// none accepted it is slower than plain decoding at every gamma; one best
// point per network.
func TestTuneSpeculative(t *testing.T) {
	cfg, err := model.ConfigByName("stories260K")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		acceptance float64
		faster     bool
	}{{1, true}, {0, false}} {
		rep, err := TuneSpeculative(EstimateOptions{Model: cfg, Preset: preset(t, "bgv-n14"), Network: net.WAN, Prompt: 16, Gen: 17,
			Acceptance: tc.acceptance}, []int{1, 2, 4}, []net.Network{net.LAN, net.WAN}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Points) != 8 {
			t.Fatalf("%d points", len(rep.Points))
		}
		best := map[string]int{}
		for i, pt := range rep.Points {
			if pt.Best {
				best[pt.Network]++
			}
			if pt.Gamma == 0 {
				if pt.Speedup != 1 || pt.Steps != 16 {
					t.Errorf("plain point %+v", pt)
				}
				continue
			}
			if tc.faster && pt.Network == "wan" && !(pt.Speedup > 1 && pt.Steps < rep.Points[i-1].Steps) {
				t.Errorf("acceptance 1, gamma %d on the WAN: %+v (previous %+v)", pt.Gamma, pt, rep.Points[i-1])
			}
			if !tc.faster && !(pt.Speedup < 1) {
				t.Errorf("acceptance 0, gamma %d on %s: speedup %.2f", pt.Gamma, pt.Network, pt.Speedup)
			}
		}
		if best["lan"] != 1 || best["wan"] != 1 {
			t.Errorf("best points %v", best)
		}
	}
	if _, err := TuneSpeculative(EstimateOptions{Model: cfg, Preset: preset(t, "bgv-n14"), Network: net.WAN, Prompt: 4, Gen: 1, Acceptance: 1}, []int{2}, nil, nil); err == nil {
		t.Error("one generated token accepted")
	}
}

// TestPlanSpeculative: a plan point of the speculative strategy is a
// verification pass of gamma proposals, the last phase of the estimate of
// a session whose one pass accepts them all (the same counters), and its
// seconds per token are the pass's over SpecYield; on the WAN it beats
// plain decoding when every proposal is accepted and loses when none is;
// the point's JSON keeps the yield.
func TestPlanSpeculative(t *testing.T) {
	cfg, err := model.ConfigByName("stories260K")
	if err != nil {
		t.Fatal(err)
	}
	const gamma, ctx = 4, 64
	for _, tc := range []struct {
		acceptance, temperature float64
		faster                  bool
	}{{1, 0, true}, {0, 0, false}, {1, 1.3, true}} {
		o := EstimateOptions{Model: cfg, Preset: preset(t, "bgv-n14"), Network: net.WAN, Gamma: gamma, Acceptance: tc.acceptance,
			Temperature: tc.temperature, Nonlinear: mpc.LUT}
		rep, err := Plan(PlanOptions{EstimateOptions: o, Strategies: []Strategy{Cryptogen, Speculative}, Contexts: []int{ctx}})
		if err != nil {
			t.Fatal(err)
		}
		pt := rep.Points[0]
		if y := pt.Yield[Speculative]; y != SpecYield(gamma, tc.acceptance) || len(pt.Errors) != 0 {
			t.Fatalf("yield %v, errors %v", y, pt.Errors)
		}
		est, err := Estimate(EstimateOptions{Model: cfg, Preset: o.Preset, Network: net.WAN, Strategy: Speculative, Prompt: ctx - 1, Gen: gamma + 2,
			Gamma: gamma, Accepted: []int{gamma}, Temperature: tc.temperature, Nonlinear: mpc.LUT})
		if err != nil {
			t.Fatal(err)
		}
		pass := est.Breakdown[len(est.Breakdown)-1].Total()
		if d := cost.CounterDiff(pt.Costs[Speculative], pass); len(d) != 0 {
			t.Errorf("acceptance %v: the plan's pass and the estimate's differ: %v", tc.acceptance, d)
		}
		if got, want := pt.Seconds(Speculative), pass.Seconds()/SpecYield(gamma, tc.acceptance); math.Abs(got-want) > 1e-9*want {
			t.Errorf("seconds per token %v, want %v", got, want)
		}
		if r := pt.Ratio(Cryptogen, Speculative); (r < 1) != tc.faster || r == 0 {
			t.Errorf("acceptance %v: speculative over plain %.2f", tc.acceptance, r)
		}
		t.Logf("acceptance %v, temperature %v: %.2f s a token against %.2f (ratio %.2f)", tc.acceptance, tc.temperature, pt.Seconds(Speculative), pt.Seconds(Cryptogen), pt.Ratio(Cryptogen, Speculative))
		data, err := json.Marshal(pt)
		if err != nil {
			t.Fatal(err)
		}
		var back PlanPoint
		if err := json.Unmarshal(data, &back); err != nil || back.Yield[Speculative] != pt.Yield[Speculative] || back.Seconds(Speculative) != pt.Seconds(Speculative) {
			t.Errorf("JSON round trip: %v, yield %v", err, back.Yield)
		}
	}
	if y := SpecYield(3, 0.5); y != 1.875 {
		t.Errorf("SpecYield(3, 0.5) = %v, want 1 + 1/2 + 1/4 + 1/8", y)
	}
}
