package mpc

import "math"

// The softmax's exponential from a lookup table (Config.Nonlinear = LUT):
// 2 rounds (3 on a fast link) instead of 15.
//
// e^y for y <= 0 (the scores less their row's maximum) is a line per bin,
// A_j + B_j·y, on the bins of width h = 16/2^k of [lo, lo + 16) with
// lo = -16 + 3h (so that y = 0 lies two bins below the top and a
// neighbour read stays in the table), each line fitted over its bin and
// both neighbours; below lo + h, e^y < 1.2e-7 is taken as 0. One round
// opens the comparison in = [y >= lo + h] with the product in·y (a select,
// select.go) and the lookup of (A, B) at bits of y - lo; a second makes
// in·A and B·trunc(in·y): e^y = in·A + B·(in·y), with f more fractional
// bits than the tables, whose truncation the softmax's tail makes in its
// first round. Where the select's extra payload costs more than the round
// it saves (many values, a fast link), the gate is a plain comparison and
// in·(B·y) takes a third round.

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

// expLUT is one party's e^y for y <= 0 (f + scale fractional bits: scale
// > 0 for an untruncated product, truncated in the second round, fused
// with B·y) by lookup, with out + f fractional bits: the truncation of
// the last product is left to the caller (the softmax's tail makes it
// beside the first round of its reciprocal). Where its selects do not pay
// for the round they save (selectsPay: many values on a fast link), the
// gate is a comparison and in·(B·y) a product of a third round.
func (p *party) expLUT(y []uint64, scale, out int) ([]uint64, error) {
	r := p.r
	in := r.frac + scale
	lo, h, shift := expLUTShape(r)
	tb := expTables(r, out)
	sel := selectsPay(len(y), 1, p.roundCompares)
	var inside []uint64
	var iy [][]uint64 // in·y
	var tab [][]uint64
	gate := p.addConst(y, r.encodeAt(-(lo+h), in))
	first := p.signOp(gate, &inside)
	if sel {
		first = p.selectOp(gate, [][]uint64{y}, &inside, &iy)
	}
	if err := p.open(first,
		p.lookupOp(p.addConst(y, r.encodeAt(-lo, in)), shift+scale, actLookupBits, [][]uint64{tb.a, tb.b}, &tab),
	); err != nil {
		return nil, err
	}
	if sel { // in·A and B·trunc(in·y)
		var ina, by []uint64
		if err := p.open(p.mulOp(inside, tab[0], &ina), p.mulShiftOp(iy[0], scale, tab[1], &by)); err != nil {
			return nil, err
		}
		return p.affine(r.FromInt(1<<r.frac), ina, 1, by, 0), nil
	}
	var ina, by, iby []uint64 // in·A and B·trunc(y), then in·(B·y)
	if err := p.open(p.mulOp(inside, tab[0], &ina), p.mulShiftOp(y, scale, tab[1], &by)); err != nil {
		return nil, err
	}
	if err := p.open(p.mulOp(inside, by, &iby)); err != nil {
		return nil, err
	}
	return p.affine(r.FromInt(1<<r.frac), ina, 1, iby, 0), nil
}

func (p *bill) expLUT(n, scale int) {
	p.addConst(2 * n)
	if !selectsPay(n, 1, p.cfg.roundCompares()) {
		p.open(p.cfg.signPiece(n), lookupPiece(n, actLookupBits, 2))
		p.open(mulPiece(n), mulShiftPiece(n, scale))
		p.open(mulPiece(n))
		p.affine(n)
		return
	}
	p.open(p.cfg.selectPiece(n, 1), lookupPiece(n, actLookupBits, 2))
	p.open(mulPiece(n), mulShiftPiece(n, scale))
	p.affine(n)
}

// expLUTErr is an error if c computes the exponential by lookup
// (Nonlinear = LUT) of values with scale extra fractional bits beyond the
// bits its ring's lookups read, or takes scaled values without lookups.
func expLUTErr(c Config, scale int) error {
	if err := scaleErr(c, scale); err != nil || c.Nonlinear != LUT || c.Ring == nil {
		return err
	}
	_, _, shift := expLUTShape(c.Ring)
	return c.Ring.lookupErr(shift+scale, actLookupBits, 2)
}
