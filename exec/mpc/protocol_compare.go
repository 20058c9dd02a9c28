package mpc

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
)

// Sign, Max and Argmax: comparisons and tournaments.

// Sign returns shares of the bits [x_i >= 0] (as plain elements 0 or 1,
// not fixed point) for N shared values. Comparisons a >= b are Sign of
// a - b. It is exact on the whole centered range.
type Sign struct {
	Config
	N int
}

func (g Sign) bill() *bill { p := newBill(g.Config); p.sign(g.N); return p }

// Need is the dealer material of one Run.
func (g Sign) Need() Need { return g.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (g Sign) Estimate() cost.Cost { return g.bill().estimate() }

// Run returns shares of [x >= 0].
func (g Sign) Run(s *Session, x Pair) (Pair, error) {
	return run(s, g.Config, "sign", g, positive("length", g.N), []Pair{x}, []int{g.N}, g.play)
}

// play is one party's Sign.
func (g Sign) play(p *party, mine ...[]uint64) ([]uint64, error) { return p.sign(mine[0]) }

// Max returns the maximum of each row of a Rows x Cols shared matrix
// (row-major), by a tournament of ceil(log2 Cols) levels.
type Max struct {
	Config
	Rows, Cols int
}

func (m Max) lens() []int { return repeat(m.Cols, m.Rows) }

func (m Max) bill() *bill {
	p := newBill(m.Config)
	p.rowMax([]rowRun{{m.Cols, m.Rows}}, false)
	return p
}

// Need is the dealer material of one Run.
func (m Max) Need() Need { return m.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (m Max) Estimate() cost.Cost { return m.bill().estimate() }

// Run returns shares of the Rows maxima.
func (m Max) Run(s *Session, x Pair) (Pair, error) {
	shape := firstErr(positive("rows", m.Rows), positive("columns", m.Cols))
	return run(s, m.Config, "max", m, shape, []Pair{x}, []int{m.Rows * m.Cols}, m.play)
}

// play is one party's Max.
func (m Max) play(p *party, mine ...[]uint64) ([]uint64, error) {
	v, _, err := p.rowMax(m.Nonlinear, mine[0], m.lens(), false)
	return v, err
}

// Argmax finds the position of the largest of N shared values (the first
// one on ties, as model.Argmax) and reveals it to the client only: a
// tournament that carries shares of the position beside the value, then
// the server sends its share of the position.
type Argmax struct {
	Config
	N int
}

func (a Argmax) bill() *bill {
	p := newBill(a.Config)
	p.rowMax([]rowRun{{a.N, 1}}, true)
	p.reveal(1)
	return p
}

// Need is the dealer material of one Run.
func (a Argmax) Need() Need { return a.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (a Argmax) Estimate() cost.Cost { return a.bill().estimate() }

// Run returns the position, which only the client learns (the server's
// code never sees it; Run plays both parties and hands it to the caller as
// the client's output).
func (a Argmax) Run(s *Session, x Pair) (int, error) {
	out, err := run(s, a.Config, "argmax", a, positive("length", a.N), []Pair{x}, []int{a.N}, a.play)
	if err != nil {
		return -1, err
	}
	if len(out[Client].V) != 1 {
		return -1, fmt.Errorf("mpc: argmax: the client got %d positions", len(out[Client].V))
	}
	pos := out[Client].V[0] // the client's output; the server's is empty
	if pos >= uint64(a.N) {
		return -1, fmt.Errorf("mpc: argmax: revealed position %d out of [0, %d)", pos, a.N)
	}
	return int(pos), nil
}

// play is one party's Argmax: the client returns the revealed position
// (one element), the server nothing.
func (a Argmax) play(p *party, mine ...[]uint64) ([]uint64, error) {
	_, idx, err := p.rowMax(a.Nonlinear, mine[0], []int{a.N}, true)
	if err != nil {
		return nil, err
	}
	return p.revealToClient(idx)
}
