package mpc

import (
	"fmt"
	"math"
)

// The norms' inverse square root from lookup tables (Config.Nonlinear =
// LUT): 5 rounds a norm instead of 15 (6 for a step of many rows).
//
// The row sums of squares give u = dim·(mean(x²) + eps) with f
// fractional bits, which must lie below the bits a lookup reads
// (Ring.LookupBits): the default range of the mean square ends there when
// the iterative default [2^-10, 2^(2·IntBits+1)) would pass it (bgv-n14's
// rows of GPT-2's 768: mean squares up to 2^22, an RMS of 2048; bgv-n13's
// of stories260K's 64: the whole default). The octave lookups
// (octave_lut.go) read the guess g of 1/sqrt(mean + eps) at u's octave
// and bin, and g²/dim, within 0.6% of the root, in one round, which also
// truncates the row sums of the squares (made in the first round, see
// normLUTShape) to u; a second
// gates them and makes u·g²/dim beside x·g (gated products, gated.go: a
// step of too many rows gates in one round and multiplies in the next);
// one more truncates both and multiplies the truncations (fused.go), e =
// 1 - u·g²/dim, and
//
//	y = x·g·(1 + e/2) = x·g + trunc((x·g)·e, E+1)
//
// takes a last truncation: within 3e²/8 < 2e-5 of x/sqrt(mean + eps),
// plus the tables' rounding, which their precisions (normLUTShape) keep
// below 1e-3 of y up the range. 5 rounds with the squares' product (6 for
// a step of many rows; 6 and 7 where the squares take a truncation of
// their own, normLUTShape.fuse false).

// normLookupBits is k for the norms' tables.
const normLookupBits = 10

// normLUTShape is a norm's lookup layout: u has f fractional bits and
// lies in [2^qlo, 2^qhi); the guess g has P fractional bits and g²/dim
// F2, each as many as the products x·g (about the normalized value, below
// sqrt(dim)) and u·g²/dim (about 1) leave below the truncation bound, so
// that a small guess (a large mean square) keeps its significant bits;
// e = 1 - u·g²/dim has E = f + F2 - P = f + ceil(extra/2) (both
// products are truncated by 2^P in one fused step).
//
// With fuse, the row sums of squares are not truncated in a round of their
// own: the squares of x truncated to f - A fractional bits sum to
// uRaw = u·2^(Fr-f), Fr = 2(f - A), below the truncation bound for the
// whole range (A is the least shift that keeps them there); the octave
// comparisons and lookups read uRaw, and its truncation to u runs beside
// them. The octaves whose window passes the bits a lookup reads take their
// bins from the coarse sums, of the squares of x truncated to f - C bits
// (Fc = 2(f - C); C = 0 when every window fits): 5 rounds instead of 6.
type normLUTShape struct {
	qlo, qhi, extra int
	P, F2, E        int
	fuse            bool
	A, C            int
}

// Fr and Fc are the fractional bits of the fused sums of squares and of
// the coarse ones.
func (s normLUTShape) Fr(r *Ring) int { return 2 * (r.frac - s.A) }
func (s normLUTShape) Fc(r *Ring) int { return 2 * (r.frac - s.C) }

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
	// The fused round: uRaw < 2^(top + f - 2A) <= 2^(l-1); the coarse sums'
	// top octave reads up to bit top + Fc - f + 1 <= V.
	s.A = max(0, (top+r.frac-(l-1)+1)/2)
	if 2*s.A < r.frac {
		s.fuse = true
		if s.qhi+s.Fr(r)-r.frac+1 > r.LookupBits() {
			fc := min(s.Fr(r), r.LookupBits()-1-top+r.frac) &^ 1
			s.C = r.frac - fc/2
			s.fuse = fc >= 2
		}
	}
	return s, nil
}

// tables are octave q's guesses for u with F fractional bits in
// [2^qlo, 2^qhi): g = 1/sqrt(u/(dim·2^F)) (P bits) and g²/dim (F2 bits).
func (s normLUTShape) tables(r *Ring, dim, q, qlo, qhi, F int) [][]uint64 {
	scale := float64(dim) * math.Ldexp(1, F)
	g := func(u float64) float64 { return 1 / math.Sqrt(u/scale) }
	return octaveTables(r, struct {
		dim, f int
		shape  normLUTShape
	}{dim, F, s}, q, qlo, qhi, []int{s.P, s.F2},
		g, func(u float64) float64 { v := g(u); return v * v / float64(dim) })
}

// spec is the octave lookups of the row sums u (f bits) or, fused, of
// uRaw (Fr bits; its coarse octaves reading uc, Fc bits).
func (s normLUTShape) spec(r *Ring, dim int, u, uc []uint64) octaveSpec {
	if !s.fuse {
		return octaveSpec{u: u, qlo: s.qlo, qhi: s.qhi, tables: func(q int) [][]uint64 { return s.tables(r, dim, q, s.qlo, s.qhi, r.frac) }}
	}
	d := s.Fr(r) - r.frac
	qlo, qhi := s.qlo+d, s.qhi+d
	fits := func(q int) bool { return q+2 <= r.LookupBits() }
	dc := s.Fr(r) - s.Fc(r) // a coarse octave's shift down
	return octaveSpec{u: u, qlo: qlo, qhi: qhi,
		tables: func(q int) [][]uint64 {
			if fits(q) {
				return s.tables(r, dim, q, qlo, qhi, s.Fr(r))
			}
			return s.tables(r, dim, q-dc, qlo-dc, qhi-dc, s.Fc(r))
		},
		read: func(q int) ([]uint64, int) {
			if fits(q) {
				return u, octaveShift(q)
			}
			return uc, octaveShift(q - dc)
		}}
}

