package mpc

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
)

// Selects: a comparison and the products of its bit with shared values,
// in the comparison's round.
//
// A comparison (signOp) opens c = 2x + r and leaves the bit as
// b = D or 1 - D (by the public lsb(c)), D = a + (1 - 2a)·[c < r] shared
// from the dealer's key of payload (1 - 2a) and shares of a. A select
// also opens e_j = y_j - s_j for values y_j to multiply by b, with
// uniform masks s_j, and the key carries further payloads (1 - 2a)·s_j on
// the same path (dcfGenN), which with shares of a·s_j give shares of
// D·s_j. Then
//
//	b·y_j = b·e_j + b·s_j,   b·s_j = D·s_j or s_j - D·s_j,
//
// local: a function secret sharing of the product, as in the one-round
// ReLU of function-secret-sharing protocols (Boyle et al., Eurocrypt
// 2021), where a comparison and then a Beaver product take two rounds.
// Every element opened is uniform (c as in a comparison, e_j as in a
// product). The maxima by lookup (max_groups.go) select the winner of a
// pair, or of a group by its wins, this way: a tree level takes one
// round, a level of groups two.

// A select key of m values (index m of the stock's select queues) has
// uniform elements r, s_1..s_m that both parties draw, derived ones a,
// a·s_1..a·s_m that the client draws and the dealer corrects for the
// server, root seeds that both draw, and the common correction words of
// a key of 1 + m payloads.
func selectUniform(m int) int { return 1 + m }
func selectDerived(m int) int { return 1 + m }

// selectFix is the derived elements of a select key from its uniform
// ones (r, s_1..s_m): a = 1 ⊕ lsb(r), a·s_j.
func selectFix(r *Ring, u []uint64) []uint64 {
	a := 1 ^ u[0]&1
	d := []uint64{a}
	for _, s := range u[1:] {
		d = append(d, r.Mul(a, s))
	}
	return d
}

// selectBetas is the payloads of a select key: 1 - 2a, then (1 - 2a)·s_j.
func selectBetas(r *Ring, u []uint64) []uint64 {
	beta := r.Sub(1, 2*(1^u[0]&1))
	out := []uint64{beta}
	for _, s := range u[1:] {
		out = append(out, r.Mul(beta, s))
	}
	return out
}

// opsSelect is the share operations per party of a select of m values
// beside a comparison's: per value its mask, the product by the public
// e_j, the select of s_j and the sum.
const opsSelect = 4

// selectLevels is the DCF levels, in units of a comparison's level (two
// AES blocks), of one party's evaluation of a key of m values: one more
// block per payload and level.
func selectLevels(k, m int) int { return (k*(2+m) + 1) / 2 }

// selectPiece is n selects of m values each.
func (c Config) selectPiece(n, m int) piece {
	var need Need
	need.Selects[m] = n
	return piece{elems: n * (1 + m), ops: 2 * n * (opsCmp + m*opsSelect), dcf: 2 * n * selectLevels(c.Ring.bits, m), need: need}
}

// selectOp is the opening of n selects: the bits [x_i >= 0] (out) and, for
// each of the m vectors ys[j], the products [x_i >= 0]·ys[j][i] (sel[j]).
func (p *party) selectOp(x []uint64, ys [][]uint64, out *[]uint64, sel *[][]uint64) opening {
	r, n, k, m := p.r, len(x), p.r.bits, len(ys)
	var u, d, xv, fin []uint64
	var cw []cwLevel
	var roots []block
	return opening{
		mask: func(dst []uint64) ([]uint64, error) {
			var err error
			if u, d, err = p.stock.sel.takeSized(selectUniform(m), selectDerived(m), m, n); err != nil {
				return nil, err
			}
			if roots, err = p.stock.selRoot[m].take(n); err != nil {
				return nil, err
			}
			if cw, xv, fin, err = p.stock.selCW[m].take(n); err != nil {
				return nil, err
			}
			dst, msg := extend(dst, n*(1+m))
			U := selectUniform(m)
			for i := range n {
				msg[i] = r.Add(r.Add(x[i], x[i]), u[i*U])
				for j := range m {
					msg[n+j*n+i] = r.Sub(ys[j][i], u[i*U+1+j])
				}
			}
			return dst, nil
		},
		use: func(cs []uint64) error {
			U, D := selectUniform(m), selectDerived(m)
			bit := make([]uint64, n)
			prods := make([][]uint64, m)
			for j := range prods {
				prods[j] = make([]uint64, n)
			}
			vals := make([]uint64, 1+m)
			var pg dcfPRG
			for i := range n {
				c := cs[i]
				r.dcfEvalN(&pg, p.role, roots[i], cw[i*k:(i+1)*k], xv[i*k*m:(i+1)*k*m], fin[i*(1+m):(i+1)*(1+m)], c, vals)
				odd := c&1 == 1
				b := r.Add(vals[0], d[i*D]) // D
				if odd {                    // 1 - D
					b = r.Neg(b)
					if p.role == Client {
						b = r.Add(b, 1)
					}
				}
				bit[i] = b
				for j := range m {
					ds := r.Add(vals[1+j], d[i*D+1+j]) // D·s_j
					if odd {                           // s_j - D·s_j
						ds = r.Sub(u[i*U+1+j], ds)
					}
					prods[j][i] = r.Add(r.Mul(b, cs[n+j*n+i]), ds)
				}
			}
			p.charge(n * (opsCmp + m*opsSelect))
			p.tally.Op(cost.OpDCF, 0, int64(n*selectLevels(k, m)))
			*out, *sel = bit, prods
			return nil
		},
	}
}

