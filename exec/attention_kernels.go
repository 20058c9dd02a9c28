package exec

import (
	"fmt"
	"math"
	"sort"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// The skeleton of the four ARCC attention kernels (DecodeScores,
// DecodeValues: attention_decode.go; PrefillScores, PrefillValues:
// attention_prefill.go). A kernel is a kind (scores q·k, or values p·V)
// over a packing (the decode or the prefill layout, attention_layouts.go):
// the kinds are written once here, over an arccPacking, and each kernel
// type is its layout plus the arcc fields they share (planKernel plans
// any of them).
//
// Both kinds run the same exchange, runARCC: the client sends its share of
// the queries (or weights) laid out by the packing, the server adds its
// own share, adds its plaintext share to the encrypted keys (or values),
// multiplies and folds (the kind's compute) and returns the results
// masked and flooded (an H2S); the client decrypts its share of the
// output, the server keeps the masks.

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

// arcc is what the four ARCC kernels share: their parameters, profile and
// shape, the level of the keys (or values) and of the client's
// encryptions, and how the results are returned.
type arcc struct {
	Params  bgv.Parameters
	Profile *cost.Profile
	Shape   AttentionShape // Context: the cached tokens (decode), the prompt length m (prefill)
	Level   int            // level of the keys (or values) and of the client's encryptions
	send    returnPath
	noise   float64 // payload of the results before the mask and the flooding
	terms   int     // products each result sums, as the noise model counts them
	what    string  // the kernel's name in errors
	cores   int     // the server's, for the price (Planner.Cores)
}

// planKernel plans an ARCC kernel of shape sh over the layout newLayout
// builds: its level and flooding for results that sum terms(sh, packing)
// products of the client's encryption with a cache ciphertext (what names
// the kernel in errors).
func planKernel[L arccLayout](pl Planner, what string, sh AttentionShape, terms func(AttentionShape, arccPacking) int,
	newLayout func(slots, kvHeads, headDim, ctx int) (L, error)) (arcc, L, error) {
	var lay L
	if err := pl.Check(); err != nil {
		return arcc{}, lay, err
	}
	if err := sh.validate(); err != nil {
		return arcc{}, lay, err
	}
	lay, err := newLayout(pl.Params.MaxSlots(), sh.KVHeads, sh.HeadDim, sh.Context)
	if err != nil {
		return arcc{}, lay, err
	}
	a, err := pl.planARCC(what, sh, terms(sh, lay.packing(sh.Context)))
	return a, lay, err
}

// scoreTerms is the number of products a score sums: HeadDim.
func scoreTerms(sh AttentionShape, _ arccPacking) int { return sh.HeadDim }

// planARCC plans the level and the flooding of a kernel whose results sum
// terms products of the client's encryption with a cache ciphertext.
func (pl Planner) planARCC(what string, sh AttentionShape, terms int) (arcc, error) {
	nm := pl.NoiseModel()
	f := func(nu float64) float64 { return nm.Attention(nu, sh.CacheBits, terms) }
	level, sp, err := nm.inputLevel(f)
	if err != nil {
		return arcc{}, fmt.Errorf("exec: %s %+v: %w", what, sh, err)
	}
	return arcc{Params: pl.Params, Profile: pl.Profile, Shape: sh, Level: level, send: sp, noise: f(nm.FreshSK()), terms: terms, what: what,
		cores: pl.cores()}, nil
}

// Noise is the noise model's payload of the kernel's results before they
// are masked and flooded, in bits (see Linear.Noise).
func (k arcc) Noise() float64 { return k.noise }

// Terms is the number of products each result sums, as the noise model
// counts them (NoiseModel.Attention) for the context the kernel was
// planned for: HeadDim for the scores; for the values, the products of
// the widest group times its fold, live tokens or not.
func (k arcc) Terms() int { return k.terms }

// withContext is the kernel for a context of ctx <= Shape.Context tokens
// with this kernel's level and flooding: a kernel planned once for the
// longest context serves every shorter one (its payload bound only grows
// with the context), so that the cache's level does not depend on the
// context.
func (k arcc) withContext(ctx int) (arcc, error) {
	if ctx < 1 || ctx > k.Shape.Context {
		return arcc{}, fmt.Errorf("exec: %s planned for %d tokens used for %d", k.what, k.Shape.Context, ctx)
	}
	k.Shape.Context = ctx
	return k, nil
}

// arccKind is what differs between the two kinds of ARCC kernel, scores
// and values, over a packing: the shared input and its layout, the
// server's products and folds, the output and where it is read.
// runARCC and its two halves are the rest, written once.
type arccKind interface {
	base() (arcc, arccPacking)
	// inputLen is the length of the shared input.
	inputLen() int
	// inputVectors lays out one party's share of the input.
	inputVectors(x []uint64) [][]uint64
	// compute turns the input ciphertexts (the server's share added) and
	// the keys (or values, Enc(K_C) + K_S) into the output ciphertexts
	// from .. to-1 (of outputCts).
	compute(sv *Server, tally *cost.Tally, ins, keys []*rlwe.Ciphertext, from, to int) ([]*rlwe.Ciphertext, error)
	// outputCts is the number of output ciphertexts.
	outputCts() int
	// outputLen is the length of the shared output.
	outputLen() int
	// extract writes into out the part of the output that output
	// ciphertext i holds, from its decrypted vector (or the server's
	// mask) v.
	extract(out []uint64, i int, v []uint64)
}

// returnBatch is the most output ciphertexts a kernel holds at once: the
// server computes, masks and sends them in batches (one flight all the
// same), and both parties extract their shares batch by batch, so that a
// long prefill's hundreds of thousands of sparse products never sit in
// memory together. The inputs are not batched: the client sends all of
// them in one flight and the server holds them, and the values kernel has
// one input per product (a 1000-token GPT-2 prefill at bgv-test-insecure:
// about 250k ciphertexts, more than 20 GB).
const returnBatch = 256

// arccRun is one run of an ARCC kernel: the kernel's fields and the packing
// of its layout for its context.
type arccRun struct {
	arcc
	pk arccPacking
}

func (k arccRun) base() (arcc, arccPacking) { return k.arcc, k.pk }

// runARCC is the Run of every ARCC kernel: keys holds Enc(K_C) (keyCts
// ciphertexts at Level, server side), kS the server's share of the keys
// (Keys x KVDim), x the shared input.
func runARCC(k arccKind, s *Session, tally *cost.Tally, keys []*rlwe.Ciphertext, kS []uint64, x Shared) (Shared, error) {
	a, pk := k.base()
	var sizes error
	if len(keys) != pk.keyCts() || len(kS) != pk.keys*a.Shape.KVHeads*a.Shape.HeadDim || len(x.C) != k.inputLen() || len(x.S) != len(x.C) {
		sizes = fmt.Errorf("exec: %s %+v: wrong input sizes", a.what, a.Shape)
	}
	xC, xS := x.C, x.S // each half gets its own share only
	return runShared(s, tally, sizes,
		func(cl *Client) ([]uint64, error) { return arccClient(k, cl, tally, xC) },
		func(sv *Server) ([]uint64, error) { return arccServer(k, sv, tally, keys, kS, xS) })
}

// arccClient is the client's half of runARCC: only the client's share.
func arccClient(k arccKind, cl *Client, tally *cost.Tally, xC []uint64) ([]uint64, error) {
	a, _ := k.base()
	if err := cl.sendInputs(tally, a.Level, k.inputVectors(xC)); err != nil {
		return nil, err
	}
	out := make([]uint64, k.outputLen())
	if err := cl.recvOutputsEach(tally, k.outputCts(), func(i int, v []uint64) { k.extract(out, i, v) }); err != nil {
		return nil, err
	}
	return out, nil
}

// arccServer is the server's half of runARCC: only the server's inputs.
func arccServer(k arccKind, sv *Server, tally *cost.Tally, keys []*rlwe.Ciphertext, kS, xS []uint64) ([]uint64, error) {
	a, pk := k.base()
	vecs := k.inputVectors(xS)
	ins, err := sv.recvInputs(tally, len(vecs))
	if err != nil {
		return nil, err
	}
	for i, v := range vecs {
		if err := sv.addPlain(tally, ins[i], v); err != nil {
			return nil, err
		}
	}
	full, err := sv.withShares(tally, keys, pk.vectors(kS, a.Shape.KVHeads*a.Shape.HeadDim), a.Level)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, k.outputLen())
	for from := 0; from < k.outputCts(); from += returnBatch {
		to := min(k.outputCts(), from+returnBatch)
		outs, err := k.compute(sv, tally, ins, full, from, to)
		if err != nil {
			return nil, err
		}
		masks, err := sv.sendOutputs(tally, outs, nil, a.send)
		if err != nil {
			return nil, err
		}
		for j, m := range masks {
			k.extract(out, from+j, m)
		}
	}
	return out, nil
}

