package mpc

import (
	"fmt"
	"math"
	"testing"

	"github.com/cgsim/cgsim/model"
)

// This file runs the stories260K reference forward with every non-linear
// step (RMSNorm, softmax, SiLU and the SwiGLU product, the final argmax)
// replaced by the protocols of this package on shares. The linear layers,
// which the HE side computes in cgsim, are done here by linearStandIn: a
// TEST-ONLY stand-in that reconstructs the shares, applies the layer in
// float64 and re-shares the result. It is not secure and exists only to
// measure the accuracy of the non-linear protocols end to end.

const storiesPath = "../../../shared/data/stories260K/stories260K.bin"

// nonlinear is the set of non-linear steps of a llama forward.
type nonlinear interface {
	rmsnorm(x []float64) ([]float64, error)                 // x / sqrt(mean x² + eps), no gain
	softmax(rows, cols int, x []float64) ([]float64, error) // row-wise
	swiglu(g, u []float64) ([]float64, error)               // SiLU(g) ⊙ u
	argmax(x []float64) (int, error)
}

// plainNL is the float64 reference; it records the ranges it sees.
type plainNL struct {
	eps                                                  float64
	scoreMin, scoreMax, siluMin, siluMax, varMin, varMax float64
}

func newPlainNL(eps float64) *plainNL {
	inf := math.Inf(1)
	return &plainNL{eps: eps, scoreMin: inf, scoreMax: -inf, siluMin: inf, siluMax: -inf, varMin: inf, varMax: -inf}
}

func (p *plainNL) rmsnorm(x []float64) ([]float64, error) {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	v := ss/float64(len(x)) + p.eps
	p.varMin, p.varMax = math.Min(p.varMin, v), math.Max(p.varMax, v)
	one := make([]float64, len(x))
	for i := range one {
		one[i] = 1
	}
	out := make([]float64, len(x))
	model.RMSNorm(out, x, one, p.eps)
	return out, nil
}

func (p *plainNL) softmax(rows, cols int, x []float64) ([]float64, error) {
	out := append([]float64(nil), x...)
	for i := range rows {
		row := out[i*cols : (i+1)*cols]
		mx := row[0]
		for _, v := range row {
			mx = math.Max(mx, v)
		}
		for _, v := range row {
			p.scoreMin, p.scoreMax = math.Min(p.scoreMin, v-mx), math.Max(p.scoreMax, v)
		}
		model.Softmax(row)
	}
	return out, nil
}

func (p *plainNL) swiglu(g, u []float64) ([]float64, error) {
	out := make([]float64, len(g))
	for i := range g {
		p.siluMin, p.siluMax = math.Min(p.siluMin, g[i]), math.Max(p.siluMax, g[i])
		out[i] = model.SiLU(g[i]) * u[i]
	}
	return out, nil
}

func (p *plainNL) argmax(x []float64) (int, error) { return model.Argmax(x), nil }

// secureNL runs the protocols. Values enter and leave as float64 only
// through linearStandIn's reveal and re-share.
type secureNL struct {
	cfg Config
	s   *Session
	eps float64
}

func (q *secureNL) reveal(p Pair) []float64 {
	v, err := q.cfg.Ring.Reveal(p)
	if err != nil {
		panic(err) // shares made by this file: a bug
	}
	return v
}

// linearStandIn re-shares a value computed in the clear (TEST ONLY).
func (q *secureNL) linearStandIn(v []float64) Pair {
	p, err := q.cfg.Ring.Split(v)
	if err != nil {
		panic(err)
	}
	return p
}

func (q *secureNL) rmsnorm(x []float64) ([]float64, error) {
	out, err := RMSNorm{Config: q.cfg, Rows: 1, Dim: len(x), Eps: q.eps}.Run(q.s, q.linearStandIn(x))
	if err != nil {
		return nil, err
	}
	return q.reveal(out), nil
}

func (q *secureNL) softmax(rows, cols int, x []float64) ([]float64, error) {
	out, err := Softmax{Config: q.cfg, Rows: rows, Cols: cols}.Run(q.s, q.linearStandIn(x))
	if err != nil {
		return nil, err
	}
	return q.reveal(out), nil
}

func (q *secureNL) swiglu(g, u []float64) ([]float64, error) {
	sg, err := SiLU{Config: q.cfg, N: len(g)}.Run(q.s, q.linearStandIn(g))
	if err != nil {
		return nil, err
	}
	out, err := Mul{Config: q.cfg, N: len(g), Fixed: true}.Run(q.s, sg, q.linearStandIn(u))
	if err != nil {
		return nil, err
	}
	return q.reveal(out), nil
}

func (q *secureNL) argmax(x []float64) (int, error) {
	return Argmax{Config: q.cfg, N: len(x)}.Run(q.s, q.linearStandIn(x))
}

// llamaRun is the llama forward of package model, with the non-linear
// steps delegated to nl and the norm gains folded into the next linear
// layer (W·diag(g)).
type llamaRun struct {
	m      *model.Model
	nl     nonlinear
	keys   [][]float64
	values [][]float64
	pos    int
}

func matVecGain(m model.Matrix, gain, x []float64) []float64 {
	xg := make([]float64, len(x))
	for i := range x {
		xg[i] = gain[i] * x[i]
	}
	out := make([]float64, m.Rows)
	model.MatVec(out, m, xg)
	return out
}

