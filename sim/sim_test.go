package sim

import (
	"math"
	"testing"
	"time"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
)

const storiesPath = "../../shared/data/stories260K/stories260K.bin"

func preset(t testing.TB, name string) params.Preset {
	t.Helper()
	p, err := params.ByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func config(t testing.TB, name string) model.Config {
	t.Helper()
	c, err := model.ConfigByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func estimate(t testing.TB, cfg model.Config, p string, nw net.Network, s Strategy, prompt, gen int) *Report {
	t.Helper()
	r, err := Estimate(EstimateOptions{Model: cfg, Preset: preset(t, p), Network: nw, Strategy: s, Prompt: prompt, Gen: gen})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRecomputeRatioGrows checks the claim the strategies exist for: the
// per-token latency of recompute over cryptogen grows with the context,
// for GPT-2 at the CryptoGen paper's prompt lengths, on both networks.
func TestRecomputeRatioGrows(t *testing.T) {
	cfg := config(t, "gpt2")
	for _, nw := range []net.Network{net.LAN, net.WAN} {
		prev := 0.0
		for _, prompt := range []int{128, 256, 512} {
			cg := estimate(t, cfg, params.DefaultBGV, nw, Cryptogen, prompt, 2).MeanDecode()
			rc := estimate(t, cfg, params.DefaultBGV, nw, Recompute, prompt, 2).MeanDecode()
			ratio := rc.Seconds() / cg.Seconds()
			t.Logf("gpt2 %s prompt %d: cryptogen %.2f s/token, recompute %.2f s/token, ratio %.1f", nw.Name, prompt, cg.Seconds(), rc.Seconds(), ratio)
			if ratio <= prev {
				t.Errorf("%s prompt %d: ratio %.2f did not grow (was %.2f)", nw.Name, prompt, ratio, prev)
			}
			prev = ratio
		}
	}
}

// TestCryptogenNearLinear checks that a cryptogen decode step's cost grows
// linearly in the context: the extra seconds from 256 to 512 cached tokens
// are about twice those from 128 to 256 (the cache grows by whole
// ciphertexts, hence the slack), and its cache memory is linear too.
func TestCryptogenNearLinear(t *testing.T) {
	for _, name := range []string{"gpt2", "llama3-8b", "stories260K"} {
		cfg := config(t, name)
		var sec [3]float64
		var mem [3]int64
		for i, ctx := range []int{128, 256, 384} {
			r := estimate(t, cfg, params.DefaultBGV, net.LAN, Cryptogen, ctx, 2)
			sec[i], mem[i] = r.Decode[0].Seconds(), r.Decode[0].PeakMemoryBytes
		}
		d1, d2 := sec[1]-sec[0], sec[2]-sec[1]
		t.Logf("%s: %.3f, %.3f, %.3f s/token at 129, 257, 385 tokens; memory %d, %d, %d bytes", name, sec[0], sec[1], sec[2], mem[0], mem[1], mem[2])
		if d1 < 0 || d2 < 0 || (d1 > 0 && (d2/d1 < 0.5 || d2/d1 > 2)) {
			t.Errorf("%s: increments %.4f then %.4f s are not linear", name, d1, d2)
		}
		m1, m2 := mem[1]-mem[0], mem[2]-mem[1]
		if m1 <= 0 || math.Abs(float64(m2-m1))/float64(m1) > 0.25 {
			t.Errorf("%s: memory increments %d then %d are not linear", name, m1, m2)
		}
	}
}

// TestCryptoGenCounts prints the per-token counts of GPT-2 at a 128-token
// prompt at N = 8192 (bgv-n13, the paper's ring) beside the figures
// CryptoGen publishes for the same setting (cache vs recompute: 64 vs 768
// ct-pt multiplications, 5 vs 43 rotations, 1 vs 12 ciphertexts), and
// checks that every count is smaller with the cache.
func TestCryptoGenCounts(t *testing.T) {
	cfg := config(t, "gpt2")
	cg := estimate(t, cfg, "bgv-n13", net.WAN, Cryptogen, 128, 2)
	rc := estimate(t, cfg, "bgv-n13", net.WAN, Recompute, 128, 2)
	a, b := cg.Decode[0], rc.Decode[0]
	t.Logf("gpt2, 128-token prompt, bgv-n13, per generated token (whole model; CryptoGen's published cache/recompute figures beside):")
	t.Logf("  ct-pt mul: %d vs %d (paper 64 vs 768)", a.CtPtMul, b.CtPtMul)
	t.Logf("  rotations: %d vs %d (paper 5 vs 43)", a.Rotations, b.Rotations)
	t.Logf("  ct-ct mul: %d vs %d", a.CtCtMul, b.CtCtMul)
	t.Logf("  encryptions (client inputs and flooding): %d vs %d (paper: ciphertexts 1 vs 12)", a.Encryptions, b.Encryptions)
	for _, d := range []struct {
		name string
		x, y int64
	}{{"ct-pt", a.CtPtMul, b.CtPtMul}, {"rotations", a.Rotations, b.Rotations}, {"ct-ct", a.CtCtMul, b.CtCtMul}, {"bytes", a.BytesC2S + a.BytesS2C, b.BytesC2S + b.BytesS2C}} {
		if d.x >= d.y {
			t.Errorf("%s: cryptogen %d, recompute %d", d.name, d.x, d.y)
		}
	}
}

// TestEstimateFast: Llama-3-8B with thousands of tokens is costed in well
// under a second (the primitives' plans are memoized by shape).
func TestEstimateFast(t *testing.T) {
	cfg := config(t, "llama3-8b")
	start := time.Now()
	r := estimate(t, cfg, params.DefaultBGV, net.WAN, Cryptogen, 4096, 64)
	el := time.Since(start)
	t.Logf("llama3-8b, 4096 + 64 tokens: %.0f s of secure generation estimated in %v", r.Total.Seconds(), el)
	if el > time.Second {
		t.Errorf("estimate took %v", el)
	}
}

func TestEstimateErrors(t *testing.T) {
	cfg := config(t, "gpt2")
	tests := []struct {
		name string
		opts EstimateOptions
	}{
		{"context too long", EstimateOptions{Model: cfg, Preset: preset(t, "bgv-n14"), Network: net.WAN, Prompt: 1000, Gen: 100}},
		{"no prompt", EstimateOptions{Model: cfg, Preset: preset(t, "bgv-n14"), Network: net.WAN, Prompt: 0, Gen: 1}},
		{"no tokens", EstimateOptions{Model: cfg, Preset: preset(t, "bgv-n14"), Network: net.WAN, Prompt: 4, Gen: 0}},
		{"bad strategy", EstimateOptions{Model: cfg, Preset: preset(t, "bgv-n14"), Network: net.WAN, Prompt: 4, Gen: 1, Strategy: "fhe"}},
		{"ckks preset", EstimateOptions{Model: cfg, Preset: preset(t, "ckks-n14"), Network: net.WAN, Prompt: 4, Gen: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Estimate(tt.opts); err == nil {
				t.Error("no error")
			}
		})
	}
}

func loadStories(t testing.TB) *model.Model {
	t.Helper()
	m, err := model.LoadLlama2C(storiesPath)
	if err != nil {
		t.Skipf("stories260K not available: %v", err)
	}
	return m
}

// checkRun runs a secure generation, compares its tokens with the
// reference's and its counters with the estimate engine's, phase by phase
// and kind by kind.
func checkRun(t *testing.T, m *model.Model, p string, s Strategy, prompt []int, gen int) *Report {
	t.Helper()
	want, err := model.Generate(m, prompt, gen)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(RunOptions{Model: m, Preset: preset(t, p), Network: net.LAN, Strategy: s, Gen: gen}, prompt, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %s %s: tokens %v, max |logit - reference| %.4f, %.3f s/token (LAN)", m.Config.Name, p, s, rep.Tokens, *rep.MaxLogitDiff, rep.MeanDecode().Seconds())
	for i := range want {
		if rep.Tokens[i] != want[i] {
			t.Errorf("token %d: %d, reference %d", i, rep.Tokens[i], want[i])
		}
	}
	if *rep.MaxLogitDiff > 0.05 {
		t.Errorf("max logit difference %.4f > 0.05", *rep.MaxLogitDiff)
	}
	est, err := Estimate(EstimateOptions{Model: m.Config, Preset: preset(t, p), Network: net.LAN, Strategy: s, Prompt: len(prompt), Gen: gen})
	if err != nil {
		t.Fatal(err)
	}
	if len(est.Breakdown) != len(rep.Breakdown) {
		t.Fatalf("%d phases estimated, %d run", len(est.Breakdown), len(rep.Breakdown))
	}
	for i, ph := range rep.Breakdown {
		for _, k := range Kinds() {
			if d := cost.CounterDiff(ph.Kinds[k], est.Breakdown[i].Kinds[k]); len(d) > 0 {
				t.Errorf("%v %s: run and estimate differ: %v", ph.Phase, k, d)
			}
		}
	}
	return rep
}

// TestRunStories260K: secure generation from BOS and from a prompt, both
// strategies, at the insecure test preset: the tokens are the reference's,
// the logits within 0.05, and the run's counters equal the estimate's.
func TestRunStories260K(t *testing.T) {
	m := loadStories(t)
	gen := 4
	for _, tc := range []struct {
		name   string
		prompt []int
		s      Strategy
	}{
		{"bos/cryptogen", []int{1}, Cryptogen},
		{"prompt/cryptogen", []int{1, 403, 407, 261}, Cryptogen},
		{"prompt/recompute", []int{1, 403, 407}, Recompute},
	} {
		t.Run(tc.name, func(t *testing.T) { checkRun(t, m, "bgv-test-insecure", tc.s, tc.prompt, gen) })
	}
}

// TestRunOtherShapes: the run engine on random models of other shapes: a
// GPT-2 block structure (LayerNorm, biases, GELU, learned positions) and
// a llama with multi-head (not grouped) attention and a wider head.
func TestRunOtherShapes(t *testing.T) {
	gpt := model.Config{Name: "tiny-gpt2", Arch: model.ArchGPT2, Dim: 32, HiddenDim: 64, NumLayers: 2, NumHeads: 2, NumKVHeads: 2,
		VocabSize: 40, SeqLen: 32, SharedClassifier: true, NormEps: 1e-5}
	llama := model.Config{Name: "tiny-llama", Arch: model.ArchLlama, Dim: 48, HiddenDim: 40, NumLayers: 2, NumHeads: 3, NumKVHeads: 3,
		VocabSize: 50, SeqLen: 32, NormEps: 1e-5, RopeTheta: 10000}
	for _, cfg := range []model.Config{gpt, llama} {
		t.Run(cfg.Name, func(t *testing.T) {
			m := model.NewRandom(cfg, 7)
			checkRun(t, m, "bgv-test-insecure", Cryptogen, []int{1, 2, 3}, 3)
		})
	}
}

// TestSecureStories32 is the acceptance run: 32 secure tokens of
// stories260K at a secure preset equal the reference greedy tokens, with
// the largest logit difference at most 0.05. Without -short only. At
// bgv-n13 (12 fractional bits) the tokens agree too but the logits drift
// by up to 0.085; the default preset's 14 bits keep them within 0.05.
func TestSecureStories32(t *testing.T) {
	if testing.Short() {
		t.Skip("32 tokens at a secure preset: run without -short")
	}
	m := loadStories(t)
	checkRun(t, m, params.DefaultBGV, Cryptogen, []int{1}, 32)
}