// selects returns the bits [x >= 0] and their products with each of ys,
// in one round.
func (p *party) selects(x []uint64, ys ...[]uint64) (bit []uint64, prods [][]uint64, err error) {
	return bit, prods, p.open(p.selectOp(x, ys, &bit, &prods))
}

func (p *bill) selects(n, m int) { p.open(p.cfg.selectPiece(n, m)) }

// selectNames are the names of the select keys by values selected.
var selectNames = func() (names [maxPayloads]string) {
	for m := range names {
		names[m] = fmt.Sprintf("select keys of %d values", m)
	}
	return
}()

// expandSelects draws a party's select streams for counts[m] keys of m
// values: uniform elements and root seeds, and for the client the
// derived elements.
func expandSelects(r *Ring, seed Seed, counts [maxPayloads]int, client bool, s *Stock) {
	for m, n := range counts {
		name := selectNames[m]
		s.sel.u[m].name, s.sel.d[m].name, s.selRoot[m].name = name, name, name
		if n == 0 {
			continue
		}
		s.sel.u[m].v = newPRG(seed, fmt.Sprintf("select/%d/u", m)).elements(r, selectUniform(m)*n)
		if client {
			s.sel.d[m].v = newPRG(seed, fmt.Sprintf("select/%d/d", m)).elements(r, selectDerived(m)*n)
		}
		g := newPRG(seed, fmt.Sprintf("select/%d/root", m))
		s.selRoot[m].v = make([]block, n)
		for i := range n {
			s.selRoot[m].v[i] = block{g.uint64(), g.uint64()}.clearLSB()
		}
	}
}

// dealSelects is the dealer's part of the select keys: the common
// correction words and the server's derived elements.
func dealSelects(r *Ring, counts [maxPayloads]int, c, s *Stock) (words [maxPayloads]cmpWords, corr [maxPayloads][]uint64) {
	var pg dcfPRG
	for m, n := range counts {
		if n == 0 {
			continue
		}
		U, D := selectUniform(m), selectDerived(m)
		w := cmpWords{cw: make([]cwLevel, 0, n*r.bits), xv: make([]uint64, 0, n*r.bits*m), final: make([]uint64, 0, n*(1+m))}
		out := make([]uint64, D*n)
		sum := make([]uint64, U)
		for i := range n {
			for j := range sum {
				sum[j] = r.Add(c.sel.u[m].v[i*U+j], s.sel.u[m].v[i*U+j])
			}
			k := r.dcfGenN(&pg, r.bits, sum[0], selectBetas(r, sum), c.selRoot[m].v[i], s.selRoot[m].v[i])
			w.cw, w.xv, w.final = append(w.cw, k.cw...), append(w.xv, k.xv...), append(w.final, k.final...)
			for j, v := range selectFix(r, sum) {
				out[i*D+j] = r.Sub(v, c.sel.d[m].v[i*D+j])
			}
		}
		words[m], corr[m] = w, out
	}
	return words, corr
}

// selectKeyBytes is the size of the correction words of counts[m] select
// keys of m values: per key and level a seed correction and 1 + m value
// corrections, 1 + m final elements and two control bits per level.
func selectKeyBytes(r *Ring, counts [maxPayloads]int) int64 {
	k, w := int64(r.bits), int64(r.width)
	var total, keys int64
	for m, n := range counts {
		total += int64(n) * (k*(16+int64(1+m)*w) + int64(1+m)*w)
		keys += int64(n)
	}
	return total + (2*k*keys+7)/8
}
