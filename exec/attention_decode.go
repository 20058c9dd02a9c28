package exec

import (
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// The decode attention kernels: the ARCC kernels (attention_kernels.go)
// over the decode layout (CacheLayout) for one new token.

// DecodeScores is the ARCC matrix-vector kernel for the attention scores of
// one new token against the key cache: s[h][j] = q_h · k_j for every query
// head h and cached token j < Context, where k_j is the key of head
// h / (Heads/KVHeads) (grouped-query attention).
//
// Inputs: the query shared between the parties (Heads x HeadDim), the
// server's encrypted cache Enc(K_C) in the decode layout at Level, and the
// server's plaintext share K_S. Output: shares of the scores (Heads x
// Context, row-major), unscaled (the 1/sqrt(HeadDim) factor is public and
// applied on shares).
//
// Encoding: for each of the G = Heads/KVHeads query heads a of a group, the
// client sends one ciphertext holding, in every token block of the cache
// layout, the queries of heads kv·G + a at sub-block kv. The server adds
// its shares, multiplies it with each cache ciphertext (after adding K_S),
// and sums each head's HeadDim products by a folding sum of log2(HeadDim)
// rotations: the score of token j, head kv·G+a is then at slot
// Slot(j, kv·HeadDim).
//
// Cost, with C = ceil(Context/B) cache ciphertexts: G·C ct-ct products and
// G·C·log2(HeadDim) rotations; G ciphertexts up, G·C down.
//
// Params, Profile, Shape and Level (the cache's and the query's
// encryption level) are the fields every ARCC kernel has.
type DecodeScores struct {
	arcc
	Layout CacheLayout
}

// NewDecodeScores plans the kernel; the cache must be encrypted at the
// returned kernel's Level.
func NewDecodeScores(p bgv.Parameters, prof *cost.Profile, sh AttentionShape) (*DecodeScores, error) {
	return planned(p, prof, func(pl Planner) (*DecodeScores, error) { return pl.DecodeScores(sh) })
}

// DecodeScores is the checked constructor of the decode scores kernel (see
// NewDecodeScores).
func (pl Planner) DecodeScores(sh AttentionShape) (*DecodeScores, error) {
	a, lay, err := planKernel(pl, "decode scores", sh, scoreTerms, cacheLayoutFor)
	if err != nil {
		return nil, err
	}
	return &DecodeScores{arcc: a, Layout: lay}, nil
}

func (k *DecodeScores) kernel() scoresKernel {
	return scoresKernel{newARCCRun(k.arcc, k.Layout.packing(k.Shape.Context))}
}

// Rotations are the folding rotations 1, 2, ..., HeadDim/2.
func (k *DecodeScores) Rotations() []int { return foldRotations(k.Shape.HeadDim) }

// RotationCount is the number of rotations of one Run: G·C·log2(HeadDim).
func (k *DecodeScores) RotationCount() int64 { return k.kernel().rotationCount() }

// RotationLowerBound: each product ciphertext holds scores that are sums
// over HeadDim slots, so at least log2(HeadDim) rotations per product
// ciphertext (the 2^r argument of Linear.RotationLowerBound), and the G·C
// products are distinct ciphertexts. The kernel meets the bound.
func (k *DecodeScores) RotationLowerBound() int64 { return k.RotationCount() }

// Estimate prices one Run.
func (k *DecodeScores) Estimate() cost.Cost { return k.kernel().estimate() }

// Run computes shares of the scores. cache holds Enc(K_C) (C ciphertexts
// at Level, server side), kS the server's share of the keys (Context x
// KVDim), q the shared query (Heads x HeadDim).
func (k *DecodeScores) Run(s *Session, tally *cost.Tally, cache []*rlwe.Ciphertext, kS []uint64, q Shared) (Shared, error) {
	return runARCC(k.kernel(), s, tally, cache, kS, q)
}

// WithContext is the kernel for a context of ctx <= Shape.Context tokens
// with this kernel's level and flooding: a kernel planned once for the
// longest context serves every shorter one (its payload bound only grows
// with the context), so that the cache's level does not depend on the
// context.
func (k *DecodeScores) WithContext(ctx int) (*DecodeScores, error) {
	a, err := k.withContext(ctx)
	if err != nil {
		return nil, err
	}
	return &DecodeScores{arcc: a, Layout: k.Layout}, nil
}

// DecodeValues is the mirror ARCC kernel: o_h = sum_j p[h][j]·v_j for
// every query head h, where v_j is the value of head h's key/value head,
// for shared attention weights p (Heads x Context) against the value cache
// Enc(V_C) (decode layout, Level) plus the server's share V_S.
//
// Encoding: for each query-head offset a and cache ciphertext c, the client
// sends a ciphertext holding p[kv·G+a][j] in every slot of sub-block kv of
// token j's block. The server multiplies it with the cache ciphertext,
// adds the products over the cache ciphertexts, and sums over the tokens of
// a ciphertext by folding across token blocks: log2(B/2) column rotations
// (token blocks of a row, B/2 a power of two) and one row rotation. The
// output o_{kv·G+a} is at slots Slot(0, kv·HeadDim) .. of ciphertext a.
//
// Cost: G·C ct-ct products, G·(log2(B/2)+1) rotations, G·C ciphertexts up
// and G down.
type DecodeValues struct {
	arcc
	Layout CacheLayout
}

// NewDecodeValues plans the kernel. The number of token blocks per row must
// be a power of two (it is when KVDim is).
func NewDecodeValues(p bgv.Parameters, prof *cost.Profile, sh AttentionShape) (*DecodeValues, error) {
	return planned(p, prof, func(pl Planner) (*DecodeValues, error) { return pl.DecodeValues(sh) })
}

// DecodeValues is the checked constructor of the decode values kernel (see
// NewDecodeValues).
func (pl Planner) DecodeValues(sh AttentionShape) (*DecodeValues, error) {
	// The C products are summed, then folded over the B token blocks: the
	// payload (a polynomial: zero slots do not make zero coefficients) of
	// the output is bounded by C·B products, not by the Context live ones.
	a, lay, err := planKernel(pl, "decode values", sh, valueTerms, cacheLayoutFor)
	if err != nil {
		return nil, err
	}
	return &DecodeValues{arcc: a, Layout: lay}, nil
}

func (k *DecodeValues) kernel() valuesKernel {
	return valuesKernel{newARCCRun(k.arcc, k.Layout.packing(k.Shape.Context))}
}

// Rotations are W·2^i for the folds within a row; the row rotation is
// requested separately (see RowRotation).
func (k *DecodeValues) Rotations() []int { return k.kernel().rotations() }

// RowRotation reports that Run also swaps the two slot rows (its Galois
// element is params.GaloisElementForRowRotation()).
func (k *DecodeValues) RowRotation() bool { return k.kernel().rowRotation() }

// RotationCount is G·(log2(B/2) + 1).
func (k *DecodeValues) RotationCount() int64 { return k.kernel().rotationCount() }

// RotationLowerBound: each output sums B tokens held in B distinct slot
// positions of one ciphertext, so at least log2(B) rotations per output
// ciphertext (the 2^r argument); the G outputs are distinct ciphertexts.
// The kernel meets the bound.
func (k *DecodeValues) RotationLowerBound() int64 {
	return int64(k.Shape.group()) * int64(bits.Len(uint(k.Layout.TokensPerCt-1)))
}

// Estimate prices one Run.
func (k *DecodeValues) Estimate() cost.Cost { return k.kernel().estimate() }

// Run computes shares of the attention output (Heads x HeadDim). cache
// holds Enc(V_C) at Level, vS the server's share of the values (Context x
// KVDim), p the shared attention weights (Heads x Context).
func (k *DecodeValues) Run(s *Session, tally *cost.Tally, cache []*rlwe.Ciphertext, vS []uint64, p Shared) (Shared, error) {
	return runARCC(k.kernel(), s, tally, cache, vS, p)
}

// WithContext is the kernel for a context of ctx <= Shape.Context tokens
// with this kernel's level and flooding (see DecodeScores.WithContext).
func (k *DecodeValues) WithContext(ctx int) (*DecodeValues, error) {
	a, err := k.withContext(ctx)
	if err != nil {
		return nil, err
	}
	return &DecodeValues{arcc: a, Layout: k.Layout}, nil
}
