package sim

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/kv"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
)

// shape is the estimate engine's Value: a shape and nothing else (scale:
// the fractional bits beyond f of an untruncated product, as the run
// engine's shares).
type shape struct{ rows, cols, pos, scale int }

func (s shape) Rows() int { return s.rows }
func (s shape) Cols() int { return s.cols }
func (s shape) Pos() int  { return s.pos }

// Estimator is the estimate engine: its values carry only shapes, and each
// operation records the Estimate of the primitives the run engine would
// run, priced on a network. It allocates no ciphertext and draws no
// randomness. An Estimator is not safe for concurrent use.
type Estimator struct {
	recorder
	plan *planner
	net  net.Network
	ctx  []int          // tokens per layer (cached, or processed by the current pass)
	traj *kv.Trajectory // Cryptogen: the cache's trajectory (nil before the prefill)
	spec specModel      // Speculative: the draft's length and the acceptance
}

// newEstimator is the estimate engine over p's session, its cache holding
// p's public prefix (if any) in every layer.
func newEstimator(p *planner, nw net.Network, spec specModel) *Estimator {
	e := &Estimator{plan: p, net: nw, ctx: make([]int, p.cfg.NumLayers), spec: spec}
	for l := range e.ctx {
		e.ctx[l] = p.public()
	}
	return e
}

// Public is the tokens of the public prefix the cache started with.
func (e *Estimator) Public() int { return e.plan.public() }

var _ Engine = (*Estimator)(nil)

// NewEstimator returns the estimate engine for a model shape under a
// preset, pricing operations with prof (nil: the preset's embedded
// profile, see cost.Default) and communication with nw, for the Cryptogen
// strategy with the default cache (client appends, no refresh).
func NewEstimator(cfg model.Config, preset params.Preset, prof *cost.Profile, nw net.Network) (*Estimator, error) {
	return NewEstimatorFor(EstimateOptions{Model: cfg, Preset: preset, Profile: prof, Network: nw, Strategy: Cryptogen})
}

// NewEstimatorFor is NewEstimator for the strategy and cache options of
// opts. If opts.Prompt and opts.Gen are set, the cache and the decode
// kernels are provisioned for the generation's context (Prompt + Gen - 1
// tokens, or MaxSessionTokens - 1), as the run engine provisions them, and
// the flooding is sized for that session (see Security); otherwise for a
// session that fills the model's context. OnStep is not used.
func NewEstimatorFor(opts EstimateOptions) (*Estimator, error) {
	d := sessionDecl{model: opts.Model, preset: opts.Preset, prof: opts.Profile, strat: opts.Strategy, cache: opts.Cache,
		prompt: opts.Prompt, public: opts.Public, gen: opts.Gen, cores: opts.ServerCores, clientCores: opts.ClientCores, nonlinear: opts.Nonlinear,
		topK: opts.TopK, gamma: opts.Gamma, temperature: opts.Temperature}
	if opts.Prompt < 1 || opts.Gen < 1 {
		d.prompt, d.gen = 1, opts.Model.SeqLen
	}
	d, err := declare(d, opts.MaxSessionTokens)
	if err != nil {
		return nil, err
	}
	p, _, _, err := planSession(d, opts.Network)
	if err != nil {
		return nil, err
	}
	return newEstimator(p, opts.Network, opts.specModel()), nil
}

// rec records c under kind k, with the profile's price of a round's own
// CPU work (cost.OpRound, zero if the profile has none) for each of its
// rounds, and its network seconds.
func (e *Estimator) rec(k Kind, c cost.Cost) {
	if r := e.plan.roundSeconds; r > 0 {
		c.ComputeSeconds += float64(c.Rounds) * r
	}
	e.record(k, e.net.Price(c))
}

// Reset empties the cache.
func (e *Estimator) Reset() error {
	if e.plan.public() > 0 {
		return fmt.Errorf("sim: a reset would drop the public prefix")
	}
	clear(e.ctx)
	e.traj = nil
	return nil
}

func asShape(v Value) (shape, error) {
	s, ok := v.(shape)
	if !ok {
		return shape{}, fmt.Errorf("sim: estimator given a %T value", v)
	}
	return s, nil
}

// shapePair is asShape of two values.
func shapePair(a, b Value) (shape, shape, error) {
	s, err := asShape(a)
	if err != nil {
		return shape{}, shape{}, err
	}
	t, err := asShape(b)
	return s, t, err
}

// Embed records the lookup of len(tokens) tokens.
func (e *Estimator) Embed(tokens []int, pos int) (Value, error) {
	c, err := e.plan.estEmbed(len(tokens))
	if err != nil {
		return nil, err
	}
	e.rec(KindEmbedding, c)
	return shape{rows: len(tokens), cols: e.plan.cfg.Dim, pos: pos}, nil
}

