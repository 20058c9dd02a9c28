package model

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// State is the mutable part of a generation: the position of the next token
// and the key/value cache of every layer. Create it with [Model.NewState]; one
// State serves one sequence and must not be shared between goroutines.
//
// The cache is exported so that other implementations (the secure ones) can
// be compared with it; treat it as read-only. Key[l] and Value[l] hold Pos
// vectors of KVDim values for layer l: the key of position t is
// Key[l][t*KVDim : (t+1)*KVDim], heads side by side, after RoPE for llama.
type State struct {
	Pos        int         // number of tokens already processed = position of the next one
	Key, Value [][]float64 // per layer, Pos*KVDim values

	model *Model

	// Scratch buffers, reused by every Forward call.
	x, xb, xb2, q, k, v, att, hb, hb2 []float64
	cos, sin                          []float64
}

// NewState returns an empty state (position 0, empty cache) for m. The cache
// grows as tokens are processed, up to SeqLen positions.
func (m *Model) NewState() *State {
	c := m.Config
	// Clamp at 0 so that a hand-built invalid config cannot make NewState
	// panic; Forward reports the invalid config.
	layers, dim, kv, hidden, half := max(c.NumLayers, 0), max(c.Dim, 0), max(c.KVDim(), 0), max(c.HiddenDim, 0), max(c.HeadDim()/2, 0)
	return &State{
		model: m,
		Key:   make([][]float64, layers),
		Value: make([][]float64, layers),
		x:     make([]float64, dim),
		xb:    make([]float64, dim),
		xb2:   make([]float64, dim),
		q:     make([]float64, dim),
		k:     make([]float64, kv),
		v:     make([]float64, kv),
		hb:    make([]float64, hidden),
		hb2:   make([]float64, hidden),
		cos:   make([]float64, half),
		sin:   make([]float64, half),
	}
}

// Forward processes token at position st.Pos: it appends the token's keys
// and values to the cache, advances st.Pos and returns the logits (VocabSize
// values, a new slice) that predict the token at position st.Pos+1.
//
// It is an error if st was made by another model or its fields were changed
// by hand, if token is not in [0, VocabSize), if the cache is full
// (st.Pos == SeqLen), or if the model fails [Model.Validate]. On error st is
// unchanged.
func (m *Model) Forward(st *State, token int) ([]float64, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	c := m.Config
	if st == nil || st.model != m {
		return nil, fmt.Errorf("model: %s: forward: the state was not made by this model's NewState", c.Name)
	}
	if token < 0 || token >= c.VocabSize {
		return nil, fmt.Errorf("model: %s: forward: token %d out of the vocabulary [0, %d)", c.Name, token, c.VocabSize)
	}
	if !st.consistent(c) {
		return nil, fmt.Errorf("model: %s: forward: the state was modified: Pos %d does not match its cache", c.Name, st.Pos)
	}
	if st.Pos >= c.SeqLen {
		return nil, fmt.Errorf("model: %s: forward: context full: position %d is beyond the maximum sequence length %d", c.Name, st.Pos, c.SeqLen)
	}
	switch c.Arch {
	case ArchLlama:
		m.forwardLlama(st, token)
	case ArchGPT2:
		m.forwardGPT2(st, token)
	}
	logits := make([]float64, c.VocabSize)
	MatVec(logits, m.Weights.Classifier, st.x)
	st.Pos++
	return logits, nil
}

// Truncate drops the tokens at positions pos and after from the state: the
// cache keeps the first pos tokens and the next Forward processes position
// pos (a rollback of rejected draft tokens). It is an error if pos is
// negative or beyond st.Pos.
func (st *State) Truncate(pos int) error {
	if st == nil || st.model == nil || pos < 0 || pos > st.Pos {
		return fmt.Errorf("model: truncate a state to position %d", pos)
	}
	kv := st.model.Config.KVDim()
	for l := range st.Key {
		st.Key[l] = st.Key[l][:pos*kv]
		st.Value[l] = st.Value[l][:pos*kv]
	}
	st.Pos = pos
	return nil
}

