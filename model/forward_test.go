package model

import (
	"math"
	"math/cmplx"
	"slices"
	"strings"
	"testing"
)

// tinyLlama is a small llama shape with grouped-query attention (4 query
// heads over 2 kv heads, heads of 4) and a separate classifier.
func tinyLlama() Config {
	return Config{
		Name: "tiny-llama", Arch: ArchLlama,
		Dim: 16, HiddenDim: 40, NumLayers: 2, NumHeads: 4, NumKVHeads: 2,
		VocabSize: 32, SeqLen: 16,
		NormEps: 1e-5, RopeTheta: 10000,
	}
}

// tinyGPT2 is a small GPT-2 shape: 3 heads of 4, hidden 4*dim as in GPT-2.
func tinyGPT2() Config {
	return Config{
		Name: "tiny-gpt2", Arch: ArchGPT2,
		Dim: 12, HiddenDim: 48, NumLayers: 2, NumHeads: 3, NumKVHeads: 3,
		VocabSize: 40, SeqLen: 16,
		SharedClassifier: true, NormEps: 1e-5,
	}
}

// near reports whether a and b agree to within tol relative to their scale.
func near(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func TestRMSNorm(t *testing.T) {
	tests := []struct {
		x, gain []float64
		eps     float64
		want    []float64
	}{
		// mean(x²) = 1, so x is unchanged and only the gain shows.
		{[]float64{1, -1, 1, -1}, []float64{1, 2, 3, 4}, 0, []float64{1, -2, 3, -4}},
		// mean(x²) = (9+16)/2 = 12.5, 1/sqrt(12.5) = sqrt(2)/5.
		{[]float64{3, 4}, []float64{1, 2}, 0, []float64{3 * math.Sqrt2 / 5, 8 * math.Sqrt2 / 5}},
		// mean(x²) = 0: eps keeps the scale finite, 1/sqrt(0.25) = 2, and
		// zeros stay zeros.
		{[]float64{0, 0}, []float64{1, 1}, 0.25, []float64{0, 0}},
		// mean(x²) = 0.5, + eps 0.5 = 1: unchanged.
		{[]float64{1, 0}, []float64{1, 1}, 0.5, []float64{1, 0}},
	}
	for _, tt := range tests {
		got := make([]float64, len(tt.x))
		RMSNorm(got, tt.x, tt.gain, tt.eps)
		for i := range got {
			if !near(got[i], tt.want[i], 1e-15) {
				t.Errorf("RMSNorm(%v, %v, %v) = %v, want %v", tt.x, tt.gain, tt.eps, got, tt.want)
				break
			}
		}
	}
}

func TestLayerNorm(t *testing.T) {
	// x = 1, 2, 3: mean 2, population variance 2/3, so the normalised values
	// are ±1/sqrt(2/3) = ±sqrt(3/2) and 0.
	s := math.Sqrt(1.5)
	tests := []struct {
		x, gain, bias []float64
		eps           float64
		want          []float64
	}{
		{[]float64{1, 2, 3}, []float64{1, 1, 1}, []float64{0, 0, 0}, 0, []float64{-s, 0, s}},
		{[]float64{1, 2, 3}, []float64{2, 1, 1}, []float64{0.5, 0, -1}, 0, []float64{-2*s + 0.5, 0, s - 1}},
		// Shifting x changes nothing.
		{[]float64{101, 102, 103}, []float64{1, 1, 1}, []float64{0, 0, 0}, 0, []float64{-s, 0, s}},
		// Variance 0 + eps 1: x - mean = 0, only the bias remains.
		{[]float64{7, 7}, []float64{3, 3}, []float64{0.1, 0.2}, 1, []float64{0.1, 0.2}},
		// x = -1, 1: variance 1, + eps 3 = 4, scale 1/2.
		{[]float64{-1, 1}, []float64{1, 1}, []float64{0, 0}, 3, []float64{-0.5, 0.5}},
	}
	for _, tt := range tests {
		got := make([]float64, len(tt.x))
		LayerNorm(got, tt.x, tt.gain, tt.bias, tt.eps)
		for i := range got {
			if !near(got[i], tt.want[i], 1e-13) {
				t.Errorf("LayerNorm(%v) = %v, want %v", tt.x, got, tt.want)
				break
			}
		}
	}
}

func TestActivations(t *testing.T) {
	// GELU(1) = 0.5(1 + tanh(sqrt(2/π)·1.044715)); GELU(-x) = GELU(x) - x;
	// values computed independently in double precision.
	// SiLU(1) = 1/(1+e⁻¹) = σ(1); SiLU(-1) = -σ(-1) = σ(1) - 1.
	tests := []struct {
		name string
		f    func(float64) float64
		x    float64
		want float64
	}{
		{"GELU", GELU, 0, 0},
		{"GELU", GELU, 1, 0.8411919906082768},
		{"GELU", GELU, -1, -0.15880800939172324},
		{"GELU", GELU, 0.5, 0.34571400982514394},
		{"GELU", GELU, 3, 2.996362607918227},
		{"GELU", GELU, -30, 0}, // far left: tanh saturates at -1
		{"SiLU", SiLU, 0, 0},
		{"SiLU", SiLU, 1, 0.7310585786300049},
		{"SiLU", SiLU, -1, -0.2689414213699951},
		{"SiLU", SiLU, 40, 40}, // σ(40) = 1 - 4e-18, 1 in float64
	}
	for _, tt := range tests {
		if got := tt.f(tt.x); !near(got, tt.want, 1e-15) {
			t.Errorf("%s(%v) = %v, want %v", tt.name, tt.x, got, tt.want)
		}
	}
}

func TestSoftmax(t *testing.T) {
	tests := []struct{ x, want []float64 }{
		// e^k / (e + e² + e³) for k = 1, 2, 3.
		{[]float64{1, 2, 3}, []float64{0.09003057317038046, 0.24472847105479767, 0.6652409557748219}},
		// Large equal values: no overflow thanks to the max subtraction.
		{[]float64{1000, 1000}, []float64{0.5, 0.5}},
		{[]float64{-1000, 0}, []float64{0, 1}},
		{[]float64{42}, []float64{1}},
		{[]float64{}, []float64{}},
	}
	for _, tt := range tests {
		got := slices.Clone(tt.x)
		Softmax(got)
		for i := range got {
			if !near(got[i], tt.want[i], 1e-15) {
				t.Errorf("Softmax(%v) = %v, want %v", tt.x, got, tt.want)
				break
			}
		}
	}
}

func TestApplyRoPE(t *testing.T) {
	// Two heads of 4 with theta 10000: pair 0 turns by pos radians, pair 1 by
	// pos·10000^(-2/4) = pos/100 radians.
	x := []float64{1, 0, 1, 0, 0, 2, 0, 2}
	ApplyRoPE(x, 0, 4, 10000)
	if !slices.Equal(x, []float64{1, 0, 1, 0, 0, 2, 0, 2}) {
		t.Errorf("position 0 changed x: %v", x)
	}
	ApplyRoPE(x, 3, 4, 10000)
	c3, s3 := math.Cos(3), math.Sin(3)
	c, s := math.Cos(0.03), math.Sin(0.03)
	want := []float64{c3, s3, c, s, -2 * s3, 2 * c3, -2 * s, 2 * c}
	for i := range x {
		if !near(x[i], want[i], 1e-15) {
			t.Fatalf("ApplyRoPE = %v, want %v", x, want)
		}
	}
}

func TestMatVecArgmax(t *testing.T) {
	m := Matrix{Rows: 2, Cols: 3, Data: []float64{1, 2, 3, 4, 5, 6}}
	got := make([]float64, 2)
	MatVec(got, m, []float64{1, 0, -1})
	// 1-3 = -2, 4-6 = -2.
	if !slices.Equal(got, []float64{-2, -2}) {
		t.Errorf("MatVec = %v", got)
	}
	if m.At(1, 2) != 6 || !slices.Equal(m.Row(1), []float64{4, 5, 6}) {
		t.Errorf("At/Row wrong: %v %v", m.At(1, 2), m.Row(1))
	}
	tests := []struct {
		x    []float64
		want int
	}{
		{[]float64{1, 3, 3}, 1}, // tie: lowest index
		{[]float64{-1}, 0},
		{[]float64{}, -1},
		{[]float64{math.NaN(), 2, 1}, 1},
		{[]float64{math.NaN()}, 0},
	}
	for _, tt := range tests {
		if got := Argmax(tt.x); got != tt.want {
			t.Errorf("Argmax(%v) = %d, want %d", tt.x, got, tt.want)
		}
	}
}

func TestGenerateStories(t *testing.T) {
	m := loadStories(t)
	tok := loadTok512(t)
	// 40 tokens cover the two sentences below (they are 22 tokens long).
	ids, err := Generate(m, []int{BOS}, 40)
	if err != nil {
		t.Fatal(err)
	}
	// llama2.c's documented greedy output for stories260K.
	if want := []int{403, 407, 261, 378, 432}; !slices.Equal(ids[:5], want) {
		t.Errorf("first ids %v, want %v", ids[:5], want)
	}
	text := tok.DecodeAll(ids)
	const want = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
	if !strings.HasPrefix(text, want) {
		t.Errorf("text %q, want it to start with %q", text, want)
	}
	// The same story from an encoded prompt: the continuation of
	// "Once upon a time" is the rest of the greedy output.
	prompt, _ := tok.Encode("Once upon a time", true, false)
	more, err := Generate(m, prompt, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(more, ids[4:14]) {
		t.Errorf("continuation %v, want %v", more, ids[4:14])
	}
}

// refLogits recomputes from scratch, without a cache, the logits after the
// whole sequence tokens: every layer is run over all positions (quadratic in
// the length). It shares no code with Forward.
func refLogits(m *Model, tokens []int) []float64 {
	c, w := m.Config, m.Weights
	n, d, hd := len(tokens), c.Dim, c.HeadDim()
	gpt := c.Arch == ArchGPT2
	mv := func(a Matrix, x, bias []float64) []float64 {
		y := make([]float64, a.Rows)
		for i := range y {
			for j := range x {
				y[i] += a.Data[i*a.Cols+j] * x[j]
			}
			if bias != nil {
				y[i] += bias[i]
			}
		}
		return y
	}
	norm := func(x, gain, bias []float64) []float64 {
		y := make([]float64, len(x))
		var mean, sq float64
		if gpt {
			for _, v := range x {
				mean += v / float64(len(x))
			}
		}
		for _, v := range x {
			sq += (v - mean) * (v - mean) / float64(len(x))
		}
		for i, v := range x {
			y[i] = (v - mean) / math.Sqrt(sq+c.NormEps) * gain[i]
			if bias != nil {
				y[i] += bias[i]
			}
		}
		return y
	}
	rope := func(x []float64, pos int) { // as complex numbers x[2i] + i x[2i+1]
		for j := 0; j < len(x); j += 2 {
			i := (j % hd) / 2
			z := complex(x[j], x[j+1]) * cmplx.Exp(complex(0, float64(pos)/math.Pow(c.RopeTheta, float64(2*i)/float64(hd))))
			x[j], x[j+1] = real(z), imag(z)
		}
	}
	X := make([][]float64, n)
	for t, tok := range tokens {
		X[t] = slices.Clone(w.TokenEmbedding.Row(tok))
		if gpt {
			for i := range d {
				X[t][i] += w.PositionEmbedding.At(t, i)
			}
		}
	}
	for _, ly := range w.Layers {
		Q, K, V := make([][]float64, n), make([][]float64, n), make([][]float64, n)
		for t := range n {
			var h []float64
			if gpt {
				h = norm(X[t], ly.LN1Gain, ly.LN1Bias)
			} else {
				h = norm(X[t], ly.AttnNorm, nil)
			}
			Q[t], K[t], V[t] = mv(ly.Wq, h, ly.Bq), mv(ly.Wk, h, ly.Bk), mv(ly.Wv, h, ly.Bv)
			if !gpt {
				rope(Q[t], t)
				rope(K[t], t)
			}
		}
		for t := range n {
			out := make([]float64, d)
			for h := range c.NumHeads {
				g := h * c.NumKVHeads / c.NumHeads // kv head of query head h
				p := make([]float64, t+1)
				var sum float64
				for s := range t + 1 {
					var dot float64
					for i := range hd {
						dot += Q[t][h*hd+i] * K[s][g*hd+i]
					}
					p[s] = math.Exp(dot / math.Sqrt(float64(hd)))
					sum += p[s]
				}
				for s := range t + 1 {
					for i := range hd {
						out[h*hd+i] += p[s] / sum * V[s][g*hd+i]
					}
				}
			}
			o := mv(ly.Wo, out, ly.Bo)
			for i := range d {
				X[t][i] += o[i]
			}
			var f []float64
			if gpt {
				u := mv(ly.FC, norm(X[t], ly.LN2Gain, ly.LN2Bias), ly.FCBias)
				for i, v := range u {
					u[i] = v * 0.5 * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
				}
				f = mv(ly.Proj, u, ly.ProjBias)
			} else {
				h := norm(X[t], ly.FFNNorm, nil)
				a, b := mv(ly.W1, h, nil), mv(ly.W3, h, nil)
				for i := range a {
					a[i] = a[i] / (1 + math.Exp(-a[i])) * b[i]
				}
				f = mv(ly.W2, a, nil)
			}
			for i := range d {
				X[t][i] += f[i]
			}
		}
	}
	return mv(w.Classifier, norm(X[n-1], w.FinalNorm, w.FinalNormBias), nil)
}

// TestForwardMatchesRecompute checks, for every prefix length, that the
// cached incremental Forward gives the logits of a from-scratch
// recomputation of the last position.
func TestForwardMatchesRecompute(t *testing.T) {
	tests := []struct {
		name   string
		model  func(testing.TB) *Model
		tokens []int
	}{
		{"gpt2", func(testing.TB) *Model { return NewRandom(tinyGPT2(), 7) }, []int{1, 5, 39, 0, 5, 5, 17, 22, 3, 38, 11, 2}},
		{"llama", func(testing.TB) *Model { return NewRandom(tinyLlama(), 7) }, []int{1, 5, 31, 0, 5, 5, 17, 22, 3, 30, 11, 2}},
		// The real model, on the start of its own greedy story.
		{"stories260K", func(t testing.TB) *Model { return loadStories(t) }, []int{1, 403, 407, 261, 378, 432, 383, 286}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.model(t)
			st := m.NewState()
			for i, tok := range tt.tokens {
				got, err := m.Forward(st, tok)
				if err != nil {
					t.Fatal(err)
				}
				want := refLogits(m, tt.tokens[:i+1])
				for j := range want {
					// Same operations in a different order: agreement to
					// about 1e-12 relative is expected; 1e-9 leaves room.
					if !near(got[j], want[j], 1e-9) {
						t.Fatalf("position %d logit %d: cached %v, recomputed %v", i, j, got[j], want[j])
					}
				}
			}
			if st.Pos != len(tt.tokens) || len(st.Key[0]) != len(tt.tokens)*m.Config.KVDim() {
				t.Errorf("after %d tokens: Pos %d, cache %d values", len(tt.tokens), st.Pos, len(st.Key[0]))
			}
		})
	}
}

func TestNewRandomDeterministic(t *testing.T) {
	for _, cfg := range []Config{tinyGPT2(), tinyLlama()} {
		a, b, c := NewRandom(cfg, 3), NewRandom(cfg, 3), NewRandom(cfg, 4)
		if err := a.Validate(); err != nil {
			t.Fatal(err)
		}
		ea, eb, ec := a.Weights.Layers[1].Wv.Data, b.Weights.Layers[1].Wv.Data, c.Weights.Layers[1].Wv.Data
		if !slices.Equal(ea, eb) || slices.Equal(ea, ec) {
			t.Errorf("%s: same seed differs or different seeds agree", cfg.Name)
		}
		ga, err := Generate(a, []int{1, 2, 3}, 5)
		if err != nil {
			t.Fatal(err)
		}
		gb, _ := Generate(b, []int{1, 2, 3}, 5)
		if !slices.Equal(ga, gb) || len(ga) != 5 {
			t.Errorf("%s: generation not deterministic: %v vs %v", cfg.Name, ga, gb)
		}
	}
}

func TestForwardErrors(t *testing.T) {
	cfg := tinyGPT2()
	cfg.SeqLen = 4
	m := NewRandom(cfg, 1)
	other := NewRandom(cfg, 2)
	st := m.NewState()
	for range 4 {
		if _, err := m.Forward(st, 1); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		st    *State
		token int
		want  string
	}{
		{"context full", st, 1, "context full: position 4 is beyond the maximum sequence length 4"},
		{"negative token", m.NewState(), -1, "token -1 out of the vocabulary [0, 40)"},
		{"token too large", m.NewState(), 40, "token 40 out of the vocabulary"},
		{"other model's state", other.NewState(), 1, "not made by this model"},
		{"nil state", nil, 1, "not made by this model"},
	}
	for _, tt := range tests {
		pos := -1
		if tt.st != nil {
			pos = tt.st.Pos
		}
		_, err := m.Forward(tt.st, tt.token)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.want)
		}
		if tt.st != nil && tt.st.Pos != pos {
			t.Errorf("%s: the failed call moved Pos from %d to %d", tt.name, pos, tt.st.Pos)
		}
	}

	// A state whose exported fields were tampered with.
	tampered := m.NewState()
	tampered.Pos = 2
	if _, err := m.Forward(tampered, 1); err == nil || !strings.Contains(err.Error(), "state was modified") {
		t.Errorf("tampered state: %v", err)
	}

	// A hand-built model with a wrong shape is an error, not a panic.
	bad := NewRandom(tinyLlama(), 1)
	bad.Weights.Layers[1].W3.Data = bad.Weights.Layers[1].W3.Data[:10]
	if _, err := bad.Forward(bad.NewState(), 1); err == nil || !strings.Contains(err.Error(), "layer 1 w3") {
		t.Errorf("bad shape: %v", err)
	}
	broken := &Model{Config: Config{Dim: -4, NumLayers: -1, HiddenDim: -2}, Weights: &Weights{}}
	if _, err := broken.Forward(broken.NewState(), 1); err == nil || !strings.Contains(err.Error(), "architecture") {
		t.Errorf("invalid config: %v", err)
	}
	if _, err := (&Model{Config: tinyLlama()}).Forward(nil, 1); err == nil {
		t.Error("nil weights: no error")
	}
}

