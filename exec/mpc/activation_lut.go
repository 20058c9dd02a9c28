package mpc

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
)

// The activations from lookup tables (Config.Nonlinear = LUT): 3 rounds
// instead of 26 (SiLU) and 29 (GELU).
//
// φ (SiLU or GELU) is φ(x) = x beyond +G and 0 beyond -G (within 2e-6),
// and in between a line per bin: φ(x) ≈ A_j + B_j·x on the bins of width
// h = 2R/2^k of [-R, R) (R = G rounded up to a power of two, k =
// actLookupBits). One round opens the comparisons [x >= -G'] and
// [x >= G'] (G' = R - 2h) and a lookup of (A, B) at bits of x + R; the
// lookup reads a neighbour bin now and then (see lookup.go), so line j
// is fitted, minimax, over its bin and both neighbours. With the bits
// b_lo, b_hi and in = b_lo - b_hi (1 inside [-G', G')), a second round
// makes in·A and b_hi·x (products of a 0/1 by a value: no truncation) and
// B·x, and a third truncates B·x and multiplies it by in (fused.go):
//
//	φ(x) = in·A + in·trunc(B·x) + b_hi·x.
//
// Beyond ±R the lookup reads garbage, which in = 0 discards (B·x of such
// a value may pass the truncation's range: its garbage is multiplied by
// 0 exactly).

// actLookupBits is k: tables of 1024 lines.
const actLookupBits = 10

// lutActivation is one activation for the lookup method.
type lutActivation struct {
	name string
	fn   func(float64) float64
	sat  float64 // G: φ is x beyond G and 0 below -G, within 2e-6
}

var (
	siluLUT = lutActivation{name: "silu", fn: func(x float64) float64 { return x / (1 + math.Exp(-x)) }, sat: 16}
	geluLUT = lutActivation{name: "gelu", fn: func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
	}, sat: 5}
)

// lutShape is the table range R, the bin width h (both in units) and the
// lookup window of an activation in ring r: bits [shift, shift+k) of
// x + R with f fractional bits.
func (a lutActivation) shape(r *Ring) (R, h float64, shift int) {
	logR := bits.Len(uint(math.Ceil(a.sat)) - 1) // R = 2^logR >= G
	R = math.Ldexp(1, logR)
	h = 2 * R / (1 << actLookupBits)
	return R, h, logR + 1 + r.frac - actLookupBits
}

// gate is G' = R - 2h: inside, the bin read and its neighbours lie in the
// table.
func (a lutActivation) gate(r *Ring) float64 {
	R, h, _ := a.shape(r)
	return R - 2*h
}

// lutTables are the intercepts A (f fractional bits) and the slopes B (W
// bits) of an activation's lines in a ring, computed once per ring.
type lutTables struct{ a, b []uint64 }

func (a lutActivation) tables(r *Ring) lutTables {
	R, h, _ := a.shape(r)
	return lineTables(r, a.name, a.fn, -R, h, r.frac, r.work)
}

var lineCache sync.Map // lineKey -> lutTables

type lineKey struct {
	name         string
	t            uint64
	lo, h        float64
	aBits, bBits int
}

// lineTables are the lines A_j + B_j·x of fn on the 2^k bins of width h
// from lo, each fitted over its bin and both neighbours (a lookup may read
// a neighbour's), A with aBits fractional bits and B with bBits: computed
// once per function, ring and layout.
func lineTables(r *Ring, name string, fn func(float64) float64, lo, h float64, aBits, bBits int) lutTables {
	key := lineKey{name, r.t, lo, h, aBits, bBits}
	if v, ok := lineCache.Load(key); ok {
		return v.(lutTables)
	}
	n := 1 << actLookupBits
	tb := lutTables{a: make([]uint64, n), b: make([]uint64, n)}
	for j := range n {
		from := lo + float64(j-1)*h
		A, B := minimaxLine(fn, from, from+3*h)
		tb.a[j], tb.b[j] = r.encodeAt(A, aBits), r.encodeAt(B, bBits)
	}
	lineCache.Store(key, tb)
	return tb
}

