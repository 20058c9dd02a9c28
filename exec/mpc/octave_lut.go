package mpc

import (
	"math"
	"sync"
)

// Octave lookups: tables chosen by the octave of a shared positive
// integer u, the norms' inverse square root (norm_lut.go) and the
// softmax's reciprocal (below) read their guesses this way.
//
// For u in [2^qlo, 2^qhi), one round opens the comparisons [u >= 2^q]
// (qlo < q < qhi) and one lookup per octave q, reading u's bits from
// octaveShift(q) on: the octave's two leading bits and k - 2 more, so
// that an octave's values read a quarter of the 2^k entries and a
// neighbour read at either end stays inside the table. A second round
// gates each octave's tables by its bit b_q = c_q - c_(q+1) (c_qlo = 1,
// c_qhi = 0) and sums them: the tables of u's octave at its bin. Its
// users want the guess times values of the row: the same second round
// makes those products directly, Σ_q b_q·T_q·z (octaveProducts, with the
// gated products of gated.go), where a step's terms fit one round.

// octaveShift is the window's shift of octave q.
func octaveShift(q int) int { return max(0, q+2-normLookupBits) }

// octaveBins are the bins of octave q's table that its values and their
// neighbours read: first to last; a table's other entries repeat them,
// but for the lowest octave (qlo) below it and the highest (qhi - 1) above
// it, whose entries read values out of the range, as close to right as
// the window allows (the highest's reads up to 2^(qhi+1)).
func octaveBins(q, qlo, qhi int) (first, last int) {
	sh := octaveShift(q)
	first, last = max((1<<q)>>sh-1, 0), (2<<q)>>sh
	if q == qlo {
		first = 0
	}
	if q == qhi-1 {
		last = 1<<normLookupBits - 1
	}
	return first, last
}

var octaveCache sync.Map // octaveKey -> [][]uint64

type octaveKey struct {
	id          any // what fixes the functions and their bits
	t           uint64
	q, qlo, qhi int
}

// octaveTables are octave q's tables for u in [2^qlo, 2^qhi): table i
// holds fns[i] of the middle of each bin of u with bits[i] fractional
// bits, the entries outside the bins octaveBins reads repeating its ends;
// computed once per id (a comparable value that fixes fns and bits), ring
// and octave.
func octaveTables(r *Ring, id any, q, qlo, qhi int, bits []int, fns ...func(u float64) float64) [][]uint64 {
	key := octaveKey{id, r.t, q, qlo, qhi}
	if v, ok := octaveCache.Load(key); ok {
		return v.([][]uint64)
	}
	n := 1 << normLookupBits
	sh := octaveShift(q)
	first, last := octaveBins(q, qlo, qhi)
	tabs := make([][]uint64, len(fns))
	for i := range tabs {
		tabs[i] = make([]uint64, n)
	}
	for j := range n {
		b := min(max(j, first), last)
		u := math.Max((float64(b)+0.5)*math.Ldexp(1, sh), 0.5)
		for i, fn := range fns {
			tabs[i][j] = r.encodeAt(fn(u), bits[i])
		}
	}
	octaveCache.Store(key, tabs)
	return tabs
}

// octaveSpec is what one party's octave lookups read: the values u (one
// per row) in [2^qlo, 2^qhi), whose comparisons with the octaves' bounds
// choose the octave, each octave's m tables, and where its lookup reads:
// by default u's bits from octaveShift(q) on, or (read) another share of
// the same rows held with fewer fractional bits, at its own shift.
type octaveSpec struct {
	u        []uint64
	qlo, qhi int
	tables   func(q int) [][]uint64
	read     func(q int) (v []uint64, shift int) // nil: u at octaveShift(q)
}

func (sp octaveSpec) window(q int) ([]uint64, int) {
	if sp.read == nil {
		return sp.u, octaveShift(q)
	}
	return sp.read(q)
}

