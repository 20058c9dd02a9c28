package mpc

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
)

// Fused products: a truncation and the product it feeds in one round.
//
// A truncation by 2^k (truncOp) opens c = x + 2^ℓ + r and leaves each
// party a share of Z = P + a, with P = ⌊c/2^k⌋ - 2^(ℓ-k) public (the
// client adds it) and a = -⌊r/2^k⌋ + σ·⌊t/2^k⌋·w shared, where σ = [c <
// 2^(ℓ+1)] is public and ⌊r/2^k⌋ and the wrap bit w of r come from the
// dealer. A product of Z by another value needs the dealer's shares of
// the products of a's parts with that value's mask, and nothing opened
// after c: so the truncation and the product share one round.
//
//   - trunc(x, k)·y (TruncMul): the round opens c and e = y - b for a
//     uniform b; Z·y = P·y + e·a + a·b, a·b = -⌊r/2^k⌋·b + σ·⌊t/2^k⌋·(w·b),
//     with shares of ⌊r/2^k⌋·b and w·b from the dealer.
//   - trunc(x1, k)·trunc(x2, k) (TruncPair, one shift for both): the round
//     opens c1 and c2; Z1·Z2 = P1·P2 + P1·a2 + P2·a1 + a1·a2, with a1·a2
//     from the dealer's shares of the four products of (⌊r1/2^k⌋, w1) and
//     (⌊r2/2^k⌋, w2). Both truncations come out too.
//
// The truncations are the ones trunc makes (same range, same error), the
// products exact. Every element opened is uniform (c as in a truncation,
// e as in a Beaver product).

// Share operations per element per party of the fused openings, beside
// the truncations' own (opsTrunc each): the products' terms.
const (
	opsTruncMul  = opsTrunc + 8
	opsTruncPair = 2*opsTrunc + 10
)

// fusedKind is a kind of fused material: per mask, uniform elements that
// both parties draw from their seeds (the truncations' r, the product's
// b), then fixed ones that the client draws and the dealer corrects for
// the server.
type fusedKind struct {
	name             string
	uniform, derived int
	// fix returns the derived elements of a mask from the sums of its
	// uniform ones.
	fix func(r *Ring, k int, u []uint64) []uint64
}

// truncWrapBit is the wrap bit of a truncation mask r: [r > (t-1)/2].
func (r *Ring) truncWrapBit(v uint64) uint64 {
	if v > r.half {
		return 1
	}
	return 0
}

var (
	// truncMulKind: (r, b; ⌊r/2^k⌋, w, ⌊r/2^k⌋·b, w·b).
	truncMulKind = fusedKind{"truncation-product masks", 2, 4, func(r *Ring, k int, u []uint64) []uint64 {
		hi, w := u[0]>>k, r.truncWrapBit(u[0])
		return []uint64{hi, w, r.Mul(hi, u[1]), r.Mul(w, u[1])}
	}}
	// truncPairKind: (r1, r2; h1, w1, h2, w2, h1·h2, h1·w2, w1·h2, w1·w2).
	truncPairKind = fusedKind{"truncation-pair masks", 2, 8, func(r *Ring, k int, u []uint64) []uint64 {
		h1, w1 := u[0]>>k, r.truncWrapBit(u[0])
		h2, w2 := u[1]>>k, r.truncWrapBit(u[1])
		return []uint64{h1, w1, h2, w2, r.Mul(h1, h2), r.Mul(h1, w2), r.Mul(w1, h2), w1 * w2}
	}}
)

// fusedQueues are one kind's material by shift: uniform and derived
// elements, uniform·count and derived·count of them.
type fusedQueues struct {
	u, d [maxShift + 1]queue
}

func (q *fusedQueues) left(kind fusedKind, k int) int { return q.d[k].left() / kind.derived }

func (q *fusedQueues) take(kind fusedKind, k, n int) (u, d []uint64, err error) {
	return q.takeSized(kind.uniform, kind.derived, k, n)
}

// takeSized takes n masks of U uniform and D derived elements at index k.
func (q *fusedQueues) takeSized(U, D, k, n int) (u, d []uint64, err error) {
	if u, err = q.u[k].take(U * n); err != nil {
		return nil, nil, err
	}
	d, err = q.d[k].take(D * n)
	return u, d, err
}

func (q *fusedQueues) merge(o *fusedQueues) {
	for k := range q.u {
		q.u[k].merge(&o.u[k])
		q.d[k].merge(&o.d[k])
	}
}

// fusedLabels are the PRG labels of a kind's streams by shift.
func fusedLabels(kind fusedKind, k int) (u, d, name string) {
	return fmt.Sprintf("fused/%s/%d/u", kind.name, k), fmt.Sprintf("fused/%s/%d/d", kind.name, k), fmt.Sprintf("%s by 2^%d", kind.name, k)
}