// consistent reports whether Pos and the cache agree, as they do unless a
// caller changed the exported fields.
func (st *State) consistent(c Config) bool {
	if st.Pos < 0 || len(st.Key) != c.NumLayers || len(st.Value) != c.NumLayers {
		return false
	}
	n := st.Pos * c.KVDim()
	for l := range st.Key {
		if len(st.Key[l]) != n || len(st.Value[l]) != n {
			return false
		}
	}
	return true
}

// forwardLlama runs the blocks and the final norm; the result is in st.x.
func (m *Model) forwardLlama(st *State, token int) {
	c, w := m.Config, m.Weights
	x := st.x
	copy(x, w.TokenEmbedding.Row(token))
	ropeTable(st.cos, st.sin, st.Pos, c.HeadDim(), c.RopeTheta)
	for l := range w.Layers {
		ly := &w.Layers[l]
		RMSNorm(st.xb, x, ly.AttnNorm, c.NormEps)
		MatVec(st.q, ly.Wq, st.xb)
		MatVec(st.k, ly.Wk, st.xb)
		MatVec(st.v, ly.Wv, st.xb)
		rotate(st.q, st.cos, st.sin)
		rotate(st.k, st.cos, st.sin)
		m.attend(st, l) // st.xb = attention output
		MatVec(st.xb2, ly.Wo, st.xb)
		floats.Add(x, st.xb2)

		RMSNorm(st.xb, x, ly.FFNNorm, c.NormEps)
		MatVec(st.hb, ly.W1, st.xb)
		MatVec(st.hb2, ly.W3, st.xb)
		for i := range st.hb {
			st.hb[i] = SiLU(st.hb[i]) * st.hb2[i]
		}
		MatVec(st.xb, ly.W2, st.hb)
		floats.Add(x, st.xb)
	}
	RMSNorm(x, x, w.FinalNorm, c.NormEps)
}

// forwardGPT2 runs the blocks and the final norm; the result is in st.x.
func (m *Model) forwardGPT2(st *State, token int) {
	c, w := m.Config, m.Weights
	x := st.x
	copy(x, w.TokenEmbedding.Row(token))
	floats.Add(x, w.PositionEmbedding.Row(st.Pos))
	for l := range w.Layers {
		ly := &w.Layers[l]
		LayerNorm(st.xb, x, ly.LN1Gain, ly.LN1Bias, c.NormEps)
		MatVec(st.q, ly.Wq, st.xb)
		floats.Add(st.q, ly.Bq)
		MatVec(st.k, ly.Wk, st.xb)
		floats.Add(st.k, ly.Bk)
		MatVec(st.v, ly.Wv, st.xb)
		floats.Add(st.v, ly.Bv)
		m.attend(st, l)
		MatVec(st.xb2, ly.Wo, st.xb)
		floats.Add(st.xb2, ly.Bo)
		floats.Add(x, st.xb2)

		LayerNorm(st.xb, x, ly.LN2Gain, ly.LN2Bias, c.NormEps)
		MatVec(st.hb, ly.FC, st.xb)
		floats.Add(st.hb, ly.FCBias)
		for i := range st.hb {
			st.hb[i] = GELU(st.hb[i])
		}
		MatVec(st.xb, ly.Proj, st.hb)
		floats.Add(st.xb, ly.ProjBias)
		floats.Add(x, st.xb)
	}
	LayerNorm(x, x, w.FinalNorm, w.FinalNormBias, c.NormEps)
}

