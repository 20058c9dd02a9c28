package mpc

import (
	"github.com/cgsim/cgsim/cost"
)

// Mul and Trunc: products of shares and the fixed-point rescaling.

// Mul multiplies two shared vectors of N elements element-wise with Beaver
// triples, all elements in one round. With Fixed, the product of two
// fixed-point values is truncated back to f fractional bits (a second
// round); without, it is the plain product in Z_t (use it when one factor
// is an integer, such as a comparison bit). Batches of vectors are
// multiplied in one round by concatenating them ([Concat]).
type Mul struct {
	Config
	N     int
	Fixed bool
}

func (m Mul) bill() *bill {
	p := newBill(m.Config)
	if m.Fixed {
		p.mulFix(m.N)
	} else {
		p.mul(m.N)
	}
	return p
}

// Need is the dealer material of one Run.
func (m Mul) Need() Need { return m.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (m Mul) Estimate() cost.Cost { return m.bill().estimate() }

// Run returns shares of x ⊙ y.
func (m Mul) Run(s *Session, x, y Pair) (Pair, error) {
	return run(s, m.Config, "mul", m, positive("length", m.N), []Pair{x, y}, []int{m.N, m.N}, m.play)
}

// play is one party's Mul: its shares of x and y.
func (m Mul) play(p *party, mine ...[]uint64) ([]uint64, error) {
	x, y := mine[0], mine[1]
	if m.Fixed {
		return p.mulFix(x, y)
	}
	return p.mul(x, y)
}

// Trunc divides N shared values by 2^f (fixed-point rescaling after a
// product), in one round. See the package documentation for its range and
// error.
type Trunc struct {
	Config
	N int
}

func (t Trunc) bill() *bill { p := newBill(t.Config); p.trunc(t.N, frac(t.Config)); return p }

// Need is the dealer material of one Run.
func (t Trunc) Need() Need { return t.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (t Trunc) Estimate() cost.Cost { return t.bill().estimate() }

// Run returns shares of x / 2^f.
func (t Trunc) Run(s *Session, x Pair) (Pair, error) {
	return run(s, t.Config, "trunc", t, positive("length", t.N), []Pair{x}, []int{t.N}, t.play)
}

// play is one party's Trunc.
func (t Trunc) play(p *party, mine ...[]uint64) ([]uint64, error) {
	return p.trunc(mine[0], p.r.frac)
}
