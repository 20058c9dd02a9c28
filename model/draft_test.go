package model

import (
	"math"
	"slices"
	"testing"
)

// TestDerive: a draft keeps the first blocks, quantizes every row to at
// most 2^bits levels, validates, and shares no memory with its model.
func TestDerive(t *testing.T) {
	m := loadStories(t)
	d, err := Derive(m, DraftOptions{Layers: 2, Bits: 4})
	if err != nil {
		t.Fatal(err)
	}
	if d.Config.NumLayers != 2 || len(d.Weights.Layers) != 2 || d.Config.VocabSize != m.Config.VocabSize {
		t.Fatalf("draft %s: %d layers, vocabulary %d", d.Config.Name, d.Config.NumLayers, d.Config.VocabSize)
	}
	row := d.Weights.Layers[1].Wq.Row(3)
	levels := map[float64]bool{}
	for _, v := range row {
		levels[v] = true
	}
	if len(levels) > 15 { // 2·(2^3 - 1) + 1 symmetric levels
		t.Errorf("a 4-bit row holds %d distinct values", len(levels))
	}
	orig := m.Weights.Layers[1].Wq.Row(3)
	worst := 0.0
	for i := range row {
		worst = math.Max(worst, math.Abs(row[i]-orig[i]))
	}
	big := 0.0
	for _, v := range orig {
		big = math.Max(big, math.Abs(v))
	}
	if worst > big/7/2+1e-12 { // half a step
		t.Errorf("quantization error %g beyond half a step %g", worst, big/14)
	}
	d.Weights.Layers[0].Wq.Data[0] += 1
	if m.Weights.Layers[0].Wq.Data[0] == d.Weights.Layers[0].Wq.Data[0] {
		t.Error("the draft shares its weights with the model")
	}
	same, err := Derive(m, DraftOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(same.Weights.Layers[4].W2.Data, m.Weights.Layers[4].W2.Data) {
		t.Error("an unquantized draft of all layers changed the weights")
	}
	for _, o := range []DraftOptions{{Layers: -1}, {Layers: 6}, {Bits: 1}, {Bits: 17}} {
		if _, err := Derive(m, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// TestGenerateSpeculative: greedy speculative decoding yields Generate's
// tokens for every gamma; with the model as its own draft every proposal
// is accepted, with a derived one (every block, 4-bit weights: about 0.7
// of its proposals kept; a 2-block draft of stories260K keeps none) some
// are.
func TestGenerateSpeculative(t *testing.T) {
	m := loadStories(t)
	prompt := []int{1, 403, 407, 261}
	const n = 24
	want, err := Generate(m, prompt, n)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Derive(m, DraftOptions{Bits: 4})
	if err != nil {
		t.Fatal(err)
	}
	least := 1.0
	for _, gamma := range []int{1, 3, 4, 8} {
		got, st, err := GenerateSpeculative(m, m, prompt, n, gamma, Sampler{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) || st.Acceptance() != 1 {
			t.Errorf("self-draft, gamma %d: %v (acceptance %.2f), want %v", gamma, got, st.Acceptance(), want)
		}
		got, st, err = GenerateSpeculative(m, d, prompt, n, gamma, Sampler{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("draft, gamma %d: %v, want %v", gamma, got, want)
		}
		// The prefill's token, a pass's accepted ones and its own, and a
		// last step alone when one token is left for it.
		if a, made := st.Acceptance(), 1+st.Accepted+st.Passes; a <= 0 || made < n-1 || made > n || len(st.PerPass) != st.Passes {
			t.Errorf("draft, gamma %d: stats %+v (acceptance %.2f)", gamma, st, a)
		}
		least = min(least, st.Acceptance())
		t.Logf("gamma %d: %d passes, acceptance %.2f, %.2f tokens a pass", gamma, st.Passes, st.Acceptance(), st.TokensPerPass())
	}
	if least == 1 {
		t.Error("the derived draft had every proposal accepted at every gamma")
	}
	if _, _, err := GenerateSpeculative(m, d, prompt, n, 0, Sampler{}); err == nil {
		t.Error("gamma 0 accepted")
	}
	other := NewRandom(tinyLlama(), 1)
	if _, _, err := GenerateSpeculative(m, other, prompt, n, 2, Sampler{}); err == nil {
		t.Error("a draft of another vocabulary accepted")
	}
}

// TestTruncate: a truncated state continues as if the dropped tokens had
// never been fed.
func TestTruncate(t *testing.T) {
	m := loadStories(t)
	a, b := m.NewState(), m.NewState()
	var la, lb []float64
	var err error
	for _, tok := range []int{1, 403, 407} {
		la, _ = m.Forward(a, tok)
		lb, _ = m.Forward(b, tok)
	}
	for _, tok := range []int{5, 6, 7} {
		if _, err = m.Forward(b, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Truncate(3); err != nil {
		t.Fatal(err)
	}
	la, _ = m.Forward(a, 261)
	lb, _ = m.Forward(b, 261)
	if !slices.Equal(la, lb) {
		t.Error("the truncated state's logits differ")
	}
	if b.Truncate(-1) == nil || b.Truncate(b.Pos+1) == nil {
		t.Error("a truncation outside [0, Pos] accepted")
	}
}