// scoresKernel is the ARCC scores kernel over a packing: s[h][i][j] =
// q_{i,h} · k_j for every query head h, query i and key j query i sees,
// k_j being the key of head h / G (G = Heads/KVHeads query heads per
// key/value head). Input: the queries (Queries x Heads x HeadDim); output:
// the scores (Heads x Queries x Keys, row-major, zero where a query does
// not see the key).
//
// For each group g of R queries and query-head offset a < G, the client
// sends one ciphertext holding, in every block of copy r, the queries of
// heads kv·G + a of query g·R + r at sub-block kv. The server adds its
// shares, multiplies it with each key ciphertext the group sees and folds
// each head's HeadDim products by rotations 1, 2, ..., HeadDim/2: the
// score of query g·R+r, head kv·G+a, against key c·S + jj is at slot
// (r, jj, kv·HeadDim) of that product.
//
// With P = Σ_g groupCts(g) products per offset: G·P ct-ct products,
// G·P·log2(HeadDim) rotations, G·Groups ciphertexts up, G·P down.
type scoresKernel struct {
	arccRun
	// starts[g] is the first product of group g for query-head offset 0
	// (len groups+1: the last is products()); see product.
	starts []int
}

// newScoresKernel is the scores kernel of a run.
func newScoresKernel(r arccRun) scoresKernel {
	starts := make([]int, r.pk.groups()+1)
	for g := 0; g < r.pk.groups(); g++ {
		starts[g+1] = starts[g] + r.pk.groupCts(g)
	}
	return scoresKernel{arccRun: r, starts: starts}
}

