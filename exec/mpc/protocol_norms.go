package mpc

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/cgsim/cgsim/cost"
)

// RMSNorm and LayerNorm.

// normRange is the octave range of a norm's mean square (plus epsilon):
// the given one, or when both are zero the default
// [2^-10, 2^(2·IntBits+1)), which covers every mean square of in-range
// values and the variances of GPT-2's first LayerNorm (about 1/768); the
// iterative inverse square root loses precision at its top at the 60-bit
// t (5% at 2^18). The lookup method's default ends lower (lutNormRange).
func normRange(c Config, lo, hi int) (int, int) {
	if lo != 0 || hi != 0 || c.Ring == nil {
		return lo, hi
	}
	return -10, 2*c.Ring.fp.IntBits + 1
}

// RMSNorm returns x / sqrt(mean(x²) + Eps) for each row of a Rows x Dim
// shared matrix. The gain is not applied: fold it into the next linear
// layer (W·diag(gain)). VarLo and VarHi bound mean(x²) + Eps to
// [2^VarLo, 2^VarHi); both zero means the default of the ring (see
// the package documentation).
type RMSNorm struct {
	Config
	Rows, Dim    int
	Eps          float64
	VarLo, VarHi int
	// Scale is the rows' fractional bits beyond f: a sum of untruncated
	// products (the residual stream after a linear layer whose
	// truncation is left to the norm, Scale = f), truncated in the norm's
	// first round. Nonlinear = LUT only; 0: f bits.
	Scale int
}

func (m RMSNorm) bill() *bill {
	p := newBill(m.Config)
	p.normTailOf(m.Nonlinear, m.Rows, m.Dim, m.VarLo, m.VarHi, m.Scale)
	return p
}

// MaxNormScale is the most fractional bits beyond f with which rows below
// 2^(IntBits+1) (a residual stream) stay in the truncation's range (0
// with the iterative protocols): an RMSNorm by lookup takes rows with up
// to f extra bits (an untruncated product), and up to MaxNormScale where
// it is more. A residual stream that sums a product of a value with f
// extra bits (SwiGLU.Raw) by the weights carries 2f.
func (c Config) MaxNormScale() int {
	if c.Nonlinear != LUT || c.Ring == nil {
		return 0
	}
	r := c.Ring
	return max(0, r.TruncBound()-2-r.fp.IntBits-r.frac)
}

// normScaleErr is an error if an RMSNorm cannot take rows with scale
// extra fractional bits: up to f as the other protocols by lookup
// (scaleErr), beyond f up to MaxNormScale.
func normScaleErr(c Config, scale int) error {
	if c.Ring == nil || scale <= c.Ring.frac {
		return scaleErr(c, scale)
	}
	if scale > c.MaxNormScale() {
		return fmt.Errorf("rows with %d extra fractional bits: want 0 to %d", scale, max(c.MaxNormScale(), c.Ring.frac))
	}
	return nil
}

// normTailOf is the bill of the norm's tail by the method nl, of rows
// with scale fractional bits beyond f (LUT only).
func (p *bill) normTailOf(nl Nonlinear, rows, dim, vlo, vhi, scale int) {
	if nl == LUT {
		p.normTailLUT(rows, dim, vlo, vhi, scale)
		return
	}
	p.normTail(rows, dim, vlo, vhi)
}

// normTailOf is the party's norm tail by the method nl.
func (p *party) normTailOf(nl Nonlinear, x []uint64, rows, dim int, eps float64, vlo, vhi, scale int) ([]uint64, error) {
	if nl == LUT {
		return p.normTailLUT(x, rows, dim, eps, vlo, vhi, scale)
	}
	return p.normTail(x, rows, dim, eps, vlo, vhi)
}

// normShift is e = ceil(log2 dim): 1/dim = m·2^-e with m in (1/2, 1], and
// the coefficients m·y²/2^e of the inverse square root of the row sum are
// encoded with e more bits.
func normShift(dim int) int { return bits.Len(uint(dim - 1)) }

// normPrec is the working precision of a norm's inverse square root: that
// of rsqrt, less when the product of the row sum (f bits) by the
// coefficients (P + e bits) would leave the truncation range.
func (r *Ring) normPrec(lo, dim int) int {
	return min(r.rsqrtPrec(lo), r.TruncBound()-1-r.frac-normShift(dim))
}

func (p *bill) normTail(rows, dim, vlo, vhi int) {
	r := p.cfg.Ring
	n := rows * dim
	lo, hi := normRange(p.cfg, vlo, vhi)
	P := r.normPrec(lo, dim)
	p.mulFix(n)
	p.sumRows(n)
	p.open(p.halfOctaves(rows, lo, hi)...)
	p.rsqrt(rows, lo, hi, P, normShift(dim), P)
	p.mulTrunc(n, P)
}

