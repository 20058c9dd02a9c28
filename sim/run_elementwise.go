package sim

import (
	"fmt"

	"github.com/cgsim/cgsim/exec/mpc"
)

// The run engine's element-wise operations on shares: the two-party
// products (Mul, Gated) and the local ones (Add, Split, Last).

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
