package sim_test

import (
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
	"github.com/cgsim/cgsim/sim"
)

// Benchmarks of the three ways sim is used: an estimate of a whole
// generation, a plan over many contexts, and a real secure decode step.
// Quick to run once each:
//
//	go test -run xxx -bench . -benchtime 1x ./sim/

func benchPreset(b *testing.B, name string) params.Preset {
	b.Helper()
	p, err := params.ByName(name)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func benchConfig(b *testing.B, name string) model.Config {
	b.Helper()
	c, err := model.ConfigByName(name)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkEstimateGPT2 is cgsim estimate's built-in default: GPT-2, a
// 512-token prompt, 128 generated tokens, cryptogen with client appends
// and no refresh, the default preset (bgv-n14), the WAN model. It also
// reports the estimated seconds of a mean decode step (est-s/token), which
// depends only on the code and the embedded profile, not on the machine.
func BenchmarkEstimateGPT2(b *testing.B) {
	opts := sim.EstimateOptions{Model: benchConfig(b, "gpt2"), Preset: benchPreset(b, params.DefaultBGV), Network: net.WAN,
		Strategy: sim.Cryptogen, Prompt: 512, Gen: 128}
	var rep *sim.Report
	for b.Loop() {
		var err error
		if rep, err = sim.Estimate(opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(rep.MeanDecode().Seconds(), "est-s/token")
}

// BenchmarkEstimateLlama3 is the largest estimate users ask for: Llama-3-8B,
// a 4096-token prompt and 256 generated tokens, at the default preset on
// the WAN model (the target: well under 50 ms per estimate).
func BenchmarkEstimateLlama3(b *testing.B) {
	opts := sim.EstimateOptions{Model: benchConfig(b, "llama3-8b"), Preset: benchPreset(b, params.DefaultBGV), Network: net.WAN,
		Strategy: sim.Cryptogen, Prompt: 4096, Gen: 256}
	for b.Loop() {
		if _, err := sim.Estimate(opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlan is cgsim plan's default sweep: GPT-2 at the default preset
// on the WAN model, a decode step of both strategies at the 17 contexts of
// PlanContexts(128, 32768), costed concurrently (one context per
// processor).
func BenchmarkPlan(b *testing.B) {
	opts := sim.PlanOptions{
		EstimateOptions: sim.EstimateOptions{Model: benchConfig(b, "gpt2"), Preset: benchPreset(b, params.DefaultBGV), Network: net.WAN},
		Contexts:        sim.PlanContexts(128, 32768),
	}
	for b.Loop() {
		if _, err := sim.Plan(opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunDecodeStep times one real secure decode step (cryptogen,
// client appends) of a small random llama at the insecure test preset:
// the step that feeds back the token the prefill produced, against a
// cache holding the prompt. Each iteration resets the engine's cache and
// runs the prefill with the timer stopped, so only the decode step is
// timed; the key exchange is done once, before the loop.
//
// Besides the time, it reports the decode step's traffic between the two
// parties from the Report's decode cost: bytes/op (both directions; not
// memory, which -benchmem reports as B/op) and rounds/op. They depend only
// on the shapes, not on the machine.
func BenchmarkRunDecodeStep(b *testing.B) {
	// A stories260K-like llama, smaller: 2 layers, 4 query heads of 8 over
	// 2 kv heads, a 64-token vocabulary.
	cfg := model.Config{Name: "bench-llama", Arch: model.ArchLlama, Dim: 32, HiddenDim: 64, NumLayers: 2, NumHeads: 4, NumKVHeads: 2,
		VocabSize: 64, SeqLen: 32, NormEps: 1e-5, RopeTheta: 10000}
	m := model.NewRandom(cfg, 1)
	prompt := []int{model.BOS, 10, 20, 30} // any ids below 64
	const gen = 2                          // the prefill's token, then one decode step
	r, err := sim.NewRunner(sim.RunOptions{Model: m, Preset: benchPreset(b, "bgv-test-insecure"), Network: net.LAN,
		Strategy: sim.Cryptogen, PromptTokens: len(prompt), Gen: gen})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if err := r.Reset(); err != nil {
			b.Fatal(err)
		}
		r.Begin(sim.Phase{Kind: sim.Prefill})
		tok, err := sim.Forward(r, cfg, prompt, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		r.Begin(sim.Phase{Kind: sim.Decode})
		if _, err := sim.Forward(r, cfg, []int{tok}, len(prompt)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var rep sim.Report
	rep.Summarize(r.Breakdown())
	if len(rep.Decode) != b.N {
		b.Fatalf("%d decode steps recorded for %d iterations", len(rep.Decode), b.N)
	}
	step := rep.Decode[0]
	for i, c := range rep.Decode {
		if d := cost.CounterDiff(c, step); len(d) > 0 {
			b.Fatalf("decode step %d differs from the first: %v", i, d)
		}
	}
	b.ReportMetric(float64(step.BytesC2S+step.BytesS2C), "bytes/op")
	b.ReportMetric(float64(step.Rounds), "rounds/op")
}
