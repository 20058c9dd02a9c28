package exec

import "fmt"

// The two layouts of the ARCC attention kernels. Both cut a ciphertext of N
// slots into B = N/W blocks of W = KVDim rounded up to a power of two slots
// (B/2 blocks per slot row, a block never straddling the rows) and put a
// token's KVDim vector at the start of a block. They differ in which block
// a token takes and in what a query ciphertext holds; the kernels see that
// difference only through an arccPacking (attention_kernels.go).

// CacheLayout is the decode layout of one layer's key (or value) cache:
// token j's vector of KVDim = KVHeads·HeadDim elements occupies the
// contiguous slots Slot(j, 0) .. Slot(j, KVDim-1) at the start of a block
// of W = KVDim rounded up to a power of two slots, B = N/W tokens per
// ciphertext (a token never straddles the two slot rows), in token order.
// Head h of the key vector is the sub-block h·HeadDim .. (h+1)·HeadDim-1.
type CacheLayout struct {
	N                 int // slots per ciphertext
	KVHeads, HeadDim  int
	TokensPerCt       int // B
	Block             int // W
	tokensPerRow, row int
}

// arccLayout is a layout of the ARCC kernels: it packs a kernel's run
// over a context of ctx tokens.
type arccLayout interface {
	packing(ctx int) arccPacking
}

var (
	_ arccLayout = CacheLayout{}
	_ arccLayout = PromptLayout{}
)

// cacheLayoutFor is NewCacheLayout with the signature of NewPromptLayout
// (the decode layout does not depend on the context).
func cacheLayoutFor(slots, kvHeads, headDim, _ int) (CacheLayout, error) {
	return NewCacheLayout(slots, kvHeads, headDim)
}

// NewCacheLayout is the decode layout for N slots.
func NewCacheLayout(slots, kvHeads, headDim int) (CacheLayout, error) {
	kv := kvHeads * headDim
	row := slots / 2
	if kvHeads < 1 || headDim < 1 || kv > row {
		return CacheLayout{}, fmt.Errorf("exec: cache of %d heads of %d does not fit a slot row of %d", kvHeads, headDim, row)
	}
	if headDim&(headDim-1) != 0 {
		return CacheLayout{}, fmt.Errorf("exec: head width %d is not a power of two (the folding sum needs one)", headDim)
	}
	w := nextPow2(kv)
	return CacheLayout{N: slots, KVHeads: kvHeads, HeadDim: headDim, TokensPerCt: 2 * (row / w), Block: w, tokensPerRow: row / w, row: row}, nil
}

// KVDim is KVHeads·HeadDim.
func (c CacheLayout) KVDim() int { return c.KVHeads * c.HeadDim }

// Cts is the number of ciphertexts holding p tokens.
func (c CacheLayout) Cts(p int) int { return ceilDiv(p, c.TokensPerCt) }

// Slot is the slot of element e of token j within its ciphertext j / B.
func (c CacheLayout) Slot(j, e int) int { return c.packing(1).slot(0, j%c.TokensPerCt, e) }

// Vectors lays out p tokens (p x KVDim, row-major) in slot vectors.
func (c CacheLayout) Vectors(rows []uint64) [][]uint64 {
	return c.packing(len(rows)/c.KVDim()).vectors(rows, c.KVDim())
}

// packing is the decode kernels' packing over a context of ctx tokens: one
// query (the new token, which sees every cached token) replicated in every
// block, the keys in token order (a span of B blocks, one copy), and a
// value fold over the whole ciphertext whatever the context (a kernel
// planned for the longest context serves the shorter ones with the same
// rotations; see DecodeScores.WithContext).
func (c CacheLayout) packing(ctx int) arccPacking {
	return arccPacking{slots: c.N, block: c.Block, blocksPerRow: c.tokensPerRow, row: c.row,
		span: c.TokensPerCt, copies: 1, queries: 1, keys: ctx, wholeFold: true}
}