// attend appends st.k and st.v to the cache of layer l and writes into st.xb
// the causal attention of the query st.q over positions 0..st.Pos: for each
// query head h, using kv head h / (NumHeads/NumKVHeads),
// softmax(q_h . k_t / sqrt(HeadDim)) weighted sum of v_t.
//
// The keys of one kv head over positions 0..st.Pos are a (Pos+1) x HeadDim
// matrix inside the cache (row t at offset t*KVDim, stride KVDim), and so
// are its values: the scores are K_h q_h and the output V_hᵀ p, two BLAS
// matrix-vector products on the cache in place.
func (m *Model) attend(st *State, l int) {
	c := m.Config
	hd, kvDim := c.HeadDim(), c.KVDim()
	group := c.NumHeads / c.NumKVHeads
	st.Key[l] = append(st.Key[l], st.k...)
	st.Value[l] = append(st.Value[l], st.v...)
	keys, values := st.Key[l], st.Value[l]
	n := st.Pos + 1
	if cap(st.att) < n {
		st.att = make([]float64, n, c.SeqLen)
	}
	att := st.att[:n]
	scale := 1 / math.Sqrt(float64(hd))
	p := blas64.Vector{N: n, Inc: 1, Data: att}
	for h := range c.NumHeads {
		off := (h / group) * hd
		kh := blas64.General{Rows: n, Cols: hd, Stride: kvDim, Data: keys[off:]}
		vh := blas64.General{Rows: n, Cols: hd, Stride: kvDim, Data: values[off:]}
		q := blas64.Vector{N: hd, Inc: 1, Data: st.q[h*hd : (h+1)*hd]}
		blas64.Gemv(blas.NoTrans, scale, kh, q, 0, p) // scores: scale · K_h q
		Softmax(att)
		out := blas64.Vector{N: hd, Inc: 1, Data: st.xb[h*hd : (h+1)*hd]}
		blas64.Gemv(blas.Trans, 1, vh, p, 0, out) // V_hᵀ p
	}
}

// Generate runs greedy decoding: it feeds the prompt, then n times appends
// the argmax of the logits (ties go to the lowest id) and feeds it back. It
// returns only the n generated ids, never the prompt. It is
// GenerateSampled with the zero (greedy) Sampler.
//
// Convention: the prompt is the full token sequence, including BOS for llama
// models, as llama2.c does ([Tokenizer.Encode] with bos=true gives that; the
// empty prompt of llama2.c is just {BOS}). Generate does not stop at BOS or
// EOS (llama2.c stops when it samples BOS); cut the result where needed.
//
// It is an error if the prompt is empty or if the prompt and the generated
// tokens do not fit in the context: len(prompt)+n-1 positions are processed
// (the last generated token is not fed back), which must not exceed SeqLen.
func Generate(m *Model, prompt []int, n int) ([]int, error) {
	return GenerateSampled(m, prompt, n, Sampler{})
}

// GenerateSampled is Generate with each token chosen by s (its step the
// token's index among the generated ones).
func GenerateSampled(m *Model, prompt []int, n int, s Sampler) ([]int, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("model: generate: nil model")
	}
	name := m.Config.Name
	switch {
	case len(prompt) == 0:
		return nil, fmt.Errorf("model: %s: generate: empty prompt (start it with BOS for llama models)", name)
	case n < 0:
		return nil, fmt.Errorf("model: %s: generate: negative number of tokens %d", name, n)
	case len(prompt)+n-1 > m.Config.SeqLen:
		return nil, fmt.Errorf("model: %s: generate: a prompt of %d tokens and %d new ones need %d positions, the maximum sequence length is %d",
			name, len(prompt), n, len(prompt)+n-1, m.Config.SeqLen)
	}
	if n == 0 {
		return []int{}, nil
	}
	st := m.NewState()
	var logits []float64
	var err error
	for _, tok := range prompt {
		if logits, err = m.Forward(st, tok); err != nil {
			return nil, err
		}
	}
	out := make([]int, 0, n)
	for {
		next := s.Pick(logits, len(out))
		out = append(out, next)
		if len(out) == n {
			return out, nil
		}
		if logits, err = m.Forward(st, next); err != nil {
			return nil, err
		}
	}
}

// The building blocks below are the plaintext definitions that the secure
// implementations are checked against. They panic on mismatched lengths
// (a programming error), like gonum.

// MatVec sets dst = m x with gonum's [mat.VecDense.MulVec]. len(dst) must be
// m.Rows and len(x) m.Cols; dst must not alias x.
func MatVec(dst []float64, m Matrix, x []float64) {
	if len(dst) != m.Rows || len(x) != m.Cols || len(m.Data) != m.Rows*m.Cols {
		panic(fmt.Sprintf("model: MatVec: %dx%d matrix (%d values), x of %d, dst of %d", m.Rows, m.Cols, len(m.Data), len(x), len(dst)))
	}
	// gonum has no empty vectors: a product with no rows is nothing, one
	// with no columns is zero.
	switch {
	case len(dst) == 0:
		return
	case len(x) == 0:
		clear(dst)
		return
	}
	mat.NewVecDense(len(dst), dst).MulVec(m, mat.NewVecDense(len(x), x))
}