// expandFused draws a party's streams of a kind for counts[k] masks by
// shift k: the client all of them, the server its uniform ones.
func expandFused(r *Ring, seed Seed, kind fusedKind, counts [maxShift + 1]int, client bool) fusedQueues {
	var q fusedQueues
	for k, n := range counts {
		lu, ld, name := fusedLabels(kind, k)
		q.u[k].name, q.d[k].name = name, name
		if n == 0 {
			continue
		}
		q.u[k].v = newPRG(seed, lu).elements(r, kind.uniform*n)
		if client {
			q.d[k].v = newPRG(seed, ld).elements(r, kind.derived*n)
		}
	}
	return q
}

// dealFused is the server's derived elements of a kind: the fixed values
// less the client's shares.
func dealFused(r *Ring, kind fusedKind, counts [maxShift + 1]int, c, s *fusedQueues) [maxShift + 1][]uint64 {
	var corr [maxShift + 1][]uint64
	sum := make([]uint64, kind.uniform)
	for k, n := range counts {
		if n == 0 {
			continue
		}
		out := make([]uint64, kind.derived*n)
		for i := range n {
			for j := range sum {
				sum[j] = r.Add(c.u[k].v[i*kind.uniform+j], s.u[k].v[i*kind.uniform+j])
			}
			for j, v := range kind.fix(r, k, sum) {
				out[i*kind.derived+j] = r.Sub(v, c.d[k].v[i*kind.derived+j])
			}
		}
		corr[k] = out
	}
	return corr
}

// ----- trunc(x, k)·y -----

func truncMulPiece(n, k int) piece {
	k = clampShift(k) // a shape Run refuses (shiftErr) is priced, not a panic
	var need Need
	need.TruncMuls[k] = n
	return piece{elems: 2 * n, ops: 2 * n * opsTruncMul, need: need}
}

// truncParts is one party's view of an opened truncation mask c: the
// public P = ⌊c/2^k⌋ - 2^(ℓ-k) and σ·⌊t/2^k⌋.
func (r *Ring) truncParts(c uint64, k int) (pub, sT uint64) {
	l := uint(r.TruncBound())
	pub = r.Sub(c>>k, 1<<(l-uint(k)))
	if c < 1<<(l+1) {
		sT = r.t >> k
	}
	return pub, sT
}

// truncMask is the party's message of a truncation: x + 2^ℓ (the client)
// + its share of r.
func (p *party) truncMask(msg, x, rr []uint64, stride int) {
	r := p.r
	l := uint(r.TruncBound())
	for i := range msg {
		v := x[i]
		if p.role == Client {
			v = r.Add(v, 1<<l)
		}
		msg[i] = r.Add(v, rr[i*stride])
	}
}

// truncMulOp is the opening of trunc(x, k)·y: c = x + 2^ℓ + r and
// e = y - b. out receives the party's shares of the product.
func (p *party) truncMulOp(x []uint64, k int, y []uint64, out *[]uint64) opening {
	var u, d []uint64
	r, n := p.r, len(x)
	return opening{
		mask: func(dst []uint64) ([]uint64, error) {
			var err error
			if u, d, err = p.stock.truncMul.take(truncMulKind, k, n); err != nil {
				return nil, err
			}
			dst, msg := extend(dst, 2*n)
			p.truncMask(msg[:n], x, u, 2)
			for i := range n {
				msg[n+i] = r.Sub(y[i], u[2*i+1])
			}
			return dst, nil
		},
		use: func(ce []uint64) error {
			z := make([]uint64, n)
			for i := range z {
				pub, sT := r.truncParts(ce[i], k)
				e := ce[n+i]
				hi, w, hb, wb := d[4*i], d[4*i+1], d[4*i+2], d[4*i+3]
				a := r.Add(r.Neg(hi), r.Mul(sT, w))   // the party's share of a
				ab := r.Add(r.Neg(hb), r.Mul(sT, wb)) // of a·b
				z[i] = r.Add(r.Add(r.Mul(pub, y[i]), r.Mul(e, a)), ab)
			}
			p.charge(opsTruncMul * n)
			*out = z
			return nil
		},
	}
}

// mulShiftOp is the opening of trunc(x, k)·y, or of the plain product
// x·y when k is 0.
func (p *party) mulShiftOp(x []uint64, k int, y []uint64, out *[]uint64) opening {
	if k == 0 {
		return p.mulOp(x, y, out)
	}
	return p.truncMulOp(x, k, y, out)
}

func mulShiftPiece(n, k int) piece {
	if k == 0 {
		return mulPiece(n)
	}
	return truncMulPiece(n, k)
}

// ----- trunc(x1, k)·trunc(x2, k) -----

func truncPairPiece(n, k int) piece {
	k = clampShift(k)
	var need Need
	need.TruncPairs[k] = n
	return piece{elems: 2 * n, ops: 2 * n * opsTruncPair, need: need}
}

