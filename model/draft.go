package model

import (
	"fmt"
	"math"
)

// Drafts and speculative decoding, in plaintext: the reference of the
// secure speculative strategy (POST). A draft is a public model with the
// target's tokenizer that proposes tokens cheaply; the target verifies
// them, and greedy verification keeps exactly the target's greedy tokens.

// DraftOptions say how [Derive] makes a draft from a model.
type DraftOptions struct {
	// Layers keeps the first Layers blocks (0: all of them); the final
	// norm and the classifier stay.
	Layers int
	// Bits quantizes every matrix to Bits bits per weight, symmetrically
	// per row (a row's scale is its largest magnitude over 2^(Bits-1) - 1);
	// 0 keeps the weights. From 2 to 16.
	Bits int
}

// Derive returns a draft of m: its first o.Layers blocks, the final norm
// and the classifier, every matrix quantized to o.Bits bits. The draft has
// m's vocabulary, context and widths, so it reads the same tokens; it
// shares no memory with m.
func Derive(m *Model, o DraftOptions) (*Model, error) {
	if m == nil {
		return nil, fmt.Errorf("model: derive: nil model")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	c := m.Config
	switch {
	case o.Layers < 0 || o.Layers > c.NumLayers:
		return nil, fmt.Errorf("model: %s: derive: %d layers, want 0 (all) to %d", c.Name, o.Layers, c.NumLayers)
	case o.Bits != 0 && (o.Bits < 2 || o.Bits > 16):
		return nil, fmt.Errorf("model: %s: derive: %d bits, want 0 (unquantized) or 2 to 16", c.Name, o.Bits)
	}
	if o.Layers > 0 {
		c.NumLayers = o.Layers
	}
	c.Name = fmt.Sprintf("%s-draft-%dL", m.Config.Name, c.NumLayers)
	if o.Bits > 0 {
		c.Name += fmt.Sprintf("-q%d", o.Bits)
	}
	q := func(x Matrix) Matrix { return quantize(x, o.Bits) }
	w := m.Weights
	d := &Weights{
		TokenEmbedding: q(w.TokenEmbedding), PositionEmbedding: q(w.PositionEmbedding),
		FinalNorm: clone(w.FinalNorm), FinalNormBias: clone(w.FinalNormBias),
	}
	d.Classifier = d.TokenEmbedding
	if !c.SharedClassifier {
		d.Classifier = q(w.Classifier)
	}
	for _, l := range w.Layers[:c.NumLayers] {
		d.Layers = append(d.Layers, Layer{
			AttnNorm: clone(l.AttnNorm), FFNNorm: clone(l.FFNNorm),
			W1: q(l.W1), W2: q(l.W2), W3: q(l.W3),
			Wq: q(l.Wq), Wk: q(l.Wk), Wv: q(l.Wv), Wo: q(l.Wo),
			LN1Gain: clone(l.LN1Gain), LN1Bias: clone(l.LN1Bias),
			Bq: clone(l.Bq), Bk: clone(l.Bk), Bv: clone(l.Bv), Bo: clone(l.Bo),
			LN2Gain: clone(l.LN2Gain), LN2Bias: clone(l.LN2Bias),
			FC: q(l.FC), FCBias: clone(l.FCBias), Proj: q(l.Proj), ProjBias: clone(l.ProjBias),
		})
	}
	out := &Model{Config: c, Weights: d}
	return out, out.Validate()
}

// quantize returns a copy of x with every row rounded to bits bits
// symmetrically (bits 0: an exact copy).
func quantize(x Matrix, bits int) Matrix {
	out := Matrix{Rows: x.Rows, Cols: x.Cols, Data: clone(x.Data)}
	if bits == 0 || x.Cols == 0 {
		return out
	}
	top := float64(int(1)<<(bits-1) - 1)
	for i := range x.Rows {
		row := out.Data[i*x.Cols : (i+1)*x.Cols]
		big := 0.0
		for _, v := range row {
			big = math.Max(big, math.Abs(v))
		}
		if big == 0 {
			continue
		}
		step := big / top
		for j, v := range row {
			row[j] = math.Round(v/step) * step
		}
	}
	return out
}

// clone copies a slice (nil stays nil).
func clone(x []float64) []float64 {
	if x == nil {
		return nil
	}
	return append([]float64(nil), x...)
}

// SpecStats counts a speculative decoding: verification passes, draft
// tokens proposed and accepted, the passes that rejected a proposal, and
// the accepted count of each pass. Margin, when sampled, is the least
// distance of a pass's decision from its boundary: |p(x) - r·q(x)| of
// each acceptance test, and min(u·W - c_(j-1), c_j - u·W)/W of each draw
// of j by InverseCDF (prefix sums c of weights summing to W); how near a
// tie the coins came. A secure run, whose probabilities carry the fixed
// point's error, decides as the reference does when that error stays
// below the margin. 0 when greedy.
type SpecStats struct {
	Passes, Proposed, Accepted, Rejected int
	PerPass                              []int
	Margin                               float64
}

// Acceptance is the probability that a proposal is accepted when the ones
// before it were, estimated as accepted / (accepted + rejected): the
// maximum-likelihood rate of the model in which each proposal is accepted
// independently with that probability until the first rejection (the
// rate `cgsim estimate --acceptance` takes). 0 with no proposal.
func (s SpecStats) Acceptance() float64 {
	if s.Accepted+s.Rejected == 0 {
		return 0
	}
	return float64(s.Accepted) / float64(s.Accepted+s.Rejected)
}

// Kept is the fraction of the proposals accepted (0 with none).
func (s SpecStats) Kept() float64 {
	if s.Proposed == 0 {
		return 0
	}
	return float64(s.Accepted) / float64(s.Proposed)
}

// Add counts a pass of k proposals of which a were accepted.
func (s *SpecStats) Add(k, a int) {
	s.Passes++
	s.Proposed += k
	s.Accepted += a
	if a < k {
		s.Rejected++
	}
	s.PerPass = append(s.PerPass, a)
}

// TokensPerPass is the tokens a verification pass yields on average: the
// accepted ones plus the target's own.
func (s SpecStats) TokensPerPass() float64 {
	if s.Passes == 0 {
		return 0
	}
	return float64(s.Accepted+s.Passes) / float64(s.Passes)
}
