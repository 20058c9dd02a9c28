package mpc

import "math"

// Session-level building blocks of the non-linear protocols. Each has a
// plan method of the same name in the protocol's Estimate.

// mulFix multiplies fixed-point values: Beaver product, then truncation.
func (s *Session) mulFix(x, y shared) (shared, error) {
	z, err := s.mul(x, y)
	if err != nil {
		return shared{}, err
	}
	return s.trunc(z)
}

// mulPub multiplies by public fixed-point constants and truncates: element
// i by c[i/block] (a single constant with block 0).
func (s *Session) mulPub(x shared, c []uint64, block ...int) (shared, error) {
	r := s.cfg.Ring
	var z shared
	for role := range z {
		z[role] = make([]uint64, len(x[role]))
		for i, v := range x[role] {
			k := 0
			if len(block) > 0 && block[0] > 0 {
				k = i / block[0]
			}
			z[role][i] = r.Mul(v, c[k])
		}
		s.parties[role].charge(len(x[role]))
	}
	return s.trunc(z)
}

// scaleSplit writes a public factor c > 0 as m·2^-k with m in [0.5, 1)
// when c < 0.5, so that a product by c keeps f significant bits: m is
// encoded with a relative error of 2^-f and 2^-k exactly (k <= f). It
// returns k = 0 when c needs no split.
func scaleSplit(c float64, f int) (m float64, k int) {
	m, e := math.Frexp(c) // c = m·2^e, m in [0.5, 1)
	if e >= 0 || -e > f {
		return c, 0
	}
	return m, -e
}

// scale multiplies by a public positive constant, in one truncation, or
// two when c is small (see scaleSplit).
func (s *Session) scale(x shared, c float64) (shared, error) {
	r := s.cfg.Ring
	m, k := scaleSplit(c, r.frac)
	y, err := s.mulPub(x, []uint64{r.Encode(m)})
	if err != nil || k == 0 {
		return y, err
	}
	return s.mulPub(y, []uint64{r.Encode(math.Ldexp(1, -k))})
}

func (p *plan) scale(n int, c float64) {
	p.mulPub(n)
	if _, k := scaleSplit(c, p.cfg.Ring.frac); k != 0 {
		p.mulPub(n)
	}
}

// sumRows sums consecutive runs of lens[i] elements: one value per row.
func (s *Session) sumRows(x shared, lens []int) shared {
	r := s.cfg.Ring
	var out shared
	for role := range out {
		out[role] = make([]uint64, len(lens))
		off := 0
		for i, l := range lens {
			var acc uint64
			for _, v := range x[role][off : off+l] {
				acc = r.Add(acc, v)
			}
			out[role][i] = acc
			off += l
		}
		s.parties[role].charge(x.len())
	}
	return out
}

// broadcast repeats row value i lens[i] times (no arithmetic).
func broadcast(v shared, lens []int) shared {
	var out shared
	for role := range out {
		for i, l := range lens {
			for range l {
				out[role] = append(out[role], v[role][i])
			}
		}
	}
	return out
}

// concat joins shared vectors (no arithmetic).
func concat(xs ...shared) shared {
	var out shared
	for _, x := range xs {
		for role := range out {
			out[role] = append(out[role], x[role]...)
		}
	}
	return out
}

// part returns elements [lo, hi).
func (x shared) part(lo, hi int) shared { return shared{x[0][lo:hi], x[1][lo:hi]} }

// lincomb returns c0 + Σ_j coef[j]·b_j per element, where b holds m
// consecutive blocks of n elements (b_j is block j). The products are by
// public integers (the coefficients are fixed-point, the b_j plain 0/1),
// so no truncation is needed.
func (s *Session) lincomb(b shared, n int, coef []uint64, c0 uint64) shared {
	r := s.cfg.Ring
	var out shared
	for role := range out {
		out[role] = make([]uint64, n)
		for i := range out[role] {
			var acc uint64
			if role == Client {
				acc = c0
			}
			for j, c := range coef {
				acc = r.Add(acc, r.Mul(c, b[role][j*n+i]))
			}
			out[role][i] = acc
		}
		ops := 2 * n * len(coef)
		if role == Client {
			ops += n
		}
		s.parties[role].charge(ops)
	}
	return out
}

// ----- exponential -----

const (
	expSquarings = 6    // e^x ≈ (1 + u + u²/2)^(2^6), u = x/2^6
	expClip      = 16.0 // e^x is taken as 0 below -16 (e^-16 < 1.2e-7)
)

