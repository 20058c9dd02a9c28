package sim

import (
	"fmt"
	"slices"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/net"
)

// The weights the server encodes once, at setup: every one-token linear
// layer's plaintext diagonals (exec.Linear.EncodeWeights), so that a
// decode step encodes nothing but a llama QKV, whose one-token weights
// carry the rotary embedding of the token's position (applying it to the
// shares instead would cost a truncation round per layer). Passes of
// several tokens (a prefill, a Recompute step) are planned for their
// length and encode their diagonals per call, once per pass.

// EncodedWeights is what the server encoded at setup: the number of linear
// layers (embedding slices included), the memory of their diagonals and
// the cost of encoding them (estimated, or measured by a run), which is
// not part of a report's Total.
type EncodedWeights struct {
	Layers int       `json:"layers"`
	Bytes  int64     `json:"bytes"`
	Cost   cost.Cost `json:"cost"`
}

// encodedWeight is one linear layer whose weights the server encodes at
// setup: a weight matrix (chunk -1) or a slice of the token embedding.
type encodedWeight struct {
	w     Weight
	chunk int
	lin   *exec.Linear
}

// generationPasses is def.passes of a generation whose prompt starts with
// a public prefix of public tokens (0: none): its private part is then a
// pass over the cache, not from position 0.
func generationPasses(def strategy, prompt, public, gen, gamma int) (fromZero, overCache []int) {
	fromZero, overCache = def.passes(prompt, gen, gamma)
	if public > 0 {
		fromZero, overCache = nil, append(overCache, prompt-public)
	}
	return fromZero, overCache
}

// oneTokenPasses is whether a generation runs one-token passes: decode
// steps over the cache, or a prompt (or a private part after a public
// prefix) of one token.
func oneTokenPasses(def strategy, prompt, public, gen, gamma int) bool {
	fromZero, overCache := generationPasses(def, prompt, public, gen, gamma)
	return slices.Contains(overCache, 1) || slices.Contains(fromZero, 1)
}

// encodedWeights lists the linear layers the server encodes at setup: the
// classifier (it always sees one row) and, with oneToken passes, the
// embedding's slices and every layer's matrices but a llama QKV.
func (p *planner) encodedWeights(oneToken bool) ([]encodedWeight, error) {
	var out []encodedWeight
	if oneToken {
		chunks, err := p.embedChunks(1)
		if err != nil {
			return nil, err
		}
		for i, ch := range chunks {
			out = append(out, encodedWeight{chunk: i, lin: ch.lin})
		}
		for l := 0; l < p.cfg.NumLayers; l++ {
			for _, m := range []Mat{MatQKV, MatOut, MatUp, MatDown} {
				if p.ropeFolded(m) {
					continue
				}
				st, err := p.linearStep(m, 1)
				if err != nil {
					return nil, err
				}
				out = append(out, encodedWeight{w: Weight{l, m}, chunk: -1, lin: st.lin})
			}
		}
	}
	st, err := p.linearStep(MatClassifier, 1)
	if err != nil {
		return nil, err
	}
	return append(out, encodedWeight{w: Weight{-1, MatClassifier}, chunk: -1, lin: st.lin}), nil
}

// estimateWeights is the estimate of encoding ws, priced on nw.
func estimateWeights(ws []encodedWeight, nw net.Network) EncodedWeights {
	e := EncodedWeights{Layers: len(ws)}
	for _, w := range ws {
		e.Bytes += w.lin.WeightsBytes()
		e.Cost = e.Cost.Add(w.lin.WeightsCost())
	}
	e.Cost = nw.Price(e.Cost)
	return e
}

// encodeWeights encodes ws on the server: the quantized matrices (wq) and
// the embedding's slices (embT), recording the counters and the CPU time.
func (r *Runner) encodeWeights(ws []encodedWeight) error {
	r.lw = map[Weight]*exec.LinearWeights{}
	r.embW = make([]*exec.LinearWeights, len(r.embT))
	t := cost.NewTally(r.plan.prof)
	cpu := cost.CPUSeconds()
	for _, w := range ws {
		var err error
		if w.chunk >= 0 {
			if w.chunk >= len(r.embT) {
				return fmt.Errorf("sim: internal error: embedding slice %d of %d", w.chunk, len(r.embT))
			}
			r.embW[w.chunk], err = w.lin.EncodeWeights(r.he.Server, t, r.embT[w.chunk])
		} else {
			wm, ok := r.wq[w.w]
			if !ok {
				return fmt.Errorf("sim: internal error: no quantized %v of layer %d to encode", w.w.Mat, w.w.Layer)
			}
			r.lw[w.w], err = w.lin.EncodeWeights(r.he.Server, t, wm)
		}
		if err != nil {
			return fmt.Errorf("sim: encoding %v of layer %d: %w", w.w.Mat, w.w.Layer, err)
		}
	}
	c := t.Cost()
	c.ComputeSeconds = cost.CPUSeconds() - cpu
	r.weights = EncodedWeights{Layers: len(ws), Cost: r.net.Price(c)}
	for _, lw := range r.lw {
		r.weights.Bytes += lw.Bytes()
	}
	for _, lw := range r.embW {
		if lw != nil {
			r.weights.Bytes += lw.Bytes()
		}
	}
	return nil
}
