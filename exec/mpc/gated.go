package mpc

// Gated products: the octave lookups' gating and the products that use
// their guess in one round.
//
// The octave lookups (octave_lut.go) leave each row shares of bits b_q,
// one per octave q (exactly one of them 1), and of the tables' values T_q
// at the row's bin; their users want the guess g = Σ_q b_q·T_q times other
// shared values z of the row (its sum, its elements). Gating first and
// multiplying after takes two rounds; a product of three shared factors
// takes one. For each term b·T·z the round opens δ = b - α, ε = T - β
// and η = z - γ, all uniform, and the dealer gives shares of α, β, γ and
// of αβ, αγ, βγ, αβγ, so that
//
//	b·T·z = δεη + δη·β + εη·α + η·αβ + δε·γ + δ·βγ + ε·αγ + αβγ,
//
// public coefficients times shares (the client adds δεη). The sum over q
// is local: out_e = Σ_q b_q·T_q·z_e, exactly (Σ_q b_q·T_q)·z_e.
//
// The masks come in blocks: one α and one β for up to gatedSlots elements
// z of a row, each with its γ, so that a block opens δ and ε once and an
// η per element; the dealer's products (αβ once, αγ, βγ, αβγ per slot)
// follow the block. A row of W elements takes ceil(W/gatedSlots) blocks
// per octave: about Q·W elements opened a row (one per term) and 3·Q·W of
// dealer material, so the fused round pays where rows are few (a decoded
// token's norm, a decode softmax's rows); Config.GatedTerms (at most
// maxGatedTerms) bounds a step's terms, beyond it (a prefill's rows, a
// decode softmax of many heads over a long context; on a fast link, less)
// the gating and the products take their two rounds.

// gatedSlots is the number of elements z that share a block's α and β.
const gatedSlots = 16

// gatedKind: (α, β, γ_1..γ_S; αβ, then αγ_i, βγ_i, αβγ_i per slot).
var gatedKind = fusedKind{"gated-product blocks", 2 + gatedSlots, 1 + 3*gatedSlots, func(r *Ring, _ int, u []uint64) []uint64 {
	a, b := u[0], u[1]
	ab := r.Mul(a, b)
	d := make([]uint64, 1, 1+3*gatedSlots)
	d[0] = ab
	for _, c := range u[2:] {
		d = append(d, r.Mul(a, c), r.Mul(b, c), r.Mul(ab, c))
	}
	return d
}}

// opsGated is the share operations per party of a term (its mask, the
// seven products by public coefficients and their sum) and opsGatedBlock
// of a block (its two masks).
const (
	opsGated      = 10
	opsGatedBlock = 2
)

// maxGatedTerms bounds the terms of one step's gated products (an
// element opened each way and 3 of dealer material per term: 2 MiB
// opened per party at the 60-bit t): a decoded token's norm of Llama-3-8B's
// 4096 features (about 30 octaves), GPT-2's decode softmax up to 2000
// keys fit.
const maxGatedTerms = 1 << 18

// gatedTerms is the number of terms of gated products of q octaves over
// widths (the elements of the z of each table's product).
func gatedTerms(q int, widths ...int) int { return q * sum(widths) }

// gatedFits reports whether products of q octaves over widths fit one
// round under bound (Config.gatedBound): at least one term, at most bound.
func gatedFits(bound, q int, widths ...int) bool {
	n := gatedTerms(q, widths...)
	return n > 0 && n <= bound
}

// gatedBlocks is the blocks of one octave's products over rows of lens.
func gatedBlocks(lens []int) int {
	n := 0
	for _, l := range lens {
		n += ceilDiv(l, gatedSlots)
	}
	return n
}

// unshifted is a count of fused masks that take no shift, in the layout
// of the shifted kinds' counts.
func unshifted(n int) [maxShift + 1]int { return [maxShift + 1]int{n} }

// gatedPiece is gated products of q octaves over elems elements in
// blocks blocks per octave.
func gatedPiece(q, elems, blocks int) piece {
	var need Need
	need.Gated = q * blocks
	terms := q * elems
	return piece{elems: terms + 2*q*blocks, ops: 2 * (terms*opsGated + q*blocks*opsGatedBlock), need: need}
}

// gatedOp is the opening of out[e] = Σ_q b[q][r]·t[q][r]·z[e] for the
// elements e of each row r (lens[r] of them, z's rows concatenated): b
// and t hold one row-indexed vector per octave.
func (p *party) gatedOp(b, t [][]uint64, z []uint64, lens []int, out *[]uint64) opening {
	var u, d []uint64
	r, Q, n := p.r, len(b), len(z)
	blocks := Q * gatedBlocks(lens)
	const U, D = 2 + gatedSlots, 1 + 3*gatedSlots
	// visit walks the blocks in order: row, octave, block of the row's
	// elements from e0 (w of them), block index k.
	visit := func(fn func(row, q, e0, w, k int)) {
		k, e := 0, 0
		for row, l := range lens {
			for q := range Q {
				for j := 0; j < l; j += gatedSlots {
					fn(row, q, e+j, min(gatedSlots, l-j), k)
					k++
				}
			}
			e += l
		}
	}
	return opening{
		mask: func(dst []uint64) ([]uint64, error) {
			var err error
			if u, d, err = p.stock.gated.take(gatedKind, 0, blocks); err != nil {
				return nil, err
			}
			dst, msg := extend(dst, Q*n+2*blocks)
			at := 0
			visit(func(row, q, e0, w, k int) {
				m := u[k*U : (k+1)*U]
				msg[at], msg[at+1] = r.Sub(b[q][row], m[0]), r.Sub(t[q][row], m[1])
				for i := range w {
					msg[at+2+i] = r.Sub(z[e0+i], m[2+i])
				}
				at += 2 + w
			})
			return dst, nil
		},
		use: func(c []uint64) error {
			res := make([]uint64, n)
			at := 0
			visit(func(_, _, e0, w, k int) {
				m, g := u[k*U:(k+1)*U], d[k*D:(k+1)*D] // α, β, γ_i; αβ, (αγ_i, βγ_i, αβγ_i)
				de, ep := c[at], c[at+1]
				dep := r.Mul(de, ep)
				for i := range w {
					et, gi := c[at+2+i], g[1+3*i:4+3*i]
					v := r.Add(r.Mul(r.Mul(de, et), m[1]), r.Mul(r.Mul(ep, et), m[0]))
					v = r.Add(v, r.Add(r.Mul(et, g[0]), r.Mul(dep, m[2+i])))
					v = r.Add(v, r.Add(r.Mul(de, gi[1]), r.Mul(ep, gi[0])))
					v = r.Add(v, gi[2])
					if p.role == Client {
						v = r.Add(v, r.Mul(dep, et))
					}
					res[e0+i] = r.Add(res[e0+i], v)
				}
				at += 2 + w
			})
			p.charge(opsGated*Q*n + opsGatedBlock*blocks)
			*out = res
			return nil
		},
	}
}

// ceilDiv is ⌈a/b⌉ for a >= 0, b > 0.
func ceilDiv(a, b int) int { return (a + b - 1) / b }
