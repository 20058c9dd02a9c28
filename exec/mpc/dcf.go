package mpc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// This file is the distributed comparison function (DCF) of Boyle, Chandran,
// Gilboa, Gupta, Ishai, Kumar and Rathee, "Function Secret Sharing for
// Mixed-Mode and Fixed-Point Secure Computation" (Eurocrypt 2021, Fig. 1),
// with outputs in Z_t: a dealer who knows α and β splits the function
// f(c) = β·[c < α] on k-bit inputs into two keys; each party evaluates its
// key on a public c and the two outputs are additive shares of f(c) mod t.
//
// Key of party b: a 128-bit root seed s_b (expanded from the party's dealer
// seed, never sent) and, common to both keys, per level i = 1..k a seed
// correction s_CW (128 bits), a value correction V_CW ∈ Z_t and two control
// bits, plus a final correction in Z_t. A key of m payloads (dcfGenN: the
// functions β_j·[c < α] on one path, a select's) has per level m value
// corrections and m final ones, each payload's values from its own PRG
// blocks.
//
// Security (semi-honest, one key alone): the root seed is uniform and
// unknown to the other party; every correction word is the XOR or the
// difference of the PRG outputs of the two parties' seeds on the branch off
// the path of α, one of which the key holder cannot compute, so under the
// PRG assumption each correction word is indistinguishable from uniform
// given the other key material (Theorem 3.2 of the paper). A key alone is
// thus simulated by uniform strings, independently of α and β. Values
// derived from 128-bit blocks are reduced modulo t < 2^62, at statistical
// distance below 2^-66 from uniform.
//
// PRG. G(s) is fixed-key AES in the Matyas-Meyer-Oseas form, one public key
// per output block: G_j(s) = AES_{k_j}(s) ⊕ s for j = seed-left,
// value-left, seed-right, value-right, then value-left and value-right of
// each further payload (the standard instantiation of FSS libraries,
// secure when AES with a fixed key is modelled as a random permutation). The control bit of a seed block is its least significant
// bit, which is then cleared.

// block is a 128-bit PRG seed or output.
type block [2]uint64

func (a block) xor(b block) block { return block{a[0] ^ b[0], a[1] ^ b[1]} }

// lsb is the control bit carried in a seed block.
func (a block) lsb() uint8 { return uint8(a[0] & 1) }

// clearLSB removes the control bit.
func (a block) clearLSB() block { return block{a[0] &^ 1, a[1]} }

// maxPayloads is the most outputs of one key: a comparison's bit and the
// masks of the values a select multiplies by it (select.go).
const maxPayloads = 3

// prgCiphers are the fixed, public AES keys of G, derived from labels:
// seed and value of each side, then the values of the further payloads.
var prgCiphers = func() [4 + 2*(maxPayloads-1)]cipher.Block {
	var out [4 + 2*(maxPayloads-1)]cipher.Block
	labels := []string{"cgsim/dcf/seed-left", "cgsim/dcf/value-left", "cgsim/dcf/seed-right", "cgsim/dcf/value-right"}
	for j := 1; j < maxPayloads; j++ {
		labels = append(labels, fmt.Sprintf("cgsim/dcf/value-%d-left", j), fmt.Sprintf("cgsim/dcf/value-%d-right", j))
	}
	for j, label := range labels {
		k := sha256.Sum256([]byte(label))
		c, err := aes.NewCipher(k[:16]) // a 16-byte key: cannot fail
		if err != nil {
			panic("mpc: aes: " + err.Error())
		}
		out[j] = c
	}
	return out
}()

// dcfPRG evaluates G. cipher.Block's Encrypt takes slices, which escape
// through the interface: a dcfPRG keeps the bytes of its blocks in buffers of
// its own, so that evaluating keys allocates once per dcfPRG, not twice per
// AES call (which made a comparison level's price a third allocation).
type dcfPRG struct{ in, out [16]byte }

// g returns G_j(s) = AES_{k_j}(s) ⊕ s.
func (p *dcfPRG) g(j int, s block) block {
	binary.LittleEndian.PutUint64(p.in[:8], s[0])
	binary.LittleEndian.PutUint64(p.in[8:], s[1])
	prgCiphers[j].Encrypt(p.out[:], p.in[:])
	return block{binary.LittleEndian.Uint64(p.out[:8]) ^ s[0], binary.LittleEndian.Uint64(p.out[8:]) ^ s[1]}
}

// expand returns the seed, control bit and value of G(s) on side d (0 =
// left, 1 = right).
func (p *dcfPRG) expand(s block, d uint8) (block, uint8, block) {
	sd := p.g(2*int(d), s)
	return sd.clearLSB(), sd.lsb(), p.g(2*int(d)+1, s)
}

// value returns the block of payload j >= 1 on side d of s; payload 0's
// comes with the seed (expand).
func (p *dcfPRG) value(j int, s block, d uint8) block { return p.g(4+2*(j-1)+int(d), s) }

// leaf is payload j's value of a last-level seed s: the seed itself for
// payload 0, its left value block for the others.
func (p *dcfPRG) leaf(r *Ring, j int, s block) uint64 {
	if j == 0 {
		return r.convert(s)
	}
	return r.convert(p.value(j, s, 0))
}

// convert maps a block to Z_t (a 128-bit integer reduced mod t).
func (r *Ring) convert(a block) uint64 { return bits.Rem64(a[1], a[0], r.t) }

