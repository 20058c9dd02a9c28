package mpc

import (
	"fmt"
	"math"
	"sync"
)

// The norms' inverse square root from lookup tables (Config.Nonlinear =
// LUT): 8 rounds a norm instead of 15.
//
// The row sums of squares give u = dim·(mean(x²) + eps) with f
// fractional bits, which must lie below the bits a lookup reads
// (Ring.LookupBits): the default range of the mean square ends there when
// the iterative default [2^-10, 2^(2·IntBits+1)) would pass it (bgv-n14's
// rows of GPT-2's 768: mean squares up to 2^22, an RMS of 2048; bgv-n13's
// of stories260K's 64: the whole default). One round opens the comparisons [u >= 2^q] for the
// octaves q of u's range and one lookup per octave, reading u's two
// leading bits and the next k - 2 at that octave (a table of 2^k = 1024
// entries of which the octave uses a quarter, so that a neighbour read
// at either end stays inside it): the guess g of 1/sqrt(mean + eps) at
// the bin and g²/dim. A second round gates them by the octave bits
// b_q (one product each; the sum over the octaves picks the one u is in),
// within 0.6% of the root. Then e = 1 - u·g²/dim (a product and its
// truncation, beside x·g and its truncation) and
//
//	y = x·g·(1 + e/2) = x·g + trunc((x·g)·e, P+1),
//
// a product and a truncation more, within 3e²/8 < 2e-5 of x/sqrt(mean + eps).

// normLookupBits is k for the norms' tables.
const normLookupBits = 10

// normLUTShape is a norm's lookup layout: u has f fractional bits and
// lies in [2^qlo, 2^qhi); the guess has P fractional bits and g²/dim
// P + extra (extra = ceil(log2 dim)).
type normLUTShape struct {
	qlo, qhi, P, extra int
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
	s := normLUTShape{qlo: max(0, int(math.Floor(math.Log2(uLo)))), qhi: top, extra: extra}
	// u·g²/dim has f + P + extra bits and is about 1; x·g (about the
	// normalized value, below sqrt(dim)) has f + P.
	s.P = min(r.work, r.TruncBound()-2-r.frac-extra, r.TruncBound()-2-r.frac-(extra+1)/2)
	if lo >= hi || s.P < r.frac || s.qhi-s.qlo < 1 || s.qhi+1 > r.LookupBits() || normLookupBits > r.LookupBits() {
		return normLUTShape{}, fmt.Errorf("rows of %d with mean squares in [2^%d, 2^%d) do not fit a lookup modulo %d (at most [2^%d, 2^%d))",
			dim, lo, hi, r.t, lo, r.LookupBits()-1-extra-r.frac)
	}
	return s, nil
}

// shift is the window of octave q: its two leading bits and k - 2 more.
func (s normLUTShape) shift(q int) int { return max(0, q+2-normLookupBits) }

// normTables caches the tables of a ring, a row width and an octave.
var normTables sync.Map // normTableKey -> [][]uint64

type normTableKey struct {
	t            uint64
	f, w, dim, q int
	shape        normLUTShape
}

// tables are octave q's guesses: g = 1/sqrt(u/(dim·2^f)) at the
// middle of each bin (P bits) and g²/dim (P + extra bits), entries
// outside the octave and its neighbour bins clamped to them; computed
// once per ring, width and octave.
func (s normLUTShape) tables(r *Ring, dim, q int) [][]uint64 {
	key := normTableKey{r.t, r.frac, r.work, dim, q, s}
	if v, ok := normTables.Load(key); ok {
		return v.([][]uint64)
	}
	t := s.makeTables(r, dim, q)
	normTables.Store(key, t)
	return t
}

func (s normLUTShape) makeTables(r *Ring, dim, q int) [][]uint64 {
	n := 1 << normLookupBits
	sh := s.shift(q)
	first, last := (1<<q)>>sh-1, (2<<q)>>sh // the octave's bins and a neighbour each side
	first = max(first, 0)
	g, g2 := make([]uint64, n), make([]uint64, n)
	scale := float64(dim) * math.Ldexp(1, r.frac)
	for j := range n {
		b := min(max(j, first), last)
		u := math.Max((float64(b)+0.5)*math.Ldexp(1, sh), 0.5)
		v := 1 / math.Sqrt(u/scale)
		g[j], g2[j] = r.encodeAt(v, s.P), r.encodeAt(v*v/float64(dim), s.P+s.extra)
	}
	return [][]uint64{g, g2}
}