// Norm records the norm of each row.
func (e *Estimator) Norm(x Value) (Value, error) {
	s, err := asShape(x)
	if err != nil {
		return nil, err
	}
	e.rec(KindNorm, e.plan.estNorm(s.rows, s.scale))
	return shape{rows: s.rows, cols: s.cols, pos: s.pos}, nil
}

// Linear records the linear layer and its truncation.
func (e *Estimator) Linear(w Weight, x Value) (Value, error) {
	s, err := asShape(x)
	if err == nil {
		err = inScaled(w.Mat, s.scale, e.plan.linearInScale(w.Mat))
	}
	if err != nil {
		return nil, err
	}
	out, in := e.plan.matShape(w.Mat)
	if s.cols != in {
		return nil, fmt.Errorf("sim: %v of layer %d takes %d columns, given %d", w.Mat, w.Layer, in, s.cols)
	}
	c, err := e.plan.estLinear(w.Mat, s.rows)
	if err != nil {
		return nil, err
	}
	e.rec(KindLinear, c)
	return shape{s.rows, out, s.pos, e.plan.linearScale(w.Mat) + s.scale}, nil
}

// Attention records the attention of the rows of q: the prefill kernels
// for a pass from position 0 and, with Cryptogen, the layer's cache (the
// feature-major cache's encryption of the prompt, per layer; the
// token-major cache's switch, for every layer at layer 0), or, for one new
// token, the cache append (feature-major: per layer; token-major: all
// layers' kv trajectory step, recorded at layer 0) and the decode
// kernels.
func (e *Estimator) Attention(layer int, q, k, v Value) (Value, error) {
	s, err := fixedShape("attention", q)
	if err != nil {
		return nil, err
	}
	if layer < 0 || layer >= len(e.ctx) {
		return nil, fmt.Errorf("sim: attention of layer %d of %d", layer, len(e.ctx))
	}
	if s.pos != e.ctx[layer] {
		return nil, fmt.Errorf("sim: attention of layer %d: queries at position %d, the cache holds %d tokens", layer, s.pos, e.ctx[layer])
	}
	ctx := e.ctx[layer] + s.rows
	if ctx > e.plan.cfg.SeqLen {
		return nil, fmt.Errorf("sim: context of %d tokens exceeds the model's %d", ctx, e.plan.cfg.SeqLen)
	}
	switch {
	case s.pos == 0:
		parts, sw, err := e.plan.estPrefill(s.rows)
		if err != nil {
			return nil, err
		}
		for _, pc := range parts {
			e.rec(pc.kind, pc.cost)
		}
		if e.plan.keepsCache && e.plan.layout == FeatureLayout {
			f := e.plan.feature
			e.rec(KindAppend, f.EstimateSwitch(s.rows).Add(f.Boundary(layer, 0, s.rows)))
		} else if e.plan.keepsCache && layer == 0 {
			pp, _ := e.plan.prefill(s.rows)
			if _, e.traj, err = e.plan.kv.EstimateSwitch(s.rows, pp.switchLevel, pp.switchBits); err != nil {
				return nil, err
			}
			e.rec(KindAppend, sw)
		}
	case e.plan.keepsCache && e.plan.layout == FeatureLayout:
		// One new token, or several (a pass at p > 0: their append, then
		// passAttnStep, as the run engine's passAttention).
		if ctx > e.plan.feature.MaxContext {
			return nil, fmt.Errorf("sim: the cache is full: %d tokens, planned for at most %d", ctx-1, e.plan.feature.MaxContext)
		}
		f := e.plan.feature
		app := e.plan.featureAppend
		if s.rows > 1 {
			app = appendRides(f.EstimateAppendRows(s.pos, s.rows))
		}
		e.rec(KindAppend, app.Add(f.Boundary(layer, s.pos, ctx)))
		var parts []kindCost
		if s.rows == 1 {
			parts, err = e.plan.estDecode(ctx)
		} else {
			parts, err = e.plan.estPass(s.rows, ctx)
		}
		if err != nil {
			return nil, err
		}
		for _, pc := range parts {
			e.rec(pc.kind, pc.cost)
		}
	case s.rows == 1 && e.plan.keepsCache:
		if e.traj == nil || (layer == 0 && e.traj.Len() != s.pos) || (layer > 0 && e.traj.Len() != ctx) {
			return nil, fmt.Errorf("sim: internal error: cache trajectory out of step at layer %d", layer)
		}
		if e.plan.kv.Method == kv.Homomorphic {
			e.rec(KindAppend, e.plan.memo(costKey{memoSource, 0, 0, 0}, e.plan.kv.EstimateSource))
		}
		if layer == 0 {
			st, err := e.traj.Step()
			if err != nil {
				return nil, err
			}
			e.rec(KindAppend, st)
			e.rec(KindAttention, e.traj.Prepare())
		}
		parts, err := e.plan.estDecode(ctx)
		if err != nil {
			return nil, err
		}
		for _, pc := range parts {
			e.rec(pc.kind, pc.cost)
		}
	default:
		return nil, fmt.Errorf("sim: attention of %d new tokens at position %d: only a pass from position 0 or, with the cache, one token (several with the feature-major cache)", s.rows, s.pos)
	}
	e.ctx[layer] = ctx
	return shape{rows: s.rows, cols: headsOf(e.plan.cfg).q, pos: s.pos}, nil
}