// minimaxLine is the line A + B·x of least maximum error to fn on
// [lo, hi] for a function whose second derivative keeps its sign there:
// the secant's slope, the intercept centred between the largest and the
// smallest deviations (sampled).
func minimaxLine(fn func(float64) float64, lo, hi float64) (A, B float64) {
	B = (fn(hi) - fn(lo)) / (hi - lo)
	const samples = 32
	dmin, dmax := math.Inf(1), math.Inf(-1)
	for i := range samples + 1 {
		x := lo + (hi-lo)*float64(i)/samples
		d := fn(x) - B*x
		dmin, dmax = math.Min(dmin, d), math.Max(dmax, d)
	}
	return (dmin + dmax) / 2, B
}

// lutErr is an error if c reads an activation's table (Nonlinear = LUT)
// of values with scale more fractional bits than f beyond the bits its
// ring's lookups read (Ring.LookupBits: a modulus with few trailing zero
// bits in t - 1 leaves few), or takes scaled values without lookups.
func lutErr(c Config, a lutActivation, scale int) error {
	if err := scaleErr(c, scale); err != nil || c.Nonlinear != LUT || c.Ring == nil {
		return err
	}
	_, _, shift := a.shape(c.Ring)
	return c.Ring.lookupErr(shift+scale, actLookupBits, 2)
}

// scaleErr is an error for an input scale (extra fractional bits left by
// an untruncated product) other than 0 without lookups (Nonlinear = LUT),
// or outside [0, f].
func scaleErr(c Config, scale int) error {
	switch {
	case scale == 0:
		return nil
	case c.Nonlinear != LUT:
		return fmt.Errorf("inputs with %d extra fractional bits: only the lookup method (lut) takes them", scale)
	case scale < 0 || (c.Ring != nil && scale > c.Ring.frac):
		return fmt.Errorf("inputs with %d extra fractional bits: want 0 to f", scale)
	}
	return nil
}

// lineOps are the openings of an activation's first round on x with f +
// scale fractional bits: the comparisons [x >= -G'] and [x >= G'] into
// cmp (2n bits) and the lookup of its line (A, B) into tab.
func (p *party) lineOps(x []uint64, a lutActivation, scale int, cmp *[]uint64, tab *[][]uint64) []opening {
	r := p.r
	in := r.frac + scale
	R, _, shift := a.shape(r)
	g := r.encodeAt(a.gate(r), in)
	tb := a.tables(r)
	return []opening{
		p.signOp(concat(p.addConst(x, g), p.addConst(x, r.Neg(g))), cmp),
		p.lookupOp(p.addConst(x, r.encodeAt(R, in)), shift+scale, actLookupBits, [][]uint64{tb.a, tb.b}, tab),
	}
}

// lineGates are b_hi = [x >= G'] and in = [-G' <= x < G'] from lineOps'
// comparisons of n values.
func (p *party) lineGates(cmp []uint64, n int) (hi, inside []uint64) {
	hi = cmp[n:]
	return hi, p.affine(1, cmp[:n], p.r.Neg(1), hi, 0)
}

// activationLUT is one party's φ(x) by lookup, x with f + scale
// fractional bits (scale > 0: a linear layer's output left untruncated,
// truncated here in the second round, fused with its products).
func (p *party) activationLUT(x []uint64, a lutActivation, scale int) ([]uint64, error) {
	r := p.r
	n := len(x)
	var cmp []uint64
	var tab [][]uint64
	if err := p.open(p.lineOps(x, a, scale, &cmp, &tab)...); err != nil {
		return nil, err
	}
	hi, inside := p.lineGates(cmp, n)
	// in·A, then b_hi·x and B·x (x truncated to f bits in the same round)
	var ina, hbx []uint64
	if err := p.open(p.mulOp(inside, tab[0], &ina), p.mulShiftOp(concat(x, x), scale, concat(hi, tab[1]), &hbx)); err != nil {
		return nil, err
	}
	var bx []uint64 // in·trunc(B·x): B·x of a value out of the bins is garbage, times 0
	if err := p.open(p.truncMulOp(hbx[n:], r.work, inside, &bx)); err != nil {
		return nil, err
	}
	out := p.affine(1, ina, 1, bx, 0)
	for i, v := range hbx[:n] {
		out[i] = r.Add(out[i], v)
	}
	p.charge(n)
	return out, nil
}

func (p *bill) activationLUT(n, scale int) {
	p.addConst(3 * n)
	p.open(p.cfg.signPiece(2*n), lookupPiece(n, actLookupBits, 2))
	p.affine(n)
	p.open(mulPiece(n), mulShiftPiece(2*n, scale))
	p.open(truncMulPiece(n, p.cfg.Ring.work))
	p.affine(n)
	p.local(2 * n)
}
