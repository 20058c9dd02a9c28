package exec

import (
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// The prefill attention kernels: the ARCC kernels (attention_kernels.go)
// over the prefill layout (PromptLayout) for the m tokens of a prompt.

// PrefillScores is the ARCC matrix-matrix kernel for the attention scores
// of a prompt of m = Shape.Context tokens: S[h][i][j] = q_{i,h} · k_j for
// every query head h and causal pair j <= i, k_j being the key of head
// h / (Heads/KVHeads) (grouped-query attention).
//
// Inputs: the queries shared between the parties (m x Heads x HeadDim,
// row-major), the server's Enc(K_C) in the prefill layout ([PromptLayout],
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
//
// Params, Profile, Shape (Context is the prompt length m) and Level (the
// keys' and the queries' encryption level) are the fields every ARCC
// kernel has.
type PrefillScores struct {
	arcc
	Layout PromptLayout
}

// NewPrefillScores plans the kernel for a prompt of sh.Context tokens; the
// keys must be encrypted in the returned kernel's Layout at its Level.
func NewPrefillScores(p bgv.Parameters, prof *cost.Profile, sh AttentionShape) (*PrefillScores, error) {
	return planned(p, prof, func(pl Planner) (*PrefillScores, error) { return pl.PrefillScores(sh) })
}

// PrefillScores is the checked constructor of the prefill scores kernel
// (see NewPrefillScores). sh.CacheBits bounds the payload of the key
// ciphertexts (zero: fresh client encryptions).
func (pl Planner) PrefillScores(sh AttentionShape) (*PrefillScores, error) {
	a, lay, err := planKernel(pl, "prefill scores", sh, scoreTerms, NewPromptLayout)
	if err != nil {
		return nil, err
	}
	return &PrefillScores{arcc: a, Layout: lay}, nil
}

func (k *PrefillScores) kernel() scoresKernel {
	return scoresKernel{newARCCRun(k.arcc, k.Layout.packing(k.Shape.Context))}
}

// Rotations are the folding rotations 1, 2, ..., HeadDim/2.
func (k *PrefillScores) Rotations() []int { return foldRotations(k.Shape.HeadDim) }

// Products is the number of ct-ct products (and output ciphertexts) of
// one Run: G·P.
func (k *PrefillScores) Products() int64 {
	return int64(k.Shape.group() * k.Layout.packing(k.Shape.Context).products())
}

// RotationCount is the number of rotations of one Run: G·P·log2(HeadDim).
func (k *PrefillScores) RotationCount() int64 { return k.kernel().rotationCount() }

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

// Estimate prices one Run.
func (k *PrefillScores) Estimate() cost.Cost { return k.kernel().estimate() }

// Run computes shares of the causal scores. keys holds Enc(K_C) (Cts
// ciphertexts in the prefill layout at Level, server side), kS the server's
// share of the keys (m x KVDim), q the shared queries (m x Heads x
// HeadDim).
func (k *PrefillScores) Run(s *Session, tally *cost.Tally, keys []*rlwe.Ciphertext, kS []uint64, q Shared) (Shared, error) {
	return runARCC(k.kernel(), s, tally, keys, kS, q)
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
	arcc
	Layout PromptLayout
}

// NewPrefillValues plans the kernel for a prompt of sh.Context tokens.
func NewPrefillValues(p bgv.Parameters, prof *cost.Profile, sh AttentionShape) (*PrefillValues, error) {
	return planned(p, prof, func(pl Planner) (*PrefillValues, error) { return pl.PrefillValues(sh) })
}

// PrefillValues is the checked constructor of the prefill values kernel
// (see NewPrefillValues). sh.CacheBits bounds the payload of the value
// ciphertexts (zero: fresh client encryptions).
func (pl Planner) PrefillValues(sh AttentionShape) (*PrefillValues, error) {
	a, lay, err := planKernel(pl, "prefill values", sh, valueTerms, NewPromptLayout)
	if err != nil {
		return nil, err
	}
	return &PrefillValues{arcc: a, Layout: lay}, nil
}

func (k *PrefillValues) kernel() valuesKernel {
	return valuesKernel{newARCCRun(k.arcc, k.Layout.packing(k.Shape.Context))}
}

// Rotations are W·2^i for the folds within a slot row; the row rotation is
// requested separately (see RowRotation).
func (k *PrefillValues) Rotations() []int { return k.kernel().rotations() }

// RowRotation reports whether Run swaps the two slot rows (when a fold
// spans a whole ciphertext).
func (k *PrefillValues) RowRotation() bool { return k.kernel().rowRotation() }

// RotationCount is G·Σ_g foldRotations(g).
func (k *PrefillValues) RotationCount() int64 { return k.kernel().rotationCount() }

// RotationLowerBound: output ciphertext (a, g) holds the output of the
// group's last query, a sum over min(i+1, B) tokens held in distinct blocks
// of one ciphertext (the tokens of one ciphertext can only be combined by
// rotations), so at least ceil(log2(min(i+1, B))) rotations per output
// ciphertext (the 2^r argument). The kernel meets it.
func (k *PrefillValues) RotationLowerBound() int64 {
	pk := k.Layout.packing(k.Shape.Context)
	n := 0
	for g := 0; g < pk.groups(); g++ {
		n += bits.Len(uint(min(pk.last(g)+1, pk.tokensPerCt()) - 1))
	}
	return int64(k.Shape.group() * n)
}

// Products is the number of ct-ct products of one Run: G·P.
func (k *PrefillValues) Products() int64 {
	return int64(k.Shape.group() * k.Layout.packing(k.Shape.Context).products())
}

// Estimate prices one Run.
func (k *PrefillValues) Estimate() cost.Cost { return k.kernel().estimate() }

// Run computes shares of the attention outputs (m x Heads x HeadDim).
// values holds Enc(V_C) in the prefill layout at Level, vS the server's
// share of the values (m x KVDim), p the shared attention weights (Heads x
// m x m).
func (k *PrefillValues) Run(s *Session, tally *cost.Tally, values []*rlwe.Ciphertext, vS []uint64, p Shared) (Shared, error) {
	return runARCC(k.kernel(), s, tally, values, vS, p)
}
