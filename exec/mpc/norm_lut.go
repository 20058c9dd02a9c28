package mpc

import (
	"fmt"
	"math"
)

// The norms' inverse square root from lookup tables (Config.Nonlinear =
// LUT): 6 rounds a norm instead of 15 (7 for a step of many rows).
//
// The row sums of squares give u = dim·(mean(x²) + eps) with f
// fractional bits, which must lie below the bits a lookup reads
// (Ring.LookupBits): the default range of the mean square ends there when
// the iterative default [2^-10, 2^(2·IntBits+1)) would pass it (bgv-n14's
// rows of GPT-2's 768: mean squares up to 2^22, an RMS of 2048; bgv-n13's
// of stories260K's 64: the whole default). The octave lookups
// (octave_lut.go) read the guess g of 1/sqrt(mean + eps) at u's octave
// and bin, and g²/dim, within 0.6% of the root, in one round; a second
// gates them and makes u·g²/dim beside x·g (gated products, gated.go: a
// step of too many rows gates in one round and multiplies in the next);
// one more truncates both and multiplies the truncations (fused.go), e =
// 1 - u·g²/dim, and
//
//	y = x·g·(1 + e/2) = x·g + trunc((x·g)·e, E+1)
//
// takes a last truncation: within 3e²/8 < 2e-5 of x/sqrt(mean + eps),
// plus the tables' rounding, which their precisions (normLUTShape) keep
// below 1e-3 of y up the range. 6 rounds with the squares' product and
// truncation (7 for a step of many rows).

// normLookupBits is k for the norms' tables.
const normLookupBits = 10

// normLUTShape is a norm's lookup layout: u has f fractional bits and
// lies in [2^qlo, 2^qhi); the guess g has P fractional bits and g²/dim
// F2, each as many as the products x·g (about the normalized value, below
// sqrt(dim)) and u·g²/dim (about 1) leave below the truncation bound, so
// that a small guess (a large mean square) keeps its significant bits;
// e = 1 - u·g²/dim has E = f + F2 - P = f + ceil(extra/2) (both
// products are truncated by 2^P in one fused step).
type normLUTShape struct {
	qlo, qhi, extra int
	P, F2, E        int
}

// lutNormRange is the octave range of a norm by lookups: the given one, or
// when both are zero the iterative default (normRange) ended where u would
// pass the bits a lookup reads (the window of u's top octave reads up to
// bit qhi + 1).
func lutNormRange(c Config, dim, lo, hi int) (int, int) {
	if lo != 0 || hi != 0 || c.Ring == nil {
		return lo, hi
	}
	lo, hi = normRange(c, 0, 0)
	return lo, min(hi, c.Ring.LookupBits()-1-normShift(dim)-c.Ring.frac)
}

func (r *Ring) normLUT(dim, lo, hi int) (normLUTShape, error) {
	extra := normShift(dim)
	top := extra + hi + r.frac // u < dim·2^hi·2^f <= 2^top
	uLo := float64(dim) * math.Ldexp(1, lo+r.frac)
	l := r.TruncBound()
	s := normLUTShape{qlo: max(0, int(math.Floor(math.Log2(uLo)))), qhi: top, extra: extra,
		P: l - 2 - r.frac - (extra+1)/2, F2: l - 2 - r.frac}
	s.E = r.frac + s.F2 - s.P // u·g²/dim (f + F2 bits) truncated by 2^P, as x·g
	switch {
	case lo >= hi:
		return normLUTShape{}, fmt.Errorf("an empty range of mean squares [2^%d, 2^%d)", lo, hi)
	case s.P < r.frac:
		return normLUTShape{}, fmt.Errorf("rows of %d leave the inverse square root %d fractional bits modulo %d, fewer than %d", dim, s.P, r.t, r.frac)
	case s.qhi+1 > r.LookupBits() || normLookupBits > r.LookupBits():
		return normLUTShape{}, fmt.Errorf("rows of %d with mean squares up to 2^%d pass the bits a lookup reads modulo %d (mean squares up to 2^%d fit)",
			dim, hi, r.t, r.LookupBits()-1-extra-r.frac)
	}
	return s, nil
}

// tables are octave q's guesses: g = 1/sqrt(u/(dim·2^f)) (P bits) and
// g²/dim (F2 bits).
func (s normLUTShape) tables(r *Ring, dim, q int) [][]uint64 {
	scale := float64(dim) * math.Ldexp(1, r.frac)
	g := func(u float64) float64 { return 1 / math.Sqrt(u/scale) }
	return octaveTables(r, struct {
		dim   int
		shape normLUTShape
	}{dim, s}, q, s.qlo, s.qhi, []int{s.P, s.F2},
		g, func(u float64) float64 { v := g(u); return v * v / float64(dim) })
}

// normTailLUT is normTail by lookups.
func (p *party) normTailLUT(x []uint64, rows, dim int, eps float64, vlo, vhi, scale int) ([]uint64, error) {
	r := p.r
	lo, hi := lutNormRange(Config{Ring: r}, dim, vlo, vhi)
	s, err := r.normLUT(dim, lo, hi)
	if err != nil {
		return nil, err
	}
	lens := repeat(dim, rows)
	var sq []uint64
	if scale == 0 {
		sq, err = p.mulTrunc(x, x, r.frac)
	} else { // x to f bits and the product of two such truncations in one round
		var xt, xt2 []uint64
		if err = p.open(p.truncPairOp(x, x, scale, &xt, &xt2, &sq)); err == nil {
			x = xt
			sq, err = p.trunc(sq, r.frac)
		}
	}
	if err != nil {
		return nil, err
	}
	u := p.addConst(p.sumRows(sq, lens), r.encodeAt(eps*float64(dim), r.frac))
	// u·g²/dim and x·g
	pr, err := p.octaveProducts(u, s.qlo, s.qhi, 2, func(q int) [][]uint64 { return s.tables(r, dim, q) },
		nil, guessProduct{table: 1, z: &u, lens: repeat(1, rows)}, guessProduct{table: 0, z: &x, lens: lens})
	if err != nil {
		return nil, err
	}
	ug, xg := pr[0], pr[1]
	// y = trunc(x·g) (f bits), z = trunc(u·g²/dim) (E bits) and y·z
	var y, z, yz []uint64
	if err := p.open(p.truncPairOp(xg, broadcast(ug, lens), s.P, &y, &z, &yz)); err != nil {
		return nil, err
	}
	// y·e = y·(1 - z) = 2^E·y - y·z, f + E bits
	ye, err := p.trunc(p.affine(r.FromInt(1<<s.E), y, r.Neg(1), yz, 0), s.E+1)
	if err != nil {
		return nil, err
	}
	return p.affine(1, y, 1, ye, 0), nil
}

func (p *bill) normTailLUT(rows, dim, vlo, vhi, scale int) {
	r := p.cfg.Ring
	n := rows * dim
	lo, hi := lutNormRange(p.cfg, dim, vlo, vhi)
	s, err := r.normLUT(dim, lo, hi)
	if err != nil {
		return // Run refuses the shape (RMSNorm.shape)
	}
	if scale == 0 {
		p.mulTrunc(n, r.frac)
	} else {
		p.open(truncPairPiece(n, scale))
		p.trunc(n, r.frac)
	}
	p.sumRows(n)
	p.addConst(rows)
	p.octaveProducts(rows, s.qlo, s.qhi, 2, nil, shapeOf(repeat(1, rows)), shapeOf(repeat(dim, rows)))
	p.open(truncPairPiece(n, s.P))
	p.affine(n)
	p.trunc(n, s.E+1)
	p.affine(n)
}
