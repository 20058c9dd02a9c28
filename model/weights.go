package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// Matrix is a dense row-major matrix: element (i, j) is Data[i*Cols+j]. Weight
// matrices are stored out x in, so y = W x has len(y) == Rows and
// len(x) == Cols. The zero Matrix is empty (a tensor that the architecture
// does not use).
//
// A Matrix is a gonum [mat.Matrix] and a [mat.RawMatrixer] whose raw form
// shares Data: gonum's routines (mat.VecDense.MulVec, mat.Dense.Mul, ...)
// take the weights as they are, without a copy, and [MatVec] is one of them.
type Matrix struct {
	Rows, Cols int
	Data       []float64
}

var (
	_ mat.Matrix      = Matrix{}
	_ mat.RawMatrixer = Matrix{}
)

// NewMatrix returns a zeroed rows x cols matrix.
func NewMatrix(rows, cols int) Matrix {
	return Matrix{Rows: rows, Cols: cols, Data: make([]float64, rows*cols)}
}

// At returns element (i, j). It panics if the indices are out of range.
func (m Matrix) At(i, j int) float64 {
	if i < 0 || i >= m.Rows || j < 0 || j >= m.Cols {
		panic(fmt.Sprintf("model: Matrix.At(%d, %d) out of range %dx%d", i, j, m.Rows, m.Cols))
	}
	return m.Data[i*m.Cols+j]
}

// Dims returns the number of rows and columns, as [mat.Matrix] asks.
func (m Matrix) Dims() (r, c int) { return m.Rows, m.Cols }

// T returns the transpose of m, a view that shares its data.
func (m Matrix) T() mat.Matrix { return mat.Transpose{Matrix: m} }

// RawMatrix returns m as a [blas64.General] that shares Data: a change to
// one is a change to the other.
func (m Matrix) RawMatrix() blas64.General {
	return blas64.General{Rows: m.Rows, Cols: m.Cols, Stride: m.Cols, Data: m.Data}
}

// Row returns row i as a slice that aliases Data. It panics if i is out of
// range.
func (m Matrix) Row(i int) []float64 {
	if i < 0 || i >= m.Rows {
		panic(fmt.Sprintf("model: Matrix.Row(%d) out of range %dx%d", i, m.Rows, m.Cols))
	}
	return m.Data[i*m.Cols : (i+1)*m.Cols : (i+1)*m.Cols]
}

// Layer holds the tensors of one Transformer block. Which fields are set
// depends on the architecture; the others are nil or empty.
//
// Llama: AttnNorm, Wq, Wk, Wv, Wo, FFNNorm, W1, W2, W3. Wq and Wo are
// Dim x Dim, Wk and Wv are KVDim x Dim, W1 and W3 are HiddenDim x Dim, W2 is
// Dim x HiddenDim. The feed-forward is W2 (SiLU(W1 x) * (W3 x)).
//
// GPT-2: LN1Gain, LN1Bias, Wq, Bq, Wk, Bk, Wv, Bv, Wo, Bo, LN2Gain, LN2Bias,
// FC, FCBias, Proj, ProjBias. Wq, Wk, Wv and Wo are Dim x Dim (the columns of
// GPT-2's fused c_attn split in three), FC is HiddenDim x Dim (up), Proj is
// Dim x HiddenDim (down). The feed-forward is Proj GELU(FC x + FCBias) +
// ProjBias.
type Layer struct {
	// Llama only.
	AttnNorm   []float64 // RMSNorm gain before attention, Dim
	FFNNorm    []float64 // RMSNorm gain before the feed-forward, Dim
	W1, W2, W3 Matrix    // SwiGLU gate (W1), down (W2) and up (W3)

	// Both architectures.
	Wq, Wk, Wv, Wo Matrix

	// GPT-2 only.
	LN1Gain, LN1Bias []float64 // LayerNorm before attention, Dim each
	Bq, Bk, Bv, Bo   []float64 // attention biases, Dim each
	LN2Gain, LN2Bias []float64 // LayerNorm before the feed-forward, Dim each
	FC               Matrix    // up projection, HiddenDim x Dim
	FCBias           []float64 // HiddenDim
	Proj             Matrix    // down projection, Dim x HiddenDim
	ProjBias         []float64 // Dim
}

