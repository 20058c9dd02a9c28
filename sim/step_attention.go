package sim

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/exec/mpc"
)

// kindCost is the part of a step recorded under one kind.
type kindCost struct {
	kind Kind
	cost cost.Cost
}

// prefillAttnStep is the attention of a pass of m tokens from position 0
// (the prompt, and every step of Recompute), in one layer: the client's
// upload of its shares of the keys and values in the prefill layout (and,
// with the token-major cache, in kv's switch layout for the switch), the
// score kernel with the truncation of the causal scores, the causal
// softmax of every head, the value kernel with its truncation. Building
// the layer's cache from its keys and values (kv.FeatureCache.Switch,
// kv.Cache.Switch) is the cache's own step.
type prefillAttnStep struct {
	pp                       *prefillPlan
	heads                    int
	scoresTrunc, valuesTrunc truncStep
	softmax                  unaryStep
	switchUp                 bool // upload for the switch too (the strategy keeps a token-major cache)
}

func (p *planner) prefillAttnStep(m int) (prefillAttnStep, error) {
	pp, err := p.prefill(m)
	if err != nil {
		return prefillAttnStep{}, err
	}
	h := p.cfg.NumHeads
	return prefillAttnStep{pp: pp, heads: h, scoresTrunc: p.scoresTrunc(h * visible(m, m)),
		valuesTrunc: p.valuesTrunc(h * m * headsOf(p.cfg).stride), softmax: p.softmaxStep(h*m, m, h), switchUp: p.keepsCache && p.layout == TokenLayout}, nil
}

// Estimate is the upload (KindAppend), the kernels with their truncations
// (KindAttention) and the softmax (KindSoftmax).
func (s prefillAttnStep) Estimate() []kindCost {
	var up cost.Cost
	for _, cv := range s.pp.upload {
		up = up.Add(cv.Estimate())
	}
	if s.switchUp {
		up = up.Add(s.pp.switchUp.Estimate())
	}
	kernels := cost.Sum(s.pp.scores.Estimate(), s.scoresTrunc.Estimate(), s.pp.values.Estimate(), s.valuesTrunc.Estimate())
	return []kindCost{{KindAppend, up}, {KindAttention, kernels}, {KindSoftmax, s.softmax.Estimate()}}
}