// truncPairOp is the opening of trunc(x1, k), trunc(x2, k) and their
// product: c1 and c2. z1, z2 and prod receive the party's shares.
func (p *party) truncPairOp(x1, x2 []uint64, k int, z1, z2, prod *[]uint64) opening {
	var u, d []uint64
	r, n := p.r, len(x1)
	return opening{
		mask: func(dst []uint64) ([]uint64, error) {
			var err error
			if u, d, err = p.stock.truncPair.take(truncPairKind, k, n); err != nil {
				return nil, err
			}
			dst, msg := extend(dst, 2*n)
			p.truncMask(msg[:n], x1, u, 2)
			p.truncMask(msg[n:], x2, u[1:], 2)
			return dst, nil
		},
		use: func(cs []uint64) error {
			o1, o2, o3 := make([]uint64, n), make([]uint64, n), make([]uint64, n)
			for i := range n {
				p1, s1 := r.truncParts(cs[i], k)
				p2, s2 := r.truncParts(cs[n+i], k)
				g := d[8*i : 8*i+8] // h1, w1, h2, w2, h1h2, h1w2, w1h2, w1w2
				a1 := r.Add(r.Neg(g[0]), r.Mul(s1, g[1]))
				a2 := r.Add(r.Neg(g[2]), r.Mul(s2, g[3]))
				aa := r.Sub(g[4], r.Add(r.Mul(s2, g[5]), r.Mul(s1, g[6])))
				aa = r.Add(aa, r.Mul(r.Mul(s1, s2), g[7]))
				v := r.Add(r.Add(r.Mul(p1, a2), r.Mul(p2, a1)), aa)
				if p.role == Client {
					a1, a2 = r.Add(a1, p1), r.Add(a2, p2)
					v = r.Add(v, r.Mul(p1, p2))
				}
				o1[i], o2[i], o3[i] = a1, a2, v
			}
			p.charge(opsTruncPair * n)
			*z1, *z2, *prod = o1, o2, o3
			return nil
		},
	}
}

// ----- protocols -----

// TruncMul returns shares of ⌊x/2^Shift⌉·y (the truncation as [Trunc]'s,
// the product exact) for N shared pairs in one round.
type TruncMul struct {
	Config
	N, Shift int
}

var _ Protocol = TruncMul{}

func (m TruncMul) bill() *bill {
	p := newBill(m.Config)
	p.open(truncMulPiece(m.N, m.Shift))
	return p
}

// Need is the dealer material of one Run.
func (m TruncMul) Need() Need { return m.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (m TruncMul) Estimate() cost.Cost { return m.bill().estimate() }

// Run returns shares of the products.
func (m TruncMul) Run(s *Session, x, y Pair) (Pair, error) {
	return run(s, m.Config, "truncmul", m, firstErr(positive("length", m.N), shiftErr(m.Shift)), []Pair{x, y}, []int{m.N, m.N},
		func(p *party, mine ...[]uint64) ([]uint64, error) {
			var out []uint64
			return out, p.open(p.truncMulOp(mine[0], m.Shift, mine[1], &out))
		})
}

// TruncPair returns shares of ⌊x1/2^Shift⌉, ⌊x2/2^Shift⌉ and their product
// for N shared pairs in one round, concatenated in that order.
type TruncPair struct {
	Config
	N, Shift int
}

var _ Protocol = TruncPair{}

func (m TruncPair) bill() *bill {
	p := newBill(m.Config)
	p.open(truncPairPiece(m.N, m.Shift))
	return p
}

// Need is the dealer material of one Run.
func (m TruncPair) Need() Need { return m.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (m TruncPair) Estimate() cost.Cost { return m.bill().estimate() }

// Run returns shares of the two truncations and their product, 3N
// elements.
func (m TruncPair) Run(s *Session, x1, x2 Pair) (Pair, error) {
	return run(s, m.Config, "truncpair", m, firstErr(positive("length", m.N), shiftErr(m.Shift)), []Pair{x1, x2}, []int{m.N, m.N},
		func(p *party, mine ...[]uint64) ([]uint64, error) {
			var z1, z2, prod []uint64
			if err := p.open(p.truncPairOp(mine[0], mine[1], m.Shift, &z1, &z2, &prod)); err != nil {
				return nil, err
			}
			return concat(z1, z2, prod), nil
		})
}

// clampShift is k within [0, maxShift]: a bill of a shape that Run
// refuses prices the nearest shift rather than index out of Need's
// arrays.
func clampShift(k int) int { return min(max(k, 0), maxShift) }

// shiftErr is an error for a truncation shift out of [1, maxShift].
func shiftErr(k int) error {
	if k < 1 || k > maxShift {
		return fmt.Errorf("a truncation by 2^%d: want a shift from 1 to %d", k, maxShift)
	}
	return nil
}