// product is output ciphertext i: offset a's query ciphertext of group g
// times key ciphertext c (outputs ordered by offset, group, key
// ciphertext).
func (k scoresKernel) product(i int) (a, g, c int) {
	per := k.starts[len(k.starts)-1]
	a, i = i/per, i%per
	g = sort.SearchInts(k.starts, i+1) - 1
	return a, g, i - k.starts[g]
}

var _ arccKind = scoresKernel{}

func (k scoresKernel) inputLen() int { return k.pk.queries * k.Shape.Heads * k.Shape.HeadDim }

func (k scoresKernel) outputCts() int { return k.Shape.group() * k.pk.products() }

// rotationCount is G·P·log2(HeadDim).
func (k scoresKernel) rotationCount() int64 {
	return int64(k.Shape.group()*k.pk.products()) * int64(log2Int(k.Shape.HeadDim))
}

// estimate prices one runARCC.
func (k scoresKernel) estimate() cost.Cost {
	pk := k.pk
	G, P, Q, C := int64(k.Shape.group()), int64(pk.products()), int64(pk.groups()), int64(pk.keyCts())
	lvl := k.Level
	prof := k.Profile
	f := int64(log2Int(k.Shape.HeadDim))
	products := func() cost.Cost { // one piece per product, with its fold
		return cost.Sum(
			prof.Charge(cost.OpMulCipher, lvl, G*P),
			prof.Charge(cost.OpRotate, lvl, G*P*f),
			prof.Charge(cost.OpAdd, lvl, G*P*f),
		)
	}
	c := cost.Sum(
		sendInputCost(prof, k.Params.LogN(), lvl, G*Q),
		plainCost(prof, k.Params.LogN(), lvl, G*Q+C), // server shares of the queries and of K
		prof.Charge(cost.OpMulCipher, lvl, G*P),
		prof.Charge(cost.OpRotate, lvl, G*P*f),
		prof.Charge(cost.OpAdd, lvl, G*P*f),
		returnCostBatched(prof, k.Params.LogN(), k.send, G*P, returnBatch, k.cores),
		cost.Cost{Rounds: 1},
	)
	return onCoresBatched(c, G*P, returnBatch, k.cores, products)
}