func TestGenerateErrors(t *testing.T) {
	cfg := tinyLlama()
	cfg.SeqLen = 4
	m := NewRandom(cfg, 1)
	// 1 prompt token + 4 new ones feed 4 positions (the last new token is
	// not fed back): exactly the context.
	if ids, err := Generate(m, []int{BOS}, 4); err != nil || len(ids) != 4 {
		t.Errorf("4 tokens in a context of 4: %v, %v", ids, err)
	}
	if ids, err := Generate(m, []int{BOS}, 0); err != nil || len(ids) != 0 {
		t.Errorf("0 tokens: %v, %v", ids, err)
	}
	tests := []struct {
		name   string
		prompt []int
		n      int
		want   string
	}{
		{"context overflow", []int{BOS}, 5, "need 5 positions, the maximum sequence length is 4"},
		{"long prompt", []int{1, 2, 3, 4, 5}, 1, "maximum sequence length"},
		{"empty prompt", nil, 3, "empty prompt"},
		{"negative n", []int{BOS}, -1, "negative"},
		{"bad prompt token", []int{BOS, 99}, 1, "token 99 out of the vocabulary"},
	}
	for _, tt := range tests {
		_, err := Generate(m, tt.prompt, tt.n)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	// stories260K: 512 positions.
	s := loadStories(t)
	if _, err := Generate(s, []int{BOS}, 513); err == nil || !strings.Contains(err.Error(), "maximum sequence length is 512") {
		t.Errorf("stories260K overflow: %v", err)
	}
}

func BenchmarkForward(b *testing.B) {
	// GPT-2 small with one of its 12 layers: about 46M weights (368 MB), the
	// classifier (50257 x 768) dominating.
	gpt, _ := ConfigByName("gpt2")
	gpt.Name, gpt.NumLayers = "gpt2-1layer", 1
	benches := []struct {
		name  string
		model func() *Model
	}{
		{"stories260K", func() *Model { return loadStories(b) }},
		{"gpt2-1layer", func() *Model { return NewRandom(gpt, 1) }},
	}
	// Positions 0..127 over and over: the cost of a token early in a
	// generation.
	const positions = 128
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			m := bb.model()
			st := m.NewState()
			for b.Loop() {
				if st.Pos == positions {
					st = m.NewState()
				}
				if _, err := m.Forward(st, BOS); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
