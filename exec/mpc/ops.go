package mpc

import "math"

// The building blocks of the non-linear protocols, as one party's code:
// each is a method of *party that takes and returns that party's shares
// only. Each has a bill method of the same name for the protocol's
// Estimate.

// truncMaybe divides by 2^k; nothing happens when k is 0.
func (p *party) truncMaybe(x []uint64, k int) ([]uint64, error) {
	if k == 0 {
		return x, nil
	}
	return p.trunc(x, k)
}

// mulTrunc multiplies, then divides by 2^k: a product of values with a and
// b fractional bits has a+b - k.
func (p *party) mulTrunc(x, y []uint64, k int) ([]uint64, error) {
	z, err := p.mul(x, y)
	if err != nil {
		return nil, err
	}
	return p.truncMaybe(z, k)
}

// mulFix multiplies fixed-point values with f fractional bits.
func (p *party) mulFix(x, y []uint64) ([]uint64, error) { return p.mulTrunc(x, y, p.r.frac) }

// mulPubRaw multiplies by public elements, locally: element i by
// c[i/block] (a single constant with block 0). No truncation.
func (p *party) mulPubRaw(x []uint64, c []uint64, block int) []uint64 {
	z := make([]uint64, len(x))
	for i, v := range x {
		k := 0
		if block > 0 {
			k = i / block
		}
		z[i] = p.r.Mul(v, c[k])
	}
	p.charge(len(x))
	return z
}

// toPrec converts values with from fractional bits to to bits: a local
// exact product by 2^(to-from) upwards, a truncation downwards.
func (p *party) toPrec(x []uint64, from, to int) ([]uint64, error) {
	switch {
	case to > from:
		return p.mulPubRaw(x, []uint64{1 << (to - from)}, 0), nil
	default:
		return p.truncMaybe(x, from-to)
	}
}

func (p *bill) toPrec(n, from, to int) {
	if to > from {
		p.scaleLocal(n)
	} else {
		p.trunc(n, from-to)
	}
}

// scaleParams writes a public factor 0 < c <= 1 as m·2^-e, m in [0.5, 1)
// encoded with pm fractional bits, the most that keeps the product of m by
// a value below 2^magBits (with f fractional bits) under the truncation
// bound; the product truncated by pm + e has f fractional bits again.
func (r *Ring) scaleParams(c float64, magBits int) (m uint64, k int) {
	pm := max(1, min(r.work, r.TruncBound()-1-r.frac-magBits))
	mant, e := math.Frexp(c)
	return r.encodeAt(mant, pm), pm - e
}

// scale multiplies values below 2^magBits in magnitude by a public
// 0 < c <= 1, in one truncation.
func (p *party) scale(x []uint64, c float64, magBits int) ([]uint64, error) {
	m, k := p.r.scaleParams(c, magBits)
	return p.truncMaybe(p.mulPubRaw(x, []uint64{m}, 0), k)
}

func (p *bill) scale(n int, c float64, magBits int) {
	_, k := p.cfg.Ring.scaleParams(c, magBits)
	p.scaleLocal(n)
	p.trunc(n, k)
}

// sumRows sums consecutive runs of lens[i] elements: one value per row.
func (p *party) sumRows(x []uint64, lens []int) []uint64 {
	out := make([]uint64, len(lens))
	off := 0
	for i, l := range lens {
		var acc uint64
		for _, v := range x[off : off+l] {
			acc = p.r.Add(acc, v)
		}
		out[i] = acc
		off += l
	}
	p.charge(len(x))
	return out
}

// broadcast repeats row value i lens[i] times (no arithmetic).
func broadcast(v []uint64, lens []int) []uint64 {
	var out []uint64
	for i, l := range lens {
		for range l {
			out = append(out, v[i])
		}
	}
	return out
}

// concat joins vectors (no arithmetic).
func concat(xs ...[]uint64) []uint64 {
	var out []uint64
	for _, x := range xs {
		out = append(out, x...)
	}
	return out
}

