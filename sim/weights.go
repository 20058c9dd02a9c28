package sim

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/params"
)

// folded is one weight matrix as the protocol uses it, in float64: norm
// gains, LayerNorm biases and the attention scale folded in (see the
// package documentation), and its bias (nil for none).
type folded struct {
	w    model.Matrix
	bias []float64
}

// fold returns the protocol's matrices of m: the key is (layer, Mat).
func fold(m *model.Model) map[Weight]folded {
	c, w := m.Config, m.Weights
	scale := 1 / math.Sqrt(float64(c.HeadDim()))
	hs := headsOf(c)
	qkvOf := func(wq, wk, wv model.Matrix) model.Matrix {
		return stack(hs.padRows(scaleRows(wq, scale), c.NumHeads), hs.padRows(wk, c.NumKVHeads), hs.padRows(wv, c.NumKVHeads))
	}
	out := map[Weight]folded{}
	for l := range w.Layers {
		ly := &w.Layers[l]
		switch c.Arch {
		case model.ArchLlama:
			out[Weight{l, MatQKV}] = folded{w: gainCols(qkvOf(ly.Wq, ly.Wk, ly.Wv), ly.AttnNorm)}
			out[Weight{l, MatOut}] = folded{w: hs.padCols(ly.Wo, c.NumHeads)}
			out[Weight{l, MatUp}] = folded{w: gainCols(stack(ly.W1, ly.W3), ly.FFNNorm)}
			out[Weight{l, MatDown}] = folded{w: ly.W2}
		case model.ArchGPT2:
			b := append(append(hs.padVec(scaleVec(ly.Bq, scale), c.NumHeads), hs.padVec(ly.Bk, c.NumKVHeads)...), hs.padVec(ly.Bv, c.NumKVHeads)...)
			out[Weight{l, MatQKV}] = foldNorm(qkvOf(ly.Wq, ly.Wk, ly.Wv), b, ly.LN1Gain, ly.LN1Bias)
			out[Weight{l, MatOut}] = folded{w: hs.padCols(ly.Wo, c.NumHeads), bias: ly.Bo}
			out[Weight{l, MatUp}] = foldNorm(ly.FC, ly.FCBias, ly.LN2Gain, ly.LN2Bias)
			out[Weight{l, MatDown}] = folded{w: ly.Proj, bias: ly.ProjBias}
		}
	}
	if c.Arch == model.ArchGPT2 {
		out[Weight{-1, MatClassifier}] = foldNorm(w.Classifier, make([]float64, c.VocabSize), w.FinalNorm, w.FinalNormBias)
	} else {
		out[Weight{-1, MatClassifier}] = folded{w: gainCols(w.Classifier, w.FinalNorm)}
	}
	return out
}

// foldNorm folds a LayerNorm's gain g and bias beta into the next layer
// W x + b: W·diag(g) and b + W·beta.
func foldNorm(w model.Matrix, b, g, beta []float64) folded {
	nb := make([]float64, w.Rows)
	model.MatVec(nb, w, beta)
	for i := range nb {
		nb[i] += b[i]
	}
	return folded{w: gainCols(w, g), bias: nb}
}

func stack(ms ...model.Matrix) model.Matrix {
	out := model.Matrix{Cols: ms[0].Cols}
	for _, m := range ms {
		out.Rows += m.Rows
		out.Data = append(out.Data, m.Data...)
	}
	return out
}

func scaleRows(m model.Matrix, s float64) model.Matrix {
	return model.Matrix{Rows: m.Rows, Cols: m.Cols, Data: scaleVec(m.Data, s)}
}

func scaleVec(v []float64, s float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x * s
	}
	return out
}

// gainCols is W·diag(g).
func gainCols(m model.Matrix, g []float64) model.Matrix {
	out := model.Matrix{Rows: m.Rows, Cols: m.Cols, Data: make([]float64, len(m.Data))}
	for i := 0; i < m.Rows; i++ {
		for j := 0; j < m.Cols; j++ {
			out.Data[i*m.Cols+j] = m.Data[i*m.Cols+j] * g[j]
		}
	}
	return out
}

// ropeRows returns the QKV matrix (and bias) with the rotary embedding of
// position pos applied to its query and key rows: rotating the output of
// W x by R is multiplying x by R·W. Padding rows (see heads) stay zero.
func ropeRows(f folded, c model.Config, pos int) folded {
	w := model.Matrix{Rows: f.w.Rows, Cols: f.w.Cols, Data: append([]float64(nil), f.w.Data...)}
	hs := headsOf(c)
	for r := 0; r < hs.q+hs.kv; r += 2 { // query and key rows
		if hs.isPad(r) {
			continue
		}
		i := (r % hs.stride) / 2
		freq := math.Pow(c.RopeTheta, -float64(2*i)/float64(hs.hd))
		sin, cos := math.Sincos(float64(pos) * freq)
		a, b := w.Row(r), w.Row(r+1)
		for j := range a {
			a[j], b[j] = a[j]*cos-b[j]*sin, a[j]*sin+b[j]*cos
		}
	}
	return folded{w: w, bias: f.bias}
}

// fixed is the fixed-point arithmetic modulo t of the run engine.
type fixed struct {
	fp params.FixedPoint
	t  uint64
}

// enc encodes x with k fractional bits: round(x·2^k) mod t, centered.
func (q fixed) enc(x float64, k int) (uint64, error) {
	v := math.Round(math.Ldexp(x, k))
	if math.IsNaN(v) || math.Abs(v) >= float64(q.t/4) {
		return 0, fmt.Errorf("sim: %g does not fit the fixed point (%d fractional bits, t of %d bits)", x, k, bits.Len64(q.t))
	}
	if v < 0 {
		return q.t - uint64(-v), nil
	}
	return uint64(v), nil
}

// dec decodes an element with f fractional bits.
func (q fixed) dec(a uint64) float64 { return q.fp.Decode(a) }

// decExtra decodes an element with f + extra fractional bits (an
// untruncated product's).
func (q fixed) decExtra(a uint64, extra int) float64 { return math.Ldexp(q.fp.Decode(a), -extra) }

func (q fixed) matrix(m model.Matrix) (exec.Matrix, error) {
	out := exec.Matrix{Rows: m.Rows, Cols: m.Cols, Data: make([]uint64, len(m.Data))}
	for i, x := range m.Data {
		v, err := q.enc(x, q.fp.FracBits)
		if err != nil {
			return exec.Matrix{}, err
		}
		out.Data[i] = v
	}
	return out, nil
}

func (q fixed) add(a, b uint64) uint64 {
	s := a + b
	if s >= q.t {
		s -= q.t
	}
	return s
}

func (q fixed) mul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return bits.Rem64(hi, lo, q.t)
}
