package model

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// TestSamplerNoise: the noise is a function of (seed, step) only, within
// the temperature times the Gumbel bounds, and none when greedy.
func TestSamplerNoise(t *testing.T) {
	s := Sampler{Temperature: 2, Seed: 5}
	a, b := s.Noise(3, 1000), s.Noise(3, 1000)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed and step gave different noise")
	}
	if slices.Equal(a, s.Noise(4, 1000)) {
		t.Error("steps 3 and 4 gave the same noise")
	}
	if slices.Equal(a, Sampler{Temperature: 2, Seed: 6}.Noise(3, 1000)) {
		t.Error("seeds 5 and 6 gave the same noise")
	}
	for i, v := range a {
		if !(v >= 2*GumbelMin && v <= 2*GumbelMax) {
			t.Fatalf("noise %d = %v outside 2·[%v, %v]", i, v, GumbelMin, GumbelMax)
		}
	}
	// The bounds are those of u = 2^-33 and 1 - 2^-33.
	if math.Abs(GumbelMin+math.Log(33*math.Ln2)) > 1e-9 || math.Abs(GumbelMax-33*math.Ln2) > 1e-6 {
		t.Errorf("Gumbel bounds %v, %v", GumbelMin, GumbelMax)
	}
	if (Sampler{}).Noise(0, 10) != nil {
		t.Error("a greedy sampler made noise")
	}
}

// TestSamplerDistribution: over many steps, the Gumbel-max choice follows
// softmax(logits/T). 40000 draws: the standard deviation of a frequency
// is below 0.0025, so a 0.01 tolerance is 4 of them; a wrong noise (e.g.
// -ln u, an exponential) misses the softmax by several hundredths.
func TestSamplerDistribution(t *testing.T) {
	logits := []float64{0, 1, 2, -1, 0.5}
	for _, temp := range []float64{0.5, 1, 3} {
		s := Sampler{Temperature: temp, Seed: 11}
		const draws = 40000
		count := make([]float64, len(logits))
		for step := range draws {
			count[s.Pick(logits, step)]++
		}
		want := slices.Clone(logits)
		for i := range want {
			want[i] /= temp
		}
		Softmax(want)
		for i := range count {
			if got := count[i] / draws; math.Abs(got-want[i]) > 0.01 {
				t.Errorf("T = %v: token %d drawn %.4f of the time, softmax %.4f", temp, i, got, want[i])
			}
		}
	}
}

// TestSamplerTopK: with a top-k filter only the K highest logits are
// drawn, in the softmax's proportions among themselves.
func TestSamplerTopK(t *testing.T) {
	logits := []float64{0, 1, 2, -1, 0.5}
	s := Sampler{Temperature: 1, TopK: 2, Seed: 3}
	const draws = 40000
	count := make([]float64, len(logits))
	for step := range draws {
		count[s.Pick(logits, step)]++
	}
	p1 := 1 / (1 + math.E) // softmax of (1, 2) at position 1
	want := []float64{0, p1, 1 - p1, 0, 0}
	for i := range count {
		if got := count[i] / draws; math.Abs(got-want[i]) > 0.01 {
			t.Errorf("token %d drawn %.4f of the time, want %.4f", i, got, want[i])
		}
	}
}

// TestTopK: the order is by logit, ties to the lower id, exactly k kept.
func TestTopK(t *testing.T) {
	for _, tc := range []struct {
		logits []float64
		k      int
		want   []int
	}{
		{[]float64{3, 1, 2}, 2, []int{0, 2}},
		{[]float64{1, 2, 2, 2, 0}, 2, []int{1, 2}}, // ties: the lower ids
		{[]float64{5, 5, 5}, 1, []int{0}},          // all tied
		{[]float64{1, 2}, 5, []int{1, 0}},          // k beyond the vocabulary: all
		{[]float64{-1, 0}, 0, []int{}},
	} {
		if got := TopK(tc.logits, tc.k); !slices.Equal(got, tc.want) {
			t.Errorf("TopK(%v, %d) = %v, want %v", tc.logits, tc.k, got, tc.want)
		}
	}
}

func TestSamplerValidate(t *testing.T) {
	for _, tc := range []struct {
		temp float64
		ok   bool
	}{
		{0, true}, {0.7, true}, {MaxTemperature, true},
		{-0.1, false}, {MaxTemperature + 1, false}, {math.NaN(), false}, {math.Inf(1), false},
	} {
		err := Sampler{Temperature: tc.temp}.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("temperature %v: error %v", tc.temp, err)
		}
	}
	if (Sampler{TopK: -1}).Validate() == nil {
		t.Error("a negative top-k accepted")
	}
	if _, err := GenerateSampled(nil, []int{1}, 1, Sampler{Temperature: -1}); err == nil {
		t.Error("GenerateSampled accepted a negative temperature")
	}
}

// Sampling at temperature 1 with a seed: the token is the argmax of the
// logits plus the step's noise, and the same seed picks the same tokens.
func ExampleSampler_Pick() {
	logits := []float64{2, 1.5, 0, -3}
	greedy := Sampler{}
	warm := Sampler{Temperature: 1, Seed: 42}
	var picks []int
	for step := range 8 {
		picks = append(picks, warm.Pick(logits, step))
	}
	fmt.Println(greedy.Pick(logits, 0), picks)
	// Output:
	// 0 [1 1 1 0 0 0 0 0]
}