// lincomb returns c0 + Σ_j coef[j]·b_j per element, where b holds m
// consecutive blocks of n elements (b_j is block j). The products are by
// public integers (the coefficients are fixed-point, the b_j plain 0/1),
// so no truncation is needed.
func (p *party) lincomb(b []uint64, n int, coef []uint64, c0 uint64) []uint64 {
	r := p.r
	out := make([]uint64, n)
	for i := range out {
		var acc uint64
		if p.role == Client {
			acc = c0
		}
		for j, c := range coef {
			acc = r.Add(acc, r.Mul(c, b[j*n+i]))
		}
		out[i] = acc
	}
	ops := 2 * n * len(coef)
	if p.role == Client {
		ops += n
	}
	p.charge(ops)
	return out
}

// ----- exponential -----

const (
	expSquarings = 6    // e^x ≈ (1 + u + u²/2)^(2^6), u = x/2^6
	expClip      = 16.0 // e^x is taken as 0 below -16 (e^-16 < 1.2e-7)
)

// expU returns u = x/64 with W fractional bits from x with f: x itself
// read with f + 6 bits, converted.
func (p *party) expU(x []uint64) ([]uint64, error) {
	return p.toPrec(x, p.r.frac+expSquarings, p.r.work)
}

func (p *bill) expU(n int) { p.toPrec(n, p.cfg.Ring.frac+expSquarings, p.cfg.Ring.work) }

// expSquare finishes (1 + u + u²/2)^64 from shares of the raw product u·u
// (2W fractional bits) and u (W bits): the second-order base makes the
// approximation error e^x·x³/(6·64²) (below 3e-5 on [-16, 0]) instead of
// the e^x·x²/(2N) of (1 + x/N)^N, so that 6 squarings do better than 8.
// The result has out fractional bits (the last truncation by 2W - out).
// For u = -1 exactly the base is 1/2 and the result 2^-64, that is 0.
func (p *party) expSquare(u, uu []uint64, out int) ([]uint64, error) {
	r := p.r
	w := r.work
	h, err := p.trunc(uu, w+1) // u²/2
	if err != nil {
		return nil, err
	}
	y := p.affine(1, u, 1, h, r.encodeAt(1, w))
	for i := range expSquarings {
		k := w
		if i == expSquarings-1 {
			k = 2*w - out
		}
		if y, err = p.mulTrunc(y, y, k); err != nil {
			return nil, err
		}
	}
	return y, nil
}

func (p *bill) expSquare(n, out int) {
	w := p.cfg.Ring.work
	p.trunc(n, w+1)
	p.affine(n)
	for i := range expSquarings {
		k := w
		if i == expSquarings-1 {
			k = 2*w - out
		}
		p.mulTrunc(n, k)
	}
}

// exp returns e^x for x <= 0 (f fractional bits) with out fractional bits:
// [x >= -16] times the limit formula. The clipping comparison shares its
// round with the product u·u.
func (p *party) exp(x []uint64, out int) ([]uint64, error) {
	u, err := p.expU(x)
	if err != nil {
		return nil, err
	}
	var in, uu []uint64
	if err := p.open(p.signOp(p.addConst(x, p.r.Encode(expClip)), &in), p.mulOp(u, u, &uu)); err != nil {
		return nil, err
	}
	y, err := p.expSquare(u, uu, out)
	if err != nil {
		return nil, err
	}
	return p.mul(in, y)
}

func (p *bill) exp(n, out int) {
	p.expU(n)
	p.addConst(n)
	p.open(p.cfg.signPiece(n), mulPiece(n))
	p.expSquare(n, out)
	p.mul(n)
}

// ----- reciprocal and inverse square root -----

const (
	recipIterations = 3 // Goldschmidt steps for 1/x from a guess within ±0.172
	rsqrtIterations = 2 // third-order steps for 1/sqrt(x) from a guess within ±0.172
)

// binBalance is the product x·guess (1/x) at the lower end of a
// half-octave bin [a, a·√2) when the guess balances the relative error
// over the bin: 1 - b = b·√2 - 1, so |1 - x·guess| <= 0.172.
var binBalance = 2 / (1 + math.Sqrt2)

