package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
)

// TestRunSampling: a secure run at a temperature picks the tokens of the
// reference sampler with the same seed (checkRunSampled: with the counters
// of the greedy estimate, sampling being a local addition), over both
// strategies and both methods of the argmax. The seed's reference choices
// differ from greedy decoding in 5 of the 6 tokens and win by at least
// 1.7 over the runner-up (logits plus noise, checked below), far above
// the secure logits' error (a few hundredths): a run that ignored the
// noise, or drew another one, would fail. With a top-k filter, the
// counters are those of the estimate with the filter.
func TestRunSampling(t *testing.T) {
	m := loadStories(t)
	prompt := []int{1, 403, 407, 261}
	const gen = 6
	sampler := model.Sampler{Temperature: 1.5, Seed: 28}
	greedy, err := model.Generate(m, prompt, gen)
	if err != nil {
		t.Fatal(err)
	}
	sampled, err := model.GenerateSampled(m, prompt, gen, sampler)
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for i := range sampled {
		if sampled[i] == greedy[i] {
			same++
		}
	}
	if same > 1 || sampledMargin(t, m, prompt, sampled, sampler) < 1.5 {
		t.Fatalf("the seed no longer makes a telling test: sampled %v, greedy %v", sampled, greedy)
	}
	for _, tc := range []struct {
		name string
		s    Strategy
		nl   mpc.Nonlinear
	}{
		{"cryptogen/iterative", Cryptogen, mpc.Iterative},
		{"cryptogen/lut", Cryptogen, mpc.LUT},
		{"recompute/iterative", Recompute, mpc.Iterative},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := checkRunSampled(t, m, "bgv-test-insecure", tc.s, CacheOptions{}, prompt, gen, 0, 0, tc.nl, sampler)
			if rep.Temperature != sampler.Temperature || rep.Seed == nil || *rep.Seed != sampler.Seed {
				t.Errorf("report: temperature %v, seed %v", rep.Temperature, rep.Seed)
			}
		})
	}
}

// TestSampledFrequencies: the run engine's token choice (the server's
// noise on its share, the argmax protocol) over 300 seeds draws
// stories260K's first token after BOS with the frequencies of the softmax
// of its logits at T = 2.5 (8 tokens expected at least 5 times, the rest pooled into a ninth bin), and,
// with a top-k filter of 4, of the softmax over the 4 highest: Pearson's
// chi-square over the tokens expected at least 5 times (the rest pooled)
// stays below its 0.999 quantile. The seeds are fixed, so the test is
// deterministic; a choice that ignored the noise (always the argmax) or
// the filter fails it by orders of magnitude.
func TestSampledFrequencies(t *testing.T) {
	m := loadStories(t)
	prompt := []int{1}
	const draws, temp = 240, 2.5
	logits := stepLogits(t, m, prompt, []int{0})[0] // after the prompt
	for _, topK := range []int{0, 4} {
		r, err := NewRunner(RunOptions{Model: m, Preset: preset(t, "bgv-test-insecure"), Network: net.LAN, Strategy: Cryptogen,
			PromptTokens: len(prompt), Gen: 1, Sampler: model.Sampler{Temperature: temp, TopK: topK}})
		if err != nil {
			t.Fatal(err)
		}
		// The logits as the fixed point holds them, shared uniformly.
		rng := rand.New(rand.NewPCG(1, 2))
		x := &shares{rows: 1, cols: len(logits), c: make([]uint64, len(logits)), s: make([]uint64, len(logits))}
		held := make([]float64, len(logits))
		for i, v := range logits {
			e, err := r.q.enc(v, r.q.fp.FracBits)
			if err != nil {
				t.Fatal(err)
			}
			held[i] = r.q.dec(e)
			x.c[i] = rng.Uint64N(r.q.t)
			x.s[i] = r.q.add(e, r.q.t-x.c[i])
		}
		count := make([]float64, len(logits))
		for seed := range uint64(draws) {
			r.sampler.Seed, r.picks = seed, 0
			tok, err := r.Argmax(x)
			if err != nil {
				t.Fatal(err)
			}
			count[tok]++
		}
		r.Close()
		p := make([]float64, len(held))
		for i, v := range held {
			p[i] = v / temp
		}
		if topK > 0 {
			kept := model.TopK(held, topK)
			for i := range p {
				if !slices.Contains(kept, i) {
					p[i] = math.Inf(-1)
				}
			}
		}
		model.Softmax(p)
		var obs, exp []float64
		var restObs, restExp float64
		for i := range p {
			if e := p[i] * draws; e >= 5 {
				obs, exp = append(obs, count[i]), append(exp, e)
			} else {
				restObs, restExp = restObs+count[i], restExp+e
			}
		}
		if restExp > 0 || restObs > 0 {
			obs, exp = append(obs, restObs), append(exp, restExp)
		}
		chi2 := stat.ChiSquare(obs, exp)
		limit := distuv.ChiSquared{K: float64(len(obs) - 1)}.Quantile(0.999)
		t.Logf("top-k %d: %d bins, chi-square %.2f (0.999 quantile %.2f)", topK, len(obs), chi2, limit)
		if len(obs) < 3 || !(chi2 < limit) {
			t.Errorf("top-k %d: chi-square %.2f over %d bins, above the 0.999 quantile %.2f (observed %v, expected %v)", topK, chi2, len(obs), limit, obs, exp)
		}
	}
}