// compute multiplies each group's query ciphertext (qs[a·Groups + g]) with
// every key ciphertext the group sees and folds each product: one piece
// per product, on the server's cores.
func (k scoresKernel) compute(sv *Server, tally *cost.Tally, qs, keys []*rlwe.Ciphertext, from, to int) ([]*rlwe.Ciphertext, error) {
	prods := make([]*rlwe.Ciphertext, to-from)
	err := sv.forEach(to-from, func(i int, w *Server) error {
		a, g, c := k.product(from + i)
		pr := bgv.NewCiphertext(k.Params, 1, k.Level)
		if err := w.eval.MulRelin(qs[a*k.pk.groups()+g], keys[c], pr); err != nil {
			return fmt.Errorf("exec: server: ct-ct product: %w", err)
		}
		tally.Op(cost.OpMulCipher, k.Level, 1)
		prods[i] = pr
		return foldSum(w.eval, tally, pr, 1, k.Shape.HeadDim)
	})
	return prods, err
}

// inputVectors lays out the queries (Queries x Heads x HeadDim) for offset
// a: vector a·Groups + g.
func (k scoresKernel) inputVectors(q []uint64) [][]uint64 {
	sh, pk := k.Shape, k.pk
	G, Q, d := sh.group(), pk.groups(), sh.HeadDim
	qd := sh.Heads * d
	vecs := make([][]uint64, G*Q)
	for a := 0; a < G; a++ {
		for g := 0; g < Q; g++ {
			v := make([]uint64, pk.slots)
			pk.queriesOf(g, func(r, i int) {
				for kv := 0; kv < sh.KVHeads; kv++ {
					h := kv*G + a
					src := q[i*qd+h*d : i*qd+(h+1)*d]
					for jj := 0; jj < pk.span; jj++ {
						copy(v[pk.slot(r, jj, kv*d):], src)
					}
				}
			})
			vecs[a*Q+g] = v
		}
	}
	return vecs
}

// extract reads the scores (Heads x Queries x Keys) from the G·P output
// vectors (offset-major, then group, then key ciphertext), zero where a
// query does not see the key.
func (k scoresKernel) outputLen() int { return k.Shape.Heads * k.pk.queries * k.pk.keys }

func (k scoresKernel) extract(s []uint64, i int, v []uint64) {
	sh, pk := k.Shape, k.pk
	G, nq, nk, d := sh.group(), pk.queries, pk.keys, sh.HeadDim
	a, g, c := k.product(i)
	pk.window(g, c, func(r, i, jj, j int) {
		for kv := 0; kv < sh.KVHeads; kv++ {
			s[((kv*G+a)*nq+i)*nk+j] = v[pk.slot(r, jj, kv*d)]
		}
	})
}