// octaveRead is one party's first round of the octave lookups: the
// comparisons [u >= 2^q] (c: qhi - qlo - 1 blocks of rows) and the read of
// the tables of each octave at u's bins (tabs[i]: octave qlo + i's
// tables), with the openings beside in the same round.
func (p *party) octaveRead(sp octaveSpec, beside ...opening) (c []uint64, tabs [][][]uint64, err error) {
	r := p.r
	u, qlo, qhi := sp.u, sp.qlo, sp.qhi
	var thr [][]uint64
	for q := qlo + 1; q < qhi; q++ {
		thr = append(thr, p.addConst(u, r.Neg(r.FromInt(1<<q))))
	}
	var pieces []opening
	if len(thr) > 0 {
		pieces = append(pieces, p.signOp(concat(thr...), &c))
	}
	tabs = make([][][]uint64, qhi-qlo)
	for i := range tabs {
		q := qlo + i
		v, shift := sp.window(q)
		pieces = append(pieces, p.lookupOp(v, shift, normLookupBits, sp.tables(q), &tabs[i]))
	}
	return c, tabs, p.open(append(pieces, beside...)...)
}

func (p *bill) octaveRead(rows, qlo, qhi, m int, beside ...piece) {
	octaves := qhi - qlo
	p.addConst((octaves - 1) * rows)
	pieces := make([]piece, 0, octaves+1)
	if octaves > 1 {
		pieces = append(pieces, p.cfg.signPiece((octaves-1)*rows))
	}
	for range octaves {
		pieces = append(pieces, lookupPiece(rows, normLookupBits, m))
	}
	p.open(append(pieces, beside...)...)
	p.affine(max(0, octaves-1) * rows) // the octave bits but the top one
}

// octaveGuess is one party's read of m tables per octave (tables(q)) at
// the octave and bin of each of its values u: 2 rounds.
func (p *party) octaveGuess(sp octaveSpec, m int, beside ...opening) ([][]uint64, error) {
	r := p.r
	rows := len(sp.u)
	c, tabs, err := p.octaveRead(sp, beside...)
	if err != nil {
		return nil, err
	}
	var gates, vals []uint64
	for i := range tabs {
		b := p.octaveBit(c, i, len(tabs), rows)
		for j := range m {
			gates = append(gates, b...)
			vals = append(vals, tabs[i][j]...)
		}
	}
	gated, err := p.mul(gates, vals)
	if err != nil {
		return nil, err
	}
	out := make([][]uint64, m)
	for j := range out {
		out[j] = make([]uint64, rows)
		for i := range tabs {
			for k, v := range gated[(i*m+j)*rows : (i*m+j+1)*rows] {
				out[j][k] = r.Add(out[j][k], v)
			}
		}
	}
	p.charge(m * len(tabs) * rows)
	return out, nil
}

func (p *bill) octaveGuess(rows, qlo, qhi, m int, beside ...piece) {
	octaves := qhi - qlo
	p.octaveRead(rows, qlo, qhi, m, beside...)
	p.mul(m * octaves * rows)
	p.local(2 * m * octaves * rows)
}

// guessProduct is a product of a guess read by octave lookups with values
// of its row: table j of the octaves (Σ_q b_q·T_qj, the guess) times *z,
// lens[i] elements of z for row i (read after the lookups' round, which
// may make them).
type guessProduct struct {
	table int
	z     *[]uint64
	lens  []int
}

// octaveProducts is one party's products of the guesses read at the
// octave and bin of each of its values u (m tables per octave, tables(q))
// with values of their rows: out[j] is prods[j]'s. The comparisons and
// the lookups take a round, with the openings beside, the gating and the
// products one more when their terms fit a round (gated.go), else one
// each: 2 or 3 rounds.
func (p *party) octaveProducts(sp octaveSpec, m int, beside []opening, prods ...guessProduct) ([][]uint64, error) {
	out := make([][]uint64, len(prods))
	widths := make([]int, len(prods))
	for j, pr := range prods {
		widths[j] = sum(pr.lens)
	}
	pieces := make([]opening, len(prods))
	if !gatedFits(p.gated, sp.qhi-sp.qlo, widths...) {
		g, err := p.octaveGuess(sp, m, beside...)
		if err != nil {
			return nil, err
		}
		for j, pr := range prods {
			pieces[j] = p.mulOp(*pr.z, broadcast(g[pr.table], pr.lens), &out[j])
		}
		return out, p.open(pieces...)
	}
	c, tabs, err := p.octaveRead(sp, beside...)
	if err != nil {
		return nil, err
	}
	bits := make([][]uint64, len(tabs))
	for i := range tabs {
		bits[i] = p.octaveBit(c, i, len(tabs), len(sp.u))
	}
	for j, pr := range prods {
		t := make([][]uint64, len(tabs))
		for i := range tabs {
			t[i] = tabs[i][pr.table]
		}
		pieces[j] = p.gatedOp(bits, t, *pr.z, pr.lens, &out[j])
	}
	return out, p.open(pieces...)
}