// normTailLUT is normTail by lookups.
func (p *party) normTailLUT(x []uint64, rows, dim int, eps float64, vlo, vhi int) ([]uint64, error) {
	r := p.r
	lo, hi := lutNormRange(Config{Ring: r}, dim, vlo, vhi)
	s, err := r.normLUT(dim, lo, hi)
	if err != nil {
		return nil, err
	}
	lens := repeat(dim, rows)
	sq, err := p.mulTrunc(x, x, r.frac)
	if err != nil {
		return nil, err
	}
	u := p.addConst(p.sumRows(sq, lens), r.encodeAt(eps*float64(dim), r.frac))
	// The octave bits and the lookups, one round.
	var thr [][]uint64
	for q := s.qlo + 1; q < s.qhi; q++ {
		thr = append(thr, p.addConst(u, r.Neg(r.FromInt(1<<q))))
	}
	var c []uint64
	var pieces []opening
	if len(thr) > 0 {
		pieces = append(pieces, p.signOp(concat(thr...), &c))
	}
	tabs := make([][][]uint64, s.qhi-s.qlo)
	for i := range tabs {
		q := s.qlo + i
		pieces = append(pieces, p.lookupOp(u, s.shift(q), normLookupBits, s.tables(r, dim, q), &tabs[i]))
	}
	if err := p.open(pieces...); err != nil {
		return nil, err
	}
	// Octave q's bit b_q = c_q - c_(q+1), c_qlo = 1 and c_qhi = 0.
	var gates, vals []uint64
	for i := range tabs {
		b := p.octaveBit(c, i, len(tabs), rows)
		gates = append(gates, b...)
		gates = append(gates, b...)
		vals = append(vals, tabs[i][0]...)
		vals = append(vals, tabs[i][1]...)
	}
	gated, err := p.mul(gates, vals)
	if err != nil {
		return nil, err
	}
	g, g2 := make([]uint64, rows), make([]uint64, rows)
	for i := range tabs {
		for j := range rows {
			g[j] = r.Add(g[j], gated[2*i*rows+j])
			g2[j] = r.Add(g2[j], gated[(2*i+1)*rows+j])
		}
	}
	p.charge(2 * len(tabs) * rows)
	var ug, xg []uint64
	if err := p.open(p.mulOp(u, g2, &ug), p.mulOp(x, broadcast(g, lens), &xg)); err != nil {
		return nil, err
	}
	var zg, y []uint64
	if err := p.open(p.truncOp(ug, r.frac+s.extra, &zg), p.truncOp(xg, s.P, &y)); err != nil {
		return nil, err
	}
	e := p.affine(r.Neg(1), zg, 0, nil, r.encodeAt(1, s.P))
	ye, err := p.mulTrunc(y, broadcast(e, lens), s.P+1)
	if err != nil {
		return nil, err
	}
	return p.affine(1, y, 1, ye, 0), nil
}

// octaveBit is the party's share of b_q for octave i of m, from the
// comparison bits c (m - 1 blocks of rows: block i is [u >= 2^(qlo+i+1)]).
func (p *party) octaveBit(c []uint64, i, m, rows int) []uint64 {
	r := p.r
	one := p.constant(1, rows)
	lower := one // c_q
	if i > 0 {
		lower = c[(i-1)*rows : i*rows]
	}
	if i == m-1 {
		return lower
	}
	return p.affine(1, lower, r.Neg(1), c[i*rows:(i+1)*rows], 0)
}

func (p *bill) normTailLUT(rows, dim, vlo, vhi int) {
	r := p.cfg.Ring
	n := rows * dim
	lo, hi := lutNormRange(p.cfg, dim, vlo, vhi)
	s, err := r.normLUT(dim, lo, hi)
	if err != nil {
		return // Run refuses the shape (RMSNorm.shape)
	}
	m := s.qhi - s.qlo
	p.mulTrunc(n, r.frac)
	p.sumRows(n)
	p.addConst(rows)
	p.addConst((m - 1) * rows)
	pieces := make([]piece, 0, m+1)
	if m > 1 {
		pieces = append(pieces, p.cfg.signPiece((m-1)*rows))
	}
	for range m {
		pieces = append(pieces, lookupPiece(rows, normLookupBits, 2))
	}
	p.open(pieces...)
	p.affine(max(0, m-1) * rows) // the octave bits but the top one
	p.mul(2 * m * rows)
	p.local(2 * 2 * m * rows)
	p.open(mulPiece(rows), mulPiece(n))
	p.open(truncPiece(rows, r.frac+s.extra), truncPiece(n, s.P))
	p.affine(rows)
	p.mulTrunc(n, s.P+1)
	p.affine(n)
}