// Weights holds every tensor of a model. All values are float64.
type Weights struct {
	// TokenEmbedding is VocabSize x Dim: row t is the embedding of token t.
	TokenEmbedding Matrix
	// PositionEmbedding is SeqLen x Dim, GPT-2 only: row p is added to the
	// token embedding at position p.
	PositionEmbedding Matrix

	Layers []Layer

	// FinalNorm is the gain of the last norm (RMSNorm for llama, LayerNorm
	// for gpt2); FinalNormBias is the LayerNorm bias, GPT-2 only.
	FinalNorm, FinalNormBias []float64

	// Classifier is VocabSize x Dim: logits = Classifier x. When the config
	// has SharedClassifier it is the same Matrix as TokenEmbedding (same
	// backing array).
	Classifier Matrix
}

// Model is a Config with its Weights. A Model is read-only once built: any
// number of goroutines may call [Model.Forward] concurrently, each with its
// own [State].
type Model struct {
	Config  Config
	Weights *Weights
}

// Validate checks the config and that every tensor the architecture uses has
// the shape the config implies. [Model.Forward] calls it, so a hand-built
// Model with a wrong shape gives an error instead of an index panic.
func (m *Model) Validate() error {
	if m == nil || m.Weights == nil {
		return fmt.Errorf("model: nil model or weights")
	}
	c := m.Config
	if err := c.Validate(); err != nil {
		return err
	}
	if err := m.checkShapes(); err != nil {
		return fmt.Errorf("model: %s: %w", c.Name, err)
	}
	return nil
}

