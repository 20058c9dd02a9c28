package exec

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

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
func (c CacheLayout) Slot(j, e int) int {
	j %= c.TokensPerCt
	return (j/c.tokensPerRow)*c.row + (j%c.tokensPerRow)*c.Block + e
}

// Vectors lays out p tokens (p x KVDim, row-major) in slot vectors.
func (c CacheLayout) Vectors(rows []uint64) [][]uint64 {
	kv := c.KVDim()
	p := len(rows) / kv
	vecs := make([][]uint64, c.Cts(p))
	for i := range vecs {
		vecs[i] = make([]uint64, c.N)
	}
	for j := 0; j < p; j++ {
		v := vecs[j/c.TokensPerCt]
		for e := 0; e < kv; e++ {
			v[c.Slot(j, e)] = rows[j*kv+e]
		}
	}
	return vecs
}

// AttentionShape is the attention of one layer: Heads query heads grouped
// over KVHeads key/value heads (grouped-query attention when KVHeads <
// Heads), each HeadDim wide, over Context cached tokens.
//
// CacheBits bounds the payload (log2 ||m + t·e||_inf, see NoiseModel) of
// the cache ciphertexts the kernels are given, at the kernel's level,
// before the server adds its plaintext share. Zero means fresh secret-key
// encryptions (what the client sends for a C2S); a cache that accumulates
// client appends, homomorphic appends or rescales carries more (package kv
// tracks it and sets it: kv.Config.Shape). The kernels plan their level
// and their flooding for it: a kernel planned for a smaller bound than its
// cache floods too little, and the client's view is then less than κ bits
// from one that depends only on its share.
type AttentionShape struct {
	Heads, KVHeads, HeadDim int
	Context                 int
	CacheBits               float64
}

// group is the number of query heads per key/value head.
func (a AttentionShape) group() int { return a.Heads / a.KVHeads }

func (a AttentionShape) validate() error {
	if a.Heads < 1 || a.KVHeads < 1 || a.HeadDim < 1 || a.Context < 1 || a.Heads%a.KVHeads != 0 {
		return fmt.Errorf("exec: attention shape %+v: sizes must be positive and Heads a multiple of KVHeads", a)
	}
	if !(a.CacheBits >= 0) || math.IsInf(a.CacheBits, 0) || a.CacheBits > 4000 {
		return fmt.Errorf("exec: attention shape %+v: cache payload bound %v bits: out of range", a, a.CacheBits)
	}
	return nil
}

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
type DecodeScores struct {
	Params  bgv.Parameters
	Profile *cost.Profile
	Shape   AttentionShape
	Layout  CacheLayout
	Level   int // level of the cache and of the query encryption
	send    sendPlan
	noise   float64
}

// NewDecodeScores plans the kernel; the cache must be encrypted at the
// returned kernel's Level.
func NewDecodeScores(p bgv.Parameters, prof *cost.Profile, sh AttentionShape) (*DecodeScores, error) {
	pl, err := NewPlanner(p, prof)
	if err != nil {
		return nil, err
	}
	return pl.DecodeScores(sh)
}

// DecodeScores is the checked constructor of the decode scores kernel (see
// NewDecodeScores).
func (pl Planner) DecodeScores(sh AttentionShape) (*DecodeScores, error) {
	if err := pl.Check(); err != nil {
		return nil, err
	}
	p, prof := pl.Params, pl.Profile
	if err := sh.validate(); err != nil {
		return nil, err
	}
	lay, err := NewCacheLayout(p.MaxSlots(), sh.KVHeads, sh.HeadDim)
	if err != nil {
		return nil, err
	}
	nm := pl.NoiseModel()
	f := func(nu float64) float64 { return nm.Attention(nu, sh.CacheBits, sh.HeadDim) }
	level, sp, err := nm.inputLevel(f)
	if err != nil {
		return nil, fmt.Errorf("exec: decode scores %+v: %w", sh, err)
	}
	return &DecodeScores{Params: p, Profile: prof, Shape: sh, Layout: lay, Level: level, send: sp, noise: f(nm.FreshSK())}, nil
}

// Noise is the noise model's payload of the product ciphertexts before
// they are masked and flooded, in bits (see Linear.Noise).
func (k *DecodeScores) Noise() float64 { return k.noise }

