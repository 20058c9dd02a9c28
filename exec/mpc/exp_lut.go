package mpc

import "math"

// The softmax's exponential from a lookup table (Config.Nonlinear = LUT):
// 4 rounds instead of 15.
//
// e^y for y <= 0 (the scores less their row's maximum) is a line per bin,
// A_j + B_j·y, on the bins of width h = 16/2^k of [lo, lo + 16) with
// lo = -16 + 3h (so that y = 0 lies two bins below the top and a
// neighbour read stays in the table), each line fitted over its bin and
// both neighbours; below lo + h, e^y < 1.2e-7 is taken as 0. One round
// opens the comparison [y >= lo + h] and the lookup of (A, B) at bits of
// y - lo; a second makes in·A and in·B, a third (in·B)·y and a fourth
// truncates it: e^y = in·A + trunc((in·B)·y).

// expLUTRange is the width of the exponential's table, in units.
const expLUTRange = 16

// expLUTShape is the table's lower end lo, its bin width h and the
// lookup window's shift in ring r (y - lo read with f fractional bits).
func expLUTShape(r *Ring) (lo, h float64, shift int) {
	h = float64(expLUTRange) / (1 << actLookupBits)
	return -expLUTRange + 3*h, h, 4 + r.frac - actLookupBits // 16 = 2^4
}

// expTables are the lines' intercepts and slopes with out fractional
// bits.
func expTables(r *Ring, out int) lutTables {
	lo, h, _ := expLUTShape(r)
	return lineTables(r, "exp", math.Exp, lo, h, out, out)
}

// expLUT is one party's e^y for y <= 0 (f fractional bits) with out
// fractional bits, by lookup.
func (p *party) expLUT(y []uint64, out int) ([]uint64, error) {
	r := p.r
	n := len(y)
	lo, h, shift := expLUTShape(r)
	tb := expTables(r, out)
	var in []uint64
	var tab [][]uint64
	if err := p.open(
		p.signOp(p.addConst(y, r.Encode(-(lo+h))), &in),
		p.lookupOp(p.addConst(y, r.Encode(-lo)), shift, actLookupBits, [][]uint64{tb.a, tb.b}, &tab),
	); err != nil {
		return nil, err
	}
	prod, err := p.mul(concat(in, in), concat(tab[0], tab[1]))
	if err != nil {
		return nil, err
	}
	by, err := p.mulTrunc(prod[n:], y, r.frac)
	if err != nil {
		return nil, err
	}
	return p.affine(1, prod[:n], 1, by, 0), nil
}

func (p *bill) expLUT(n int) {
	p.addConst(2 * n)
	p.open(p.cfg.signPiece(n), lookupPiece(n, actLookupBits, 2))
	p.mul(2 * n)
	p.mulTrunc(n, p.cfg.Ring.frac)
	p.affine(n)
}

// expLUTErr is an error if c computes the exponential by lookup
// (Nonlinear = LUT) beyond the bits its ring's lookups read.
func expLUTErr(c Config) error {
	if c.Nonlinear != LUT || c.Ring == nil {
		return nil
	}
	_, _, shift := expLUTShape(c.Ring)
	return c.Ring.lookupErr(shift, actLookupBits, 2)
}