// gatedShape is a guess product's size for a bill: its elements in all
// rows and the blocks of one octave's gated products (gatedBlocks).
type gatedShape struct{ elems, blocks int }

// shapeOf is the gatedShape of rows of lens.
func shapeOf(lens []int) gatedShape { return gatedShape{sum(lens), gatedBlocks(lens)} }

// octaveProducts bills products of the given shapes, with the pieces
// beside in the lookups' round.
func (p *bill) octaveProducts(rows, qlo, qhi, m int, beside []piece, prods ...gatedShape) {
	octaves := qhi - qlo
	pieces := make([]piece, len(prods))
	widths := make([]int, len(prods))
	for j, pr := range prods {
		widths[j] = pr.elems
	}
	if !gatedFits(p.cfg.gatedBound(), octaves, widths...) {
		p.octaveGuess(rows, qlo, qhi, m, beside...)
		for j, w := range widths {
			pieces[j] = mulPiece(w)
		}
		p.open(pieces...)
		return
	}
	p.octaveRead(rows, qlo, qhi, m, beside...)
	for j, pr := range prods {
		pieces[j] = gatedPiece(octaves, pr.elems, pr.blocks)
	}
	p.open(pieces...)
}

// octaveBit is the party's share of b_q for octave i of m, from the
// comparison bits c (m - 1 blocks of rows: block i is [u >= 2^(qlo+i+1)]).
func (p *party) octaveBit(c []uint64, i, m, rows int) []uint64 {
	r := p.r
	lower := p.constant(1, rows) // c_qlo
	if i > 0 {
		lower = c[(i-1)*rows : i*rows]
	}
	if i == m-1 {
		return lower
	}
	return p.affine(1, lower, r.Neg(1), c[i*rows:(i+1)*rows], 0)
}

// The softmax's reciprocal by octave lookups (Config.Nonlinear = LUT).
// The exponentials come with f fractional bits beyond W (expLUT); their
// row sums S = s·2^(W+f), s in [1, 2^hi), are u: one round opens the
// octave comparisons and lookups of u, reading the guess g of 1/s at u's
// bin (P bits, within 0.6%: P = W, or less for raw probabilities,
// Softmax.Raw), and beside them the truncation of the
// exponentials to W bits, whose row sums are s. Then the probabilities
// are e·g·(2 - s·g): s·g beside e·g (with the gating in one round,
// octaveProducts), their truncations by 2^W (P bits each) and their
// product in one round (fused.go), and the truncation of 2·e·g -
// (e·g)·(s·g) from 2P bits (left to the consumer with Softmax.Raw): 4
// rounds for the reciprocal, the exponentials' truncation and the final
// product, 3 raw (one more each for a step of many rows) where the
// iterative way takes 9 and 2. Where u's octaves pass the bits a lookup
// reads (the 41-bit t), the truncation takes a round of its own first and
// the lookups read s·2^W.

// recipTables are octave q's guesses of 2^F/u with P fractional bits, for
// u = s·2^F in [2^qlo, 2^qhi).
func recipTables(r *Ring, q, qlo, qhi, P, F int) [][]uint64 {
	return octaveTables(r, struct{ recip, p, f int }{r.work, P, F}, q, qlo, qhi, []int{P},
		func(u float64) float64 { return math.Ldexp(1, F) / u })
}

// rawSumFits reports whether the row sums of exponentials with f bits
// beyond W, below 2^hi, fit the octave lookups (their window reads up to
// bit W + f + hi + 1).
func rawSumFits(r *Ring, hi int) bool { return r.work+r.frac+hi+1 <= r.LookupBits() }

// tailPrec is the reciprocal's precision P of a softmax's tail and
// whether its probabilities stay at 2P bits (Softmax.Raw).
type tailPrec struct {
	P   int
	raw bool
}