// valuesKernel is the mirror ARCC kernel over a packing: o_{i,h} =
// Σ_j p[h][i][j]·v_j over the keys j query i sees, v_j being the value of
// head h's key/value head, for shared attention weights p (Heads x Queries
// x Keys, row-major; the entries a query does not see are ignored).
//
// For each query group g, offset a and value ciphertext c the group sees,
// the client sends a ciphertext holding p[kv·G+a][g·R+r][c·S+jj] in every
// slot of sub-block kv of position jj of copy r (zero where the query does
// not see the key). The server multiplies it with value ciphertext c, adds
// over c, and sums the positions of each copy by folding: log2(F) column
// rotations by W, 2W, ..., with F = fold(g) blocks (a row rotation
// replaces the last fold when F = B). Output o_{g·R+r, kv·G+a} is at slots
// (r, 0, kv·HeadDim) .. of output ciphertext (a, g).
//
// G·P ct-ct products and ciphertexts up, G·Σ_g foldRotations(g)
// rotations, G·Groups ciphertexts down.
type valuesKernel struct{ arccRun }

var _ arccKind = valuesKernel{}

func (k valuesKernel) inputLen() int { return k.Shape.Heads * k.pk.queries * k.pk.keys }

func (k valuesKernel) outputCts() int { return k.Shape.group() * k.pk.groups() }

// valueTerms is the number of products a value kernel's output sums, as
// the noise model counts them: group g sums groupCts(g) products, then
// folds them over fold(g) blocks (the payload is a polynomial: zero slots
// do not make zero coefficients, and every fold doubles the bound).
func valueTerms(_ AttentionShape, pk arccPacking) int {
	terms := 1
	for g := 0; g < pk.groups(); g++ {
		terms = max(terms, pk.groupCts(g)*pk.fold(g))
	}
	return terms
}

// rotations are W·2^i for the folds within a slot row.
func (k valuesKernel) rotations() []int {
	pk := k.pk
	top := pk.maxFold()
	var r []int
	for s := 1; s < top && s < pk.blocksPerRow; s *= 2 {
		r = append(r, s*pk.block)
	}
	return r
}

// rowRotation reports whether a fold spans a whole ciphertext (and run
// swaps the two slot rows).
func (k valuesKernel) rowRotation() bool { return k.pk.maxFold() > k.pk.blocksPerRow }

// rotationCount is G·Σ_g foldRotations(g).
func (k valuesKernel) rotationCount() int64 {
	n := 0
	for g := 0; g < k.pk.groups(); g++ {
		n += k.pk.foldRotations(g)
	}
	return int64(k.Shape.group() * n)
}

// estimate prices one runARCC.
func (k valuesKernel) estimate() cost.Cost {
	pk := k.pk
	G, P, Q, C := int64(k.Shape.group()), int64(pk.products()), int64(pk.groups()), int64(pk.keyCts())
	lvl := k.Level
	prof := k.Profile
	f := k.rotationCount()
	pieces := func() cost.Cost { // one piece per (offset, group): its products, sum and fold
		return cost.Sum(
			prof.Charge(cost.OpMulCipher, lvl, G*P),
			prof.Charge(cost.OpAdd, lvl, G*(P-Q)),
			prof.Charge(cost.OpRotate, lvl, f),
			prof.Charge(cost.OpAdd, lvl, f),
		)
	}
	c := cost.Sum(
		sendInputCost(prof, k.Params.LogN(), lvl, G*P),
		plainCost(prof, k.Params.LogN(), lvl, G*P+C), // server shares of p and V
		prof.Charge(cost.OpMulCipher, lvl, G*P),
		prof.Charge(cost.OpAdd, lvl, G*(P-Q)),
		prof.Charge(cost.OpRotate, lvl, f),
		prof.Charge(cost.OpAdd, lvl, f),
		returnCostBatched(prof, k.Params.LogN(), k.send, G*Q, returnBatch, k.cores),
		cost.Cost{Rounds: 1},
	)
	return onCoresBatched(c, G*Q, returnBatch, k.cores, pieces)
}