// Run is the attention of q over k and v (m tokens each). It returns the
// attention output and, with the cache, the client's ciphertexts of the
// keys and values in kv's switch layout for the switch.
func (s prefillAttnStep) Run(r *Runner, q, k, v *shares) (*shares, []*rlwe.Ciphertext, error) {
	pp, m, h := s.pp, s.pp.m, s.heads
	var keys, vals, sw []*rlwe.Ciphertext
	err := r.timed(KindAppend, func(cc *cost.Cost) error {
		return r.heRun(cc, func(t *cost.Tally) error {
			kvecs, vvecs := pp.scores.Layout.Vectors(k.c), pp.values.Layout.Vectors(v.c)
			groups := [][]uint64{flat(kvecs, vvecs)}
			if len(pp.upload) == 2 {
				groups = [][]uint64{flat(kvecs), flat(vvecs)}
			}
			var cts []*rlwe.Ciphertext
			for i, conv := range pp.upload {
				got, err := conv.Run(r.he, t, exec.Shared{C: groups[i], S: make([]uint64, len(groups[i]))})
				if err != nil {
					return err
				}
				cts = append(cts, got...)
			}
			keys, vals = cts[:len(kvecs)], cts[len(kvecs):]
			if s.switchUp {
				x := flat(pp.kvLayout.Vectors(k.c), pp.kvLayout.Vectors(v.c))
				var err error
				if sw, err = pp.switchUp.Run(r.he, t, exec.Shared{C: x, S: make([]uint64, len(x))}); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, nil, err
	}
	var probs mpc.Pair
	err = r.timed(KindAttention, func(cc *cost.Cost) error {
		var sc exec.Shared
		if err := r.heRun(cc, func(t *cost.Tally) error {
			var err error
			sc, err = pp.scores.Run(r.he, t, keys, k.s, exec.Shared{C: q.c, S: q.s})
			return err
		}); err != nil {
			return err
		}
		// Truncate the causal scores (head hh, query i, key j <= i at
		// (hh·m + i)·m + j); the causal softmax never reads the masked
		// ones and outputs 0 for them.
		vis := visible(m, m)
		vc, vs := make([]uint64, 0, h*vis), make([]uint64, 0, h*vis)
		for row := 0; row < h*m; row++ {
			i := row % m
			vc = append(vc, sc.C[row*m:row*m+i+1]...)
			vs = append(vs, sc.S[row*m:row*m+i+1]...)
		}
		if err := s.scoresTrunc.Run(r, cc, vc, vs); err != nil {
			return err
		}
		off := 0
		for row := 0; row < h*m; row++ {
			i := row % m
			copy(sc.C[row*m:], vc[off:off+i+1])
			copy(sc.S[row*m:], vs[off:off+i+1])
			off += i + 1
		}
		probs = r.pair(sc.C, sc.S)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if probs, err = s.softmax.Run(r, probs); err != nil {
		return nil, nil, err
	}
	out := &shares{rows: m, cols: headsOf(r.m.Config).q, pos: 0}
	err = r.timed(KindAttention, func(cc *cost.Cost) error {
		var o exec.Shared
		if err := r.heRun(cc, func(t *cost.Tally) error {
			var err error
			o, err = pp.values.Run(r.he, t, vals, v.s, exec.Shared{C: probs[mpc.Client].V, S: probs[mpc.Server].V})
			return err
		}); err != nil {
			return err
		}
		out.c, out.s = o.C, o.S // m x Heads x stride
		return s.valuesTrunc.Run(r, cc, out.c, out.s)
	})
	return out, sw, err
}

// decodeAttnStep is the attention of one new token over a cache of ctx
// tokens, in one layer: the score kernel over the cache with the scores'
// truncation, the softmax of every head, the value kernel with its
// truncation (CryptoGen's decode kernels). Appending the token to the
// cache (and its refreshes) is the cache's own step.
//
// With the feature layout the kernels are fscores and fvalues (scores and
// values are nil), over kv.FeatureCache.
type decodeAttnStep struct {
	scores                   *exec.DecodeScores
	values                   *exec.DecodeValues
	fscores                  *exec.FeatureScores
	fvalues                  *exec.FeatureValues
	scoresTrunc, valuesTrunc truncStep
	softmax                  unaryStep
}

func (p *planner) decodeAttnStep(ctx int) (decodeAttnStep, error) {
	h := p.cfg.NumHeads
	st := decodeAttnStep{scoresTrunc: p.scoresTrunc(h * ctx), valuesTrunc: p.valuesTrunc(h * headsOf(p.cfg).stride), softmax: p.softmaxStep(h, ctx, 0)}
	if p.layout == TokenLayout {
		st.scores, st.values = p.scoresKernel(ctx), p.valuesKernel(ctx)
		return st, nil
	}
	var err error
	if st.fscores, err = p.fscores.WithContext(ctx); err == nil {
		st.fscores, err = st.fscores.WithPublic(p.public())
	}
	if err == nil {
		st.fvalues, err = p.fvalues.WithContext(ctx)
	}
	if err == nil {
		st.fvalues, err = st.fvalues.WithPublic(p.public())
	}
	return st, err
}

// Estimate is the kernels with their truncations (KindAttention) and the
// softmax (KindSoftmax).
func (s decodeAttnStep) Estimate() []kindCost {
	var sc, vk cost.Cost
	if s.scores != nil {
		sc, vk = s.scores.Estimate(), s.values.Estimate()
	} else {
		sc, vk = s.fscores.Estimate(), s.fvalues.Estimate()
	}
	kernels := cost.Sum(sc, s.scoresTrunc.Estimate(), vk, s.valuesTrunc.Estimate())
	return []kindCost{{KindAttention, kernels}, {KindSoftmax, s.softmax.Estimate()}}
}

// runScores runs the scores kernel over the layer's cache.
func (s decodeAttnStep) runScores(r *Runner, t *cost.Tally, layer int, q exec.Shared) (exec.Shared, error) {
	if s.scores != nil {
		cts, kS, err := r.cache.KernelInputs(t, layer, 0)
		if err != nil {
			return exec.Shared{}, err
		}
		return s.scores.Run(r.he, t, cts, kS, q)
	}
	in, err := r.fcache.KernelInputs(layer, 0)
	if err != nil {
		return exec.Shared{}, err
	}
	return s.fscores.Run(r.he, t, in.Cts, in.Public, in.C, in.S, q)
}

// runValues runs the values kernel over the layer's cache.
func (s decodeAttnStep) runValues(r *Runner, t *cost.Tally, layer int, p exec.Shared) (exec.Shared, error) {
	if s.values != nil {
		cts, vS, err := r.cache.KernelInputs(t, layer, 1)
		if err != nil {
			return exec.Shared{}, err
		}
		return s.values.Run(r.he, t, cts, vS, p)
	}
	in, err := r.fcache.KernelInputs(layer, 1)
	if err != nil {
		return exec.Shared{}, err
	}
	return s.fvalues.Run(r.he, t, in.Cts, in.Public, in.C, in.S, p)
}

// Run is the attention of the query q over the layer's cache.
func (s decodeAttnStep) Run(r *Runner, layer int, q *shares) (*shares, error) {
	var probs mpc.Pair
	err := r.timed(KindAttention, func(cc *cost.Cost) error {
		var sc exec.Shared
		if err := r.heRun(cc, func(t *cost.Tally) error {
			var err error
			sc, err = s.runScores(r, t, layer, exec.Shared{C: q.c, S: q.s})
			return err
		}); err != nil {
			return err
		}
		if err := s.scoresTrunc.Run(r, cc, sc.C, sc.S); err != nil {
			return err
		}
		probs = r.pair(sc.C, sc.S)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if probs, err = s.softmax.Run(r, probs); err != nil {
		return nil, err
	}
	out := &shares{rows: 1, cols: headsOf(r.m.Config).q, pos: q.pos}
	err = r.timed(KindAttention, func(cc *cost.Cost) error {
		var o exec.Shared
		if err := r.heRun(cc, func(t *cost.Tally) error {
			var err error
			o, err = s.runValues(r, t, layer, exec.Shared{C: probs[mpc.Client].V, S: probs[mpc.Server].V})
			return err
		}); err != nil {
			return err
		}
		out.c, out.s = o.C, o.S
		return s.valuesTrunc.Run(r, cc, out.c, out.s)
	})
	return out, err
}

// passAttnStep is the attention of m > 1 new tokens at positions pos to
// end - 1 (end = pos + m) over the feature-major cache once all m are
// appended, in one layer: the m queries' score kernels over the end
// tokens in one round (exec.FeatureScores.RunQueries) with one
// truncation, one causal softmax of the m queries of every head (query
// i's row covers the pos + i + 1 keys up to itself: the others'
// probabilities are zero), the m queries' value kernels in one round with
// one truncation. A pass's attention takes the rounds of one token's.
type passAttnStep struct {
	kern                     decodeAttnStep // the kernels at end tokens
	scoresTrunc, valuesTrunc truncStep      // of the m queries' results
	softmax                  unaryStep
	m, end                   int
}

func (p *planner) passAttnStep(m, end int) (passAttnStep, error) {
	kern, err := p.decodeAttnStep(end)
	if err == nil && kern.fscores == nil {
		err = fmt.Errorf("sim: internal error: a pass of %d tokens over the token-major cache", m)
	}
	h := p.cfg.NumHeads
	return passAttnStep{kern: kern, scoresTrunc: p.scoresTrunc(m * h * end), valuesTrunc: p.valuesTrunc(m * h * headsOf(p.cfg).stride),
		softmax: p.softmaxStep(h*m, end, h), m: m, end: end}, err
}

// Estimate is the m queries' kernels with their truncations
// (KindAttention) and the softmax (KindSoftmax).
func (s passAttnStep) Estimate() []kindCost {
	k := cost.Sum(s.kern.fscores.EstimateQueries(s.m), s.scoresTrunc.Estimate(), s.kern.fvalues.EstimateQueries(s.m), s.valuesTrunc.Estimate())
	return []kindCost{{KindAttention, k}, {KindSoftmax, s.softmax.Estimate()}}
}

// Run is the attention of the m rows of q over the layer's cache, which
// holds their keys and values already.
func (s passAttnStep) Run(r *Runner, layer int, q *shares) (*shares, error) {
	h, m, end := r.m.Config.NumHeads, s.m, s.end
	x := [2][]uint64{make([]uint64, h*m*end), make([]uint64, h*m*end)}
	err := r.timed(KindAttention, func(cc *cost.Cost) error {
		qs := make([]exec.Shared, m)
		for i := range qs {
			row := q.row(i)
			qs[i] = exec.Shared{C: row.c, S: row.s}
		}
		var sc []exec.Shared
		if err := r.heRun(cc, func(t *cost.Tally) error {
			in, err := r.fcache.KernelInputs(layer, 0)
			if err == nil {
				sc, err = s.kern.fscores.RunQueries(r.he, t, in.Cts, in.Public, in.C, in.S, qs)
			}
			return err
		}); err != nil {
			return err
		}
		for i := range m {
			for hd := range h { // row (head, query) of the causal softmax
				copy(x[0][(hd*m+i)*end:(hd*m+i+1)*end], sc[i].C[hd*end:(hd+1)*end])
				copy(x[1][(hd*m+i)*end:(hd*m+i+1)*end], sc[i].S[hd*end:(hd+1)*end])
			}
		}
		return s.scoresTrunc.Run(r, cc, x[0], x[1])
	})
	if err != nil {
		return nil, err
	}
	probs, err := s.softmax.Run(r, r.pair(x[0], x[1]))
	if err != nil {
		return nil, err
	}
	ps := make([]exec.Shared, m)
	for i := range m {
		p := exec.Shared{C: make([]uint64, h*end), S: make([]uint64, h*end)}
		for hd := range h {
			copy(p.C[hd*end:(hd+1)*end], probs[mpc.Client].V[(hd*m+i)*end:(hd*m+i+1)*end])
			copy(p.S[hd*end:(hd+1)*end], probs[mpc.Server].V[(hd*m+i)*end:(hd*m+i+1)*end])
		}
		ps[i] = p
	}
	out := &shares{rows: m, cols: headsOf(r.m.Config).q, pos: q.pos}
	err = r.timed(KindAttention, func(cc *cost.Cost) error {
		var o []exec.Shared
		if err := r.heRun(cc, func(t *cost.Tally) error {
			in, err := r.fcache.KernelInputs(layer, 1)
			if err == nil {
				o, err = s.kern.fvalues.RunQueries(r.he, t, in.Cts, in.Public, in.C, in.S, ps)
			}
			return err
		}); err != nil {
			return err
		}
		for _, oi := range o {
			out.c, out.s = append(out.c, oi.C...), append(out.s, oi.S...)
		}
		return s.valuesTrunc.Run(r, cc, out.c, out.s)
	})
	return out, err
}
