package exec

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// A public prefix in the feature-major cache: the keys and values of a
// prompt prefix that the client sent in the clear. Its tokens' client
// shares are zero and the server's shares are the prefix's keys and
// values, so of the two cross terms of a kernel only the one with the
// client's fresh input remains (Enc(q_C)·K_pub, Enc(p_C)·V_pub: a
// ciphertext-plaintext product, no noise from the prefix), and the server
// encodes the diagonals of the groups the prefix fills once
// (EncodePublic), not per call. A group the prefix fills partly is a
// private group whose client share is zero on the prefix's slots.

// FeaturePublic is the server's encoded diagonals of the full public
// groups of one kind (keys or values) of one layer, made by
// FeatureScores.EncodePublic or FeatureValues.EncodePublic.
type FeaturePublic struct {
	tokens int
	level  int
	diags  []*rlwe.Plaintext // group-major, Diagonals per group
}

// Tokens is the length of the public prefix.
func (p *FeaturePublic) Tokens() int { return p.tokens }

// Bytes is the server's memory of the encoded diagonals.
func (p *FeaturePublic) Bytes() int64 {
	var n int64
	for _, pt := range p.diags {
		n += int64(pt.Value.N()) * int64(pt.Level()+1) * 8
	}
	return n
}

// publicGroups is the number of cache groups the public prefix fills.
func (k *featureKernel) publicGroups() int { return k.public / k.Layout.TokensPerCt() }

// withPublic is the kernel for a cache whose first tokens are a public
// prefix.
func (k featureKernel) withPublic(tokens int) (featureKernel, error) {
	if tokens < 0 || tokens > k.Shape.Context {
		return featureKernel{}, fmt.Errorf("exec: %s: a public prefix of %d tokens in a context of %d", k.what, tokens, k.Shape.Context)
	}
	k.public = tokens
	return k, nil
}

// checkPublic checks the public diagonals a Run is given.
func (k *featureKernel) checkPublic(pub *FeaturePublic) error {
	switch {
	case k.public == 0 && pub == nil:
		return nil
	case pub == nil:
		return fmt.Errorf("exec: %s: a public prefix of %d tokens and no encoded diagonals", k.what, k.public)
	case pub.tokens != k.public:
		return fmt.Errorf("exec: %s: diagonals of a public prefix of %d tokens for one of %d", k.what, pub.tokens, k.public)
	case pub.level != k.Level || len(pub.diags) != k.publicGroups()*k.Layout.Diagonals():
		return fmt.Errorf("exec: %s: public diagonals encoded for another kernel", k.what)
	}
	return nil
}

// publicCost prices encodePublic of a prefix of tokens tokens: each
// diagonal of the groups it fills laid out and encoded.
func (k *featureKernel) publicCost(tokens int) cost.Cost {
	n := int64(tokens / k.Layout.TokensPerCt() * k.Layout.Diagonals())
	return cost.Sum(layoutCost(k.Profile, k.Params.LogN(), n), k.Profile.Charge(cost.OpEncode, k.Level, n))
}

// encodePublic encodes, on the server, the diagonals (laid out by diag)
// of the groups that rows (tokens x KVDim, the prefix's keys or values,
// in Z_t) fill.
func (k *featureKernel) encodePublic(sv *Server, tally *cost.Tally, rows []uint64, diag func(rows []uint64, g, kk int, v []uint64)) (*FeaturePublic, error) {
	kv := k.Shape.KVHeads * k.Shape.HeadDim
	if len(rows)%kv != 0 || len(rows)/kv > k.Shape.Context {
		return nil, fmt.Errorf("exec: %s: %d public elements, want whole tokens of %d, at most %d of them", k.what, len(rows), kv, k.Shape.Context)
	}
	tokens, D := len(rows)/kv, k.Layout.Diagonals()
	pub := &FeaturePublic{tokens: tokens, level: k.Level, diags: make([]*rlwe.Plaintext, tokens/k.Layout.TokensPerCt()*D)}
	v := make([]uint64, k.Params.MaxSlots())
	for i := range pub.diags {
		clear(v)
		diag(rows, i/D, i%D, v)
		tally.Op(cost.OpShare, 0, int64(len(v)))
		pt := bgv.NewPlaintext(k.Params, k.Level)
		pt.Scale, pt.IsBatched = k.Params.NewScale(1), true // as the per-call diagonals (scratch.plaintext)
		if err := sv.ecd.Encode(v, pt); err != nil {
			return nil, fmt.Errorf("exec: server: encoding: %w", err)
		}
		tally.Op(cost.OpEncode, k.Level, 1)
		pub.diags[i] = pt
	}
	return pub, nil
}

// WithPublic is the kernel for a cache whose first tokens tokens are a
// public prefix (at most its context).
func (k *FeatureScores) WithPublic(tokens int) (*FeatureScores, error) {
	f, err := k.withPublic(tokens)
	if err != nil {
		return nil, err
	}
	return &FeatureScores{f}, nil
}

// EncodePublic encodes on the server the diagonals of the groups the
// public keys (tokens x KVDim, in Z_t) fill, for every Run of this plan
// at contexts at least as long; PublicCost is its estimate.
func (k *FeatureScores) EncodePublic(sv *Server, tally *cost.Tally, keys []uint64) (*FeaturePublic, error) {
	return k.encodePublic(sv, tally, keys, k.keyDiagonal)
}

// PublicCost prices EncodePublic of a prefix of tokens tokens.
func (k *FeatureScores) PublicCost(tokens int) cost.Cost { return k.publicCost(tokens) }

// WithPublic is the kernel for a cache whose first tokens tokens are a
// public prefix (at most its context).
func (k *FeatureValues) WithPublic(tokens int) (*FeatureValues, error) {
	f, err := k.withPublic(tokens)
	if err != nil {
		return nil, err
	}
	return &FeatureValues{f}, nil
}

// EncodePublic encodes on the server the diagonals of the groups the
// public values (tokens x KVDim, in Z_t) fill; PublicCost is its
// estimate.
func (k *FeatureValues) EncodePublic(sv *Server, tally *cost.Tally, values []uint64) (*FeaturePublic, error) {
	return k.encodePublic(sv, tally, values, k.valueDiagonal)
}

// PublicCost prices EncodePublic of a prefix of tokens tokens.
func (k *FeatureValues) PublicCost(tokens int) cost.Cost { return k.publicCost(tokens) }
