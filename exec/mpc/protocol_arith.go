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
//
// With Scale > 0, y carries Scale more fractional bits (an untruncated
// product, e.g. a linear layer's output) and is truncated by 2^Scale in
// the product's own round (fused.go): x ⊙ ⌊y/2^Scale⌉, then as above.
type Mul struct {
	Config
	N     int
	Fixed bool
	Scale int
}

func (m Mul) bill() *bill {
	p := newBill(m.Config)
	p.open(mulShiftPiece(m.N, m.Scale))
	if m.Fixed {
		p.trunc(m.N, p.cfg.Ring.frac)
	}
	return p
}

// Need is the dealer material of one Run.
func (m Mul) Need() Need { return m.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (m Mul) Estimate() cost.Cost { return m.bill().estimate() }

// Run returns shares of x ⊙ y.
func (m Mul) Run(s *Session, x, y Pair) (Pair, error) {
	var scale error
	if m.Scale != 0 {
		scale = shiftErr(m.Scale)
	}
	return run(s, m.Config, "mul", m, firstErr(positive("length", m.N), scale), []Pair{x, y}, []int{m.N, m.N}, m.play)
}

// play is one party's Mul: its shares of x and y.
func (m Mul) play(p *party, mine ...[]uint64) ([]uint64, error) {
	var z []uint64
	if err := p.open(p.mulShiftOp(mine[1], m.Scale, mine[0], &z)); err != nil || !m.Fixed {
		return z, err
	}
	return p.trunc(z, p.r.frac)
}

// Trunc divides N shared values by 2^f (fixed-point rescaling after a
// product), or by 2^Shift, in one round. See the package documentation for
// its range and error.
type Trunc struct {
	Config
	N int
	// Shift is the bits dropped: 0 is f; a product of a value with
	// extra fractional bits (a softmax's raw probabilities) drops them too.
	Shift int
}

// shift is the truncation's shift: Shift, or f.
func (t Trunc) shift() int {
	if t.Shift != 0 {
		return t.Shift
	}
	return frac(t.Config)
}

func (t Trunc) bill() *bill { p := newBill(t.Config); p.trunc(t.N, t.shift()); return p }

// Need is the dealer material of one Run.
func (t Trunc) Need() Need { return t.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (t Trunc) Estimate() cost.Cost { return t.bill().estimate() }

// Run returns shares of x / 2^f (x / 2^Shift).
func (t Trunc) Run(s *Session, x Pair) (Pair, error) {
	shape := positive("length", t.N)
	if t.Shift != 0 {
		shape = firstErr(shape, shiftErr(t.Shift))
	}
	return run(s, t.Config, "trunc", t, shape, []Pair{x}, []int{t.N}, t.play)
}

// play is one party's Trunc.
func (t Trunc) play(p *party, mine ...[]uint64) ([]uint64, error) {
	return p.trunc(mine[0], t.shift())
}