// normTail computes x / sqrt(mean(x²) + eps) row by row: the row sums S
// of x² (f fractional bits, not divided) are compared with
// dim·(2^(j/2) - eps), the half-octave bounds of mean + eps, and 1/dim
// goes into the public coefficients of the inverse square root, so that
// the mean keeps the resolution 2^-f/dim.
func (p *party) normTail(x []uint64, rows, dim int, eps float64, vlo, vhi int) ([]uint64, error) {
	r := p.r
	lo, hi := normRange(Config{Ring: r}, vlo, vhi)
	lens := repeat(dim, rows)
	P := r.normPrec(lo, dim)
	sq, err := p.mulFix(x, x)
	if err != nil {
		return nil, err
	}
	sum := p.sumRows(sq, lens)
	var blocks [][]uint64
	for j := 2*lo + 1; j < 2*hi; j++ {
		blocks = append(blocks, p.addConst(sum, r.Neg(r.Encode((math.Pow(2, float64(j)/2)-eps)*float64(dim)))))
	}
	var b []uint64
	if len(blocks) > 0 {
		if err := p.open(p.signOp(concat(blocks...), &b)); err != nil {
			return nil, err
		}
	}
	y, err := p.rsqrt(sum, b, 1/float64(dim), eps, lo, hi, P, normShift(dim), P)
	if err != nil {
		return nil, err
	}
	return p.mulTrunc(x, broadcast(y, lens), P)
}

func (m RMSNorm) shape() error {
	if err := firstErr(positive("rows", m.Rows), positive("dimension", m.Dim), epsErr(m.Eps), m.methodErr(), normScaleErr(m.Config, m.Scale)); err != nil {
		return err
	}
	lo, hi := normRange(m.Config, m.VarLo, m.VarHi)
	if r := m.Ring; r != nil && (lo >= hi || lo < -r.frac || hi > 2*r.fp.IntBits+2 || r.normPrec(lo, m.Dim) < r.frac) {
		return fmt.Errorf("range [2^%d, 2^%d) is empty or beyond [2^%d, 2^%d)", lo, hi, -r.frac, 2*r.fp.IntBits+2)
	}
	if r := m.Ring; r != nil && m.Nonlinear == LUT {
		lo, hi := lutNormRange(m.Config, m.Dim, m.VarLo, m.VarHi)
		if _, err := r.normLUT(m.Dim, lo, hi); err != nil {
			return err
		}
	}
	return nil
}

func epsErr(eps float64) error {
	if !(eps >= 0) || eps > 1 {
		return fmt.Errorf("epsilon %v outside [0, 1]", eps)
	}
	return nil
}

