package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/kv"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
)

// shares is the run engine's Value: a Rows x Cols matrix (row-major)
// additively shared modulo t, c the client's share and s the server's.
type shares struct {
	rows, cols, pos int
	c, s            []uint64
}

func (x *shares) Rows() int { return x.rows }
func (x *shares) Cols() int { return x.cols }
func (x *shares) Pos() int  { return x.pos }

func (x *shares) exec() exec.Shared { return exec.Shared{C: x.c, S: x.s} }

func (r *Runner) pair(c, s []uint64) mpc.Pair {
	return mpc.Pair{{Mod: r.q.t, V: c}, {Mod: r.q.t, V: s}}
}

// RunOptions configures the run engine.
type RunOptions struct {
	Model   *model.Model
	Preset  params.Preset
	Profile *cost.Profile // nil: the preset's embedded profile
	Network net.Network   // prices the communication (the transport is in-process)
	// Strategy, PromptTokens and Gen say which generation the engine will
	// run: the session's rotation keys are generated for exactly the
	// linear layers it needs.
	Strategy     Strategy
	PromptTokens int
	Gen          int
	// Cache configures the encrypted KV cache (Cryptogen).
	Cache CacheOptions
	// MaxSessionTokens, if not zero, declares a session that may go on
	// until it holds that many tokens (see EstimateOptions).
	MaxSessionTokens int
	// RevealLogits, if not nil, is a TEST-ONLY reveal of the logits to the
	// client: before each argmax the engine opens the shared logits and
	// passes them, decoded, to it. It is not part of the protocol and not
	// recorded in the costs.
	RevealLogits func(logits []float64)
	// OnProgress, if not nil, is called as the run goes: before the key
	// exchange, and as each pass (the prefill, a decode step) reaches the
	// attention of each layer. It is for a progress display and changes
	// nothing else.
	OnProgress func(Progress)
}

// Runner is the run engine: its values are real additive shares modulo
// the preset's plaintext prime, its linear layers and attention kernels
// run on lattigo ciphertexts between an exec.Client and an exec.Server,
// its non-linear layers are the two-party protocols of package mpc with a
// trusted dealer, and every byte between the parties is metered. It
// records, per phase and kind, the counters of the primitives it runs and
// the measured wall time as compute seconds (network seconds are priced on
// Options.Network). A Runner is not safe for concurrent use; Close it.
type Runner struct {
	recorder
	plan   *planner
	net    net.Network
	m      *model.Model
	q      fixed
	he     *exec.Session
	mp     *mpc.Session
	w      map[Weight]folded
	wq     map[Weight]exec.Matrix // quantized, for every weight but the llama QKV in decode
	embT   []exec.Matrix          // E^T slices, as the planner's embedding chunks
	cache  *kv.Cache              // Cryptogen: the encrypted KV cache
	ctx    []int                  // tokens per layer (cached, or processed by the current pass)
	reveal func([]float64)
	// onProgress is RunOptions.OnProgress.
	onProgress func(Progress)
	setup      cost.Cost
	// security is the session's budget: every returned ciphertext is
	// flooded for security.FloodBits.
	security Security
}

var _ Engine = (*Runner)(nil)

