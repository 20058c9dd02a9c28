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
// multiplies and folds (the kind's serve) and returns the results masked
// and flooded (an H2S); the client decrypts its share of the output, the
// server keeps the masks. The kinds live in attention_scores.go and
// attention_values.go.

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
	// clientCores are the client's, for the price (Planner.ClientCores).
	clientCores int
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
		cores: pl.cores(), clientCores: pl.clientCores()}, nil
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
	// inputCts is the number of input ciphertexts.
	inputCts() int
	// inputVector writes into v (zero, MaxSlots long) the slot vector of
	// input ciphertext i for one party's share x of the input.
	inputVector(x []uint64, i int, v []uint64)
	// serve is the server's computation: it takes the inputs (the
	// server's share added) from in, in order, and hands the output
	// ciphertexts, in order and in batches of at most returnBatch, to
	// emit, which returns them. It emits only once it has taken every
	// input: the outputs are one flight after the inputs' one.
	serve(sv *Server, tally *cost.Tally, in *inputStream, keys []*rlwe.Ciphertext, emit func([]*rlwe.Ciphertext) error) error
	// outputCts is the number of output ciphertexts.
	outputCts() int
	// outputLen is the length of the shared output.
	outputLen() int
	// extract writes into out the part of the output that output
	// ciphertext i holds, from its decrypted vector (or the server's
	// mask) v.
	extract(out []uint64, i int, v []uint64)
}

// returnBatch is the most output ciphertexts a kernel returns at once: the
// server masks and sends them in batches (one flight all the same), and
// both parties extract their shares batch by batch, so that a long
// prefill's hundreds of thousands of sparse products never sit in memory
// together. The scores kernel also computes its products in these
// batches.
const returnBatch = 256

// inputBatch is the most input ciphertexts the values kernel's server
// takes at once: it multiplies and sums them as they arrive (the client
// waits while more than inputBacklog wait unread), so that a long
// prefill's one input per product (a 1000-token GPT-2 prefill at
// bgv-test-insecure: about 250k ciphertexts) never sits in memory. A
// variable for TestValuesStreamed only, which makes the batches small.
var inputBatch = 128

// arccRun is one run of an ARCC kernel: the kernel's fields, the packing
// of its layout for its context, and where each group's products start.
type arccRun struct {
	arcc
	pk arccPacking
	// starts[g] is the first product of group g for query-head offset 0
	// (len groups+1: the last is products()); see product.
	starts []int
}

// newARCCRun is the run of kernel a over packing pk.
func newARCCRun(a arcc, pk arccPacking) arccRun {
	starts := make([]int, pk.groups()+1)
	for g := 0; g < pk.groups(); g++ {
		starts[g+1] = starts[g] + pk.groupCts(g)
	}
	return arccRun{arcc: a, pk: pk, starts: starts}
}

func (k arccRun) base() (arcc, arccPacking) { return k.arcc, k.pk }

// product is product i of the kernel, ordered by query-head offset a,
// group g and key ciphertext c (< groupCts(g)): the scores kernel's
// output ciphertexts, the values kernel's input ciphertexts.
func (k arccRun) product(i int) (a, g, c int) {
	per := k.starts[len(k.starts)-1]
	a, i = i/per, i%per
	g = sort.SearchInts(k.starts, i+1) - 1
	return a, g, i - k.starts[g]
}

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
	if err := cl.sendInputsEach(tally, a.Level, k.inputCts(), func(i int, v []uint64) { k.inputVector(xC, i, v) }); err != nil {
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
	full, err := sv.withShares(tally, keys, pk.vectors(kS, a.Shape.KVHeads*a.Shape.HeadDim), a.Level)
	if err != nil {
		return nil, err
	}
	in := &inputStream{sv: sv, tally: tally, k: k, xS: xS, total: k.inputCts(), v: make([]uint64, sv.params.MaxSlots())}
	out := make([]uint64, k.outputLen())
	sent := 0
	emit := func(outs []*rlwe.Ciphertext) error {
		switch {
		case in.next < in.total:
			return fmt.Errorf("exec: %s: internal error: outputs emitted after %d of %d inputs", a.what, in.next, in.total)
		case len(outs) > returnBatch || sent+len(outs) > k.outputCts():
			return fmt.Errorf("exec: %s: internal error: a batch of %d outputs after %d of %d", a.what, len(outs), sent, k.outputCts())
		}
		masks, err := sv.sendOutputs(tally, outs, a.send)
		if err != nil {
			return err
		}
		for j, m := range masks {
			k.extract(out, sent+j, m)
		}
		sent += len(outs)
		return nil
	}
	if err := k.serve(sv, tally, in, full, emit); err != nil {
		return nil, err
	}
	if sent != k.outputCts() {
		return nil, fmt.Errorf("exec: %s: internal error: %d of %d outputs returned", a.what, sent, k.outputCts())
	}
	return out, nil
}

// inputStream is the server's side of a kernel's inputs: it receives them
// in order when the kernel takes them, and adds the server's share to
// each.
type inputStream struct {
	sv          *Server
	tally       *cost.Tally
	k           arccKind
	xS          []uint64
	next, total int      // the next input to receive; of how many
	v           []uint64 // the server's share of one input, laid out
}

// take receives the next n inputs.
func (in *inputStream) take(n int) ([]*rlwe.Ciphertext, error) {
	if n < 0 || in.next+n > in.total {
		return nil, fmt.Errorf("exec: server: internal error: %d more of %d inputs after %d", n, in.total, in.next)
	}
	cts := make([]*rlwe.Ciphertext, n)
	for j := range cts {
		ct, err := in.sv.recvInput(in.tally, in.next, in.total, Slots)
		if err != nil {
			return nil, err
		}
		clear(in.v)
		in.k.inputVector(in.xS, in.next, in.v)
		if err := in.sv.addPlain(in.tally, ct, in.v); err != nil {
			return nil, err
		}
		cts[j] = ct
		in.next++
	}
	return cts, nil
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
