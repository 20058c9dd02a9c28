package model

import (
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// TestGenerateSpeculativeSampled: sampled speculative decoding with the
// model as its own draft accepts every proposal (p = q, so r·q(x) <=
// p(x)); with a seed it is reproducible; and with a 4-bit draft and a
// one-block 4-bit draft (far from the model, so that the residual's draws
// weigh), its first two tokens after
// the prompt, over 3000 seeds, are distributed as the model's own sampling
// at T = 2.5 (the prefill's draw, then the pass's yielded token: the
// accepted proposal or the residual's draw): Pearson's chi-square over
// the pairs the model gives at least 5 expected draws (the rest pooled)
// stays below its 0.999 quantile (a residual drawn from p instead of
// max(0, p - q) fails it with the one-block draft).
func TestGenerateSpeculativeSampled(t *testing.T) {
	m := loadStories(t)
	prompt := []int{1, 403}
	s := Sampler{Temperature: 2.5, Seed: 9}
	self, st, err := GenerateSpeculative(m, m, prompt, 12, 4, s)
	if err != nil {
		t.Fatal(err)
	}
	if st.Acceptance() != 1 || st.Passes == 0 {
		t.Errorf("the model as its own draft: %+v", st)
	}
	again, _, err := GenerateSpeculative(m, m, prompt, 12, 4, s)
	if err != nil || !slices.Equal(self, again) {
		t.Errorf("the same seed gave %v then %v (%v)", self, again, err)
	}
	// The model's joint distribution of the first two tokens at T.
	st0 := m.NewState()
	var logits []float64
	for _, tok := range prompt {
		if logits, err = m.Forward(st0, tok); err != nil {
			t.Fatal(err)
		}
	}
	p0 := Probabilities(logits, s.Temperature)
	joint := map[[2]int]float64{}
	for a, pa := range p0 {
		if pa < 1e-4 {
			continue
		}
		st1 := m.NewState()
		for _, tok := range append(slices.Clone(prompt), a) {
			if logits, err = m.Forward(st1, tok); err != nil {
				t.Fatal(err)
			}
		}
		for b, pb := range Probabilities(logits, s.Temperature) {
			joint[[2]int{a, b}] = pa * pb
		}
	}
	const draws = 3000
	chi := func(d *Model) float64 {
		count := map[[2]int]float64{}
		for seed := range uint64(draws) {
			s.Seed = seed
			out, _, err := GenerateSpeculative(m, d, prompt, 3, 1, s) // one pass of one proposal
			if err != nil {
				t.Fatal(err)
			}
			count[[2]int{out[0], out[1]}]++
		}
		var obs, exp []float64
		var restObs, restExp float64
		for k, pk := range joint {
			if e := pk * draws; e >= 5 {
				obs, exp = append(obs, count[k]), append(exp, e)
			} else {
				restObs, restExp = restObs+count[k], restExp+e
			}
			delete(count, k)
		}
		for _, c := range count { // pairs the model gives almost nothing
			restObs += c
		}
		obs, exp = append(obs, restObs), append(exp, math.Max(restExp, 1e-9))
		c := stat.ChiSquare(obs, exp)
		limit := distuv.ChiSquared{K: float64(len(obs) - 1)}.Quantile(0.999)
		t.Logf("chi-square %.1f over %d bins (0.999 quantile %.1f)", c, len(obs), limit)
		if len(obs) < 4 || !(c < limit) {
			return math.Inf(1)
		}
		return c
	}
	d4, err := Derive(m, DraftOptions{Bits: 4})
	if err != nil {
		t.Fatal(err)
	}
	if c := chi(d4); math.IsInf(c, 1) {
		t.Error("sampled speculative decoding with a 4-bit draft: not the model's distribution")
	}
	d1, err := Derive(m, DraftOptions{Layers: 1, Bits: 4})
	if err != nil {
		t.Fatal(err)
	}
	if c := chi(d1); math.IsInf(c, 1) {
		t.Error("sampled speculative decoding with a one-block draft: not the model's distribution")
	}
	if _, _, err := GenerateSpeculative(m, d4, prompt, 3, 1, Sampler{Temperature: 1, TopK: 5}); err == nil {
		t.Error("speculative sampling with a top-k filter accepted")
	}
}