// expNoClip returns (1 + u + u²/2)^64 with u = x/64, for x in [-64, 0]:
// the second-order base makes the approximation error e^x·x³/(6·64²)
// (below 3e-5 on [-16, 0]) instead of the e^x·x²/(2N) of (1 + x/N)^N, so
// that 6 squarings do better than 8. One public product gives u and u/2,
// one product u²/2, then the squarings.
func (s *Session) expNoClip(x shared) (shared, error) {
	r := s.cfg.Ring
	n := x.len()
	uw, err := s.mulPub(concat(x, x), []uint64{r.Encode(math.Ldexp(1, -expSquarings)), r.Encode(math.Ldexp(1, -expSquarings-1))}, n)
	if err != nil {
		return shared{}, err
	}
	u := uw.part(0, n)
	u2, err := s.mulFix(u, uw.part(n, 2*n))
	if err != nil {
		return shared{}, err
	}
	y := s.affine(1, u, 1, u2, r.Encode(1))
	for range expSquarings {
		if y, err = s.mulFix(y, y); err != nil {
			return shared{}, err
		}
	}
	return y, nil
}

func (p *plan) expNoClip(n int) {
	p.mulPub(2 * n)
	p.mulFix(n)
	p.affine(n)
	for range expSquarings {
		p.mulFix(n)
	}
}

// exp returns e^x for x <= 0: [x >= -16] times the limit formula. The
// comparison and the squarings are independent, but they run one after the
// other (the rounds are their sum, not their maximum): merging their
// messages would save the 8 rounds of the comparison at the price of a
// scheduler that the per-step metering does not have.
func (s *Session) exp(x shared) (shared, error) {
	r := s.cfg.Ring
	in, err := s.sign(s.addConst(x, r.Encode(expClip)))
	if err != nil {
		return shared{}, err
	}
	y, err := s.expNoClip(x)
	if err != nil {
		return shared{}, err
	}
	return s.mul(in, y)
}

func (p *plan) exp(n int) {
	p.addConst(n)
	p.sign(n)
	p.expNoClip(n)
	p.mul(n)
}

// ----- reciprocal and inverse square root -----

const (
	recipIterations = 4 // Newton steps for 1/x from a guess within ±1/3
	rsqrtIterations = 4 // Newton steps for 1/sqrt(x) from a guess within ±0.42
)

// octaves compares x (n values) with 2^j for j = lo+1 .. hi-1 in one
// batched sign: block j-lo-1 holds [x >= 2^j].
func (s *Session) octaves(x shared, lo, hi int) (shared, error) {
	r := s.cfg.Ring
	var blocks []shared
	for j := lo + 1; j < hi; j++ {
		blocks = append(blocks, s.addConst(x, r.Neg(r.Encode(math.Ldexp(1, j)))))
	}
	if len(blocks) == 0 {
		return shared{}, nil
	}
	return s.sign(concat(blocks...))
}

func (p *plan) octaves(n, lo, hi int) {
	if m := hi - lo - 1; m > 0 {
		p.local(n * m)
		p.sign(n * m)
	}
}

// guess is a piecewise-constant initial guess g(2^j ... 2^(j+1)) = c(j),
// linear in the octave bits: c(lo) + Σ_j [x >= 2^j]·(c(j) - c(j-1)).
func (s *Session) guess(bitsx shared, n, lo, hi int, c func(j int) float64) shared {
	r := s.cfg.Ring
	var coef []uint64
	for j := lo + 1; j < hi; j++ {
		coef = append(coef, r.Sub(r.Encode(c(j)), r.Encode(c(j-1))))
	}
	if len(coef) == 0 {
		bitsx = shared{}
	}
	return s.lincomb(bitsx, n, coef, r.Encode(c(lo)))
}

func (p *plan) guess(n, lo, hi int) { p.lincomb(n, hi-lo-1) }

// reciprocal returns 1/x for x in [2^lo, 2^hi): octave comparisons give a
// guess 1/(1.5·2^j) within a relative ±1/3, then Newton steps
// y ← y·(2 - x·y) square the relative error.
func (s *Session) reciprocal(x shared, lo, hi int) (shared, error) {
	n := x.len()
	b, err := s.octaves(x, lo, hi)
	if err != nil {
		return shared{}, err
	}
	y := s.guess(b, n, lo, hi, func(j int) float64 { return 1 / (1.5 * math.Ldexp(1, j)) })
	return s.recipNewton(x, y)
}

