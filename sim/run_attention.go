package sim

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/kv"
)

// The run engine's attention: the prefill kernels and the switch into the
// cache for a pass from position 0, the cache append and the decode
// kernels for one new token.

// Attention runs the attention of the rows of q against the layer's keys
// and values: a pass from position 0 (the prompt, or a Recompute step) runs
// the prefill kernels on the new keys and values and, with Cryptogen,
// builds the layer's cache in the decode layout (kv.FeatureCache.Switch,
// or kv.Cache.Switch with the token layout); one new token at position
// p > 0 is appended to the cache (kv.FeatureCache.Append; with the token
// layout kv.Cache.Append or AppendSource, with the policy's refreshes) and
// attends over the p+1 cached tokens with the decode kernels.
func (r *Runner) Attention(layer int, qv, kval, vv Value) (Value, error) {
	q, err := r.fixed("attention", qv)
	if err != nil {
		return nil, err
	}
	k, err := r.fixed("attention", kval)
	if err != nil {
		return nil, err
	}
	v, err := r.fixed("attention", vv)
	if err != nil {
		return nil, err
	}
	r.progress(layer)
	if layer < 0 || layer >= len(r.ctx) {
		return nil, fmt.Errorf("sim: attention of layer %d of %d", layer, len(r.ctx))
	}
	c := r.m.Config
	if q.pos != r.ctx[layer] {
		return nil, fmt.Errorf("sim: attention of layer %d: queries at position %d, the cache holds %d tokens", layer, q.pos, r.ctx[layer])
	}
	m := q.rows
	ctx := q.pos + m
	if ctx > c.SeqLen {
		return nil, fmt.Errorf("sim: context of %d tokens exceeds the model's %d", ctx, c.SeqLen)
	}
	if hs := headsOf(c); q.cols != hs.q || k.rows != m || v.rows != m || k.cols != hs.kv || v.cols != hs.kv {
		return nil, fmt.Errorf("sim: attention of %dx%d queries with %dx%d keys and %dx%d values", q.rows, q.cols, k.rows, k.cols, v.rows, v.cols)
	}
	var out *shares
	switch {
	case q.pos == 0:
		out, err = r.prefillAttention(layer, q, k, v)
	case m == 1 && (r.cache != nil || r.fcache != nil):
		out, err = r.decodeAttention(layer, q, k, v)
	case r.fcache != nil:
		out, err = r.passAttention(layer, q, k, v)
	default:
		err = fmt.Errorf("sim: attention of %d new tokens at position %d: only a pass from position 0 or, with the cache, one token (several with the feature-major cache)", m, q.pos)
	}
	if err != nil {
		return nil, err
	}
	r.ctx[layer] = ctx
	return out, nil
}

// flat concatenates slot vectors.
func flat(vecs ...[][]uint64) []uint64 {
	var out []uint64
	for _, vs := range vecs {
		for _, v := range vs {
			out = append(out, v...)
		}
	}
	return out
}

// prefillAttention is the attention of the m tokens of a pass from
// position 0 (see Attention).
func (r *Runner) prefillAttention(layer int, q, k, v *shares) (*shares, error) {
	st, err := r.plan.prefillAttnStep(q.rows)
	if err != nil {
		return nil, err
	}
	out, sw, err := st.Run(r, q, k, v)
	if err != nil {
		return nil, err
	}
	if r.fcache != nil {
		err = r.timed(KindAppend, func(cc *cost.Cost) error {
			return r.heRun(cc, func(t *cost.Tally) error {
				return r.fcache.Switch(r.he, t, layer, exec.Shared{C: k.c, S: k.s}, exec.Shared{C: v.c, S: v.s})
			})
		})
		if err != nil {
			return nil, err
		}
	}
	if r.cache != nil {
		pp := st.pp
		P := pp.kvLayout.Cts()
		err = r.timed(KindAppend, func(cc *cost.Cost) error {
			return r.heRun(cc, func(t *cost.Tally) error {
				return r.cache.Switch(r.he, t, layer, &kv.Prefill{Layout: pp.kvLayout, K: sw[:P], V: sw[P:],
					KS: k.s, VS: v.s, Level: pp.switchLevel, Bits: pp.switchBits})
			})
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeAttention is the attention of one new token at position p > 0
// over the cache (see Attention).
//
// The feature-major append is the client's uploads alone, and the scores
// kernel's first flight is the client's upload of its query: the
// append's flight rides it (appendRides).
func (r *Runner) decodeAttention(layer int, q, k, v *shares) (*shares, error) {
	ctx := q.pos + 1
	cfg := r.plan.kv
	err := r.timed(KindAppend, func(cc *cost.Cost) error {
		ks, vs := exec.Shared{C: k.c, S: k.s}, exec.Shared{C: v.c, S: v.s}
		if r.fcache != nil {
			var ac cost.Cost
			err := r.heRun(&ac, func(t *cost.Tally) error { return r.fcache.Append(r.he, t, layer, ks, vs) })
			*cc = cc.Add(appendRides(ac))
			return err
		}
		return r.heRun(cc, func(t *cost.Tally) error {
			if cfg.Method == kv.Homomorphic {
				src, err := kv.NewSource(r.he, t, cfg, ks, vs)
				if err != nil {
					return err
				}
				return r.cache.AppendSource(r.he, t, layer, src)
			}
			return r.cache.Append(r.he, t, layer, ks, vs)
		})
	})
	if err != nil {
		return nil, err
	}
	st, err := r.plan.decodeAttnStep(ctx)
	if err != nil {
		return nil, err
	}
	return st.Run(r, layer, q)
}

// passAttention is the attention of m > 1 new tokens at position p > 0
// over the feature-major cache (see Attention): the m tokens appended at
// once, each group they touch encrypted once (client uploads only: one
// flight, which rides the queries'), then passAttnStep: the queries'
// kernels, in one round each, around one causal softmax of all of them.
func (r *Runner) passAttention(layer int, q, k, v *shares) (*shares, error) {
	err := r.timed(KindAppend, func(cc *cost.Cost) error {
		var ac cost.Cost
		err := r.heRun(&ac, func(t *cost.Tally) error {
			return r.fcache.AppendRows(r.he, t, layer, exec.Shared{C: k.c, S: k.s}, exec.Shared{C: v.c, S: v.s})
		})
		*cc = cc.Add(appendRides(ac))
		return err
	})
	if err != nil {
		return nil, err
	}
	st, err := r.plan.passAttnStep(q.rows, q.pos+q.rows)
	if err != nil {
		return nil, err
	}
	return st.Run(r, layer, q)
}

// row is row i of x, at its position.
func (x *shares) row(i int) *shares {
	return &shares{rows: 1, cols: x.cols, pos: x.pos + i, scale: x.scale,
		c: x.c[i*x.cols : (i+1)*x.cols], s: x.s[i*x.cols : (i+1)*x.cols]}
}

// appendRides is the cost c of a feature-major append (the client's
// uploads of the token's groups, one flight with no reply) riding the
// flight of the scores kernel's upload that follows it: its bytes, no
// round of its own. An append that the server answered (bytes to the
// client) keeps its rounds.
func appendRides(c cost.Cost) cost.Cost {
	if c.BytesS2C == 0 {
		c.Rounds = 0
	}
	return c
}