// cwLevel is the correction word of one level.
type cwLevel struct {
	s      block
	v      uint64
	tl, tr uint8
}

// dcfKeys are the two keys of one comparison: the parties' root seeds and
// the common correction words; with m > 1 payloads (dcfGenN), xv holds
// the value corrections of payloads 1..m-1, m-1 per level, and final one
// element per payload.
type dcfKeys struct {
	root  [2]block
	cw    []cwLevel
	xv    []uint64
	final []uint64
}

// cneg returns -v if t1 is 1, else v: the (-1)^t1 of the paper.
func (r *Ring) cneg(t1 uint8, v uint64) uint64 {
	if t1 == 1 {
		return r.Neg(v)
	}
	return v
}

// dcfGen returns keys of f(c) = β·[c < α] on k-bit inputs, for the root
// seeds s0, s1 (lsb cleared), expanding seeds with pg.
func (r *Ring) dcfGen(pg *dcfPRG, k int, alpha, beta uint64, s0, s1 block) dcfKeys {
	return r.dcfGenN(pg, k, alpha, []uint64{beta}, s0, s1)
}

// dcfGenN returns keys of the m = len(betas) functions β_j·[c < α] on one
// path: payload 0 as dcfGen, payload j's values from its own PRG blocks.
func (r *Ring) dcfGenN(pg *dcfPRG, k int, alpha uint64, betas []uint64, s0, s1 block) dcfKeys {
	m := len(betas)
	keys := dcfKeys{root: [2]block{s0, s1}, cw: make([]cwLevel, k), xv: make([]uint64, k*(m-1)), final: make([]uint64, m)}
	s := [2]block{s0, s1}
	t := [2]uint8{0, 1}
	va := make([]uint64, m) // V_α per payload: the sum of the outputs along the path of α so far
	vc := make([][2][2]uint64, m)
	for i := range k {
		a := uint8(alpha >> (k - 1 - i) & 1)
		var sc [2][2]block // [party][side] seeds
		var tc [2][2]uint8
		for b := range 2 {
			for d := range uint8(2) {
				sb, tb, vb := pg.expand(s[b], d)
				sc[b][d], tc[b][d], vc[0][b][d] = sb, tb, r.convert(vb)
				for j := 1; j < m; j++ {
					vc[j][b][d] = r.convert(pg.value(j, s[b], d))
				}
			}
		}
		keep, lose := a, 1-a
		cw := cwLevel{s: sc[0][lose].xor(sc[1][lose])}
		for j := range m {
			v := r.Sub(r.Sub(vc[j][1][lose], vc[j][0][lose]), va[j])
			if lose == 0 { // α_i = 1: every c that turns left here is below α
				v = r.Add(v, betas[j])
			}
			v = r.cneg(t[1], v)
			va[j] = r.Add(r.Sub(va[j], vc[j][1][keep]), vc[j][0][keep])
			va[j] = r.Add(va[j], r.cneg(t[1], v))
			if j == 0 {
				cw.v = v
			} else {
				keys.xv[i*(m-1)+j-1] = v
			}
		}
		cw.tl = tc[0][0] ^ tc[1][0] ^ a ^ 1
		cw.tr = tc[0][1] ^ tc[1][1] ^ a
		tk := [2]uint8{cw.tl, cw.tr}[keep]
		for b := range 2 {
			ns := sc[b][keep]
			if t[b] == 1 {
				ns = ns.xor(cw.s)
			}
			s[b], t[b] = ns, tc[b][keep]^(t[b]&tk)
		}
		keys.cw[i] = cw
	}
	for j := range m {
		keys.final[j] = r.cneg(t[1], r.Sub(r.Sub(pg.leaf(r, j, s[1]), pg.leaf(r, j, s[0])), va[j]))
	}
	return keys
}

// dcfEval returns party b's share of f(c) for its root seed and the common
// correction words, expanding seeds with pg.
func (r *Ring) dcfEval(pg *dcfPRG, b int, root block, cw []cwLevel, final uint64, c uint64) uint64 {
	var out [1]uint64
	r.dcfEvalN(pg, b, root, cw, nil, []uint64{final}, c, out[:])
	return out[0]
}

// dcfEvalN writes party b's shares of the len(out) payloads at c into out
// (xv and final as dcfKeys for that many payloads).
func (r *Ring) dcfEvalN(pg *dcfPRG, b int, root block, cw []cwLevel, xv, final []uint64, c uint64, out []uint64) {
	k, m := len(cw), len(out)
	s, t := root, uint8(b)
	clear(out)
	for i := range k {
		d := uint8(c >> (k - 1 - i) & 1)
		for j := 1; j < m; j++ { // from the level's seed, before it moves on
			v := r.convert(pg.value(j, s, d))
			if t == 1 {
				v = r.Add(v, xv[i*(m-1)+j-1])
			}
			out[j] = r.Add(out[j], v)
		}
		ns, nt, nv := pg.expand(s, d)
		v := r.convert(nv)
		if t == 1 {
			ns = ns.xor(cw[i].s)
			nt ^= [2]uint8{cw[i].tl, cw[i].tr}[d]
			v = r.Add(v, cw[i].v)
		}
		out[0] = r.Add(out[0], v)
		s, t = ns, nt
	}
	for j := range m {
		v := pg.leaf(r, j, s)
		if t == 1 {
			v = r.Add(v, final[j])
		}
		out[j] = r.Add(out[j], v)
		if b == 1 {
			out[j] = r.Neg(out[j])
		}
	}
}