// Rotations are the folding rotations 1, 2, ..., HeadDim/2.
func (k *DecodeScores) Rotations() []int {
	var r []int
	for s := 1; s < k.Shape.HeadDim; s *= 2 {
		r = append(r, s)
	}
	return r
}

// RotationCount is the number of rotations of one Run: G·C·log2(HeadDim).
func (k *DecodeScores) RotationCount() int64 {
	return int64(k.Shape.group()*k.Layout.Cts(k.Shape.Context)) * int64(log2Int(k.Shape.HeadDim))
}

// RotationLowerBound: each product ciphertext holds scores that are sums
// over HeadDim slots, so at least log2(HeadDim) rotations per product
// ciphertext (the 2^r argument of Linear.RotationLowerBound), and the G·C
// products are distinct ciphertexts. The kernel meets the bound.
func (k *DecodeScores) RotationLowerBound() int64 { return k.RotationCount() }

// Estimate prices one Run.
func (k *DecodeScores) Estimate() cost.Cost {
	G, C := int64(k.Shape.group()), int64(k.Layout.Cts(k.Shape.Context))
	lvl := k.Level
	prof := k.Profile
	f := int64(log2Int(k.Shape.HeadDim))
	return cost.Sum(
		sendInputCost(prof, k.Params.LogN(), lvl, G),
		plainCost(prof, k.Params.LogN(), lvl, G+C), // server shares of q and K
		prof.Charge(cost.OpMulCipher, lvl, G*C),
		prof.Charge(cost.OpRotate, lvl, G*C*f),
		prof.Charge(cost.OpAdd, lvl, G*C*f),
		returnCost(prof, k.Params.LogN(), k.send, G*C),
		cost.Cost{Rounds: 1},
	)
}

// queryVectors lays out the query (Heads x HeadDim) for query-head offset
// a in every token block.
func (k *DecodeScores) queryVectors(q []uint64) [][]uint64 {
	sh, lay := k.Shape, k.Layout
	G := sh.group()
	vecs := make([][]uint64, G)
	for a := range vecs {
		v := make([]uint64, lay.N)
		for j := 0; j < lay.TokensPerCt; j++ {
			for kv := 0; kv < sh.KVHeads; kv++ {
				h := kv*G + a
				for c := 0; c < sh.HeadDim; c++ {
					v[lay.Slot(j, kv*sh.HeadDim+c)] = q[h*sh.HeadDim+c]
				}
			}
		}
		vecs[a] = v
	}
	return vecs
}

// extract reads the scores (Heads x Context) from the G·C output vectors
// (a-major, then cache ciphertext).
func (k *DecodeScores) extract(vecs [][]uint64) []uint64 {
	sh, lay := k.Shape, k.Layout
	G, C := sh.group(), lay.Cts(sh.Context)
	s := make([]uint64, sh.Heads*sh.Context)
	for a := 0; a < G; a++ {
		for c := 0; c < C; c++ {
			v := vecs[a*C+c]
			for jj := 0; jj < lay.TokensPerCt; jj++ {
				j := c*lay.TokensPerCt + jj
				if j >= sh.Context {
					break
				}
				for kv := 0; kv < sh.KVHeads; kv++ {
					s[(kv*G+a)*sh.Context+j] = v[lay.Slot(jj, kv*sh.HeadDim)]
				}
			}
		}
	}
	return s
}

// Run computes shares of the scores. cache holds Enc(K_C) (C ciphertexts
// at Level, server side), kS the server's share of the keys (Context x
// KVDim), q the shared query (Heads x HeadDim).
func (k *DecodeScores) Run(s *Session, tally *cost.Tally, cache []*rlwe.Ciphertext, kS []uint64, q Shared) (Shared, error) {
	sh, lay := k.Shape, k.Layout
	C := lay.Cts(sh.Context)
	if len(cache) != C || len(kS) != sh.Context*lay.KVDim() || len(q.C) != sh.Heads*sh.HeadDim || len(q.S) != len(q.C) {
		return Shared{}, fmt.Errorf("exec: decode scores %+v: wrong input sizes", sh)
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
		out.S, err = k.server(sv, tally, cache, kS, qS)
		return err
	})
	tally.Add(s.Meter.Since(start))
	return out, err
}

