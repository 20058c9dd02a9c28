package mpc

import (
	"math"

	"github.com/cgsim/cgsim/cost"
)

// SiLU and GELU: the activations, x·σ(z).

// SiLU returns x·σ(x) for N shared values (llama's gate): one round of
// comparisons with 0 and ±16, e^-|x| by the limit formula, a reciprocal on
// [1, 2] by Goldschmidt steps, and x·σ(x) = relu(x) beyond |x| >= 16;
// with Nonlinear = LUT, lines from a table (activation_lut.go).
type SiLU struct {
	Config
	N int
	// Scale is the inputs' fractional bits beyond f: a linear layer's
	// output left untruncated (Scale = f), truncated inside the
	// activation's rounds. Nonlinear = LUT only; 0: f bits.
	Scale int
}

func (u SiLU) bill() *bill {
	p := newBill(u.Config)
	if u.Nonlinear == LUT {
		p.activationLUT(u.N, u.Scale)
		return p
	}
	r := p.cfg.Ring
	p.open(p.sigmoidSign(u.N))
	p.sigmoidParts(u.N)
	p.mul(2 * u.N)
	p.toPrec(u.N, r.frac+expSquarings, r.work)
	p.sigmoidTail(u.N)
	return p
}

// Need is the dealer material of one Run.
func (u SiLU) Need() Need { return u.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (u SiLU) Estimate() cost.Cost { return u.bill().estimate() }

// Run returns shares of SiLU(x).
func (u SiLU) Run(s *Session, x Pair) (Pair, error) {
	return run(s, u.Config, "silu", u, firstErr(positive("length", u.N), u.methodErr(), lutErr(u.Config, siluLUT, u.Scale)), []Pair{x}, []int{u.N}, u.play)
}

// play is one party's SiLU.
func (u SiLU) play(p *party, mine ...[]uint64) ([]uint64, error) {
	r := p.r
	x := mine[0]
	if u.Nonlinear == LUT {
		return p.activationLUT(x, siluLUT, u.Scale)
	}
	var g sigmoidBits
	if err := p.open(p.sigmoidSign(x, siluClip, &g)); err != nil {
		return nil, err
	}
	pos, in, q := p.sigmoidParts(g, u.N)
	prod, err := p.mul(concat(q, pos), concat(x, x))
	if err != nil {
		return nil, err
	}
	// q·x has f fractional bits: as q·x/64 it has f + 6.
	uu, err := p.toPrec(prod[:u.N], r.frac+expSquarings, r.work)
	if err != nil {
		return nil, err
	}
	return p.sigmoidTail(x, uu, in, prod[u.N:2*u.N])
}

const (
	siluClip = 16.0 // σ(x) is within 1.2e-7 of 0 or 1 beyond
	geluClip = 8.0  // 2·sqrt(2/π)(x + 0.044715x³) is beyond 49 at |x| = 8
)

// GELU returns GPT-2's tanh form 0.5x(1 + tanh(u)) = x·σ(2u),
// u = sqrt(2/π)(x + 0.044715x³), for N shared values: 2u = x·a with
// a = c1 + c2·x², then as SiLU with the saturation at |x| >= 8. The
// comparisons share their round with x·x. With Nonlinear = LUT, lines
// from a table (activation_lut.go).
type GELU struct {
	Config
	N     int
	Scale int // as SiLU's
}

// geluCoef are c1 = 2·sqrt(2/π) and c2 = 0.044715·c1.
func geluCoef() (float64, float64) {
	c1 := 2 * math.Sqrt(2/math.Pi)
	return c1, c1 * 0.044715
}

func (g GELU) bill() *bill {
	p := newBill(g.Config)
	if g.Nonlinear == LUT {
		p.activationLUT(g.N, g.Scale)
		return p
	}
	r := p.cfg.Ring
	n := g.N
	p.open(p.sigmoidSign(n), mulPiece(n))
	p.sigmoidParts(n)
	p.open(truncPiece(n, r.frac), mulPiece(2*n))
	p.mulPub(n, r.work)
	p.addConst(n)
	p.mul(n)
	p.toPrec(n, 2*r.frac+expSquarings, r.work)
	p.sigmoidTail(n)
	return p
}

// Need is the dealer material of one Run.
func (g GELU) Need() Need { return g.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (g GELU) Estimate() cost.Cost { return g.bill().estimate() }

// Run returns shares of GELU(x).
func (g GELU) Run(s *Session, x Pair) (Pair, error) {
	return run(s, g.Config, "gelu", g, firstErr(positive("length", g.N), g.methodErr(), lutErr(g.Config, geluLUT, g.Scale)), []Pair{x}, []int{g.N}, g.play)
}

// play is one party's GELU.
func (g GELU) play(p *party, mine ...[]uint64) ([]uint64, error) {
	r := p.r
	n := g.N
	x := mine[0]
	if g.Nonlinear == LUT {
		return p.activationLUT(x, geluLUT, g.Scale)
	}
	var sb sigmoidBits
	var xx []uint64
	if err := p.open(p.sigmoidSign(x, geluClip, &sb), p.mulOp(x, x, &xx)); err != nil {
		return nil, err
	}
	pos, in, q := p.sigmoidParts(sb, n)
	var x2, qp []uint64
	if err := p.open(p.truncOp(xx, r.frac, &x2), p.mulOp(concat(q, pos), concat(x, x), &qp)); err != nil {
		return nil, err
	}
	c1, c2 := geluCoef()
	a, err := p.truncMaybe(p.mulPubRaw(x2, []uint64{r.encodeAt(c2, r.work)}, 0), r.work)
	if err != nil {
		return nil, err
	}
	a = p.addConst(a, r.Encode(c1))
	qz, err := p.mul(qp[:n], a) // q·x·a = q·z with 2f fractional bits
	if err != nil {
		return nil, err
	}
	uu, err := p.toPrec(qz, 2*r.frac+expSquarings, r.work)
	if err != nil {
		return nil, err
	}
	return p.sigmoidTail(x, uu, in, qp[n:2*n])
}
