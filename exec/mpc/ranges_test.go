package mpc

import (
	"math"
	"testing"

	"github.com/cgsim/cgsim/model"
)

// span is a running [min, max].
type span struct{ lo, hi float64 }

func newSpan() span { return span{math.Inf(1), math.Inf(-1)} }

func (s *span) see(v float64) { s.lo, s.hi = math.Min(s.lo, v), math.Max(s.hi, v) }

// gpt2Ranges are the inputs the non-linear layers of a GPT-2 forward see:
// the variance (plus eps) of every LayerNorm row, the GELU inputs, the
// softmax inputs and the softmax inputs minus their row maximum.
type gpt2Ranges struct{ variance, gelu, scores, shifted span }

// gpt2Forward is model's GPT-2 forward written out with the ranges
// recorded; it returns the final hidden state (before the classifier).
func gpt2Forward(m *model.Model, st *model.State, tok int, rg *gpt2Ranges) []float64 {
	c, w := m.Config, m.Weights
	d, hd := c.Dim, c.HeadDim()
	ln := func(x, g, b []float64) []float64 {
		var mu, v float64
		for _, a := range x {
			mu += a
		}
		mu /= float64(d)
		for _, a := range x {
			v += (a - mu) * (a - mu)
		}
		rg.variance.see(v/float64(d) + c.NormEps)
		out := make([]float64, d)
		model.LayerNorm(out, x, g, b, c.NormEps)
		return out
	}
	lin := func(mat model.Matrix, bias, x []float64) []float64 {
		out := make([]float64, mat.Rows)
		model.MatVec(out, mat, x)
		for i := range out {
			out[i] += bias[i]
		}
		return out
	}
	x := append([]float64(nil), w.TokenEmbedding.Row(tok)...)
	for i, v := range w.PositionEmbedding.Row(st.Pos) {
		x[i] += v
	}
	for l := range w.Layers {
		ly := &w.Layers[l]
		xn := ln(x, ly.LN1Gain, ly.LN1Bias)
		q, k, v := lin(ly.Wq, ly.Bq, xn), lin(ly.Wk, ly.Bk, xn), lin(ly.Wv, ly.Bv, xn)
		st.Key[l] = append(st.Key[l], k...)
		st.Value[l] = append(st.Value[l], v...)
		n := st.Pos + 1
		att := make([]float64, d)
		for h := range c.NumHeads {
			sc := make([]float64, n)
			mx := math.Inf(-1)
			for t := range n {
				var s float64
				for i := range hd {
					s += q[h*hd+i] * st.Key[l][t*d+h*hd+i]
				}
				sc[t] = s / math.Sqrt(float64(hd))
				mx = math.Max(mx, sc[t])
				rg.scores.see(sc[t])
			}
			for _, s := range sc {
				rg.shifted.see(s - mx)
			}
			model.Softmax(sc)
			for t := range n {
				for i := range hd {
					att[h*hd+i] += sc[t] * st.Value[l][t*d+h*hd+i]
				}
			}
		}
		o := lin(ly.Wo, ly.Bo, att)
		for i := range x {
			x[i] += o[i]
		}
		xn = ln(x, ly.LN2Gain, ly.LN2Bias)
		hid := lin(ly.FC, ly.FCBias, xn)
		for i, a := range hid {
			rg.gelu.see(a)
			hid[i] = model.GELU(a)
		}
		down := lin(ly.Proj, ly.ProjBias, hid)
		for i := range x {
			x[i] += down[i]
		}
	}
	return ln(x, w.FinalNorm, w.FinalNormBias)
}

// TestGPT2Ranges runs a GPT-2-shaped random model (gpt2's width, heads
// and feed-forward, 2 layers; the vocabulary cut to 512 tokens, which
// changes no range of the layers, to keep the embedding table small) over
// 32 tokens, checks the recorded forward against model.Forward, and checks
// that the protocols' assumptions cover the ranges seen: every input in
// the preset's fixed-point range (-2^IntBits, 2^IntBits), the softmax
// inputs minus their maximum above -2^(IntBits+1) (the bound the exp
// conversion assumes), and the LayerNorm variances inside the default
// octave range of the norms. The ranges go into the accuracy table of the
// package documentation.
func TestGPT2Ranges(t *testing.T) {
	cfg, err := model.ConfigByName("gpt2")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NumLayers, cfg.VocabSize = 2, 512
	m := model.NewRandom(cfg, 1)
	tokens := 32
	if testing.Short() {
		tokens = 8
	}
	var rg gpt2Ranges
	rg.variance, rg.gelu, rg.scores, rg.shifted = newSpan(), newSpan(), newSpan(), newSpan()
	st, ref := m.NewState(), m.NewState()
	tok := 0
	for range tokens {
		h := gpt2Forward(m, st, tok, &rg)
		st.Pos++
		want, err := m.Forward(ref, tok)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float64, cfg.VocabSize)
		model.MatVec(got, m.Weights.Classifier, h)
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-9 {
				t.Fatalf("recorded forward differs from model.Forward: logit %d %v vs %v", i, got[i], want[i])
			}
		}
		tok = model.Argmax(want)
	}
	t.Logf("GPT-2 shape, 2 random layers, %d tokens: LayerNorm var+eps [%.4g, %.4g]; GELU inputs [%.2f, %.2f]; softmax inputs [%.2f, %.2f], minus row max down to %.2f",
		tokens, rg.variance.lo, rg.variance.hi, rg.gelu.lo, rg.gelu.hi, rg.scores.lo, rg.scores.hi, rg.shifted.lo)
	for _, preset := range testPresets {
		c := testConfig(t, preset)
		r := c.Ring
		lim := math.Ldexp(1, r.fp.IntBits)
		for _, sp := range []struct {
			name string
			s    span
		}{{"GELU inputs", rg.gelu}, {"softmax inputs", rg.scores}} {
			if sp.s.lo <= -lim || sp.s.hi >= lim {
				t.Errorf("%s: %s [%g, %g] leave the fixed-point range ±2^%d", preset, sp.name, sp.s.lo, sp.s.hi, r.fp.IntBits)
			}
		}
		if rg.shifted.lo <= -2*lim {
			t.Errorf("%s: softmax inputs minus max reach %g, below -2^%d", preset, rg.shifted.lo, r.fp.IntBits+1)
		}
		lo, hi := normRange(c, 0, 0)
		if rg.variance.lo < math.Ldexp(1, lo) || rg.variance.hi >= math.Ldexp(1, hi) {
			t.Errorf("%s: LayerNorm variances [%g, %g] leave the default range [2^%d, 2^%d)", preset, rg.variance.lo, rg.variance.hi, lo, hi)
		}
	}
}
