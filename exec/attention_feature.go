package exec

import (
	"fmt"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// The feature-major decode layout and its kernels (FeatureScores,
// FeatureValues: attention_feature_kernels.go): CryptoGen's heterogeneous
// cache, in which every product is ciphertext-plaintext.
//
// The cache is shared, K = K_C + K_S (and V alike): the client keeps its
// share K_C in the clear, the server keeps K_S in the clear and holds
// Enc(K_C) under the client's key. A score q·k = (q_C + q_S)·(K_C + K_S)
// is then two local terms (q_C·K_C at the client, q_S·K_S at the server)
// and two cross terms the server computes on ciphertexts: Enc(q_C)·K_S
// (the client's fresh query against the server's plaintext share) and
// Enc(K_C)·q_S (the encrypted cache against the server's plaintext query
// share). Both are ciphertext-plaintext products: no relinearization, no
// product of two ciphertexts' noises.
//
// The slots are laid out so that both cross terms are sums of slot-wise
// products with no folding: a slot row of N/2 slots holds Row token
// positions t, each of Classes classes c, each of Lanes = Heads rounded up
// to a power of two lanes h (query heads; a key/value head's values are
// repeated in the lanes of its Heads/KVHeads query heads):
//
//	slot(ρ, t, c, h) = ρ·N/2 + (t·Classes + c)·Lanes + h
//
// and a cache ciphertext holds 2·Row tokens, token ρ·Row + t at (ρ, t, ·,
// ·). A rotation by k·Classes·Lanes moves every (t, c, h) to (t - k, c,
// h): a product with a plaintext that is a "diagonal" (each slot reads
// the element its position pairs with) sums the matrix product over the
// rotations, and the classes are rotations the client makes for free by
// laying out its own input rotated per class. What is left unsummed, the
// classes (and, for the values, the positions of one feature), the
// parties sum on their shares after the return: the result comes back
// unfolded, one ciphertext, no rotation spent on it.
//
// Both kernels have D = d/Classes diagonals (HeadDim d). Scores of a
// ciphertext of keys, for the query of head h: slot (ρ, t, c, h) of
// diagonal k < D pairs the query's element e = (t + k + c·D) mod d with
// the same element of token ρ·Row + t; summed over k and c that is the
// whole dot product. Values, for the weights p of head h: slot (ρ, u, c,
// h) of diagonal k pairs token ρ·Row + (u + k + c·D) mod Row with element
// u mod d of its value; summed over k and c, slot u covers the d tokens
// from u on, and the Row/d slots u of one residue e mod d cover the row's
// tokens once each: summed over them, c and ρ, the output o[h][e].
type FeatureLayout struct {
	N                       int // slots per ciphertext
	Heads, KVHeads, HeadDim int
	Lanes                   int // Heads rounded up to a power of two
	Classes                 int // a power of two, at most HeadDim
	Row                     int // token positions per slot row: N/2 / (Classes·Lanes), a multiple of HeadDim
}

// MaxFeatureClasses is the most classes a feature-major layout of N slots
// allows for heads of headDim: a slot row must hold headDim positions of
// every class and lane, and a class needs at least one diagonal.
func MaxFeatureClasses(slots, heads, headDim int) int {
	if heads < 1 || headDim < 1 {
		return 0
	}
	m := slots / 2 / (nextPow2(heads) * headDim)
	if m < 1 {
		return 0
	}
	return min(1<<(bits.Len(uint(m))-1), headDim)
}

// NewFeatureLayout is the feature-major layout of N slots with classes
// classes.
func NewFeatureLayout(slots, heads, kvHeads, headDim, classes int) (FeatureLayout, error) {
	if heads < 1 || kvHeads < 1 || headDim < 1 || heads%kvHeads != 0 {
		return FeatureLayout{}, fmt.Errorf("exec: feature layout of %d heads over %d key/value heads of %d", heads, kvHeads, headDim)
	}
	if headDim&(headDim-1) != 0 {
		return FeatureLayout{}, fmt.Errorf("exec: head width %d is not a power of two", headDim)
	}
	top := MaxFeatureClasses(slots, heads, headDim)
	if classes < 1 || classes&(classes-1) != 0 || classes > top {
		return FeatureLayout{}, fmt.Errorf("exec: %d classes: want a power of two from 1 to %d (%d slots, %d heads of %d)", classes, top, slots, heads, headDim)
	}
	lanes := nextPow2(heads)
	return FeatureLayout{N: slots, Heads: heads, KVHeads: kvHeads, HeadDim: headDim, Lanes: lanes, Classes: classes,
		Row: slots / 2 / (classes * lanes)}, nil
}

// TokensPerCt is the tokens one cache ciphertext holds: 2·Row.
func (l FeatureLayout) TokensPerCt() int { return 2 * l.Row }

// Cts is the number of cache ciphertext groups (of Diagonals key or
// value ciphertexts each) holding p tokens.
func (l FeatureLayout) Cts(p int) int { return ceilDiv(p, l.TokensPerCt()) }

// Diagonals is D = HeadDim/Classes: the key (or value) ciphertexts of a
// group of TokensPerCt tokens, and the diagonals of both kernels.
func (l FeatureLayout) Diagonals() int { return l.HeadDim / l.Classes }

// slot is the slot of position t (< Row) of class c of lane h in row ρ.
func (l FeatureLayout) slot(rho, t, c, h int) int { return rho*l.N/2 + (t*l.Classes+c)*l.Lanes + h }

// step is the rotation that moves a position by one: Classes·Lanes slots.
func (l FeatureLayout) step() int { return l.Classes * l.Lanes }

// each calls f for every slot (ρ, t, c, h) with h < Heads.
func (l FeatureLayout) each(f func(rho, t, c, h, s int)) {
	for rho := 0; rho < 2; rho++ {
		for t := 0; t < l.Row; t++ {
			for c := 0; c < l.Classes; c++ {
				base := l.slot(rho, t, c, 0)
				for h := 0; h < l.Heads; h++ {
					f(rho, t, c, h, base+h)
				}
			}
		}
	}
}

// scoreElement is the element of a head that slot (t, c) of score
// diagonal k pairs: (t + k + c·D) mod HeadDim.
func (l FeatureLayout) scoreElement(t, c, k int) int {
	return (t + k + c*l.Diagonals()) % l.HeadDim
}

// valuePosition is the position within a row that slot (u, c) of value
// diagonal k pairs: (u + k + c·D) mod Row.
func (l FeatureLayout) valuePosition(u, c, k int) int {
	return (u + k + c*l.Diagonals()) % l.Row
}

// KeyVectors lays out keys (tokens x KVDim, row-major) for the encrypted
// share: key ciphertext k of group g holds, at slot (ρ, t, c, h),
// element scoreElement(t, c, k) of head h's key/value head of token
// g·TokensPerCt + ρ·Row + t (zero past the tokens given). Cts(tokens)·D
// vectors, group-major.
func (l FeatureLayout) KeyVectors(rows []uint64) [][]uint64 {
	return l.vectors(rows, l.keyAt, -1)
}

// ValueVectors lays out values (tokens x KVDim, row-major) for the
// encrypted share: value ciphertext k of group g holds, at slot (ρ, u, c,
// h), element u mod HeadDim of head h's key/value head of token
// g·TokensPerCt + ρ·Row + valuePosition(u, c, k). Cts(tokens)·D vectors,
// group-major.
func (l FeatureLayout) ValueVectors(rows []uint64) [][]uint64 {
	return l.vectors(rows, l.valueAt, -1)
}

// KeyAppend is the D key vectors of token j's group with token j's key
// (rows: tokens x KVDim, at least j+1 tokens) at its slots and zeros
// elsewhere: what a client encrypts to append token j; summed over the
// group's tokens, the group's KeyVectors.
func (l FeatureLayout) KeyAppend(rows []uint64, j int) ([][]uint64, error) {
	return l.appendOf(rows, j, l.keyAt)
}

// ValueAppend is KeyAppend for the values.
func (l FeatureLayout) ValueAppend(rows []uint64, j int) ([][]uint64, error) {
	return l.appendOf(rows, j, l.valueAt)
}

func (l FeatureLayout) appendOf(rows []uint64, j int, at func(t, c, k int) (int, int)) ([][]uint64, error) {
	kv := l.KVHeads * l.HeadDim
	if j < 0 || (j+1)*kv > len(rows) {
		return nil, fmt.Errorf("exec: appending token %d of %d", j, len(rows)/kv)
	}
	g, D := j/l.TokensPerCt(), l.Diagonals()
	return l.vectors(rows, at, j)[g*D : (g+1)*D], nil
}

// keyAt and valueAt are the (position, element) that slot (t, c) of
// diagonal k holds, for the keys and for the values.
func (l FeatureLayout) keyAt(t, c, k int) (int, int) { return t, l.scoreElement(t, c, k) }
func (l FeatureLayout) valueAt(u, c, k int) (int, int) {
	return l.valuePosition(u, c, k), u % l.HeadDim
}

// vectors lays out rows (tokens x KVDim) in Cts(tokens)·D vectors: slot
// (ρ, t, c, h) of vector k of group g holds element e of head h's
// key/value head of the token at position pos of row ρ of the group, for
// (pos, e) = at(t, c, k); only token only if only >= 0 (the vectors of the
// other groups are then nil).
func (l FeatureLayout) vectors(rows []uint64, at func(t, c, k int) (pos, e int), only int) [][]uint64 {
	kv, G, D := l.KVHeads*l.HeadDim, l.Heads/l.KVHeads, l.Diagonals()
	p := len(rows) / kv
	vecs := make([][]uint64, l.Cts(p)*D)
	for i := range vecs {
		g, k := i/D, i%D
		if only >= 0 && g != only/l.TokensPerCt() {
			continue
		}
		v := make([]uint64, l.N)
		l.each(func(rho, t, c, h, s int) {
			pos, e := at(t, c, k)
			if j := g*l.TokensPerCt() + rho*l.Row + pos; j < p && (only < 0 || j == only) {
				v[s] = rows[j*kv+(h/G)*l.HeadDim+e]
			}
		})
		vecs[i] = v
	}
	return vecs
}

// bsgsSplits are the baby-step counts b of the baby-step giant-step
// splits of n diagonals (n = b·(n/b), both powers of two). A baby step's
// key-switch noise is multiplied by the diagonals, a giant step's is not:
// more baby steps, fewer rotations, more noise.
func bsgsSplits(n int) []int {
	var bs []int
	for b := 1; b <= n; b *= 2 {
		bs = append(bs, b)
	}
	return bs
}

// featureProducts is the server's products of a feature kernel: a result
//
//	acc = Σ_g Σ_k rot(x_g, k·step) ⊙ diag_g(k) + Σ_g Σ_k cache_g[k] ⊙ plain_g(k)
//
// over one or more groups g, the first sum by baby steps (rot(x_g,
// b·step), made beforehand) and giant steps (the diagonals of giant step
// j pre-rotated by -j·baby·step, as diag returns them), the second in the
// final frame. A featureSum takes the groups one at a time (add), so that
// no more than one group's operands are held, into 2·giant pieces of baby
// products each (the giant steps, and the cache products in runs of
// baby), which run on the server's cores; result rotates the giant steps
// and adds the pieces.
type featureProducts struct {
	params      bgv.Parameters
	level       int
	baby, giant int
	step        int
}

// featureTerms are one group's operands of featureProducts: its baby
// steps, its cache ciphertexts (baby·giant of them), and the layouts of
// its diagonals and of the plaintexts of its cache products (written into
// a zero vector).
//
// A public group (FeaturePublic) has no cache ciphertexts (cache nil: its
// client share is zero, so is the product) and its diagonals come encoded
// once (pre, indexed as diag's k): no layout, no encode.
type featureTerms struct {
	babyRot     []*rlwe.Ciphertext
	cache       []*rlwe.Ciphertext
	diag, plain func(k int, v []uint64)
	pre         []*rlwe.Plaintext
}

// featureSum is a result being summed.
type featureSum struct {
	f      featureProducts
	pieces []*rlwe.Ciphertext // nil until their first product
}

func (f featureProducts) newSum() *featureSum {
	return &featureSum{f: f, pieces: make([]*rlwe.Ciphertext, 2*f.giant)}
}

// add multiplies group g's terms into the pieces. Every product ends at
// the scale of g's input: a cache ciphertext's plaintext is encoded at the
// input's scale over the ciphertext's (a rescaled cache has another).
func (s *featureSum) add(sv *Server, tally *cost.Tally, g featureTerms) error {
	f := s.f
	t := f.params.PlaintextModulus()
	in := g.babyRot[0].Scale.Uint64() % t
	return sv.forEach(len(s.pieces), func(j int, w *Server) error {
		if j >= f.giant && g.cache == nil {
			return nil // a public group: no cache products
		}
		for i := 0; i < f.baby; i++ {
			var ct *rlwe.Ciphertext
			var pt *rlwe.Plaintext
			switch {
			case j < f.giant && g.pre != nil:
				ct, pt = g.babyRot[i], g.pre[j*f.baby+i]
			default:
				var v []uint64
				v, pt = w.buf.slots(f.params), w.buf.plaintext(f.params, f.level)
				if j < f.giant {
					ct = g.babyRot[i]
					g.diag(j*f.baby+i, v)
				} else {
					k := (j-f.giant)*f.baby + i
					ct = g.cache[k]
					g.plain(k, v)
					pt.Scale = f.params.NewScale(mulModT(in, invModT(ct.Scale.Uint64()%t, t), t))
				}
				tally.Op(cost.OpShare, 0, int64(len(v)))
				if err := w.ecd.Encode(v, pt); err != nil {
					return fmt.Errorf("exec: server: encoding: %w", err)
				}
				tally.Op(cost.OpEncode, f.level, 1)
			}
			if s.pieces[j] == nil {
				s.pieces[j] = bgv.NewCiphertext(f.params, 1, f.level)
				if err := w.eval.Mul(ct, pt, s.pieces[j]); err != nil {
					return fmt.Errorf("exec: server: ct-pt product: %w", err)
				}
			} else {
				if err := w.eval.MulThenAdd(ct, pt, s.pieces[j]); err != nil {
					return fmt.Errorf("exec: server: ct-pt product: %w", err)
				}
				tally.Op(cost.OpAdd, f.level, 1)
			}
			tally.Op(cost.OpMulPlain, f.level, 1)
		}
		return nil
	})
}

// result rotates giant step j > 0 by j·baby·step (on the server's cores)
// and adds the pieces.
func (s *featureSum) result(sv *Server, tally *cost.Tally) (*rlwe.Ciphertext, error) {
	f := s.f
	err := sv.forEach(f.giant-1, func(i int, w *Server) error {
		j := i + 1
		if err := w.eval.RotateColumns(s.pieces[j], j*f.baby*f.step, s.pieces[j]); err != nil {
			return fmt.Errorf("exec: server: giant step: %w", err)
		}
		tally.Op(cost.OpRotate, f.level, 1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	acc := s.pieces[0]
	for _, p := range s.pieces[1:] {
		if p == nil { // the cache pieces of a sum of public groups only
			continue
		}
		if err := sv.eval.Add(acc, p, acc); err != nil {
			return nil, fmt.Errorf("exec: server: adding: %w", err)
		}
		tally.Op(cost.OpAdd, f.level, 1)
	}
	return acc, nil
}

// estimate prices a result over pub public and groups private groups:
// per private group 2·baby·giant products (each laid out and encoded), per
// public group baby·giant products with its diagonals encoded once, in
// 2·giant pieces (giant when every group is public) on the server's cores
// (one forEach per group), the giant rotations on the cores, and the
// additions.
func (f featureProducts) estimate(prof *cost.Profile, logN, pub, groups, cores int) cost.Cost {
	bg := int64(f.baby * f.giant)
	encoded := int64(groups) * 2 * bg // laid out and encoded per call
	n := encoded + int64(pub)*bg
	pieces := int64(2 * f.giant)
	if groups == 0 {
		pieces = int64(f.giant)
	}
	groups += pub
	products := func() cost.Cost {
		return cost.Sum(
			layoutCost(prof, logN, encoded),
			prof.Charge(cost.OpEncode, f.level, encoded),
			prof.Charge(cost.OpMulPlain, f.level, n),
			prof.Charge(cost.OpAdd, f.level, n-pieces), // into the pieces
		)
	}
	rotations := func() cost.Cost { return prof.Charge(cost.OpRotate, f.level, int64(f.giant-1)) }
	c := cost.Sum(products(), rotations(), prof.Charge(cost.OpAdd, f.level, pieces-1))
	c = onCoresBatched(c, int64(groups)*pieces, pieces, cores, products)
	return onCores(c, int64(f.giant-1), cores, rotations)
}

// rotations are the baby steps b·step (0 < b < baby) and the giant steps
// j·baby·step (0 < j < giant).
func (f featureProducts) rotations() []int {
	var r []int
	for b := 1; b < f.baby; b++ {
		r = append(r, b*f.step)
	}
	for j := 1; j < f.giant; j++ {
		r = append(r, j*f.baby*f.step)
	}
	return r
}

// babySteps rotates x by b·step for b < baby (hoisted).
func (f featureProducts) babySteps(sv *Server, tally *cost.Tally, x *rlwe.Ciphertext) ([]*rlwe.Ciphertext, error) {
	out := make([]*rlwe.Ciphertext, f.baby)
	for b := 1; b < f.baby; b++ {
		out[b] = bgv.NewCiphertext(f.params, 1, f.level)
	}
	return out, hoistedRotationsOn(sv, tally, x, f.step, out)
}

// noise is the payload of acc for inputs x of payload nu and cache
// ciphertexts of payload cache, over groups groups of cacheCts: a baby
// step's key switch (none with one baby step), a product with a
// plaintext, baby·groups terms per giant step, its key switch (none with
// one giant step), giant steps summed, and the cache products summed
// beside them.
func (f featureProducts) noise(nm NoiseModel, nu, cache float64, groups, cacheCts int) float64 {
	if f.baby > 1 {
		nu = nm.KeySwitch(nu)
	}
	giant := nm.Sum(nm.MulPlain(nu), f.baby*groups)
	if f.giant > 1 {
		giant = nm.KeySwitch(giant)
	}
	return log2Add(nm.Sum(giant, f.giant), nm.Sum(nm.MulPlain(cache), cacheCts*groups))
}