func (s *Session) recipNewton(x, y shared) (shared, error) {
	r := s.cfg.Ring
	for range recipIterations {
		e, err := s.mulFix(x, y)
		if err != nil {
			return shared{}, err
		}
		if y, err = s.mulFix(y, s.affine(r.Neg(1), e, 0, shared{}, r.Encode(2))); err != nil {
			return shared{}, err
		}
	}
	return y, nil
}

func (p *plan) reciprocal(n, lo, hi int) {
	p.octaves(n, lo, hi)
	p.guess(n, lo, hi)
	p.recipNewton(n)
}

func (p *plan) recipNewton(n int) {
	for range recipIterations {
		p.mulFix(n)
		p.affine(n)
		p.mulFix(n)
	}
}

// rsqrt returns 1/sqrt(x) for x in [2^lo, 2^hi): guess 2^(-j/2 - 1/4) on
// octave j (within ±0.42 relative in x·y²), then Newton steps
// y ← y·(3/2 - (x/2)·y²).
func (s *Session) rsqrt(x shared, lo, hi int) (shared, error) {
	r := s.cfg.Ring
	n := x.len()
	b, err := s.octaves(x, lo, hi)
	if err != nil {
		return shared{}, err
	}
	y := s.guess(b, n, lo, hi, func(j int) float64 { return math.Pow(2, -float64(j)/2-0.25) })
	h, err := s.mulPub(x, []uint64{r.Encode(0.5)})
	if err != nil {
		return shared{}, err
	}
	for range rsqrtIterations {
		y2, err := s.mulFix(y, y)
		if err != nil {
			return shared{}, err
		}
		hy2, err := s.mulFix(h, y2)
		if err != nil {
			return shared{}, err
		}
		if y, err = s.mulFix(y, s.affine(r.Neg(1), hy2, 0, shared{}, r.Encode(1.5))); err != nil {
			return shared{}, err
		}
	}
	return y, nil
}

func (p *plan) rsqrt(n, lo, hi int) {
	p.octaves(n, lo, hi)
	p.guess(n, lo, hi)
	p.mulPub(n)
	for range rsqrtIterations {
		p.mulFix(n)
		p.mulFix(n)
		p.affine(n)
		p.mulFix(n)
	}
}

// ----- x·σ(z): SiLU and GELU -----

// xSigmoid returns x·σ(z) where z is an odd increasing function of x that
// makes σ(z) saturate (within 1e-7) once |x| >= tx. One batched comparison
// gives [x >= 0], [x >= -tx] and [x >= tx]; then
// σ(z) = [x<0] + (2[x>=0] - 1)·1/(1 + [|x| < tx]·e^-|z|).
func (s *Session) xSigmoid(x, z shared, tx float64) (shared, error) {
	r := s.cfg.Ring
	n := x.len()
	b, err := s.sign(concat(x, s.addConst(x, r.Encode(tx)), s.addConst(x, r.Neg(r.Encode(tx)))))
	if err != nil {
		return shared{}, err
	}
	pos, above, over := b.part(0, n), b.part(n, 2*n), b.part(2*n, 3*n)
	in := s.affine(1, above, r.Neg(1), over, 0) // [-tx <= x < tx]
	bz, err := s.mul(pos, z)
	if err != nil {
		return shared{}, err
	}
	negAbs := s.affine(r.Neg(2), bz, 1, z, 0) // -|z| = z - 2[x>=0]z
	e, err := s.expNoClip(negAbs)
	if err != nil {
		return shared{}, err
	}
	if e, err = s.mul(in, e); err != nil {
		return shared{}, err
	}
	den := s.addConst(e, r.Encode(1))
	inv, err := s.recipNewton(den, s.guess(shared{}, n, 0, 1, func(int) float64 { return 0.75 }))
	if err != nil {
		return shared{}, err
	}
	bi, err := s.mul(pos, inv)
	if err != nil {
		return shared{}, err
	}
	// σ = 1 - pos - inv + 2·pos·inv, where pos is a plain bit: 1 - pos is
	// the fixed-point 1 minus enc(1)·pos.
	sig := s.affine(r.Neg(r.Encode(1)), pos, r.Neg(1), inv, r.Encode(1))
	sig = s.affine(1, sig, 2, bi, 0)
	return s.mulFix(x, sig)
}

func (p *plan) xSigmoid(n int) {
	p.addConst(n)
	p.addConst(n)
	p.sign(3 * n)
	p.affine(n)
	p.mul(n)
	p.affine(n)
	p.expNoClip(n)
	p.mul(n)
	p.addConst(n)
	p.guess(n, 0, 1)
	p.recipNewton(n)
	p.mul(n)
	p.affine(n)
	p.affine(n)
	p.mulFix(n)
}
