package sim

import (
	"fmt"

	"github.com/cgsim/cgsim/exec/mpc"
)

// The run engine's element-wise operations on shares: the two-party
// activation and products (Activation, Mul, Gated), the local ones (Add,
// Split, Last), and the choice of a token (Argmax).

// Mul runs the Beaver product with truncation.
func (r *Runner) Mul(av, bv Value) (Value, error) {
	a, err := r.fixed("product", av)
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
	out, err := r.plan.mulStep(a.rows*a.cols, b.scale).Run(r, r.pair(a.c, a.s), r.pair(b.c, b.s))
	if err != nil {
		return nil, err
	}
	return &shares{rows: a.rows, cols: a.cols, pos: a.pos, c: out[mpc.Client].V, s: out[mpc.Server].V}, nil
}

// Gated runs SiLU(g)·u: the fused protocol with the protocols by lookup,
// else the activation then the product.
func (r *Runner) Gated(gv, uv Value) (Value, error) {
	if r.plan.mpc.Nonlinear != mpc.LUT {
		a, err := r.Activation(gv)
		if err != nil {
			return nil, err
		}
		return r.Mul(a, uv)
	}
	g, u, err := r.sharesPair(gv, uv)
	if err != nil {
		return nil, err
	}
	if g.rows != u.rows || g.cols != u.cols || g.scale != u.scale {
		return nil, fmt.Errorf("sim: gated activation of %dx%d (scale %d) and %dx%d (scale %d)", g.rows, g.cols, g.scale, u.rows, u.cols, u.scale)
	}
	out, err := r.plan.gatedStep(g.rows*g.cols, g.scale).Run(r, r.pair(g.c, g.s), r.pair(u.c, u.s))
	if err != nil {
		return nil, err
	}
	return &shares{rows: g.rows, cols: g.cols, pos: g.pos, scale: r.plan.gatedScale(), c: out[mpc.Client].V, s: out[mpc.Server].V}, nil
}

// Add adds the shares locally. The sum has the larger scale of the two:
// the other's shares are multiplied by the power of two between them
// (exact: the residual stream, below 2^(IntBits+1) with f + scale
// fractional bits, stays in the truncation's range).
func (r *Runner) Add(av, bv Value) (Value, error) {
	a, b, err := r.sharesPair(av, bv)
	if err != nil {
		return nil, err
	}
	if a.rows != b.rows || a.cols != b.cols || a.pos != b.pos {
		return nil, fmt.Errorf("sim: sum of %dx%d at %d and %dx%d at %d", a.rows, a.cols, a.pos, b.rows, b.cols, b.pos)
	}
	scale := max(a.scale, b.scale)
	ua, ub := uint64(1)<<(scale-a.scale), uint64(1)<<(scale-b.scale)
	y := &shares{rows: a.rows, cols: a.cols, pos: a.pos, scale: scale, c: make([]uint64, len(a.c)), s: make([]uint64, len(a.s))}
	for i := range y.c {
		y.c[i] = r.q.add(r.q.mul(a.c[i], ua), r.q.mul(b.c[i], ub))
		y.s[i] = r.q.add(r.q.mul(a.s[i], ua), r.q.mul(b.s[i], ub))
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
		y := &shares{rows: x.rows, cols: w, pos: x.pos, scale: x.scale}
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
	return &shares{rows: 1, cols: x.cols, pos: x.pos + x.rows - 1, scale: x.scale, c: x.c[lo:], s: x.s[lo:]}, nil
}

// sharesPair is asShares of two values.
func (r *Runner) sharesPair(av, bv Value) (*shares, *shares, error) {
	a, err := r.asShares(av)
	if err != nil {
		return nil, nil, err
	}
	b, err := r.asShares(bv)
	return a, b, err
}

// Activation runs SiLU or GELU on shares.
func (r *Runner) Activation(v Value) (Value, error) {
	x, err := r.asShares(v)
	if err != nil {
		return nil, err
	}
	return r.unary(r.plan.activationStep(x.rows*x.cols, x.scale), x)
}

// unary runs a two-party step of one input on x's shares.
func (r *Runner) unary(st unaryStep, x *shares) (Value, error) {
	out, err := st.Run(r, r.pair(x.c, x.s))
	if err != nil {
		return nil, err
	}
	return &shares{rows: x.rows, cols: x.cols, pos: x.pos, c: out[mpc.Client].V, s: out[mpc.Server].V}, nil
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
			logits[i] = r.q.decExtra(r.q.add(x.c[i], x.s[i]), x.scale)
		}
		r.reveal(logits)
	}
	var noise func([]uint64) ([]uint64, error)
	step := r.picks
	r.picks++
	if !r.sampler.Greedy() {
		noise = func(server []uint64) ([]uint64, error) { return r.sampleNoise(server, step, x.scale) }
	}
	return r.plan.argmaxStep(x.cols, x.scale).Run(r, r.pair(x.c, x.s), noise)
}

// sampleNoise returns the server's share of the logits (scale more
// fractional bits than the fixed point's) with the sampler's Gumbel noise
// of generation step step added: the argmax then picks the sampled token.
// The noise is the server's: the client, which learns the argmax, never
// sees it. A local addition, free like Add in both engines.
func (r *Runner) sampleNoise(server []uint64, step, scale int) ([]uint64, error) {
	noise := r.sampler.Noise(step, len(server))
	out := make([]uint64, len(server))
	for i, v := range noise {
		e, err := r.q.enc(v, r.q.fp.FracBits+scale)
		if err != nil {
			return nil, fmt.Errorf("sim: sampling noise: %w", err)
		}
		out[i] = r.q.add(server[i], e)
	}
	return out, nil
}