// RMSNorm sets dst = gain ⊙ x / sqrt(mean(x²) + eps). dst may be x.
func RMSNorm(dst, x, gain []float64, eps float64) {
	if len(dst) != len(x) || len(gain) != len(x) {
		panic(fmt.Sprintf("model: RMSNorm: lengths dst %d, x %d, gain %d", len(dst), len(x), len(gain)))
	}
	s := 1 / math.Sqrt(floats.Dot(x, x)/float64(len(x))+eps)
	for i := range x {
		dst[i] = gain[i] * (x[i] * s)
	}
}

// LayerNorm sets dst = gain ⊙ (x - mean(x)) / sqrt(var(x) + eps) + bias, with
// the population variance (divided by len(x)). dst may be x.
func LayerNorm(dst, x, gain, bias []float64, eps float64) {
	if len(dst) != len(x) || len(gain) != len(x) || len(bias) != len(x) {
		panic(fmt.Sprintf("model: LayerNorm: lengths dst %d, x %d, gain %d, bias %d", len(dst), len(x), len(gain), len(bias)))
	}
	mean, variance := stat.PopMeanVariance(x, nil)
	s := 1 / math.Sqrt(variance+eps)
	for i := range x {
		dst[i] = gain[i]*((x[i]-mean)*s) + bias[i]
	}
}

// Softmax replaces x by exp(x_i - max x) / Σ_j exp(x_j - max x), in place.
// Subtracting the maximum changes nothing mathematically and avoids
// overflow. An empty x is left alone.
func Softmax(x []float64) {
	if len(x) == 0 {
		return
	}
	mx := x[0]
	for _, v := range x[1:] {
		mx = max(mx, v)
	}
	var sum float64
	for i, v := range x {
		x[i] = math.Exp(v - mx)
		sum += x[i]
	}
	for i := range x {
		x[i] /= sum
	}
}

// SiLU returns x·σ(x) = x / (1 + e^-x), the gate of llama's SwiGLU.
func SiLU(x float64) float64 { return x / (1 + math.Exp(-x)) }

// GELU returns GPT-2's tanh approximation of the Gaussian error linear unit:
// 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))).
func GELU(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

// ApplyRoPE rotates x in place by the rotary position embedding of position
// pos, as llama2.c does: x is a sequence of heads of headDim values, and
// within each head the pair (x[2i], x[2i+1]) is rotated by the angle
// pos · theta^(-2i/headDim). headDim must be even and divide len(x).
func ApplyRoPE(x []float64, pos, headDim int, theta float64) {
	if headDim <= 0 || headDim%2 != 0 || len(x)%headDim != 0 {
		panic(fmt.Sprintf("model: ApplyRoPE: head dim %d, vector of %d", headDim, len(x)))
	}
	cos, sin := make([]float64, headDim/2), make([]float64, headDim/2)
	ropeTable(cos, sin, pos, headDim, theta)
	rotate(x, cos, sin)
}

// Argmax returns the index of the largest value, the lowest one on ties, or
// -1 for an empty slice. NaN values are never chosen unless all are NaN
// (then it returns 0). It is gonum's [floats.MaxIdx] but for the empty slice.
func Argmax(x []float64) int {
	if len(x) == 0 {
		return -1
	}
	return floats.MaxIdx(x)
}

// ropeTable fills cos[i], sin[i] with the rotation of pair i of a head at
// position pos.
func ropeTable(cos, sin []float64, pos, headDim int, theta float64) {
	for i := range cos {
		freq := math.Pow(theta, -float64(2*i)/float64(headDim))
		sin[i], cos[i] = math.Sincos(float64(pos) * freq)
	}
}

// rotate applies the pair rotations of ropeTable to every head of x.
func rotate(x, cos, sin []float64) {
	hd := 2 * len(cos)
	for h := 0; h < len(x); h += hd {
		for i := range cos {
			a, b := x[h+2*i], x[h+2*i+1]
			x[h+2*i] = a*cos[i] - b*sin[i]
			x[h+2*i+1] = a*sin[i] + b*cos[i]
		}
	}
}