// softmaxTailLUT is one party's probabilities e/Σe from the exponentials
// eRaw (W + f bits) of rows of lens, the row sums in [1, 2^hi): f bits,
// or 2P if raw.
func (p *party) softmaxTailLUT(eRaw []uint64, lens []int, hi int, prec tailPrec) ([]uint64, error) {
	r := p.r
	w := r.work
	P := prec.P
	ones := repeat(1, len(lens))
	var e, sum []uint64
	var pr [][]uint64
	var err error
	if rawSumFits(r, hi) { // s·g and e·g, the lookups reading Σ eRaw
		F := w + r.frac
		tr := p.truncOp(eRaw, r.frac, &e)
		beside := opening{mask: tr.mask, use: func(cs []uint64) error {
			if err := tr.use(cs); err != nil {
				return err
			}
			sum = p.sumRows(e, lens)
			return nil
		}}
		sp := octaveSpec{u: p.sumRows(eRaw, lens), qlo: F, qhi: F + hi, tables: func(q int) [][]uint64 { return recipTables(r, q, F, F+hi, P, F) }}
		pr, err = p.octaveProducts(sp, 1, []opening{beside}, guessProduct{table: 0, z: &sum, lens: ones}, guessProduct{table: 0, z: &e, lens: lens})
	} else {
		if e, err = p.trunc(eRaw, r.frac); err != nil {
			return nil, err
		}
		sum = p.sumRows(e, lens)
		sp := octaveSpec{u: sum, qlo: w, qhi: w + hi, tables: func(q int) [][]uint64 { return recipTables(r, q, w, w+hi, P, w) }}
		pr, err = p.octaveProducts(sp, 1, nil, guessProduct{table: 0, z: &sum, lens: ones}, guessProduct{table: 0, z: &e, lens: lens})
	}
	if err != nil {
		return nil, err
	}
	sg, eg := pr[0], pr[1]
	var egt, sgt, prod []uint64
	if err := p.open(p.truncPairOp(eg, broadcast(sg, lens), w, &egt, &sgt, &prod)); err != nil {
		return nil, err
	}
	// e·g·(2 - s·g) = 2·egt - egt·sgt, 2P bits
	pr2 := p.affine(r.FromInt(2<<P), egt, r.Neg(1), prod, 0)
	if prec.raw {
		return pr2, nil
	}
	return p.trunc(pr2, 2*P-r.frac)
}

// softmaxTailLUT bills the tail of rows whose exponentials have shape e.
func (p *bill) softmaxTailLUT(rows int, e gatedShape, hi int, prec tailPrec) {
	r := p.cfg.Ring
	w := r.work
	P := prec.P
	n := e.elems
	ones := shapeOf(repeat(1, rows))
	if rawSumFits(r, hi) {
		p.sumRows(n)
		p.octaveProducts(rows, w+r.frac, w+r.frac+hi, 1, []piece{truncPiece(n, r.frac)}, ones, e)
		p.sumRows(n)
	} else {
		p.trunc(n, r.frac)
		p.sumRows(n)
		p.octaveProducts(rows, w, w+hi, 1, nil, ones, e)
	}
	p.open(truncPairPiece(n, w))
	p.affine(n)
	if !prec.raw {
		p.trunc(n, 2*P-r.frac)
	}
}

// recipPrecLUT is P: s·g, about 1 with W + P fractional bits, and the
// product of the truncations, 2P bits (P <= W), stay below the
// truncation bound.
func recipPrecLUT(r *Ring) int { return min(r.work, r.TruncBound()-2-r.work) }

// recipLUTErr is an error if a softmax of row sums below 2^hi reads its
// reciprocal by lookup (Nonlinear = LUT) beyond the bits its ring's
// lookups read.
func recipLUTErr(c Config, hi int) error {
	if c.Nonlinear != LUT || c.Ring == nil {
		return nil
	}
	r := c.Ring
	if top := r.work + hi + 1; top > r.LookupBits() || normLookupBits > r.LookupBits() {
		return r.lookupErr(octaveShift(r.work+hi-1), normLookupBits, 1)
	}
	return nil
}