// halfOctaves compares x (n values, prec fractional bits) with 2^(j/2)
// for j = 2lo+1 .. 2hi-1: block j-2lo-1 holds [x >= 2^(j/2)]. It returns
// the comparison as an opening (nil when there is nothing to compare).
func (p *party) halfOctaves(x []uint64, prec, lo, hi int, out *[]uint64) []opening {
	r := p.r
	var blocks [][]uint64
	for j := 2*lo + 1; j < 2*hi; j++ {
		blocks = append(blocks, p.addConst(x, r.Neg(r.encodeAt(math.Pow(2, float64(j)/2), prec))))
	}
	if len(blocks) == 0 {
		return nil
	}
	return []opening{p.signOp(concat(blocks...), out)}
}

func (p *bill) halfOctaves(n, lo, hi int) []piece {
	m := 2*(hi-lo) - 1
	if m <= 0 {
		return nil
	}
	p.local(n * m)
	return []piece{p.cfg.signPiece(n * m)}
}

// guess is a piecewise-constant function of the half-octave bins of x,
// g = c(2lo) on [2^lo, 2^(lo+1/2)) and so on, linear in the comparison
// bits: c(2lo) + Σ_j [x >= 2^(j/2)]·(c(j) - c(j-1)), with prec fractional
// bits.
func (p *party) guess(bitsx []uint64, n, lo, hi, prec int, c func(j int) float64) []uint64 {
	r := p.r
	var coef []uint64
	for j := 2*lo + 1; j < 2*hi; j++ {
		coef = append(coef, r.Sub(r.encodeAt(c(j), prec), r.encodeAt(c(j-1), prec)))
	}
	return p.lincomb(bitsx, n, coef, r.encodeAt(c(2*lo), prec))
}

func (p *bill) guess(n, lo, hi int) { p.lincomb(n, max(0, 2*(hi-lo)-1)) }

// recipPrec is the working precision of a reciprocal on [2^lo, 2^hi): W,
// less when 1/x is so large that y·(1+e) with 2P fractional bits would
// leave the truncation range.
func (r *Ring) recipPrec(lo int) int {
	return min(r.work, floorDiv(r.TruncBound()-1+lo, 2))
}

