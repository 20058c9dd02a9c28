package mpc

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
)

// Exp, Reciprocal and Rsqrt: the elementary functions.

// Exp returns e^x for N shared values x <= 0 (as after subtracting a
// maximum): (1 + u + u²/2)^64 with u = x/64, by 6 squarings at the working
// precision, and 0 below -16.
type Exp struct {
	Config
	N int
}

func (e Exp) bill() *bill { p := newBill(e.Config); p.exp(e.N, frac(e.Config)); return p }

// Need is the dealer material of one Run.
func (e Exp) Need() Need { return e.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (e Exp) Estimate() cost.Cost { return e.bill().estimate() }

// Run returns shares of e^x.
func (e Exp) Run(s *Session, x Pair) (Pair, error) {
	return run(s, e.Config, "exp", e, positive("length", e.N), []Pair{x}, []int{e.N}, e.play)
}

// play is one party's Exp.
func (e Exp) play(p *party, mine ...[]uint64) ([]uint64, error) { return p.exp(mine[0], p.r.frac) }

// Reciprocal returns 1/x for N shared values in [2^Lo, 2^Hi):
// 2(Hi-Lo)-1 comparisons with the powers of √2 (one round) give an
// initial guess within ±0.172, then 3 Goldschmidt steps at the working
// precision.
type Reciprocal struct {
	Config
	N      int
	Lo, Hi int // the input range is [2^Lo, 2^Hi)
}

// rangeErr checks an octave range [2^lo, 2^hi) of Reciprocal, Rsqrt and
// the norms: lo >= 4 - f (the smallest value has 16 units), hi <= 2·IntBits
// + 2 (mean squares of in-range values fit), and 1/x and 1/sqrt(x) keep at
// least f fractional bits of working precision.
func rangeErr(lo, hi int, c Config) error {
	if c.Ring == nil {
		return nil
	}
	r := c.Ring
	if lo >= hi || lo < 4-r.frac || hi > 2*r.fp.IntBits+2 || min(r.recipPrec(lo), r.rsqrtPrec(lo)) < r.frac {
		return fmt.Errorf("range [2^%d, 2^%d) is empty or beyond [2^%d, 2^%d)", lo, hi, max(4-r.frac, r.minLo()), 2*r.fp.IntBits+2)
	}
	return nil
}

// minLo is the smallest lo whose working precisions are at least f.
func (r *Ring) minLo() int {
	lo := 4 - r.frac
	for min(r.recipPrec(lo), r.rsqrtPrec(lo)) < r.frac {
		lo++
	}
	return lo
}

func (q Reciprocal) bill() *bill {
	p := newBill(q.Config)
	f := frac(q.Config)
	p.reciprocal(q.N, f, q.Lo, q.Hi, f)
	return p
}

// Need is the dealer material of one Run.
func (q Reciprocal) Need() Need { return q.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (q Reciprocal) Estimate() cost.Cost { return q.bill().estimate() }

// Run returns shares of 1/x.
func (q Reciprocal) Run(s *Session, x Pair) (Pair, error) {
	shape := firstErr(positive("length", q.N), rangeErr(q.Lo, q.Hi, q.Config))
	return run(s, q.Config, "reciprocal", q, shape, []Pair{x}, []int{q.N}, q.play)
}

// play is one party's Reciprocal.
func (q Reciprocal) play(p *party, mine ...[]uint64) ([]uint64, error) {
	f := p.r.frac
	return p.reciprocal(mine[0], f, q.Lo, q.Hi, f)
}

// Rsqrt returns 1/sqrt(x) for N shared values in [2^Lo, 2^Hi): a guess
// from the half-octave bins (one round of comparisons), then 2
// third-order steps.
type Rsqrt struct {
	Config
	N      int
	Lo, Hi int // the input range is [2^Lo, 2^Hi)
}

func (q Rsqrt) bill() *bill {
	p := newBill(q.Config)
	p.open(p.halfOctaves(q.N, q.Lo, q.Hi)...)
	if q.Ring != nil {
		p.rsqrt(q.N, q.Lo, q.Hi, q.Ring.rsqrtPrec(q.Lo), 0, q.Ring.frac)
	}
	return p
}

// Need is the dealer material of one Run.
func (q Rsqrt) Need() Need { return q.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (q Rsqrt) Estimate() cost.Cost { return q.bill().estimate() }

// Run returns shares of 1/sqrt(x).
func (q Rsqrt) Run(s *Session, x Pair) (Pair, error) {
	shape := firstErr(positive("length", q.N), rangeErr(q.Lo, q.Hi, q.Config))
	return run(s, q.Config, "rsqrt", q, shape, []Pair{x}, []int{q.N}, q.play)
}

// play is one party's Rsqrt.
func (q Rsqrt) play(p *party, mine ...[]uint64) ([]uint64, error) {
	f := p.r.frac
	x := mine[0]
	var b []uint64
	if err := p.open(p.halfOctaves(x, f, q.Lo, q.Hi, &b)...); err != nil {
		return nil, err
	}
	return p.rsqrt(x, b, 1, 0, q.Lo, q.Hi, p.r.rsqrtPrec(q.Lo), 0, f)
}