// normTailLUT is normTail by lookups.
func (p *party) normTailLUT(x []uint64, rows, dim int, eps float64, vlo, vhi, scale int) ([]uint64, error) {
	r := p.r
	lo, hi := lutNormRange(Config{Ring: r}, dim, vlo, vhi)
	s, err := r.normLUT(dim, lo, hi)
	if err != nil {
		return nil, err
	}
	lens, ones := repeat(dim, rows), repeat(1, rows)
	var xt, u, uRaw, uc []uint64
	if s.fuse {
		if xt, uRaw, uc, err = p.normSquares(x, scale, s); err != nil {
			return nil, err
		}
	} else if xt, u, err = p.normSquaresTrunc(x, scale); err != nil {
		return nil, err
	}
	var beside []opening
	if s.fuse { // u = trunc(uRaw), beside the lookups
		if s.C > 0 {
			uc = p.addConst(p.sumRows(uc, lens), r.encodeAt(eps*float64(dim), s.Fc(r)))
		}
		uRaw = p.addConst(p.sumRows(uRaw, lens), r.encodeAt(eps*float64(dim), s.Fr(r)))
		beside = append(beside, p.truncOp(uRaw, s.Fr(r)-r.frac, &u))
	} else {
		u = p.addConst(p.sumRows(u, lens), r.encodeAt(eps*float64(dim), r.frac))
	}
	read := u
	if s.fuse {
		read = uRaw
	}
	// u·g²/dim and x·g
	pr, err := p.octaveProducts(s.spec(r, dim, read, uc), 2, beside,
		guessProduct{table: 1, z: &u, lens: ones}, guessProduct{table: 0, z: &xt, lens: lens})
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

// normSquaresTrunc is x with f bits and its squares with f bits, in two
// rounds (the unfused tail).
func (p *party) normSquaresTrunc(x []uint64, scale int) (xt, sq []uint64, err error) {
	r := p.r
	if scale == 0 {
		sq, err = p.mulTrunc(x, x, r.frac)
		return x, sq, err
	}
	// x to f bits and the product of two such truncations in one round
	if err = p.open(p.truncPairOp(x, x, scale, &xt, new([]uint64), &sq)); err != nil {
		return nil, nil, err
	}
	sq, err = p.trunc(sq, r.frac)
	return xt, sq, err
}

// normSquares is, in one round, x with f bits, the squares of x with
// f - A bits (Fr bits) and, when the shape has coarse octaves, those of x
// with f - C bits (Fc bits).
func (p *party) normSquares(x []uint64, scale int, s normLUTShape) (xt, sq, sqc []uint64, err error) {
	var pieces []opening
	switch {
	case s.A == 0 && scale == 0:
		xt = x
		pieces = append(pieces, p.mulOp(x, x, &sq))
	case s.A == 0:
		pieces = append(pieces, p.truncPairOp(x, x, scale, &xt, new([]uint64), &sq))
	default:
		if scale == 0 {
			xt = x
		} else {
			pieces = append(pieces, p.truncOp(x, scale, &xt))
		}
		pieces = append(pieces, p.truncPairOp(x, x, scale+s.A, new([]uint64), new([]uint64), &sq))
	}
	if s.C > 0 {
		pieces = append(pieces, p.truncPairOp(x, x, scale+s.C, new([]uint64), new([]uint64), &sqc))
	}
	return xt, sq, sqc, p.open(pieces...)
}

func (p *bill) normTailLUT(rows, dim, vlo, vhi, scale int) {
	r := p.cfg.Ring
	n := rows * dim
	lo, hi := lutNormRange(p.cfg, dim, vlo, vhi)
	s, err := r.normLUT(dim, lo, hi)
	if err != nil {
		return // Run refuses the shape (RMSNorm.shape)
	}
	var beside []piece
	switch {
	case !s.fuse && scale == 0:
		p.mulTrunc(n, r.frac)
	case !s.fuse:
		p.open(truncPairPiece(n, scale))
		p.trunc(n, r.frac)
	default:
		var pieces []piece
		switch {
		case s.A == 0 && scale == 0:
			pieces = append(pieces, mulPiece(n))
		case s.A == 0:
			pieces = append(pieces, truncPairPiece(n, scale))
		default:
			if scale > 0 {
				pieces = append(pieces, truncPiece(n, scale))
			}
			pieces = append(pieces, truncPairPiece(n, scale+s.A))
		}
		if s.C > 0 {
			pieces = append(pieces, truncPairPiece(n, scale+s.C))
			p.sumRows(n)
			p.addConst(rows)
		}
		p.open(pieces...)
		beside = []piece{truncPiece(rows, s.Fr(r)-r.frac)}
	}
	p.sumRows(n)
	p.addConst(rows)
	p.octaveProducts(rows, s.qlo, s.qhi, 2, beside, shapeOf(repeat(1, rows)), shapeOf(repeat(dim, rows)))
	p.open(truncPairPiece(n, s.P))
	p.affine(n)
	p.trunc(n, s.E+1)
	p.affine(n)
}