// client is the client's half of Run: only the client's inputs.
func (k *DecodeScores) client(cl *Client, tally *cost.Tally, qC []uint64) ([]uint64, error) {
	sh, lay := k.Shape, k.Layout
	G, C := sh.group(), lay.Cts(sh.Context)
	if err := cl.sendInputs(tally, k.Level, k.queryVectors(qC)); err != nil {
		return nil, err
	}
	vals, err := cl.recvOutputs(tally, G*C)
	if err != nil {
		return nil, err
	}
	return k.extract(vals), nil
}

// server is the server's half of Run: only the server's inputs.
func (k *DecodeScores) server(sv *Server, tally *cost.Tally, cache []*rlwe.Ciphertext, kS, qS []uint64) ([]uint64, error) {
	sh, lay := k.Shape, k.Layout
	G, C := sh.group(), lay.Cts(sh.Context)
	qs, err := sv.recvInputs(tally, G)
	if err != nil {
		return nil, err
	}
	for a, v := range k.queryVectors(qS) {
		if err := sv.addPlain(tally, qs[a], v); err != nil {
			return nil, err
		}
	}
	keys, err := sv.withShares(tally, cache, lay.Vectors(kS), k.Level)
	if err != nil {
		return nil, err
	}
	prods := make([]*rlwe.Ciphertext, 0, G*C)
	for a := 0; a < G; a++ {
		for c := 0; c < C; c++ {
			pr := bgv.NewCiphertext(k.Params, 1, k.Level)
			if err := sv.eval.MulRelin(qs[a], keys[c], pr); err != nil {
				return nil, fmt.Errorf("exec: server: ct-ct product: %w", err)
			}
			tally.Op(cost.OpMulCipher, k.Level, 1)
			if err := foldSum(sv.eval, tally, pr, 1, sh.HeadDim); err != nil {
				return nil, err
			}
			prods = append(prods, pr)
		}
	}
	masks, err := sv.sendOutputs(tally, prods, nil, k.send)
	if err != nil {
		return nil, err
	}
	return k.extract(masks), nil
}