// TestRunSamplingTopK: with a top-k filter (3 of 512, the extraction on
// the LAN) the secure run draws the reference's filtered tokens. The seed
// draws, unfiltered, a token outside the top 3 at three of its steps, the
// filtered choice wins by at least 0.6 and the third logit leads the
// fourth by at least 0.12 at every step (checked), both well above the
// secure logits' error: a filter that kept the wrong set, or none, fails.
func TestRunSamplingTopK(t *testing.T) {
	m := loadStories(t)
	prompt := []int{1, 403, 407, 261}
	const gen = 6
	sampler := model.Sampler{Temperature: 1.5, Seed: 15, TopK: 3}
	unfiltered := sampler
	unfiltered.TopK = 0
	a, err := model.GenerateSampled(m, prompt, gen, sampler)
	if err != nil {
		t.Fatal(err)
	}
	b, err := model.GenerateSampled(m, prompt, gen, unfiltered)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a, b) || sampledMargin(t, m, prompt, a, sampler) < 0.6 || boundaryGap(t, m, prompt, a, sampler.TopK) < 0.12 {
		t.Fatalf("the seed no longer makes a telling test: filtered %v, unfiltered %v", a, b)
	}
	for _, nl := range []mpc.Nonlinear{mpc.Iterative, mpc.LUT} {
		t.Run(nl.String(), func(t *testing.T) {
			rep := checkRunSampled(t, m, "bgv-test-insecure", Cryptogen, CacheOptions{}, prompt, gen, 0, 0, nl, sampler)
			if rep.TopK != sampler.TopK {
				t.Errorf("report: top-k %d", rep.TopK)
			}
		})
	}
}

// boundaryGap is the smallest lead, over the steps of toks, of the k-th
// largest logit over the (k+1)-th.
func boundaryGap(t *testing.T, m *model.Model, prompt, toks []int, k int) float64 {
	t.Helper()
	least := 1e300
	for _, logits := range stepLogits(t, m, prompt, toks) {
		s := slices.Clone(logits)
		slices.Sort(s)
		least = min(least, s[len(s)-k]-s[len(s)-k-1])
	}
	return least
}

// stepLogits returns the reference's logits before each token of toks,
// fed the prompt and then toks.
func stepLogits(t *testing.T, m *model.Model, prompt, toks []int) [][]float64 {
	t.Helper()
	st := m.NewState()
	var logits []float64
	var err error
	for _, tok := range prompt {
		if logits, err = m.Forward(st, tok); err != nil {
			t.Fatal(err)
		}
	}
	out := [][]float64{logits}
	for _, tok := range toks[:len(toks)-1] {
		if logits, err = m.Forward(st, tok); err != nil {
			t.Fatal(err)
		}
		out = append(out, logits)
	}
	return out
}

// sampledMargin is the smallest lead, over the steps of toks, of the
// chosen token's logit plus noise over the runner-up's (among the kept
// ones, with a top-k filter).
func sampledMargin(t *testing.T, m *model.Model, prompt, toks []int, s model.Sampler) float64 {
	t.Helper()
	least := 1e300
	for step, logits := range stepLogits(t, m, prompt, toks) {
		y := slices.Clone(logits)
		for i, v := range s.Noise(step, len(y)) {
			y[i] += v
		}
		if s.Filters(len(y)) { // only the kept ones compete
			kept := model.TopK(logits, s.TopK)
			for i := range y {
				if !slices.Contains(kept, i) {
					y[i] = -1e300
				}
			}
		}
		tok := toks[step]
		best := y[tok]
		y[tok] = -1e300
		least = min(least, best-slices.Max(y))
	}
	return least
}