// PromptLayout is the prefill layout of one layer's keys (or values) for
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
type PromptLayout struct {
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

// NewPromptLayout is the prefill layout of m tokens for N slots.
func NewPromptLayout(slots, kvHeads, headDim, m int) (PromptLayout, error) {
	dec, err := NewCacheLayout(slots, kvHeads, headDim)
	if err != nil {
		return PromptLayout{}, err
	}
	if m < 1 {
		return PromptLayout{}, fmt.Errorf("exec: prefill layout of %d tokens", m)
	}
	l := PromptLayout{N: slots, KVHeads: kvHeads, HeadDim: headDim, Tokens: m, Block: dec.Block,
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
func (l PromptLayout) KVDim() int { return l.KVHeads * l.HeadDim }

// Cts is the number of key (or value) ciphertexts: ceil(m/S).
func (l PromptLayout) Cts() int { return l.packing(l.Tokens).keyCts() }

// Slot is the slot of element e of the token at position jj (< S) of copy
// r (< R) within its ciphertext.
func (l PromptLayout) Slot(r, jj, e int) int { return l.packing(l.Tokens).slot(r, jj, e) }

// Vectors lays out the m tokens (m x KVDim, row-major) in Cts slot vectors,
// every token in every copy.
func (l PromptLayout) Vectors(rows []uint64) [][]uint64 {
	return l.packing(l.Tokens).vectors(rows, l.KVDim())
}

// Groups is the number of query groups: queries g·R .. g·R+R-1 share the
// product ciphertexts of group g (query g·R+r at copy r).
func (l PromptLayout) Groups() int { return l.packing(l.Tokens).groups() }

// packing is the prefill kernels' packing (ctx is the prompt length m,
// the layout's Tokens): the m queries in groups of R, query g·R+r
// replicated over the span of copy r, each seeing the keys up to its own
// position (the causal mask), and a value fold over the group's causal
// window.
func (l PromptLayout) packing(int) arccPacking {
	return arccPacking{slots: l.N, block: l.Block, blocksPerRow: l.blocksPerRow, row: l.row,
		span: l.Span, copies: l.Copies, queries: l.Tokens, keys: l.Tokens}
}

// arccPacking is what an ARCC kernel needs to know of its layout: the part
// of the four kernels that differs between decode and prefill.
//
// The keys (Keys x KVDim) lie in ceil(Keys/S) key ciphertexts, key j at
// position j mod S of the span of every copy of ciphertext j div S. The
// Queries queries come in groups of R: query g·R+r is at copy r of its
// group's query ciphertext, replicated over the span. Query i sees the
// keys 0 .. i + Keys - Queries: all of them for the decode layout's one
// query, the causal window for a prompt.
type arccPacking struct {
	slots, block, blocksPerRow, row int // N, W, B/2, N/2
	span, copies                    int // S, R
	queries, keys                   int
	// wholeFold: the value fold sums every block of a ciphertext, not only
	// the group's window (the decode layout).
	wholeFold bool
}

// tokensPerCt is B, the blocks of a ciphertext.
func (p arccPacking) tokensPerCt() int { return 2 * p.blocksPerRow }

// slot is the slot of element e of position jj (< S) of copy r (< R).
func (p arccPacking) slot(r, jj, e int) int {
	b := r*p.span + jj
	return (b/p.blocksPerRow)*p.row + (b%p.blocksPerRow)*p.block + e
}

// keyCts is the number of key (or value) ciphertexts: ceil(Keys/S).
func (p arccPacking) keyCts() int { return ceilDiv(p.keys, p.span) }

// vectors lays out the keys (Keys x kvDim, row-major; a shorter rows
// leaves the missing keys zero) in keyCts slot vectors, every key in every
// copy.
func (p arccPacking) vectors(rows []uint64, kvDim int) [][]uint64 {
	vecs := make([][]uint64, p.keyCts())
	for i := range vecs {
		vecs[i] = make([]uint64, p.slots)
	}
	for j := 0; j < p.keys && (j+1)*kvDim <= len(rows); j++ {
		v := vecs[j/p.span]
		for r := 0; r < p.copies; r++ {
			copy(v[p.slot(r, j%p.span, 0):], rows[j*kvDim:(j+1)*kvDim])
		}
	}
	return vecs
}

// groups is the number of query groups (query ciphertexts per query-head
// offset).
func (p arccPacking) groups() int { return ceilDiv(p.queries, p.copies) }

// last is the last query of group g.
func (p arccPacking) last(g int) int { return min((g+1)*p.copies, p.queries) - 1 }

// lastKey is the last key query i sees.
func (p arccPacking) lastKey(i int) int { return i + p.keys - p.queries }

// groupCts is the number of key ciphertexts group g reads: the causal mask
// stops at its last query's last key.
func (p arccPacking) groupCts(g int) int { return ceilDiv(p.lastKey(p.last(g))+1, p.span) }

// products is Σ_g groupCts(g): product ciphertexts per query-head offset.
func (p arccPacking) products() int {
	n := 0
	for g := 0; g < p.groups(); g++ {
		n += p.groupCts(g)
	}
	return n
}

// window calls f for every (query i at copy r, key j at position jj) of
// group g and key ciphertext c that the query sees.
func (p arccPacking) window(g, c int, f func(r, i, jj, j int)) {
	p.queriesOf(g, func(r, i int) {
		for jj := 0; jj < p.span; jj++ {
			j := c*p.span + jj
			if j > p.lastKey(i) {
				break
			}
			f(r, i, jj, j)
		}
	})
}

// queriesOf calls f for every query i of group g, at copy r.
func (p arccPacking) queriesOf(g int, f func(r, i int)) {
	for r := 0; r < p.copies; r++ {
		i := g*p.copies + r
		if i >= p.queries {
			return
		}
		f(r, i)
	}
}

// fold is the number of blocks the value fold of group g sums: the keys up
// to its last query's last key within one ciphertext, rounded up to a
// power of two (all B with wholeFold).
func (p arccPacking) fold(g int) int {
	if p.wholeFold {
		return p.tokensPerCt()
	}
	return nextPow2(min(p.lastKey(p.last(g))+1, p.span))
}

// foldRotations is the number of rotations of group g's value fold:
// log2(F) column rotations if its F blocks lie in one slot row, else
// log2(B/2) column rotations and one row rotation.
func (p arccPacking) foldRotations(g int) int {
	f := p.fold(g)
	if f <= p.blocksPerRow {
		return log2Int(f)
	}
	return log2Int(p.blocksPerRow) + 1
}

// maxFold is the widest value fold over the groups.
func (p arccPacking) maxFold() int {
	top := 1
	for g := 0; g < p.groups(); g++ {
		top = max(top, p.fold(g))
	}
	return top
}