func (lr *llamaRun) forward(tok int) ([]float64, error) {
	c, w := lr.m.Config, lr.m.Weights
	if lr.keys == nil {
		lr.keys, lr.values = make([][]float64, c.NumLayers), make([][]float64, c.NumLayers)
	}
	hd, kvDim := c.HeadDim(), c.KVDim()
	x := append([]float64(nil), w.TokenEmbedding.Row(tok)...)
	for l := range w.Layers {
		ly := &w.Layers[l]
		xn, err := lr.nl.rmsnorm(x)
		if err != nil {
			return nil, err
		}
		q, k, v := matVecGain(ly.Wq, ly.AttnNorm, xn), matVecGain(ly.Wk, ly.AttnNorm, xn), matVecGain(ly.Wv, ly.AttnNorm, xn)
		model.ApplyRoPE(q, lr.pos, hd, c.RopeTheta)
		model.ApplyRoPE(k, lr.pos, hd, c.RopeTheta)
		lr.keys[l] = append(lr.keys[l], k...)
		lr.values[l] = append(lr.values[l], v...)
		n := lr.pos + 1
		scores := make([]float64, c.NumHeads*n)
		group := c.NumHeads / c.NumKVHeads
		for h := range c.NumHeads {
			off := (h / group) * hd
			for t := range n {
				var d float64
				for i := range hd {
					d += q[h*hd+i] * lr.keys[l][t*kvDim+off+i]
				}
				scores[h*n+t] = d / math.Sqrt(float64(hd))
			}
		}
		att, err := lr.nl.softmax(c.NumHeads, n, scores)
		if err != nil {
			return nil, err
		}
		ao := make([]float64, c.Dim)
		for h := range c.NumHeads {
			off := (h / group) * hd
			for t := range n {
				for i := range hd {
					ao[h*hd+i] += att[h*n+t] * lr.values[l][t*kvDim+off+i]
				}
			}
		}
		o := make([]float64, c.Dim)
		model.MatVec(o, ly.Wo, ao)
		for i := range x {
			x[i] += o[i]
		}
		xn, err = lr.nl.rmsnorm(x)
		if err != nil {
			return nil, err
		}
		g, u := matVecGain(ly.W1, ly.FFNNorm, xn), matVecGain(ly.W3, ly.FFNNorm, xn)
		hsw, err := lr.nl.swiglu(g, u)
		if err != nil {
			return nil, err
		}
		down := make([]float64, c.Dim)
		model.MatVec(down, ly.W2, hsw)
		for i := range x {
			x[i] += down[i]
		}
	}
	xn, err := lr.nl.rmsnorm(x)
	if err != nil {
		return nil, err
	}
	lr.pos++
	return matVecGain(w.Classifier, w.FinalNorm, xn), nil
}

// TestStories260KEndToEnd generates tokens greedily from BOS with the
// secure non-linear steps and compares every step's logits with the
// plaintext reference forward fed the same tokens.
func TestStories260KEndToEnd(t *testing.T) {
	m, err := model.LoadLlama2C(storiesPath)
	if err != nil {
		t.Fatalf("stories260K (the README says the tests need ../shared/data): %v", err)
	}
	steps := 16
	if testing.Short() {
		steps = 4
	}
	want, err := model.Generate(m, []int{1}, steps)
	if err != nil {
		t.Fatal(err)
	}
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		t.Run(fmt.Sprintf("t=%d-bit", cfg.Ring.Bits()), func(t *testing.T) {
			s := NewSession(cfg, TrustedDealer{})
			defer s.Close()
			sec := &llamaRun{m: m, nl: &secureNL{cfg: cfg, s: s, eps: m.Config.NormEps}}
			ref := m.NewState()
			tok, worst := 1, 0.0
			var got []int
			for step := range steps {
				logits, err := sec.forward(tok)
				if err != nil {
					t.Fatal(err)
				}
				refLogits, err := m.Forward(ref, tok)
				if err != nil {
					t.Fatal(err)
				}
				for i := range logits {
					worst = math.Max(worst, math.Abs(logits[i]-refLogits[i]))
				}
				next, err := sec.nl.argmax(logits)
				if err != nil {
					t.Fatal(err)
				}
				if next != model.Argmax(logits) {
					t.Errorf("step %d: secure argmax %d, argmax of the revealed logits %d", step, next, model.Argmax(logits))
				}
				got = append(got, next)
				tok = next
			}
			t.Logf("%d tokens: max |logit - reference| = %.4f; tokens %v (reference %v); cost %+v",
				steps, worst, got, want, s.Cost())
			if worst > 0.05 {
				t.Errorf("max logit error %.4f > 0.05", worst)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("token %d: %d, reference %d", i, got[i], want[i])
				}
			}
		})
	}
}

// TestStories260KRanges prints the ranges the non-linear steps see in the
// reference (the input ranges of the accuracy table).
func TestStories260KRanges(t *testing.T) {
	m, err := model.LoadLlama2C(storiesPath)
	if err != nil {
		t.Fatalf("stories260K (the README says the tests need ../shared/data): %v", err)
	}
	p := newPlainNL(m.Config.NormEps)
	lr := &llamaRun{m: m, nl: p}
	tok := 1
	lmin, lmax := math.Inf(1), math.Inf(-1)
	for range 64 {
		logits, err := lr.forward(tok)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range logits {
			lmin, lmax = math.Min(lmin, v), math.Max(lmax, v)
		}
		tok = model.Argmax(logits)
	}
	t.Logf("stories260K over 64 tokens: scores-max in [%.2f, 0], scores up to %.2f; SiLU inputs [%.2f, %.2f]; mean x²+eps [%.4g, %.4g]; logits [%.2f, %.2f]",
		p.scoreMin, p.scoreMax, p.siluMin, p.siluMax, p.varMin, p.varMax, lmin, lmax)
}