// withShares returns copies of the cache ciphertexts with the server's
// plaintext shares added: Enc(K_C) + K_S = Enc(K).
func (sv *Server) withShares(tally *cost.Tally, cache []*rlwe.Ciphertext, shares [][]uint64, level int) ([]*rlwe.Ciphertext, error) {
	out := make([]*rlwe.Ciphertext, len(cache))
	for i, ct := range cache {
		if ct.Level() != level {
			return nil, fmt.Errorf("exec: server: cache ciphertext at level %d, want %d", ct.Level(), level)
		}
		out[i] = ct.CopyNew()
		if err := sv.addPlain(tally, out[i], shares[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
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
	Params  bgv.Parameters
	Profile *cost.Profile
	Shape   AttentionShape
	Layout  CacheLayout
	Level   int
	send    sendPlan
	noise   float64
	terms   int // products summed, as planned
}

// NewDecodeValues plans the kernel. The number of token blocks per row must
// be a power of two (it is when KVDim is).
func NewDecodeValues(p bgv.Parameters, prof *cost.Profile, sh AttentionShape) (*DecodeValues, error) {
	pl, err := NewPlanner(p, prof)
	if err != nil {
		return nil, err
	}
	return pl.DecodeValues(sh)
}

// DecodeValues is the checked constructor of the decode values kernel (see
// NewDecodeValues).
func (pl Planner) DecodeValues(sh AttentionShape) (*DecodeValues, error) {
	if err := pl.Check(); err != nil {
		return nil, err
	}
	p, prof := pl.Params, pl.Profile
	if err := sh.validate(); err != nil {
		return nil, err
	}
	lay, err := NewCacheLayout(p.MaxSlots(), sh.KVHeads, sh.HeadDim)
	if err != nil {
		return nil, err
	}
	nm := pl.NoiseModel()
	// The C products are summed, then folded over the B token blocks: the
	// payload (a polynomial: zero slots do not make zero coefficients) of
	// the output is bounded by C·B products, not by the Context live ones.
	terms := valueTerms(lay, sh.Context)
	f := func(nu float64) float64 { return nm.Attention(nu, sh.CacheBits, terms) }
	level, sp, err := nm.inputLevel(f)
	if err != nil {
		return nil, fmt.Errorf("exec: decode values %+v: %w", sh, err)
	}
	return &DecodeValues{Params: p, Profile: prof, Shape: sh, Layout: lay, Level: level, send: sp, noise: f(nm.FreshSK()), terms: terms}, nil
}

// Noise is the noise model's payload of the output ciphertexts before
// they are masked and flooded, in bits (see Linear.Noise).
func (k *DecodeValues) Noise() float64 { return k.noise }

// valueTerms is the number of products the value kernel's output sums, as
// the noise model counts them: every token block of every cache
// ciphertext, C·B.
func valueTerms(lay CacheLayout, context int) int { return lay.Cts(context) * lay.TokensPerCt }

// Terms is the number of products each output sums, as the noise model
// counts them (NoiseModel.Attention) for the context the kernel was
// planned for: C·B, every token block of every cache ciphertext, live or
// not.
func (k *DecodeValues) Terms() int { return k.terms }

// Terms is the number of products each score sums (NoiseModel.Attention):
// HeadDim.
func (k *DecodeScores) Terms() int { return k.Shape.HeadDim }

func (k *DecodeValues) folds() int { return log2Int(k.Layout.tokensPerRow) }

// Rotations are W·2^i for the folds within a row; the row rotation is
// requested separately (see RowRotation).
func (k *DecodeValues) Rotations() []int {
	var r []int
	for s := 1; s < k.Layout.tokensPerRow; s *= 2 {
		r = append(r, s*k.Layout.Block)
	}
	return r
}

// RowRotation reports that Run also swaps the two slot rows (its Galois
// element is params.GaloisElementForRowRotation()).
func (k *DecodeValues) RowRotation() bool { return true }

// RotationCount is G·(log2(B/2) + 1).
func (k *DecodeValues) RotationCount() int64 {
	return int64(k.Shape.group()) * int64(k.folds()+1)
}

// RotationLowerBound: each output sums B tokens held in B distinct slot
// positions of one ciphertext, so at least log2(B) rotations per output
// ciphertext (the 2^r argument); the G outputs are distinct ciphertexts.
// The kernel meets the bound.
func (k *DecodeValues) RotationLowerBound() int64 {
	return int64(k.Shape.group()) * int64(bits.Len(uint(k.Layout.TokensPerCt-1)))
}

// Estimate prices one Run.
func (k *DecodeValues) Estimate() cost.Cost {
	G, C := int64(k.Shape.group()), int64(k.Layout.Cts(k.Shape.Context))
	lvl := k.Level
	prof := k.Profile
	f := int64(k.folds() + 1)
	return cost.Sum(
		sendInputCost(prof, k.Params.LogN(), lvl, G*C),
		plainCost(prof, k.Params.LogN(), lvl, G*C+C), // server shares of p and V
		prof.Charge(cost.OpMulCipher, lvl, G*C),
		prof.Charge(cost.OpAdd, lvl, G*(C-1)),
		prof.Charge(cost.OpRotate, lvl, G*f),
		prof.Charge(cost.OpAdd, lvl, G*f),
		returnCost(prof, k.Params.LogN(), k.send, G),
		cost.Cost{Rounds: 1},
	)
}

// weightVectors lays out p (Heads x Context): vector a·C + c.
func (k *DecodeValues) weightVectors(p []uint64) [][]uint64 {
	sh, lay := k.Shape, k.Layout
	G, C := sh.group(), lay.Cts(sh.Context)
	vecs := make([][]uint64, G*C)
	for a := 0; a < G; a++ {
		for c := 0; c < C; c++ {
			v := make([]uint64, lay.N)
			for jj := 0; jj < lay.TokensPerCt; jj++ {
				j := c*lay.TokensPerCt + jj
				if j >= sh.Context {
					break
				}
				for kv := 0; kv < sh.KVHeads; kv++ {
					w := p[(kv*G+a)*sh.Context+j]
					for e := 0; e < sh.HeadDim; e++ {
						v[lay.Slot(jj, kv*sh.HeadDim+e)] = w
					}
				}
			}
			vecs[a*C+c] = v
		}
	}
	return vecs
}

func (k *DecodeValues) extract(vecs [][]uint64) []uint64 {
	sh, lay := k.Shape, k.Layout
	G := sh.group()
	o := make([]uint64, sh.Heads*sh.HeadDim)
	for a := 0; a < G; a++ {
		for kv := 0; kv < sh.KVHeads; kv++ {
			for e := 0; e < sh.HeadDim; e++ {
				o[(kv*G+a)*sh.HeadDim+e] = vecs[a][lay.Slot(0, kv*sh.HeadDim+e)]
			}
		}
	}
	return o
}

// Run computes shares of the attention output (Heads x HeadDim). cache
// holds Enc(V_C) at Level, vS the server's share of the values (Context x
// KVDim), p the shared attention weights (Heads x Context).
func (k *DecodeValues) Run(s *Session, tally *cost.Tally, cache []*rlwe.Ciphertext, vS []uint64, p Shared) (Shared, error) {
	sh, lay := k.Shape, k.Layout
	_, C := sh.group(), lay.Cts(sh.Context)
	if len(cache) != C || len(vS) != sh.Context*lay.KVDim() || len(p.C) != sh.Heads*sh.Context || len(p.S) != len(p.C) {
		return Shared{}, fmt.Errorf("exec: decode values %+v: wrong input sizes", sh)
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
		out.S, err = k.server(sv, tally, cache, vS, pS)
		return err
	})
	tally.Add(s.Meter.Since(start))
	return out, err
}

// client is the client's half of Run: only the client's inputs.
func (k *DecodeValues) client(cl *Client, tally *cost.Tally, pC []uint64) ([]uint64, error) {
	sh, lay := k.Shape, k.Layout
	G, _ := sh.group(), lay.Cts(sh.Context)
	if err := cl.sendInputs(tally, k.Level, k.weightVectors(pC)); err != nil {
		return nil, err
	}
	vals, err := cl.recvOutputs(tally, G)
	if err != nil {
		return nil, err
	}
	return k.extract(vals), nil
}

// server is the server's half of Run: only the server's inputs.
func (k *DecodeValues) server(sv *Server, tally *cost.Tally, cache []*rlwe.Ciphertext, vS, pS []uint64) ([]uint64, error) {
	sh, lay := k.Shape, k.Layout
	G, C := sh.group(), lay.Cts(sh.Context)
	ws, err := sv.recvInputs(tally, G*C)
	if err != nil {
		return nil, err
	}
	for i, v := range k.weightVectors(pS) {
		if err := sv.addPlain(tally, ws[i], v); err != nil {
			return nil, err
		}
	}
	vals, err := sv.withShares(tally, cache, lay.Vectors(vS), k.Level)
	if err != nil {
		return nil, err
	}
	outs := make([]*rlwe.Ciphertext, G)
	tmp := bgv.NewCiphertext(k.Params, 1, k.Level)
	for a := 0; a < G; a++ {
		acc := bgv.NewCiphertext(k.Params, 1, k.Level)
		for c := 0; c < C; c++ {
			dst := acc
			if c > 0 {
				dst = tmp
			}
			if err := sv.eval.MulRelin(ws[a*C+c], vals[c], dst); err != nil {
				return nil, fmt.Errorf("exec: server: ct-ct product: %w", err)
			}
			tally.Op(cost.OpMulCipher, k.Level, 1)
			if c > 0 {
				if err := sv.eval.Add(acc, tmp, acc); err != nil {
					return nil, err
				}
				tally.Op(cost.OpAdd, k.Level, 1)
			}
		}
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
		outs[a] = acc
	}
	masks, err := sv.sendOutputs(tally, outs, nil, k.send)
	if err != nil {
		return nil, err
	}
	return k.extract(masks), nil
}

// WithContext is the kernel for a context of ctx <= Shape.Context tokens
// with this kernel's level and flooding: a kernel planned once for the
// longest context serves every shorter one (its payload bound only grows
// with the context), so that the cache's level does not depend on the
// context.
func (k *DecodeScores) WithContext(ctx int) (*DecodeScores, error) {
	if ctx < 1 || ctx > k.Shape.Context {
		return nil, fmt.Errorf("exec: decode scores planned for %d tokens used for %d", k.Shape.Context, ctx)
	}
	out := *k
	out.Shape.Context = ctx
	return &out, nil
}

// WithContext is the kernel for a context of ctx <= Shape.Context tokens
// with this kernel's level and flooding (see DecodeScores.WithContext).
func (k *DecodeValues) WithContext(ctx int) (*DecodeValues, error) {
	if ctx < 1 || ctx > k.Shape.Context {
		return nil, fmt.Errorf("exec: decode values planned for %d tokens used for %d", k.Shape.Context, ctx)
	}
	out := *k
	out.Shape.Context = ctx
	return &out, nil
}