func (m *Model) checkShapes() error {
	c, w := m.Config, m.Weights
	d, h, kv, v := c.Dim, c.HiddenDim, c.KVDim(), c.VocabSize
	mat := func(name string, x Matrix, rows, cols int) error {
		if x.Rows != rows || x.Cols != cols || len(x.Data) != rows*cols {
			return fmt.Errorf("%s is %dx%d (%d values), want %dx%d", name, x.Rows, x.Cols, len(x.Data), rows, cols)
		}
		return nil
	}
	vec := func(name string, x []float64, n int) error {
		if len(x) != n {
			return fmt.Errorf("%s has %d values, want %d", name, len(x), n)
		}
		return nil
	}
	errs := []error{
		mat("token embedding", w.TokenEmbedding, v, d),
		mat("classifier", w.Classifier, v, d),
		vec("final norm", w.FinalNorm, d),
	}
	if c.Arch == ArchGPT2 {
		errs = append(errs,
			mat("position embedding", w.PositionEmbedding, c.SeqLen, d),
			vec("final norm bias", w.FinalNormBias, d))
	}
	if len(w.Layers) != c.NumLayers {
		errs = append(errs, fmt.Errorf("%d layers of weights, config has %d", len(w.Layers), c.NumLayers))
	}
	for i, l := range w.Layers {
		p := func(s string) string { return fmt.Sprintf("layer %d %s", i, s) }
		switch c.Arch {
		case ArchLlama:
			errs = append(errs,
				vec(p("attention norm"), l.AttnNorm, d),
				mat(p("wq"), l.Wq, d, d), mat(p("wk"), l.Wk, kv, d),
				mat(p("wv"), l.Wv, kv, d), mat(p("wo"), l.Wo, d, d),
				vec(p("ffn norm"), l.FFNNorm, d),
				mat(p("w1"), l.W1, h, d), mat(p("w2"), l.W2, d, h), mat(p("w3"), l.W3, h, d))
		case ArchGPT2:
			errs = append(errs,
				vec(p("ln1 gain"), l.LN1Gain, d), vec(p("ln1 bias"), l.LN1Bias, d),
				mat(p("wq"), l.Wq, d, d), mat(p("wk"), l.Wk, d, d),
				mat(p("wv"), l.Wv, d, d), mat(p("wo"), l.Wo, d, d),
				vec(p("bq"), l.Bq, d), vec(p("bk"), l.Bk, d), vec(p("bv"), l.Bv, d), vec(p("bo"), l.Bo, d),
				vec(p("ln2 gain"), l.LN2Gain, d), vec(p("ln2 bias"), l.LN2Bias, d),
				mat(p("fc"), l.FC, h, d), vec(p("fc bias"), l.FCBias, h),
				mat(p("proj"), l.Proj, d, h), vec(p("proj bias"), l.ProjBias, d))
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// NewRandom returns a model of the given shape with deterministic
// pseudo-random weights: the same config and seed always give the same
// weights. The scale is plausible for a trained model, so activations stay of
// order one through many layers: matrices have entries of standard deviation
// 1/sqrt(in), embeddings 1/sqrt(Dim) (GPT-2 positions a tenth of that), norm
// gains 1 ± 0.1, biases 0.02.
//
// NewRandom allocates ParamCount float64 values (8 bytes each); for the large
// built-in configs, lower NumLayers first (for example the GPT-2 small shape
// with one layer is about 40M values, 320 MB). It panics if cfg.Validate
// fails: the config comes from code, not from a file, so call Validate first
// when it does not.
func NewRandom(cfg Config, seed int64) *Model {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x636773696d)) // second word: "cgsim" in ASCII
	normal := func(n int, std float64) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = std * rng.NormFloat64()
		}
		return x
	}
	gain := func(n int) []float64 {
		x := normal(n, 0.1)
		for i := range x {
			x[i]++
		}
		return x
	}
	matrix := func(rows, cols int) Matrix {
		return Matrix{Rows: rows, Cols: cols, Data: normal(rows*cols, 1/math.Sqrt(float64(cols)))}
	}
	const biasStd = 0.02

	c := cfg
	d, h, kv := c.Dim, c.HiddenDim, c.KVDim()
	w := &Weights{Layers: make([]Layer, c.NumLayers)}
	w.TokenEmbedding = Matrix{Rows: c.VocabSize, Cols: d, Data: normal(c.VocabSize*d, 1/math.Sqrt(float64(d)))}
	if c.Arch == ArchGPT2 {
		w.PositionEmbedding = Matrix{Rows: c.SeqLen, Cols: d, Data: normal(c.SeqLen*d, 0.1/math.Sqrt(float64(d)))}
	}
	for i := range w.Layers {
		l := &w.Layers[i]
		switch c.Arch {
		case ArchLlama:
			l.AttnNorm = gain(d)
			l.Wq, l.Wk, l.Wv, l.Wo = matrix(d, d), matrix(kv, d), matrix(kv, d), matrix(d, d)
			l.FFNNorm = gain(d)
			l.W1, l.W2, l.W3 = matrix(h, d), matrix(d, h), matrix(h, d)
		case ArchGPT2:
			l.LN1Gain, l.LN1Bias = gain(d), normal(d, biasStd)
			l.Wq, l.Wk, l.Wv, l.Wo = matrix(d, d), matrix(d, d), matrix(d, d), matrix(d, d)
			l.Bq, l.Bk, l.Bv, l.Bo = normal(d, biasStd), normal(d, biasStd), normal(d, biasStd), normal(d, biasStd)
			l.LN2Gain, l.LN2Bias = gain(d), normal(d, biasStd)
			l.FC, l.FCBias = matrix(h, d), normal(h, biasStd)
			l.Proj, l.ProjBias = matrix(d, h), normal(d, biasStd)
		}
	}
	w.FinalNorm = gain(d)
	if c.Arch == ArchGPT2 {
		w.FinalNormBias = normal(d, biasStd)
	}
	if c.SharedClassifier {
		w.Classifier = w.TokenEmbedding
	} else {
		w.Classifier = matrix(c.VocabSize, d)
	}
	return &Model{Config: c, Weights: w}
}