// compute multiplies each weight ciphertext with its value ciphertext,
// adds the products of a (offset, group) and folds the sum: one piece per
// (offset, group), on the server's cores.
func (k valuesKernel) compute(sv *Server, tally *cost.Tally, ws, values []*rlwe.Ciphertext, from, to int) ([]*rlwe.Ciphertext, error) {
	pk := k.pk
	G, Q := k.Shape.group(), pk.groups()
	first := make([]int, G*Q) // the piece's first weight ciphertext
	for i, idx := 0, 0; i < G*Q; i++ {
		first[i] = idx
		idx += pk.groupCts(i % Q)
	}
	outs := make([]*rlwe.Ciphertext, to-from)
	err := sv.forEach(to-from, func(j int, w *Server) error {
		i := from + j
		g := i % Q
		acc := bgv.NewCiphertext(k.Params, 1, k.Level)
		tmp := bgv.NewCiphertext(k.Params, 1, k.Level)
		for c := 0; c < pk.groupCts(g); c++ {
			dst := acc
			if c > 0 {
				dst = tmp
			}
			if err := w.eval.MulRelin(ws[first[i]+c], values[c], dst); err != nil {
				return fmt.Errorf("exec: server: ct-ct product: %w", err)
			}
			tally.Op(cost.OpMulCipher, k.Level, 1)
			if c > 0 {
				if err := w.eval.Add(acc, tmp, acc); err != nil {
					return err
				}
				tally.Op(cost.OpAdd, k.Level, 1)
			}
		}
		outs[j] = acc
		return k.fold(w, tally, acc, tmp, pk.fold(g))
	})
	return outs, err
}

// fold sums the first f blocks of acc into its first block: column
// rotations by W, 2W, ... within a slot row, and a row rotation when the f
// blocks span both rows (tmp is work space).
func (k valuesKernel) fold(sv *Server, tally *cost.Tally, acc, tmp *rlwe.Ciphertext, f int) error {
	pk := k.pk
	if f <= pk.blocksPerRow {
		return foldSum(sv.eval, tally, acc, pk.block, f*pk.block)
	}
	if err := foldSum(sv.eval, tally, acc, pk.block, pk.row); err != nil {
		return err
	}
	if err := sv.eval.RotateRows(acc, tmp); err != nil {
		return fmt.Errorf("exec: server: row rotation: %w", err)
	}
	tally.Op(cost.OpRotate, k.Level, 1)
	if err := sv.eval.Add(acc, tmp, acc); err != nil {
		return err
	}
	tally.Op(cost.OpAdd, k.Level, 1)
	return nil
}

// inputVectors lays out p (Heads x Queries x Keys): vector index follows
// (offset a, group g, value ciphertext c).
func (k valuesKernel) inputVectors(p []uint64) [][]uint64 {
	sh, pk := k.Shape, k.pk
	G, nq, nk, d := sh.group(), pk.queries, pk.keys, sh.HeadDim
	vecs := make([][]uint64, 0, G*pk.products())
	for a := 0; a < G; a++ {
		for g := 0; g < pk.groups(); g++ {
			for c := 0; c < pk.groupCts(g); c++ {
				v := make([]uint64, pk.slots)
				pk.window(g, c, func(r, i, jj, j int) {
					for kv := 0; kv < sh.KVHeads; kv++ {
						w := p[((kv*G+a)*nq+i)*nk+j]
						base := pk.slot(r, jj, kv*d)
						for e := 0; e < d; e++ {
							v[base+e] = w
						}
					}
				})
				vecs = append(vecs, v)
			}
		}
	}
	return vecs
}

// extract reads the outputs (Queries x Heads x HeadDim) from the G·Groups
// output vectors (offset-major, then group).
func (k valuesKernel) outputLen() int { return k.pk.queries * k.Shape.Heads * k.Shape.HeadDim }

func (k valuesKernel) extract(o []uint64, i int, v []uint64) {
	sh, pk := k.Shape, k.pk
	G, d := sh.group(), sh.HeadDim
	a, g := i/pk.groups(), i%pk.groups()
	pk.queriesOf(g, func(r, q int) {
		for kv := 0; kv < sh.KVHeads; kv++ {
			h := kv*G + a
			copy(o[(q*sh.Heads+h)*d:(q*sh.Heads+h+1)*d], v[pk.slot(r, 0, kv*d):])
		}
	})
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