// Activation records SiLU or GELU.
func (e *Estimator) Activation(x Value) (Value, error) {
	s, err := asShape(x)
	if err != nil {
		return nil, err
	}
	e.rec(KindActivation, e.plan.estActivation(s.rows*s.cols, s.scale))
	return shape{s.rows, s.cols, s.pos, 0}, nil
}

// Mul records the element-wise product.
func (e *Estimator) Mul(a, b Value) (Value, error) {
	s, err := fixedShape("product", a)
	if err != nil {
		return nil, err
	}
	t, err := asShape(b)
	if err != nil {
		return nil, err
	}
	if s.rows != t.rows || s.cols != t.cols || s.pos != t.pos {
		return nil, fmt.Errorf("sim: shapes %dx%d at %d and %dx%d at %d differ", s.rows, s.cols, s.pos, t.rows, t.cols, t.pos)
	}
	e.rec(KindMul, e.plan.estMul(s.rows*s.cols, t.scale))
	return s, nil
}

// Gated records SiLU(g)·u: the fused protocol (under KindActivation) with
// the protocols by lookup, else the activation and the product.
func (e *Estimator) Gated(g, u Value) (Value, error) {
	if e.plan.mpc.Nonlinear != mpc.LUT {
		a, err := e.Activation(g)
		if err != nil {
			return nil, err
		}
		return e.Mul(a, u)
	}
	s, t, err := shapePair(g, u)
	if err != nil {
		return nil, err
	}
	if s != t {
		return nil, fmt.Errorf("sim: gated activation of %dx%d (scale %d) and %dx%d (scale %d)", s.rows, s.cols, s.scale, t.rows, t.cols, t.scale)
	}
	e.rec(KindActivation, e.plan.estGated(s.rows*s.cols, s.scale))
	return shape{rows: s.rows, cols: s.cols, pos: s.pos, scale: e.plan.gatedScale()}, nil
}

// fixedShape is asShape for the operations that take f fractional bits
// only.
func fixedShape(op string, v Value) (shape, error) {
	s, err := asShape(v)
	if err == nil {
		err = unscaled(op, s.scale)
	}
	return s, err
}

// Add is free; the sum has the larger scale of the two (the other is
// lifted, as the run engine does).
func (e *Estimator) Add(a, b Value) (Value, error) {
	s, t, err := shapePair(a, b)
	if err != nil {
		return nil, err
	}
	if s.rows != t.rows || s.cols != t.cols || s.pos != t.pos {
		return nil, fmt.Errorf("sim: sum of %dx%d at %d and %dx%d at %d", s.rows, s.cols, s.pos, t.rows, t.cols, t.pos)
	}
	s.scale = max(s.scale, t.scale)
	return s, nil
}

// Split is free.
func (e *Estimator) Split(x Value, widths ...int) ([]Value, error) {
	s, err := asShape(x)
	if err != nil {
		return nil, err
	}
	if err := checkWidths(s.cols, widths); err != nil {
		return nil, err
	}
	out := make([]Value, len(widths))
	for i, w := range widths {
		out[i] = shape{s.rows, w, s.pos, s.scale}
	}
	return out, nil
}

func checkWidths(cols int, widths []int) error {
	sum := 0
	for _, w := range widths {
		if w < 1 {
			return fmt.Errorf("sim: split into a piece of %d columns", w)
		}
		sum += w
	}
	if sum != cols {
		return fmt.Errorf("sim: split of %d columns into pieces summing to %d", cols, sum)
	}
	return nil
}

// Last is free.
func (e *Estimator) Last(x Value) (Value, error) {
	s, err := asShape(x)
	if err != nil {
		return nil, err
	}
	return shape{1, s.cols, s.pos + s.rows - 1, s.scale}, nil
}

// Argmax records the argmax and returns token 0: an estimate has no
// tokens.
func (e *Estimator) Argmax(x Value) (int, error) {
	s, err := asShape(x)
	if err != nil {
		return 0, err
	}
	if s.rows != 1 {
		return 0, fmt.Errorf("sim: argmax of %d rows, want one", s.rows)
	}
	e.rec(KindArgmax, e.plan.estArgmax(s.cols, s.scale))
	return 0, nil
}
