package exec

import (
	"fmt"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// PrefillLayout is the prefill layout of one layer's keys (or values) for
// a prompt of Tokens = m tokens: the blocks of the decode layout (W = KVDim
// rounded up to a power of two slots per token, B = N/W blocks per
// ciphertext, B/2 per slot row, token j's KVDim vector at the start of its
// block), but the prompt's keys are replicated so that one ciphertext
// serves several queries at once:
//
//   - if m <= B/2, the m keys occupy a span of S = m rounded up to a power
//     of two blocks, and the ciphertext holds R = B/S copies of that span
//     (copy r at blocks r·S .. r·S+S-1, never straddling a slot row): one
//     key ciphertext;
//   - otherwise S = B, R = 1 and the layout is the decode layout
//     (CacheLayout): C = ceil(m/B) key ciphertexts.
//
// Block b of a ciphertext is at slot (b div (B/2))·N/2 + (b mod (B/2))·W.
// Token j is at block (r·S + j mod S) of key ciphertext j div S, for every
// copy r.
type PrefillLayout struct {
	N                int // slots per ciphertext
	KVHeads, HeadDim int
	Tokens           int // m
	Block            int // W
	TokensPerCt      int // B
	Span             int // S
	Copies           int // R
	blocksPerRow     int
	row              int
}

// NewPrefillLayout is the prefill layout of m tokens for N slots.
func NewPrefillLayout(slots, kvHeads, headDim, m int) (PrefillLayout, error) {
	dec, err := NewCacheLayout(slots, kvHeads, headDim)
	if err != nil {
		return PrefillLayout{}, err
	}
	if m < 1 {
		return PrefillLayout{}, fmt.Errorf("exec: prefill layout of %d tokens", m)
	}
	l := PrefillLayout{N: slots, KVHeads: kvHeads, HeadDim: headDim, Tokens: m, Block: dec.Block,
		TokensPerCt: dec.TokensPerCt, blocksPerRow: dec.tokensPerRow, row: dec.row}
	if m <= l.blocksPerRow {
		l.Span = nextPow2(m)
	} else {
		l.Span = l.TokensPerCt
	}
	l.Copies = l.TokensPerCt / l.Span
	return l, nil
}

// KVDim is KVHeads·HeadDim.
func (l PrefillLayout) KVDim() int { return l.KVHeads * l.HeadDim }

// Cts is the number of key (or value) ciphertexts: ceil(m/S).
func (l PrefillLayout) Cts() int { return ceilDiv(l.Tokens, l.Span) }

// Slot is the slot of element e of the token at position jj (< S) of copy
// r (< R) within its ciphertext.
func (l PrefillLayout) Slot(r, jj, e int) int {
	b := r*l.Span + jj
	return (b/l.blocksPerRow)*l.row + (b%l.blocksPerRow)*l.Block + e
}

// Vectors lays out the m tokens (m x KVDim, row-major) in Cts slot vectors,
// every token in every copy.
func (l PrefillLayout) Vectors(rows []uint64) [][]uint64 {
	kv := l.KVDim()
	vecs := make([][]uint64, l.Cts())
	for i := range vecs {
		vecs[i] = make([]uint64, l.N)
	}
	for j := 0; j < l.Tokens && (j+1)*kv <= len(rows); j++ {
		v := vecs[j/l.Span]
		for r := 0; r < l.Copies; r++ {
			copy(v[l.Slot(r, j%l.Span, 0):], rows[j*kv:(j+1)*kv])
		}
	}
	return vecs
}

// Groups is the number of query groups: queries g·R .. g·R+R-1 share the
// product ciphertexts of group g (query g·R+r at copy r).
func (l PrefillLayout) Groups() int { return ceilDiv(l.Tokens, l.Copies) }

// last is the last query of group g.
func (l PrefillLayout) last(g int) int {
	i := (g+1)*l.Copies - 1
	if i >= l.Tokens {
		i = l.Tokens - 1
	}
	return i
}

// keyCts is the number of key ciphertexts group g reads: the causal mask
// stops at its last query.
func (l PrefillLayout) keyCts(g int) int { return ceilDiv(l.last(g)+1, l.Span) }

// products is Σ_g keyCts(g): product ciphertexts per query-head offset.
func (l PrefillLayout) products() int {
	n := 0
	for g := 0; g < l.Groups(); g++ {
		n += l.keyCts(g)
	}
	return n
}

// fold is the number of blocks the value fold of group g sums: the tokens
// up to its last query within one ciphertext, rounded up to a power of
// two.
func (l PrefillLayout) fold(g int) int {
	n := l.last(g) + 1
	if n > l.Span {
		n = l.Span
	}
	return nextPow2(n)
}

// foldRotations is the number of rotations of group g's value fold:
// log2(F) column rotations if its F blocks lie in one slot row, else
// log2(B/2) column rotations and one row rotation.
func (l PrefillLayout) foldRotations(g int) int {
	f := l.fold(g)
	if f <= l.blocksPerRow {
		return log2Int(f)
	}
	return log2Int(l.blocksPerRow) + 1
}

// prefillShape validates an attention shape for prefill: Context is the
// prompt length m.
func prefillLayoutFor(p bgv.Parameters, sh AttentionShape) (PrefillLayout, error) {
	if err := sh.validate(); err != nil {
		return PrefillLayout{}, err
	}
	return NewPrefillLayout(p.MaxSlots(), sh.KVHeads, sh.HeadDim, sh.Context)
}

// PrefillScores is the ARCC matrix-matrix kernel for the attention scores
// of a prompt of m = Shape.Context tokens: S[h][i][j] = q_{i,h} · k_j for
// every query head h and causal pair j <= i, k_j being the key of head
// h / (Heads/KVHeads) (grouped-query attention).
//
// Inputs: the queries shared between the parties (m x Heads x HeadDim,
// row-major), the server's Enc(K_C) in the prefill layout ([PrefillLayout],
// at Level) and its plaintext share K_S (m x KVDim). Output: shares of the
// scores (Heads x m x m, row-major, unscaled), zero in both shares above
// the diagonal (the causal mask: the positions are public).
//
// Encoding: for each group g of R queries and query-head offset a < G, the
// client sends one ciphertext holding, in every block of copy r, the
// queries of heads kv·G + a of query g·R + r at sub-block kv. The server
// adds its shares, multiplies it with each key ciphertext the group's
// causal window reaches and folds each head's HeadDim products by
// rotations 1, 2, ..., HeadDim/2: the score of query g·R+r, head kv·G+a,
// against key c·S + jj is at slot Slot(r, jj, kv·HeadDim) of that product.
//
// Cost, with P = Σ_g ceil((last query of g + 1)/S) product ciphertexts per
// offset: G·P ct-ct products, G·P·log2(HeadDim) rotations, G·Groups
// ciphertexts up, G·P down.
type PrefillScores struct {
	Params  bgv.Parameters
	Profile *cost.Profile
	Shape   AttentionShape // Context is the prompt length m
	Layout  PrefillLayout
	Level   int // level of the keys and of the query encryptions
	send    sendPlan
	noise   float64
}

// NewPrefillScores plans the kernel for a prompt of sh.Context tokens; the
// keys must be encrypted in the returned kernel's Layout at its Level.
func NewPrefillScores(p bgv.Parameters, prof *cost.Profile, sh AttentionShape) (*PrefillScores, error) {
	pl, err := NewPlanner(p, prof)
	if err != nil {
		return nil, err
	}
	return pl.PrefillScores(sh)
}

// PrefillScores is the checked constructor of the prefill scores kernel
// (see NewPrefillScores). sh.CacheBits bounds the payload of the key
// ciphertexts (zero: fresh client encryptions).
func (pl Planner) PrefillScores(sh AttentionShape) (*PrefillScores, error) {
	if err := pl.Check(); err != nil {
		return nil, err
	}
	p, prof := pl.Params, pl.Profile
	lay, err := prefillLayoutFor(p, sh)
	if err != nil {
		return nil, err
	}
	nm := pl.NoiseModel()
	f := func(nu float64) float64 { return nm.Attention(nu, sh.CacheBits, sh.HeadDim) }
	level, sp, err := nm.inputLevel(f)
	if err != nil {
		return nil, fmt.Errorf("exec: prefill scores %+v: %w", sh, err)
	}
	return &PrefillScores{Params: p, Profile: prof, Shape: sh, Layout: lay, Level: level, send: sp, noise: f(nm.FreshSK())}, nil
}

// Rotations are the folding rotations 1, 2, ..., HeadDim/2.
func (k *PrefillScores) Rotations() []int {
	var r []int
	for s := 1; s < k.Shape.HeadDim; s *= 2 {
		r = append(r, s)
	}
	return r
}

// Products is the number of ct-ct products (and output ciphertexts) of
// one Run: G·P.
func (k *PrefillScores) Products() int64 {
	return int64(k.Shape.group() * k.Layout.products())
}

// RotationCount is the number of rotations of one Run: G·P·log2(HeadDim).
func (k *PrefillScores) RotationCount() int64 {
	return k.Products() * int64(log2Int(k.Shape.HeadDim))
}

// RotationLowerBound is log2(HeadDim) rotations per output ciphertext (each
// score sums HeadDim products held in distinct slots: the 2^r argument of
// Linear.RotationLowerBound) times the fewest output ciphertexts any kernel
// on this layout can have: a ciphertext holds at most B (query, key)
// pairs per query-head offset (one per block), and there are m(m+1)/2
// causal pairs, so G·ceil(m(m+1)/(2B)). The kernel exceeds it by the
// blocks its packing leaves empty: the pairs above the diagonal inside a
// group's span and the padding of m to S.
func (k *PrefillScores) RotationLowerBound() int64 {
	m := k.Shape.Context
	return int64(k.Shape.group()*ceilDiv(m*(m+1)/2, k.Layout.TokensPerCt)) * int64(bits.Len(uint(k.Shape.HeadDim-1)))
}

// Noise is the model's payload of the product ciphertexts before the
// flooding (see noiseModel), in bits.
func (k *PrefillScores) Noise() float64 { return k.noise }

// Estimate prices one Run.
func (k *PrefillScores) Estimate() cost.Cost {
	lay := k.Layout
	G, P, Q, C := int64(k.Shape.group()), int64(lay.products()), int64(lay.Groups()), int64(lay.Cts())
	lvl := k.Level
	prof := k.Profile
	f := int64(log2Int(k.Shape.HeadDim))
	return cost.Sum(
		sendInputCost(prof, k.Params.LogN(), lvl, G*Q),
		plainCost(prof, k.Params.LogN(), lvl, G*Q+C), // server shares of the queries and of K
		prof.Charge(cost.OpMulCipher, lvl, G*P),
		prof.Charge(cost.OpRotate, lvl, G*P*f),
		prof.Charge(cost.OpAdd, lvl, G*P*f),
		returnCost(prof, k.Params.LogN(), k.send, G*P),
		cost.Cost{Rounds: 1},
	)
}

// queryVectors lays out the queries (m x Heads x HeadDim) for offset a:
// vector a·Groups + g.
func (k *PrefillScores) queryVectors(q []uint64) [][]uint64 {
	sh, lay := k.Shape, k.Layout
	G, Q, d := sh.group(), lay.Groups(), sh.HeadDim
	qd := sh.Heads * d
	vecs := make([][]uint64, G*Q)
	for a := 0; a < G; a++ {
		for g := 0; g < Q; g++ {
			v := make([]uint64, lay.N)
			for r := 0; r < lay.Copies; r++ {
				i := g*lay.Copies + r
				if i >= sh.Context {
					break
				}
				for kv := 0; kv < sh.KVHeads; kv++ {
					h := kv*G + a
					src := q[i*qd+h*d : i*qd+(h+1)*d]
					for jj := 0; jj < lay.Span; jj++ {
						copy(v[lay.Slot(r, jj, kv*d):], src)
					}
				}
			}
			vecs[a*Q+g] = v
		}
	}
	return vecs
}

// extract reads the scores (Heads x m x m) from the G·P output vectors
// (offset-major, then group, then key ciphertext), zero above the
// diagonal.
func (k *PrefillScores) extract(vecs [][]uint64) []uint64 {
	sh, lay := k.Shape, k.Layout
	G, m, d := sh.group(), sh.Context, sh.HeadDim
	s := make([]uint64, sh.Heads*m*m)
	idx := 0
	for a := 0; a < G; a++ {
		for g := 0; g < lay.Groups(); g++ {
			for c := 0; c < lay.keyCts(g); c++ {
				v := vecs[idx]
				idx++
				for r := 0; r < lay.Copies; r++ {
					i := g*lay.Copies + r
					if i >= m {
						break
					}
					for jj := 0; jj < lay.Span; jj++ {
						j := c*lay.Span + jj
						if j > i {
							break
						}
						for kv := 0; kv < sh.KVHeads; kv++ {
							s[((kv*G+a)*m+i)*m+j] = v[lay.Slot(r, jj, kv*d)]
						}
					}
				}
			}
		}
	}
	return s
}

// Run computes shares of the causal scores. keys holds Enc(K_C) (Cts
// ciphertexts in the prefill layout at Level, server side), kS the server's
// share of the keys (m x KVDim), q the shared queries (m x Heads x
// HeadDim).
func (k *PrefillScores) Run(s *Session, tally *cost.Tally, keys []*rlwe.Ciphertext, kS []uint64, q Shared) (Shared, error) {
	sh, lay := k.Shape, k.Layout
	m := sh.Context
	if len(keys) != lay.Cts() || len(kS) != m*lay.KVDim() || len(q.C) != m*sh.Heads*sh.HeadDim || len(q.S) != len(q.C) {
		return Shared{}, fmt.Errorf("exec: prefill scores %+v: wrong input sizes", sh)
	}
	qC, qS := q.C, q.S // each half gets its own share only
	start := s.Meter.Begin()
	var out Shared
	err := s.both(func(cl *Client) error {
		var err error
		out.C, err = k.client(cl, tally, qC)
		return err
	}, func(sv *Server) error {
		var err error
		out.S, err = k.server(sv, tally, keys, kS, qS)
		return err
	})
	tally.Add(s.Meter.Since(start))
	return out, err
}

// client is the client's half of Run: only the client's inputs.
func (k *PrefillScores) client(cl *Client, tally *cost.Tally, qC []uint64) ([]uint64, error) {
	sh, lay := k.Shape, k.Layout
	G, _ := sh.group(), lay.Groups()
	if err := cl.sendInputs(tally, k.Level, k.queryVectors(qC)); err != nil {
		return nil, err
	}
	vals, err := cl.recvOutputs(tally, G*lay.products())
	if err != nil {
		return nil, err
	}
	return k.extract(vals), nil
}

// server is the server's half of Run: only the server's inputs.
func (k *PrefillScores) server(sv *Server, tally *cost.Tally, keys []*rlwe.Ciphertext, kS, qS []uint64) ([]uint64, error) {
	sh, lay := k.Shape, k.Layout
	G, Q := sh.group(), lay.Groups()
	qs, err := sv.recvInputs(tally, G*Q)
	if err != nil {
		return nil, err
	}
	for i, v := range k.queryVectors(qS) {
		if err := sv.addPlain(tally, qs[i], v); err != nil {
			return nil, err
		}
	}
	full, err := sv.withShares(tally, keys, lay.Vectors(kS), k.Level)
	if err != nil {
		return nil, err
	}
	prods := make([]*rlwe.Ciphertext, 0, G*lay.products())
	for a := 0; a < G; a++ {
		for g := 0; g < Q; g++ {
			for c := 0; c < lay.keyCts(g); c++ {
				pr := bgv.NewCiphertext(k.Params, 1, k.Level)
				if err := sv.eval.MulRelin(qs[a*Q+g], full[c], pr); err != nil {
					return nil, fmt.Errorf("exec: server: ct-ct product: %w", err)
				}
				tally.Op(cost.OpMulCipher, k.Level, 1)
				if err := foldSum(sv.eval, tally, pr, 1, sh.HeadDim); err != nil {
					return nil, err
				}
				prods = append(prods, pr)
			}
		}
	}
	masks, err := sv.sendOutputs(tally, prods, nil, k.send)
	if err != nil {
		return nil, err
	}
	return k.extract(masks), nil
}

// PrefillValues is the mirror ARCC matrix-matrix kernel: o_{i,h} =
// Σ_{j<=i} P[h][i][j]·v_j for every query i of the prompt and query head
// h, v_j being the value of head h's key/value head, for shared attention
// weights P (Heads x m x m, row-major; entries above the diagonal are
// ignored: the causal mask) against Enc(V_C) in the prefill layout (at
// Level) plus the server's share V_S.
//
// Encoding: for each query group g, offset a and value ciphertext c in the
// group's causal window, the client sends a ciphertext holding
// P[kv·G+a][g·R+r][c·S+jj] in every slot of sub-block kv of block jj of
// copy r (zero where the key is after the query). The server multiplies
// it with value ciphertext c, adds over c, and sums the tokens of each copy
// by folding: log2(F) column rotations by W, 2W, ..., with F the group's
// causal window within a ciphertext rounded up to a power of two (a row
// rotation replaces the last fold when F = B). Output o_{g·R+r, kv·G+a} is
// at slots Slot(r, 0, kv·HeadDim) .. of output ciphertext (a, g).
//
// Cost: G·P ct-ct products and ciphertexts up, G·Σ_g fold(g) rotations,
// G·Groups ciphertexts down.
type PrefillValues struct {
	Params  bgv.Parameters
	Profile *cost.Profile
	Shape   AttentionShape // Context is the prompt length m
	Layout  PrefillLayout
	Level   int
	send    sendPlan
	noise   float64
}

// NewPrefillValues plans the kernel for a prompt of sh.Context tokens.
func NewPrefillValues(p bgv.Parameters, prof *cost.Profile, sh AttentionShape) (*PrefillValues, error) {
	pl, err := NewPlanner(p, prof)
	if err != nil {
		return nil, err
	}
	return pl.PrefillValues(sh)
}

// PrefillValues is the checked constructor of the prefill values kernel
// (see NewPrefillValues). sh.CacheBits bounds the payload of the value
// ciphertexts (zero: fresh client encryptions).
func (pl Planner) PrefillValues(sh AttentionShape) (*PrefillValues, error) {
	if err := pl.Check(); err != nil {
		return nil, err
	}
	p, prof := pl.Params, pl.Profile
	lay, err := prefillLayoutFor(p, sh)
	if err != nil {
		return nil, err
	}
	nm := pl.NoiseModel()
	// Group g sums keyCts(g) products, then folds them over fold(g) blocks
	// (the payload is a polynomial: zero slots do not make zero
	// coefficients, and every fold doubles the bound).
	terms := 1
	for g := 0; g < lay.Groups(); g++ {
		terms = max(terms, lay.keyCts(g)*lay.fold(g))
	}
	f := func(nu float64) float64 { return nm.Attention(nu, sh.CacheBits, terms) }
	level, sp, err := nm.inputLevel(f)
	if err != nil {
		return nil, fmt.Errorf("exec: prefill values %+v: %w", sh, err)
	}
	return &PrefillValues{Params: p, Profile: prof, Shape: sh, Layout: lay, Level: level, send: sp, noise: f(nm.FreshSK())}, nil
}

// Rotations are W·2^i for the folds within a slot row; the row rotation is
// requested separately (see RowRotation).
func (k *PrefillValues) Rotations() []int {
	lay := k.Layout
	top := 1
	for g := 0; g < lay.Groups(); g++ {
		top = max(top, lay.fold(g))
	}
	var r []int
	for s := 1; s < top && s < lay.blocksPerRow; s *= 2 {
		r = append(r, s*lay.Block)
	}
	return r
}

// RowRotation reports whether Run swaps the two slot rows (when a fold
// spans a whole ciphertext).
func (k *PrefillValues) RowRotation() bool {
	lay := k.Layout
	for g := 0; g < lay.Groups(); g++ {
		if lay.fold(g) > lay.blocksPerRow {
			return true
		}
	}
	return false
}

// RotationCount is G·Σ_g foldRotations(g).
func (k *PrefillValues) RotationCount() int64 {
	lay := k.Layout
	n := 0
	for g := 0; g < lay.Groups(); g++ {
		n += lay.foldRotations(g)
	}
	return int64(k.Shape.group() * n)
}

// RotationLowerBound: output ciphertext (a, g) holds the output of the
// group's last query, a sum over min(i+1, B) tokens held in distinct blocks
// of one ciphertext (the tokens of one ciphertext can only be combined by
// rotations), so at least ceil(log2(min(i+1, B))) rotations per output
// ciphertext (the 2^r argument). The kernel meets it.
func (k *PrefillValues) RotationLowerBound() int64 {
	lay := k.Layout
	n := 0
	for g := 0; g < lay.Groups(); g++ {
		n += bits.Len(uint(min(lay.last(g)+1, lay.TokensPerCt) - 1))
	}
	return int64(k.Shape.group() * n)
}

// Products is the number of ct-ct products of one Run: G·P.
func (k *PrefillValues) Products() int64 {
	return int64(k.Shape.group() * k.Layout.products())
}

// Noise is the model's payload of the output ciphertexts before the
// flooding, in bits.
func (k *PrefillValues) Noise() float64 { return k.noise }

// Estimate prices one Run.
func (k *PrefillValues) Estimate() cost.Cost {
	lay := k.Layout
	G, P, Q, C := int64(k.Shape.group()), int64(lay.products()), int64(lay.Groups()), int64(lay.Cts())
	lvl := k.Level
	prof := k.Profile
	f := k.RotationCount()
	return cost.Sum(
		sendInputCost(prof, k.Params.LogN(), lvl, G*P),
		plainCost(prof, k.Params.LogN(), lvl, G*P+C), // server shares of P and V
		prof.Charge(cost.OpMulCipher, lvl, G*P),
		prof.Charge(cost.OpAdd, lvl, G*(P-Q)),
		prof.Charge(cost.OpRotate, lvl, f),
		prof.Charge(cost.OpAdd, lvl, f),
		returnCost(prof, k.Params.LogN(), k.send, G*Q),
		cost.Cost{Rounds: 1},
	)
}

// weightVectors lays out P (Heads x m x m): vector index follows
// (offset a, group g, value ciphertext c).
func (k *PrefillValues) weightVectors(p []uint64) [][]uint64 {
	sh, lay := k.Shape, k.Layout
	G, m, d := sh.group(), sh.Context, sh.HeadDim
	vecs := make([][]uint64, 0, G*lay.products())
	for a := 0; a < G; a++ {
		for g := 0; g < lay.Groups(); g++ {
			for c := 0; c < lay.keyCts(g); c++ {
				v := make([]uint64, lay.N)
				for r := 0; r < lay.Copies; r++ {
					i := g*lay.Copies + r
					if i >= m {
						break
					}
					for jj := 0; jj < lay.Span; jj++ {
						j := c*lay.Span + jj
						if j > i {
							break
						}
						for kv := 0; kv < sh.KVHeads; kv++ {
							w := p[((kv*G+a)*m+i)*m+j]
							base := lay.Slot(r, jj, kv*d)
							for e := 0; e < d; e++ {
								v[base+e] = w
							}
						}
					}
				}
				vecs = append(vecs, v)
			}
		}
	}
	return vecs
}

// extract reads the outputs (m x Heads x HeadDim) from the G·Groups output
// vectors (offset-major, then group).
func (k *PrefillValues) extract(vecs [][]uint64) []uint64 {
	sh, lay := k.Shape, k.Layout
	G, m, d := sh.group(), sh.Context, sh.HeadDim
	o := make([]uint64, m*sh.Heads*d)
	for a := 0; a < G; a++ {
		for g := 0; g < lay.Groups(); g++ {
			v := vecs[a*lay.Groups()+g]
			for r := 0; r < lay.Copies; r++ {
				i := g*lay.Copies + r
				if i >= m {
					break
				}
				for kv := 0; kv < sh.KVHeads; kv++ {
					h := kv*G + a
					copy(o[(i*sh.Heads+h)*d:(i*sh.Heads+h+1)*d], v[lay.Slot(r, 0, kv*d):])
				}
			}
		}
	}
	return o
}

// Run computes shares of the attention outputs (m x Heads x HeadDim).
// values holds Enc(V_C) in the prefill layout at Level, vS the server's
// share of the values (m x KVDim), p the shared attention weights (Heads x
// m x m).
func (k *PrefillValues) Run(s *Session, tally *cost.Tally, values []*rlwe.Ciphertext, vS []uint64, p Shared) (Shared, error) {
	sh, lay := k.Shape, k.Layout
	m := sh.Context
	if len(values) != lay.Cts() || len(vS) != m*lay.KVDim() || len(p.C) != sh.Heads*m*m || len(p.S) != len(p.C) {
		return Shared{}, fmt.Errorf("exec: prefill values %+v: wrong input sizes", sh)
	}
	pC, pS := p.C, p.S // each half gets its own share only
	start := s.Meter.Begin()
	var out Shared
	err := s.both(func(cl *Client) error {
		var err error
		out.C, err = k.client(cl, tally, pC)
		return err
	}, func(sv *Server) error {
		var err error
		out.S, err = k.server(sv, tally, values, vS, pS)
		return err
	})
	tally.Add(s.Meter.Since(start))
	return out, err
}

// client is the client's half of Run: only the client's inputs.
func (k *PrefillValues) client(cl *Client, tally *cost.Tally, pC []uint64) ([]uint64, error) {
	sh, lay := k.Shape, k.Layout
	G, Q, _ := sh.group(), lay.Groups(), lay.products()
	if err := cl.sendInputs(tally, k.Level, k.weightVectors(pC)); err != nil {
		return nil, err
	}
	vals, err := cl.recvOutputs(tally, G*Q)
	if err != nil {
		return nil, err
	}
	return k.extract(vals), nil
}

// server is the server's half of Run: only the server's inputs.
func (k *PrefillValues) server(sv *Server, tally *cost.Tally, values []*rlwe.Ciphertext, vS, pS []uint64) ([]uint64, error) {
	sh, lay := k.Shape, k.Layout
	G, Q, P := sh.group(), lay.Groups(), lay.products()
	ws, err := sv.recvInputs(tally, G*P)
	if err != nil {
		return nil, err
	}
	for i, v := range k.weightVectors(pS) {
		if err := sv.addPlain(tally, ws[i], v); err != nil {
			return nil, err
		}
	}
	full, err := sv.withShares(tally, values, lay.Vectors(vS), k.Level)
	if err != nil {
		return nil, err
	}
	outs := make([]*rlwe.Ciphertext, 0, G*Q)
	tmp := bgv.NewCiphertext(k.Params, 1, k.Level)
	idx := 0
	for a := 0; a < G; a++ {
		for g := 0; g < Q; g++ {
			acc := bgv.NewCiphertext(k.Params, 1, k.Level)
			for c := 0; c < lay.keyCts(g); c++ {
				dst := acc
				if c > 0 {
					dst = tmp
				}
				if err := sv.eval.MulRelin(ws[idx], full[c], dst); err != nil {
					return nil, fmt.Errorf("exec: server: ct-ct product: %w", err)
				}
				idx++
				tally.Op(cost.OpMulCipher, k.Level, 1)
				if c > 0 {
					if err := sv.eval.Add(acc, tmp, acc); err != nil {
						return nil, err
					}
					tally.Op(cost.OpAdd, k.Level, 1)
				}
			}
			f := lay.fold(g)
			if f <= lay.blocksPerRow {
				if err := foldSum(sv.eval, tally, acc, lay.Block, f*lay.Block); err != nil {
					return nil, err
				}
			} else {
				if err := foldSum(sv.eval, tally, acc, lay.Block, lay.row); err != nil {
					return nil, err
				}
				if err := sv.eval.RotateRows(acc, tmp); err != nil {
					return nil, fmt.Errorf("exec: server: row rotation: %w", err)
				}
				tally.Op(cost.OpRotate, k.Level, 1)
				if err := sv.eval.Add(acc, tmp, acc); err != nil {
					return nil, err
				}
				tally.Op(cost.OpAdd, k.Level, 1)
			}
			outs = append(outs, acc)
		}
	}
	masks, err := sv.sendOutputs(tally, outs, nil, k.send)
	if err != nil {
		return nil, err
	}
	return k.extract(masks), nil
}