// Need is the dealer material of one Run.
func (m RMSNorm) Need() Need { return m.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (m RMSNorm) Estimate() cost.Cost { return m.bill().estimate() }

// Run returns shares of the normalized rows.
func (m RMSNorm) Run(s *Session, x Pair) (Pair, error) {
	return run(s, m.Config, "rmsnorm", m, m.shape(), []Pair{x}, []int{m.Rows * m.Dim}, m.play)
}

// play is one party's RMSNorm.
func (m RMSNorm) play(p *party, mine ...[]uint64) ([]uint64, error) {
	return p.normTailOf(m.Nonlinear, mine[0], m.Rows, m.Dim, m.Eps, m.VarLo, m.VarHi, m.Scale)
}

// LayerNorm returns (x - mean(x)) / sqrt(var(x) + Eps) for each row of a
// Rows x Dim shared matrix, with the population variance. Gain and bias
// are not applied: fold them into the next linear layer
// (W·diag(gain), W·bias added to its bias). VarLo and VarHi as for RMSNorm.
type LayerNorm struct {
	Config
	Rows, Dim    int
	Eps          float64
	VarLo, VarHi int
	Scale        int // as RMSNorm's; the row sums must stay in the truncation's range (LayerNormTakesRaw)
}

// meanShift is floor(log2 dim).
func meanShift(dim int) int { return bits.Len(uint(dim)) - 1 }

// The mean of a LayerNorm row: the row sum divided by 2^e (e =
// floor(log2 dim)), then by dim/2^e in [1, 2) as a scaling of values below
// 2^(IntBits+1).
func (m LayerNorm) bill() *bill {
	p := newBill(m.Config)
	n := m.Rows * m.Dim
	if m.Nonlinear == LUT {
		p.sumRows(n)
		p.affine(n)
		lo, hi := layerNormLUTRange(m.Config, m.Dim, m.VarLo, m.VarHi)
		p.normTailLUT(m.Rows, m.Dim, lo, hi, m.Scale+meanShift(m.Dim))
		return p
	}
	e := meanShift(m.Dim)
	p.sumRows(n)
	if m.Scale > 0 {
		p.open(truncPiece(n, m.Scale), truncPiece(m.Rows, e+m.Scale))
	} else {
		p.trunc(m.Rows, e)
	}
	p.scale(m.Rows, math.Ldexp(1, e)/float64(m.Dim), p.cfg.Ring.fp.IntBits+1)
	p.affine(n)
	p.normTailOf(m.Nonlinear, m.Rows, m.Dim, m.VarLo, m.VarHi, 0)
	return p
}

// Need is the dealer material of one Run.
func (m LayerNorm) Need() Need { return m.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (m LayerNorm) Estimate() cost.Cost { return m.bill().estimate() }

// Run returns shares of the normalized rows.
func (m LayerNorm) Run(s *Session, x Pair) (Pair, error) {
	shape := RMSNorm(m).shape()
	if shape == nil && m.Ring != nil && (m.Scale > 0 || m.Nonlinear == LUT) && !m.layerNormFits(m.Dim, m.Scale) {
		shape = fmt.Errorf("rows of %d values with %d extra fractional bits: their sums may pass the truncation's range", m.Dim, m.Scale)
	}
	if shape == nil && m.Ring != nil && m.Nonlinear == LUT {
		lo, hi := layerNormLUTRange(m.Config, m.Dim, m.VarLo, m.VarHi)
		_, shape = m.Ring.normLUT(m.Dim, lo, hi)
	}
	return run(s, m.Config, "layernorm", m, shape, []Pair{x}, []int{m.Rows * m.Dim}, m.play)
}

// play is one party's LayerNorm.
func (m LayerNorm) play(p *party, mine ...[]uint64) ([]uint64, error) {
	r := p.r
	lens := repeat(m.Dim, m.Rows)
	x := mine[0]
	if m.Nonlinear == LUT {
		return m.playLUT(p, x, lens)
	}
	e := meanShift(m.Dim)
	var sum []uint64
	var err error
	if m.Scale > 0 { // x to f bits and its row sums divided by 2^e in one round
		var xt []uint64
		err = p.open(p.truncOp(x, m.Scale, &xt), p.truncOp(p.sumRows(x, lens), e+m.Scale, &sum))
		x = xt
	} else {
		sum, err = p.truncMaybe(p.sumRows(x, lens), e)
	}
	if err != nil {
		return nil, err
	}
	mu, err := p.scale(sum, math.Ldexp(1, e)/float64(m.Dim), r.fp.IntBits+1)
	if err != nil {
		return nil, err
	}
	d := p.affine(1, x, r.Neg(1), broadcast(mu, lens), 0)
	return p.normTailOf(m.Nonlinear, d, m.Rows, m.Dim, m.Eps, m.VarLo, m.VarHi, 0)
}

// playLUT is one party's LayerNorm by lookups: x - mean(x) without a
// division, d = dim·x - Σx (exact, local), then RMSNorm's tail on d
// truncated by 2^e (e = floor(log2 dim)) in its first round beside its
// square: (x - mean(x))·c with c = dim/2^e in [1, 2), normalized alike
// with eps·c², its mean squares two octaves above the variances at most.
// RMSNorm's rounds, and no error from a mean held with f bits.
func (m LayerNorm) playLUT(p *party, x []uint64, lens []int) ([]uint64, error) {
	r := p.r
	e := meanShift(m.Dim)
	c := float64(m.Dim) / math.Ldexp(1, e)
	d := p.affine(r.FromInt(int64(m.Dim)), x, r.Neg(1), broadcast(p.sumRows(x, lens), lens), 0)
	lo, hi := layerNormLUTRange(m.Config, m.Dim, m.VarLo, m.VarHi)
	return p.normTailLUT(d, m.Rows, m.Dim, m.Eps*c*c, lo, hi, m.Scale+e)
}

// layerNormLUTRange is the mean squares' octave range of LayerNorm's tail
// by lookups: the variances' two octaves higher at the top, for the
// factor c² of playLUT. The default range of the variances ends two
// octaves below lutNormRange's.
func layerNormLUTRange(c Config, dim, vlo, vhi int) (int, int) {
	lo, hi := lutNormRange(c, dim, vlo, vhi)
	if vlo == 0 && vhi == 0 {
		return lo, hi
	}
	return lo, hi + 2
}

// LayerNormTakesRaw reports whether LayerNorm takes rows of dim values
// with RawScale extra fractional bits in c's ring: dim·x - Σx (by lookups;
// the row sums, iteratively), below dim·2^(IntBits+1) with f + RawScale
// bits, stays in the truncation's range. RMSNorm takes them at any width.
func (c Config) LayerNormTakesRaw(dim int) bool { return c.layerNormFits(dim, c.RawScale()) }

// layerNormFits reports whether rows of dim values with scale extra
// fractional bits keep dim·x - Σx (or the row sums) in the truncation's
// range.
func (c Config) layerNormFits(dim, scale int) bool {
	r := c.Ring
	return r != nil && normShift(dim)+r.fp.IntBits+1+r.frac+scale <= r.TruncBound()
}