// rsqrtPrec is the same for 1/sqrt(x) (products with 2P+3 bits).
func (r *Ring) rsqrtPrec(lo int) int {
	return min(r.work, floorDiv(2*r.TruncBound()-8+lo, 4))
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// reciprocal returns 1/x for x in [2^lo, 2^hi) given with xp fractional
// bits, with out fractional bits: half-octave comparisons give a guess y
// within ±0.172 relative, then Goldschmidt steps y ← y(1+e), e ← e² from
// e = 1 - x·y, which need one product round pair each (the two products
// are independent) instead of Newton's two.
func (p *party) reciprocal(x []uint64, xp, lo, hi, out int) ([]uint64, error) {
	r := p.r
	n := len(x)
	P := r.recipPrec(lo)
	var b []uint64
	if err := p.open(p.halfOctaves(x, xp, lo, hi, &b)...); err != nil {
		return nil, err
	}
	y := p.guess(b, n, lo, hi, P, func(j int) float64 { return binBalance / math.Pow(2, float64(j)/2) })
	xy, err := p.mulTrunc(x, y, xp)
	if err != nil {
		return nil, err
	}
	e := p.affine(r.Neg(1), xy, 0, nil, r.encodeAt(1, P))
	return p.goldschmidt(y, e, P, recipIterations, out)
}

func (p *bill) reciprocal(n, xp, lo, hi, out int) {
	P := p.cfg.Ring.recipPrec(lo)
	p.open(p.halfOctaves(n, lo, hi)...)
	p.guess(n, lo, hi)
	p.mulTrunc(n, xp)
	p.affine(n)
	p.goldschmidt(n, P, recipIterations, out)
}

// goldschmidt runs its steps on y and e = 1 - x·y (P fractional bits)
// and returns y with out fractional bits.
func (p *party) goldschmidt(y, e []uint64, P, iters, out int) ([]uint64, error) {
	n := len(y)
	for i := range iters {
		onePlus := p.addConst(e, p.r.encodeAt(1, P))
		if i == iters-1 {
			return p.mulTrunc(y, onePlus, 2*P-out)
		}
		z, err := p.mulTrunc(concat(y, e), concat(onePlus, e), P)
		if err != nil {
			return nil, err
		}
		y, e = z[:n], z[n:2*n]
	}
	return y, nil
}

func (p *bill) goldschmidt(n, P, iters, out int) {
	for i := range iters {
		p.addConst(n)
		if i == iters-1 {
			p.mulTrunc(n, 2*P-out)
			return
		}
		p.mulTrunc(2*n, P)
	}
}

// rsqrtBins gives the guess 1/sqrt(x) and its square on half-octave bin j.
func rsqrtGuess(j int) float64 { return math.Sqrt(binBalance / math.Pow(2, float64(j)/2)) }

// rsqrt returns 1/sqrt(m·v + eps) for public m in (0, 1] and eps >= 0,
// where v has f fractional bits and m·v + eps lies in [2^lo, 2^hi), with
// out fractional bits, working with P bits (see rsqrtPrec); m·y² is
// encoded with P + extra bits (extra = log2(1/m) keeps its significant
// bits when m is small). The half-octave comparisons of m·v + eps come as
// bits b from an opening done by the caller, so that it can share their
// round; the guess y and its square are linear in the bits, so
// e = 1 - (m·v + eps)·y² costs one product (m and eps go into the public
// coefficients); then third-order steps y ← y(1 + e/2 + 3e²/8),
// e ← (5/8)e³ + (15/64)e⁴, two product round pairs each (e², then y·(…),
// e³ and e⁴ together).
func (p *party) rsqrt(v, b []uint64, m, eps float64, lo, hi, P, extra, out int) ([]uint64, error) {
	r := p.r
	n := len(v)
	y := p.guess(b, n, lo, hi, P, rsqrtGuess)
	msq := p.guess(b, n, lo, hi, P+extra, func(j int) float64 { g := rsqrtGuess(j); return m * g * g })
	esq := p.guess(b, n, lo, hi, r.frac+P+extra, func(j int) float64 { g := rsqrtGuess(j); return eps * g * g })
	z, err := p.mul(v, msq)
	if err != nil {
		return nil, err
	}
	xs, err := p.trunc(p.affine(1, z, 1, esq, 0), r.frac+extra)
	if err != nil {
		return nil, err
	}
	e := p.affine(r.Neg(1), xs, 0, nil, r.encodeAt(1, P))
	for i := range rsqrtIterations {
		e2, err := p.mulTrunc(e, e, P)
		if err != nil {
			return nil, err
		}
		// 8·(1 + e/2 + 3e²/8) with P bits is 1 + e/2 + 3e²/8 with P + 3.
		p8 := p.affine(4, e, 3, e2, r.encodeAt(8, P))
		if i == rsqrtIterations-1 {
			return p.mulTrunc(y, p8, 2*P+3-out)
		}
		z, err := p.mul(concat(y, e2, e2), concat(p8, e, e2))
		if err != nil {
			return nil, err
		}
		// e' = (40e³ + 15e⁴)/64: the raw products have 2P bits.
		en := p.affine(40, z[n:2*n], 15, z[2*n:3*n], 0)
		var yn, ee []uint64
		if err := p.open(p.truncOp(z[:n], P+3, &yn), p.truncOp(en, P+6, &ee)); err != nil {
			return nil, err
		}
		y, e = yn, ee
	}
	return y, nil
}

func (p *bill) rsqrt(n, lo, hi, P, extra, out int) {
	p.guess(n, lo, hi)
	p.guess(n, lo, hi)
	p.guess(n, lo, hi)
	p.mul(n)
	p.affine(n)
	p.trunc(n, p.cfg.Ring.frac+extra)
	p.affine(n)
	for i := range rsqrtIterations {
		p.mulTrunc(n, P)
		p.affine(n)
		if i == rsqrtIterations-1 {
			p.mulTrunc(n, 2*P+3-out)
			return
		}
		p.mul(3 * n)
		p.affine(n)
		p.open(truncPiece(n, P+3), truncPiece(n, P+6))
	}
}

// ----- x·σ(z): SiLU and GELU -----

// sigmoidBits are the comparison bits of x·σ(z): [x >= 0], [x >= -tx]
// and [x >= tx], as one opening, and what xSigmoid derives from them.
type sigmoidBits struct{ b []uint64 }

func (p *party) sigmoidSign(x []uint64, tx float64, g *sigmoidBits) opening {
	r := p.r
	return p.signOp(concat(x, p.addConst(x, r.Encode(tx)), p.addConst(x, r.Neg(r.Encode(tx)))), &g.b)
}

func (p *bill) sigmoidSign(n int) piece {
	p.addConst(n)
	p.addConst(n)
	return p.cfg.signPiece(3 * n)
}

// parts returns pos = [x >= 0], in = [-tx <= x < tx] and
// q = [x >= -tx] + [x >= tx] - 2[x >= 0], which is the sign making
// q·z = -|z| inside (-tx, tx) and 0 outside.
func (p *party) sigmoidParts(g sigmoidBits, n int) (pos, in, q []uint64) {
	r := p.r
	pos, above, over := g.b[:n], g.b[n:2*n], g.b[2*n:3*n]
	in = p.affine(1, above, r.Neg(1), over, 0)
	q = p.affine(1, above, 1, over, 0)
	q = p.affine(1, q, r.Neg(2), pos, 0)
	return pos, in, q
}

func (p *bill) sigmoidParts(n int) { p.affine(n); p.affine(n); p.affine(n) }

// sigmoidTail finishes x·σ(z) from u = q·z/64 (W fractional bits), the
// bit in and xp = [x >= 0]·x. The exponent gets ln(2/3) added inside the
// clipping interval and is set to -64 (u = -1, giving 0) outside, so the
// limit formula returns y = (2/3)·e^-|z| (0 outside); with the guess 2/3
// for 1/(1 + e^-|z|) on [1/2, 1], e0 = 1 - (2/3)(1 + e^-|z|) = 1/3 - y is
// local, and Goldschmidt steps give the reciprocal. Then
// σ(z) = [x<0] + (2[x>=0] - 1)/(1 + e^-|z|) makes
// x·σ(z) = (x - xp) + (2xp - x)·inv, one product.
func (p *party) sigmoidTail(x, u, in, xp []uint64) ([]uint64, error) {
	r := p.r
	w := r.work
	n := len(x)
	// u + in·(ln(2/3)/64 + 1) - 1
	u = p.affine(1, u, r.encodeAt(math.Log(2.0/3)/64+1, w), in, r.Neg(r.encodeAt(1, w)))
	var uu []uint64
	if err := p.open(p.mulOp(u, u, &uu)); err != nil {
		return nil, err
	}
	y, err := p.expSquare(u, uu, w)
	if err != nil {
		return nil, err
	}
	e := p.affine(r.Neg(1), y, 0, nil, r.encodeAt(1.0/3, w))
	inv, err := p.goldschmidt(p.constant(r.encodeAt(2.0/3, w), n), e, w, sigmoidIterations, w)
	if err != nil {
		return nil, err
	}
	d := p.affine(2, xp, r.Neg(1), x, 0) // 2xp - x
	prod, err := p.mulTrunc(d, inv, w)
	if err != nil {
		return nil, err
	}
	return p.affine(1, prod, 1, p.affine(1, x, r.Neg(1), xp, 0), 0), nil
}

func (p *bill) sigmoidTail(n int) {
	w := p.cfg.Ring.work
	p.affine(n)
	p.mul(n)
	p.expSquare(n, w)
	p.affine(n)
	p.goldschmidt(n, w, sigmoidIterations, w)
	p.affine(n)
	p.mulTrunc(n, w)
	p.affine(n)
	p.affine(n)
}

// sigmoidIterations: Goldschmidt steps for 1/(1+e) on [1, 2] from the
// guess 2/3 (|e0| <= 1/3, (1/3)^16 < 2.4e-8).
const sigmoidIterations = 4