// NewRunner prepares the run engine: folds and quantizes the weights,
// plans the primitives the generation will use and creates the two
// parties (key exchange included, recorded as Setup).
func NewRunner(opts RunOptions) (*Runner, error) {
	m := opts.Model
	if m == nil {
		return nil, fmt.Errorf("sim: run: no model")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if opts.Strategy == "" {
		opts.Strategy = Cryptogen
	}
	if opts.PromptTokens < 1 || opts.Gen < 1 {
		return nil, fmt.Errorf("sim: run: a prompt of %d tokens and %d to generate", opts.PromptTokens, opts.Gen)
	}
	decl, err := declare(sessionDecl{model: m.Config, preset: opts.Preset, prof: opts.Profile, strat: opts.Strategy, cache: opts.Cache,
		prompt: opts.PromptTokens, gen: opts.Gen}, opts.MaxSessionTokens)
	if err != nil {
		return nil, err
	}
	p, _, sec, err := planSession(decl, opts.Network)
	if err != nil {
		return nil, err
	}
	c := m.Config
	r := &Runner{plan: p, security: sec, net: opts.Network, m: m, q: fixed{fp: opts.Preset.FixedPoint, t: opts.Preset.FixedPoint.T},
		w: fold(m), wq: map[Weight]exec.Matrix{}, ctx: make([]int, c.NumLayers), reveal: opts.RevealLogits, onProgress: opts.OnProgress}
	if r.q.t != p.params.PlaintextModulus() {
		return nil, fmt.Errorf("sim: preset %s: fixed-point modulus differs from the plaintext modulus", opts.Preset.Name)
	}
	for k, f := range r.w {
		if k.Mat == MatQKV && c.Arch == model.ArchLlama {
			continue // quantized per use: RoPE is folded in for one token
		}
		if r.wq[k], err = r.q.matrix(f.w); err != nil {
			return nil, fmt.Errorf("sim: %v of layer %d: %w", k.Mat, k.Layer, err)
		}
	}
	// The primitives of the generation, for the rotation keys.
	rowsUsed := []int{opts.PromptTokens}
	var prims []exec.Primitive
	switch opts.Strategy {
	case Cryptogen:
		if opts.Gen > 1 {
			rowsUsed = append(rowsUsed, 1)
			prims = append(prims, p.scores, p.values)
		}
	case Recompute:
		for i := 1; i < opts.Gen; i++ {
			rowsUsed = append(rowsUsed, opts.PromptTokens+i)
		}
	}
	for i, rows := range rowsUsed {
		if rows < 1 {
			return nil, fmt.Errorf("sim: run: a prompt of %d tokens", opts.PromptTokens)
		}
		if i == 0 || opts.Strategy == Recompute {
			pp, err := p.prefill(rows)
			if err != nil {
				return nil, err
			}
			prims = append(prims, pp.scores, pp.values)
		}
		chunks, err := p.embedChunks(rows)
		if err != nil {
			return nil, err
		}
		for _, ch := range chunks {
			prims = append(prims, ch.lin)
		}
		for _, mat := range []Mat{MatQKV, MatOut, MatUp, MatDown} {
			out, in := p.matShape(mat)
			l, err := p.linear(out, in, rows)
			if err != nil {
				return nil, err
			}
			prims = append(prims, l)
		}
	}
	out, in := p.matShape(MatClassifier)
	cl, err := p.linear(out, in, 1)
	if err != nil {
		return nil, err
	}
	prims = append(prims, cl)
	chunks, err := p.embedChunks(1)
	if err != nil {
		return nil, err
	}
	et, err := r.q.matrix(m.Weights.TokenEmbedding)
	if err != nil {
		return nil, fmt.Errorf("sim: token embedding: %w", err)
	}
	for _, ch := range chunks {
		r.embT = append(r.embT, exec.Matrix{Rows: ch.hi - ch.lo, Cols: c.Dim, Data: et.Data[ch.lo*c.Dim : ch.hi*c.Dim]}.Transpose())
	}
	// One transport for the whole run: the HE primitives (and the cache's
	// appends, refreshes and switches, which run on the same exec session)
	// and the mpc protocols take turns on one metered pipe. Every primitive
	// brackets its own traffic with the meter's Begin/Since, so the costs
	// recorded per primitive are what they were on separate pipes.
	cc, sc, meter, closePipe := net.Pipe()
	if r.onProgress != nil {
		r.onProgress(Progress{Stage: StageKeyExchange})
	}
	if r.he, err = exec.NewSessionConns(p.params, cc, sc, meter, closePipe, prims...); err != nil {
		closePipe()
		return nil, err
	}
	if opts.Strategy == Cryptogen {
		if r.cache, err = kv.NewCache(p.kv); err != nil {
			r.he.Close()
			return nil, err
		}
	}
	r.setup = r.he.Setup
	r.mp = mpc.NewSessionConns(p.mpc, mpc.TrustedDealer{}, cc, sc, meter, closePipe)
	return r, nil
}

// Setup is the communication of the key exchange.
func (r *Runner) Setup() cost.Cost { return r.net.Price(r.setup) }

// Close ends both sessions and their common transport.
func (r *Runner) Close() {
	r.he.Close()
	r.mp.Close()
}

// timed runs f, which records its counters into c, and records c with the
// measured wall time as compute seconds under kind k. The dealer's work
// that a two-party protocol does inline (c.OfflineSeconds, measured by the
// mpc session) is offline cost, not online compute: it is taken out.
func (r *Runner) timed(k Kind, f func(c *cost.Cost) error) error {
	var c cost.Cost
	start := time.Now()
	err := f(&c)
	c.ComputeSeconds = time.Since(start).Seconds() - c.OfflineSeconds
	r.record(k, r.net.Price(c))
	return err
}

// heRun runs an exec primitive with a fresh tally and adds its counters to c.
func (r *Runner) heRun(c *cost.Cost, f func(t *cost.Tally) error) error {
	t := cost.NewTally(r.plan.prof)
	err := f(t)
	*c = c.Add(t.Cost())
	return err
}

// mpcRun runs a 2PC protocol and adds what the session recorded to c.
func (r *Runner) mpcRun(c *cost.Cost, f func() error) error {
	before := r.mp.Cost()
	err := f()
	*c = c.Add(r.mp.Cost().Add(before.Scale(-1)))
	return err
}

// trunc truncates x (both shares) in place.
func (r *Runner) trunc(c *cost.Cost, xc, xs []uint64) error {
	return r.mpcRun(c, func() error {
		y, err := r.plan.trunc(len(xc)).Run(r.mp, r.pair(xc, xs))
		if err == nil {
			copy(xc, y[mpc.Client].V)
			copy(xs, y[mpc.Server].V)
		}
		return err
	})
}

func (r *Runner) asShares(v Value) (*shares, error) {
	x, ok := v.(*shares)
	if !ok {
		return nil, fmt.Errorf("sim: run engine given a %T value", v)
	}
	return x, nil
}

// Reset drops every layer's cache.
func (r *Runner) Reset() error {
	clear(r.ctx)
	if r.cache != nil {
		c, err := kv.NewCache(r.plan.kv)
		if err != nil {
			return err
		}
		r.cache = c
	}
	return nil
}

// Embed looks the tokens up: the client's share of the input is their
// one-hot rows, the server's is zero (and, for GPT-2, the server adds the
// position embeddings to its share of the result).
func (r *Runner) Embed(tokens []int, pos int) (Value, error) {
	c := r.m.Config
	rows := len(tokens)
	for _, t := range tokens {
		if t < 0 || t >= c.VocabSize {
			return nil, fmt.Errorf("sim: token %d outside the vocabulary of %d", t, c.VocabSize)
		}
	}
	chunks, err := r.plan.embedChunks(rows)
	if err != nil {
		return nil, err
	}
	x := &shares{rows: rows, cols: c.Dim, pos: pos, c: make([]uint64, rows*c.Dim), s: make([]uint64, rows*c.Dim)}
	err = r.timed(KindEmbedding, func(cc *cost.Cost) error {
		for i, ch := range chunks {
			w := ch.hi - ch.lo
			in := exec.Shared{C: make([]uint64, rows*w), S: make([]uint64, rows*w)}
			for j, t := range tokens {
				if t >= ch.lo && t < ch.hi {
					in.C[j*w+t-ch.lo] = 1
				}
			}
			var y exec.Shared
			if err := r.heRun(cc, func(t *cost.Tally) error {
				var err error
				y, err = ch.lin.Run(r.he, t, r.embT[i], in)
				return err
			}); err != nil {
				return err
			}
			for j := range x.c {
				x.c[j] = r.q.add(x.c[j], y.C[j])
				x.s[j] = r.q.add(x.s[j], y.S[j])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if c.Arch == model.ArchGPT2 {
		for i := range rows {
			for j, v := range r.m.Weights.PositionEmbedding.Row(pos + i) {
				e, err := r.q.enc(v, r.q.fp.FracBits)
				if err != nil {
					return nil, err
				}
				x.s[i*c.Dim+j] = r.q.add(x.s[i*c.Dim+j], e)
			}
		}
	}
	return x, nil
}

// Norm runs RMSNorm or LayerNorm on shares.
func (r *Runner) Norm(v Value) (Value, error) {
	x, err := r.asShares(v)
	if err != nil {
		return nil, err
	}
	return r.unary(KindNorm, r.plan.norm(x.rows), x)
}

// Linear runs the HE linear layer, adds the bias to the server's share,
// truncates, and for a llama QKV applies RoPE (folded into the weights
// for one token, on the shares with a second truncation for more).
func (r *Runner) Linear(w Weight, v Value) (Value, error) {
	x, err := r.asShares(v)
	if err != nil {
		return nil, err
	}
	out, in := r.plan.matShape(w.Mat)
	if x.cols != in {
		return nil, fmt.Errorf("sim: %v of layer %d takes %d columns, given %d", w.Mat, w.Layer, in, x.cols)
	}
	f, ok := r.w[w]
	if !ok {
		return nil, fmt.Errorf("sim: no weight %v for layer %d", w.Mat, w.Layer)
	}
	lin, err := r.plan.linear(out, in, x.rows)
	if err != nil {
		return nil, err
	}
	c := r.m.Config
	var wm exec.Matrix
	if w.Mat == MatQKV && c.Arch == model.ArchLlama {
		if x.rows == 1 {
			f = ropeRows(f, c, x.pos)
		}
		if wm, err = r.q.matrix(f.w); err != nil {
			return nil, err
		}
	} else {
		wm = r.wq[w]
	}
	var bias []uint64
	for _, b := range f.bias {
		e, err := r.q.enc(b, 2*r.q.fp.FracBits)
		if err != nil {
			return nil, err
		}
		bias = append(bias, e)
	}
	kind := KindLinear
	y := &shares{rows: x.rows, cols: out, pos: x.pos}
	err = r.timed(kind, func(cc *cost.Cost) error {
		var z exec.Shared
		if err := r.heRun(cc, func(t *cost.Tally) error {
			var err error
			z, err = lin.Run(r.he, t, wm, x.exec())
			return err
		}); err != nil {
			return err
		}
		y.c, y.s = z.C, z.S
		if bias != nil {
			for i := range y.s {
				y.s[i] = r.q.add(y.s[i], bias[i%out])
			}
		}
		if err := r.trunc(cc, y.c, y.s); err != nil {
			return err
		}
		if r.plan.ropeOnShares(w.Mat, x.rows) {
			return r.ropeShares(cc, y)
		}
		return nil
	})
	return y, err
}

// ropeShares rotates the query and key columns of each row of y by its
// position: each party multiplies its share by the public cos and sin in
// fixed point, then one truncation of the rotated columns.
func (r *Runner) ropeShares(cc *cost.Cost, y *shares) error {
	c := r.m.Config
	hs := headsOf(c)
	n := hs.q + hs.kv // query and key columns
	f := r.q.fp.FracBits
	var rc, rs []uint64
	for i := range y.rows {
		row := i * y.cols
		for j := 0; j < n; j += 2 {
			if hs.isPad(j) {
				continue
			}
			k := (j % hs.stride) / 2
			freq := math.Pow(c.RopeTheta, -float64(2*k)/float64(hs.hd))
			sin, cos := math.Sincos(float64(y.pos+i) * freq)
			ec, err := r.q.enc(cos, f)
			if err != nil {
				return err
			}
			es, err := r.q.enc(sin, f)
			if err != nil {
				return err
			}
			ns := r.q.t - es // -sin
			for _, sh := range [][]uint64{y.c, y.s} {
				a, b := sh[row+j], sh[row+j+1]
				sh[row+j] = r.q.add(r.q.mul(a, ec), r.q.mul(b, ns))
				sh[row+j+1] = r.q.add(r.q.mul(a, es), r.q.mul(b, ec))
			}
		}
		rc = append(rc, y.c[row:row+n]...)
		rs = append(rs, y.s[row:row+n]...)
	}
	if err := r.trunc(cc, rc, rs); err != nil {
		return err
	}
	for i := range y.rows {
		copy(y.c[i*y.cols:], rc[i*n:(i+1)*n])
		copy(y.s[i*y.cols:], rs[i*n:(i+1)*n])
	}
	return nil
}

// Attention runs the attention of the rows of q against the layer's keys
// and values: a pass from position 0 (the prompt, or a Recompute step) runs
// the prefill kernels on the new keys and values and, with Cryptogen,
// builds the layer's cache in the decode layout (kv.Cache.Switch); one new
// token at position p > 0 is appended to the cache (kv.Cache.Append or
// AppendSource, with the policy's refreshes) and attends over the p+1
// cached tokens with the decode kernels.
func (r *Runner) Attention(layer int, qv, kval, vv Value) (Value, error) {
	q, err := r.asShares(qv)
	if err != nil {
		return nil, err
	}
	k, err := r.asShares(kval)
	if err != nil {
		return nil, err
	}
	v, err := r.asShares(vv)
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
	case m == 1 && r.cache != nil:
		out, err = r.decodeAttention(layer, q, k, v)
	default:
		err = fmt.Errorf("sim: attention of %d new tokens at position %d: only a pass from position 0 or, with the cache, one token", m, q.pos)
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
	c := r.m.Config
	m := q.rows
	h := c.NumHeads
	pp, err := r.plan.prefill(m)
	if err != nil {
		return nil, err
	}
	// The client's upload of its shares of the keys and values in the
	// prefill layout (and, with Cryptogen, in kv's prefill layout for the
	// switch); the server's shares enter the kernels in the clear.
	var keys, vals, sw []*rlwe.Ciphertext
	err = r.timed(KindAppend, func(cc *cost.Cost) error {
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
			if r.cache != nil {
				x := flat(pp.kvLayout.Vectors(k.c), pp.kvLayout.Vectors(v.c))
				if sw, err = pp.switchUp.Run(r.he, t, exec.Shared{C: x, S: make([]uint64, len(x))}); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
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
		if err := r.trunc(cc, vc, vs); err != nil {
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
		return nil, err
	}
	if probs, err = r.softmax(h*m, m, h, probs); err != nil {
		return nil, err
	}
	out := &shares{rows: m, cols: headsOf(c).q, pos: 0}
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
		return r.trunc(cc, out.c, out.s)
	})
	if err != nil {
		return nil, err
	}
	if r.cache != nil {
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
func (r *Runner) decodeAttention(layer int, q, k, v *shares) (*shares, error) {
	c := r.m.Config
	h := c.NumHeads
	ctx := q.pos + 1
	cfg := r.plan.kv
	err := r.timed(KindAppend, func(cc *cost.Cost) error {
		return r.heRun(cc, func(t *cost.Tally) error {
			ks, vs := exec.Shared{C: k.c, S: k.s}, exec.Shared{C: v.c, S: v.s}
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
	var probs mpc.Pair
	err = r.timed(KindAttention, func(cc *cost.Cost) error {
		var sc exec.Shared
		if err := r.heRun(cc, func(t *cost.Tally) error {
			cts, kS, err := r.cache.KernelInputs(t, layer, 0)
			if err != nil {
				return err
			}
			sc, err = r.plan.scoresKernel(ctx).Run(r.he, t, cts, kS, exec.Shared{C: q.c, S: q.s})
			return err
		}); err != nil {
			return err
		}
		if err := r.trunc(cc, sc.C, sc.S); err != nil {
			return err
		}
		probs = r.pair(sc.C, sc.S)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if probs, err = r.softmax(h, ctx, 0, probs); err != nil {
		return nil, err
	}
	out := &shares{rows: 1, cols: headsOf(c).q, pos: q.pos}
	err = r.timed(KindAttention, func(cc *cost.Cost) error {
		var o exec.Shared
		if err := r.heRun(cc, func(t *cost.Tally) error {
			cts, vS, err := r.cache.KernelInputs(t, layer, 1)
			if err != nil {
				return err
			}
			o, err = r.plan.valuesKernel(ctx).Run(r.he, t, cts, vS, exec.Shared{C: probs[mpc.Client].V, S: probs[mpc.Server].V})
			return err
		}); err != nil {
			return err
		}
		out.c, out.s = o.C, o.S
		return r.trunc(cc, out.c, out.s)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// softmax runs the softmax of rows rows of cols entries.
func (r *Runner) softmax(rows, cols, causalHeads int, x mpc.Pair) (mpc.Pair, error) {
	var y mpc.Pair
	err := r.timed(KindSoftmax, func(cc *cost.Cost) error {
		return r.mpcRun(cc, func() error {
			var err error
			y, err = r.plan.softmax(rows, cols, causalHeads).Run(r.mp, x)
			return err
		})
	})
	return y, err
}

// Activation runs SiLU or GELU on shares.
func (r *Runner) Activation(v Value) (Value, error) {
	x, err := r.asShares(v)
	if err != nil {
		return nil, err
	}
	return r.unary(KindActivation, r.plan.activation(x.rows*x.cols), x)
}

// unaryProtocol is a two-party protocol on one shared input (the norms and
// the activations).
type unaryProtocol interface {
	Run(s *mpc.Session, x mpc.Pair) (mpc.Pair, error)
}

// unary runs proto on x's shares under kind k.
func (r *Runner) unary(k Kind, proto mpc.Protocol, x *shares) (Value, error) {
	pr, ok := proto.(unaryProtocol)
	if !ok {
		return nil, fmt.Errorf("sim: %v: %T is not a protocol of one input", k, proto)
	}
	y := &shares{rows: x.rows, cols: x.cols, pos: x.pos}
	err := r.timed(k, func(c *cost.Cost) error {
		return r.mpcRun(c, func() error {
			out, err := pr.Run(r.mp, r.pair(x.c, x.s))
			y.c, y.s = out[mpc.Client].V, out[mpc.Server].V
			return err
		})
	})
	return y, err
}

// Mul runs the Beaver product with truncation.
func (r *Runner) Mul(av, bv Value) (Value, error) {
	a, err := r.asShares(av)
	if err != nil {
		return nil, err
	}
	b, err := r.asShares(bv)
	if err != nil {
		return nil, err
	}
	if a.rows != b.rows || a.cols != b.cols {
		return nil, fmt.Errorf("sim: product of %dx%d and %dx%d", a.rows, a.cols, b.rows, b.cols)
	}
	y := &shares{rows: a.rows, cols: a.cols, pos: a.pos}
	err = r.timed(KindMul, func(c *cost.Cost) error {
		return r.mpcRun(c, func() error {
			out, err := r.plan.mul(a.rows*a.cols).Run(r.mp, r.pair(a.c, a.s), r.pair(b.c, b.s))
			y.c, y.s = out[mpc.Client].V, out[mpc.Server].V
			return err
		})
	})
	return y, err
}

// Add adds the shares locally.
func (r *Runner) Add(av, bv Value) (Value, error) {
	a, err := r.asShares(av)
	if err != nil {
		return nil, err
	}
	b, err := r.asShares(bv)
	if err != nil {
		return nil, err
	}
	if a.rows != b.rows || a.cols != b.cols || a.pos != b.pos {
		return nil, fmt.Errorf("sim: sum of %dx%d at %d and %dx%d at %d", a.rows, a.cols, a.pos, b.rows, b.cols, b.pos)
	}
	y := &shares{rows: a.rows, cols: a.cols, pos: a.pos, c: make([]uint64, len(a.c)), s: make([]uint64, len(a.s))}
	for i := range y.c {
		y.c[i] = r.q.add(a.c[i], b.c[i])
		y.s[i] = r.q.add(a.s[i], b.s[i])
	}
	return y, nil
}

// Split cuts the columns locally.
func (r *Runner) Split(v Value, widths ...int) ([]Value, error) {
	x, err := r.asShares(v)
	if err != nil {
		return nil, err
	}
	if err := checkWidths(x.cols, widths); err != nil {
		return nil, err
	}
	out := make([]Value, len(widths))
	off := 0
	for i, w := range widths {
		y := &shares{rows: x.rows, cols: w, pos: x.pos}
		for row := range x.rows {
			y.c = append(y.c, x.c[row*x.cols+off:row*x.cols+off+w]...)
			y.s = append(y.s, x.s[row*x.cols+off:row*x.cols+off+w]...)
		}
		out[i] = y
		off += w
	}
	return out, nil
}

// Last keeps the last row.
func (r *Runner) Last(v Value) (Value, error) {
	x, err := r.asShares(v)
	if err != nil {
		return nil, err
	}
	lo := (x.rows - 1) * x.cols
	return &shares{rows: 1, cols: x.cols, pos: x.pos + x.rows - 1, c: x.c[lo:], s: x.s[lo:]}, nil
}

// Argmax runs the argmax protocol; only the client learns the result.
func (r *Runner) Argmax(v Value) (int, error) {
	x, err := r.asShares(v)
	if err != nil {
		return 0, err
	}
	if x.rows != 1 {
		return 0, fmt.Errorf("sim: argmax of %d rows, want one", x.rows)
	}
	if r.reveal != nil { // TEST-ONLY: see RunOptions.RevealLogits
		logits := make([]float64, x.cols)
		for i := range logits {
			logits[i] = r.q.dec(r.q.add(x.c[i], x.s[i]))
		}
		r.reveal(logits)
	}
	var tok int
	err = r.timed(KindArgmax, func(c *cost.Cost) error {
		return r.mpcRun(c, func() error {
			var err error
			tok, err = r.plan.argmax(x.cols).Run(r.mp, r.pair(x.c, x.s))
			return err
		})
	})
	return tok, err
}

// Run generates opts.Gen tokens after prompt with the run engine and
// reports the tokens and the costs. With check, it also runs the plaintext
// reference (model.Forward) on the same tokens and reports the largest
// |logit - reference logit| over every step, through the TEST-ONLY logit
// reveal of RunOptions.RevealLogits.
func Run(opts RunOptions, prompt []int, check bool, onStep func(Step)) (*Report, error) {
	opts.PromptTokens = len(prompt)
	if opts.Strategy == "" {
		opts.Strategy = Cryptogen
	}
	if opts.Model == nil {
		return nil, fmt.Errorf("sim: run: no model")
	}
	c := opts.Model.Config
	if err := checkGeneration(c, opts.Strategy, prompt, opts.Gen); err != nil {
		return nil, err
	}
	var revealed [][]float64
	if check {
		opts.RevealLogits = func(l []float64) { revealed = append(revealed, l) }
	}
	r, err := NewRunner(opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	toks, err := Generate(r, c, opts.Strategy, prompt, opts.Gen, onStep)
	if err != nil {
		return nil, err
	}
	rep := &Report{Model: c.Name, Strategy: opts.Strategy, Params: opts.Preset.Name, Network: opts.Network.Name,
		Mode: "run", PromptTokens: len(prompt), Prompt: append([]int(nil), prompt...), Generated: opts.Gen, Tokens: toks}
	if opts.Strategy == Cryptogen {
		rep.Cache = opts.Cache.String()
	}
	setup := r.Setup()
	rep.Setup = &setup
	rep.Summarize(r.Breakdown())
	if err := rep.secure(r.security); err != nil {
		return nil, err
	}
	if check {
		d, err := maxLogitDiff(opts.Model, prompt, toks, revealed)
		if err != nil {
			return nil, err
		}
		rep.MaxLogitDiff = &d
	}
	return rep, nil
}

// maxLogitDiff compares the revealed logits of each step with the
// reference forward pass fed the same tokens.
func maxLogitDiff(m *model.Model, prompt, toks []int, revealed [][]float64) (float64, error) {
	if len(revealed) != len(toks) {
		return 0, fmt.Errorf("sim: %d logit reveals for %d tokens", len(revealed), len(toks))
	}
	st := m.NewState()
	var ref []float64
	var err error
	for _, t := range prompt {
		if ref, err = m.Forward(st, t); err != nil {
			return 0, err
		}
	}
	worst := 0.0
	for i, got := range revealed {
		for j := range got {
			worst = math.Max(worst, math.Abs(got[j]-ref[j]))
		}
		if i+1 < len(toks) {
			if ref, err = m.Forward(st, toks[i]); err != nil {
				return 0, err
			}
		}
	}
	return worst, nil
}
