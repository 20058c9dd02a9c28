package sim

import (
	"fmt"
	"math"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/model"
)

// The two-party steps: a protocol of package mpc on shares, recorded under
// one kind. Each step's Estimate is its protocol's; its Run plays the same
// protocol value on the run engine's mpc session, so both price exactly
// what was planned.

// unaryProto is a two-party protocol on one shared input. Its values are
// comparable: protocolMemo keys its estimates by them.
type unaryProto interface {
	mpc.Protocol
	Run(s *mpc.Session, x mpc.Pair) (mpc.Pair, error)
}

// maxProtocolElements bounds the input of one Run of a two-party step, per
// kind. The dealer's material for a Run is held whole until it ends, so a
// long pass (GPT-2's GELU over 1000 tokens is 3M values, its causal
// softmax 6M scores) runs in pieces of at most this many input values,
// one after the other: the same outputs, a bounded memory, and each
// piece's own rounds. The bounds keep a piece near 2.5 GB: measured at
// bgv-n14, a GELU of 2^17 values peaked at 2.4 GB of resident memory and a
// softmax of 2^17 scores at 1.35 GB; a norm needs about a tenth of a
// GELU's material per value (mpc's Need: 2 triples and a truncation,
// against 3 comparison keys, 19 triples and 18 truncations). A decode
// step's softmax fits in one piece up to 2^18 scores (32 heads over 8192
// tokens). A variable for the tests only (TestProtocolPieces).
var maxProtocolElements = map[Kind]int{KindActivation: 1 << 17, KindSoftmax: 1 << 18, KindNorm: 1 << 21}

// maxLookupElements replaces maxProtocolElements for the steps whose
// protocols read lookup tables (mpc.LUT): their material is 8 KiB of
// one-hot vector per lookup and party (an activation's value, a softmax's
// score; a norm's row, once per octave of its range, about 36, bounded by
// maxLookupNormRows), held by the dealer and both parties at the dealing:
// 2^15 values or 1024 norm rows keep a piece below a gigabyte of it.
var maxLookupElements = map[Kind]int{KindActivation: 1 << 15, KindSoftmax: 1 << 15}

// maxLookupNormRows bounds the rows of a norm's piece by lookups.
const maxLookupNormRows = 1024

// pieceBound is the bound on a piece of a step of kind for the session's
// method.
func (p *planner) pieceBound(kind Kind) int {
	if b, ok := maxLookupElements[kind]; ok && p.mpc.Nonlinear == mpc.LUT {
		return min(b, maxProtocolElements[kind])
	}
	return maxProtocolElements[kind]
}

// unaryStep is a protocol on one shared input of rows x cols values (row
// major): the norms, the activations and the softmax. Its pieces (see
// maxProtocolElements) cover the input: piece i reads the first width
// values of rows [r0, r1).
type unaryStep struct {
	kind       Kind
	rows, cols int
	cut        func() []unaryPiece // the pieces, made when needed (a memoized Estimate does not)
	// key and memo: Estimate's memo of the planner that made the step (nil:
	// none); protos: the protocol's memo of its pieces' estimates.
	key    unaryKey
	memo   map[unaryKey]cost.Cost
	protos *protocolMemo
}

// unaryKey identifies a two-party step of a session: its kind and shape
// (heads: a causal softmax's; scale: the input's fractional bits beyond
// f).
type unaryKey struct {
	kind                     Kind
	rows, cols, heads, scale int
}

// memoized is a step of a kind and shape cut into pieces by cut, with the
// planner's memo for its estimate.
func (p *planner) memoized(key unaryKey, cut func() []unaryPiece) unaryStep {
	return unaryStep{kind: key.kind, rows: key.rows, cols: key.cols, cut: cut, key: key, memo: p.twoParty, protos: p.shared}
}

// pieces are the step's Runs.
func (s unaryStep) pieces() []unaryPiece { return s.cut() }

// unaryPiece is one Run of a unaryStep.
type unaryPiece struct {
	proto         unaryProto
	r0, r1, width int
}

// wholeRows cuts a step over rows x cols values into one piece, or
// pieces of whole rows of at most bound values each (rows of one value: an
// element-wise protocol), each made by proto(rows).
func wholeRows(bound, rows, cols int, proto func(rows int) unaryProto) func() []unaryPiece {
	return func() []unaryPiece {
		var pieces []unaryPiece
		for _, rr := range rowRanges(bound, rows, cols) {
			pieces = append(pieces, unaryPiece{proto(rr[1] - rr[0]), rr[0], rr[1], cols})
		}
		return pieces
	}
}

// rowRanges cuts rows of cols values into ranges [r0, r1) of whole rows
// of at most bound values each (at least one row; one empty range for no
// rows).
func rowRanges(bound, rows, cols int) [][2]int {
	var out [][2]int
	per := max(1, bound/max(cols, 1))
	for r0 := 0; r0 < rows || r0 == 0; r0 += per {
		r1 := min(rows, r0+per)
		out = append(out, [2]int{r0, r1})
		if r1 >= rows {
			break
		}
	}
	return out
}

// Estimate is the sum of the pieces' protocols' estimates. Within a step a
// piece's protocol is fixed by its rows and width (every piece of a long
// pass but the last is alike, and a causal head's pieces repeat in every
// head), so each shape is looked up once; and the protocol's memo
// estimates each protocol once (the pieces of a head of a causal softmax
// over c tokens are the first pieces of one over more: a plan's passes
// share them).
func (s unaryStep) Estimate() cost.Cost {
	if c, ok := s.memo[s.key]; ok {
		return c
	}
	var c cost.Cost
	defer func() {
		if s.memo != nil {
			s.memo[s.key] = c
		}
	}()
	seen := map[[2]int]cost.Cost{}
	for _, pc := range s.pieces() {
		k := [2]int{pc.r1 - pc.r0, pc.width}
		e, ok := seen[k]
		if !ok {
			e = s.protos.estimate(pc.proto)
			seen[k] = e
		}
		c = c.Add(e)
	}
	return c
}

// Run plays the pieces' protocols on x, one after the other.
func (s unaryStep) Run(r *Runner, x mpc.Pair) (mpc.Pair, error) {
	if x.Len() != s.rows*s.cols {
		return mpc.Pair{}, fmt.Errorf("sim: internal error: a %v step over %dx%d values given %d", s.kind, s.rows, s.cols, x.Len())
	}
	var y mpc.Pair
	pieces := s.pieces()
	err := r.timed(s.kind, func(c *cost.Cost) error {
		return r.mpcRun(c, func() error {
			if len(pieces) == 1 && pieces[0].r0 == 0 && pieces[0].r1 == s.rows && pieces[0].width == s.cols {
				var err error
				y, err = pieces[0].proto.Run(r.mp, x)
				return err
			}
			for i := range y {
				y[i] = mpc.Share{Mod: x[i].Mod, V: make([]uint64, s.rows*s.cols)}
			}
			for _, pc := range pieces {
				var in mpc.Pair
				for i := range in {
					in[i].Mod = x[i].Mod
					for row := pc.r0; row < pc.r1; row++ {
						in[i].V = append(in[i].V, x[i].V[row*s.cols:row*s.cols+pc.width]...)
					}
				}
				out, err := pc.proto.Run(r.mp, in)
				if err != nil {
					return err
				}
				for i := range y {
					for row := pc.r0; row < pc.r1; row++ {
						copy(y[i].V[row*s.cols:row*s.cols+pc.width], out[i].V[(row-pc.r0)*pc.width:])
					}
				}
			}
			return nil
		})
	})
	return y, err
}

// normStep is the architecture's norm of rows rows (LayerNorm for GPT-2,
// RMSNorm for llama) with scale fractional bits beyond f (the residual
// stream's: see planner.linearScale), gain and bias folded into the next
// matrix.
func (p *planner) normStep(rows, scale int) unaryStep {
	d := p.cfg.Dim
	bound := p.pieceBound(KindNorm)
	if p.mpc.Nonlinear == mpc.LUT {
		bound = min(bound, maxLookupNormRows*d)
	}
	return p.memoized(unaryKey{kind: KindNorm, rows: rows, cols: d, scale: scale}, wholeRows(bound, rows, d, func(n int) unaryProto {
		if p.cfg.Arch == model.ArchGPT2 {
			return mpc.LayerNorm{Config: p.mpc, Rows: n, Dim: d, Eps: p.cfg.NormEps, Scale: scale}
		}
		return mpc.RMSNorm{Config: p.mpc, Rows: n, Dim: d, Eps: p.cfg.NormEps, Scale: scale}
	}))
}

// activationStep is the architecture's activation of n values (GELU or
// SiLU) with scale fractional bits beyond f (an untruncated linear
// output: see planner.linearScale).
func (p *planner) activationStep(n, scale int) unaryStep {
	return p.memoized(unaryKey{kind: KindActivation, rows: n, cols: 1, scale: scale}, wholeRows(p.pieceBound(KindActivation), n, 1, func(k int) unaryProto {
		if p.cfg.Arch == model.ArchGPT2 {
			return mpc.GELU{Config: p.mpc, N: k, Scale: scale}
		}
		return mpc.SiLU{Config: p.mpc, N: k, Scale: scale}
	}))
}

// softmaxStep is the softmax of rows rows of cols scores; with
// causalHeads > 0 the rows are that many heads of causal queries over the
// same cols keys (a pass from position 0), each query's row covering the
// keys up to its own position only. Causal pieces are whole heads while a
// head fits the bound, else rows [i0, i1) of one head: itself a causal
// softmax of i1 - i0 queries over the first cols - q + i1 keys (q = rows /
// causalHeads), the rest of its rows masked.
func (p *planner) softmaxStep(rows, cols, causalHeads int) unaryStep {
	return p.memoized(unaryKey{kind: KindSoftmax, rows: rows, cols: cols, heads: causalHeads}, func() []unaryPiece { return p.softmaxPieces(rows, cols, causalHeads) })
}

func (p *planner) softmaxPieces(rows, cols, causalHeads int) []unaryPiece {
	bound := p.pieceBound(KindSoftmax)
	if causalHeads <= 0 || rows%causalHeads != 0 || rows*cols <= bound {
		return wholeRows(bound, rows, cols, func(n int) unaryProto {
			return mpc.Softmax{Config: p.mpc, Rows: n, Cols: cols, Causal: causalHeads > 0, Heads: causalHeads, Scale: p.mpc.RawScale(), Raw: p.rawProbs()}
		})()
	}
	var pieces []unaryPiece
	q := rows / causalHeads
	if hp := bound / (q * cols); hp >= 1 { // whole heads
		for h0 := 0; h0 < causalHeads; h0 += hp {
			h1 := min(causalHeads, h0+hp)
			pieces = append(pieces, unaryPiece{mpc.Softmax{Config: p.mpc, Rows: (h1 - h0) * q, Cols: cols, Causal: true, Heads: h1 - h0, Scale: p.mpc.RawScale(), Raw: p.rawProbs()},
				h0 * q, h1 * q, cols})
		}
		return pieces
	}
	// The pieces of one head (each head has the same), then every head's.
	var head []unaryPiece
	for i0 := 0; i0 < q; {
		// the most rows from i0 whose piece, (i1 - i0) x w values, stays
		// within the bound (at least one row)
		i1 := i0 + 1
		for i1 < q && (i1+1-i0)*(cols-q+i1+1) <= bound {
			i1++
		}
		w := cols - q + i1
		head = append(head, unaryPiece{mpc.Softmax{Config: p.mpc, Rows: i1 - i0, Cols: w, Causal: true, Heads: 1, Scale: p.mpc.RawScale(), Raw: p.rawProbs()}, i0, i1, w})
		i0 = i1
	}
	pieces = make([]unaryPiece, 0, causalHeads*len(head))
	for h := 0; h < causalHeads; h++ {
		for _, pc := range head {
			pc.r0, pc.r1 = h*q+pc.r0, h*q+pc.r1
			pieces = append(pieces, pc)
		}
	}
	return pieces
}

// mulStep is the element-wise fixed-point product of n values (Beaver,
// with truncation), the second factor with scale fractional bits beyond f
// (truncated in the product's round).
type mulStep struct{ proto mpc.Mul }

func (p *planner) mulStep(n, scale int) mulStep {
	return mulStep{mpc.Mul{Config: p.mpc, N: n, Fixed: true, Scale: scale}}
}

// Estimate is the product's estimate.
func (s mulStep) Estimate() cost.Cost { return s.proto.Estimate() }

// Run multiplies a and b.
func (s mulStep) Run(r *Runner, a, b mpc.Pair) (mpc.Pair, error) {
	var y mpc.Pair
	err := r.timed(KindMul, func(c *cost.Cost) error {
		return r.mpcRun(c, func() error {
			var err error
			y, err = s.proto.Run(r.mp, a, b)
			return err
		})
	})
	return y, err
}

// argmaxStep is the token's choice from n shared logits with scale more
// fractional bits than the fixed point's, revealed to the client: the
// argmax, after the sampler's top-k filter when the session samples with
// one (planner.topK), which sinks all but the topK largest logits below
// every kept one, noise included.
type argmaxStep struct {
	proto mpc.Argmax
	topK  *mpc.TopK // nil: no filter
}

func (p *planner) argmaxStep(n, scale int) argmaxStep {
	st := argmaxStep{proto: mpc.Argmax{Config: p.mpc, N: n}}
	if p.topK > 0 && p.topK < n {
		// The sink exceeds the spread of in-range logits, 2^(IntBits+1),
		// plus the noise's at the largest temperature (below 2^12), so
		// that no sunk logit can win; every difference stays far inside
		// the centered range at every preset (2^13 + 2^12 + 2^13 at 28
		// fractional bits is below 2^43).
		sink := math.Ldexp(1, p.preset.FixedPoint.IntBits+1) + 1<<12
		st.topK = &mpc.TopK{Config: p.mpc, N: n, K: p.topK, Sink: p.mpc.Ring.FromInt(int64(math.Ldexp(sink, p.mpc.Ring.Frac()+scale)))}
	}
	return st
}

// Estimate is the filter's and the argmax's estimate.
func (s argmaxStep) Estimate() cost.Cost {
	c := s.proto.Estimate()
	if s.topK != nil {
		c = c.Add(s.topK.Estimate())
	}
	return c
}

// Run returns the index of the largest of x's values (the client's
// output), with noise, if not nil, applied to the server's share after
// the filter (Runner.sampleNoise).
func (s argmaxStep) Run(r *Runner, x mpc.Pair, noise func(server []uint64) ([]uint64, error)) (int, error) {
	var tok int
	err := r.timed(KindArgmax, func(c *cost.Cost) error {
		return r.mpcRun(c, func() error {
			var err error
			if s.topK != nil {
				if x, err = s.topK.Run(r.mp, x); err != nil {
					return err
				}
			}
			if noise != nil {
				server, err := noise(x[mpc.Server].V)
				if err != nil {
					return err
				}
				x = r.pair(x[mpc.Client].V, server)
			}
			tok, err = s.proto.Run(r.mp, x)
			return err
		})
	})
	return tok, err
}

// acceptStep is the verification of a speculative step's drafts over rows
// of n shared logits (scale fractional bits beyond f): greedy
// (mpc.Accept), or speculative sampling at the session's temperature
// (mpc.AcceptSampled); the accepted count and the token are revealed to
// the client, the count to the server too (sampled: it rolls the cache
// back to it; greedy: it learns it from the next step's positions).
// Recorded as the token's choice.
type acceptStep struct {
	greedy  mpc.Accept
	sampled *mpc.AcceptSampled // nil: greedy
}

func (p *planner) acceptStep(rows, n, scale int) acceptStep {
	if p.temperature > 0 {
		return acceptStep{sampled: &mpc.AcceptSampled{Config: p.mpc, Rows: rows, N: n, Temperature: p.temperature, Scale: scale}}
	}
	return acceptStep{greedy: mpc.Accept{Config: p.mpc, Rows: rows, N: n}}
}

// Estimate is the accept protocol's estimate.
func (s acceptStep) Estimate() cost.Cost {
	if s.sampled != nil {
		return s.sampled.Estimate()
	}
	return s.greedy.Estimate()
}

// inputBits is the fractional bits of a sampled draft's inputs (0 when
// greedy).
func (s acceptStep) inputBits() int {
	if s.sampled == nil {
		return 0
	}
	return s.sampled.InputBits()
}

// draftShares is the client's draft as the accept protocol takes it:
// the tokens (greedy); or their one-hot rows, r_i·q_i(x_i) and the
// distributions q_i, with the server's uniform u (sampled).
type draftShares struct {
	tokens, hot, v, q, u mpc.Pair
}

// Run returns the accepted count and the token (the client's output).
func (s acceptStep) Run(r *Runner, logits mpc.Pair, d draftShares) (int, int, error) {
	var a, tok int
	err := r.timed(KindArgmax, func(c *cost.Cost) error {
		return r.mpcRun(c, func() error {
			var err error
			if s.sampled != nil {
				a, tok, err = s.sampled.Run(r.mp, logits, d.hot, d.v, d.q, d.u)
			} else {
				a, tok, err = s.greedy.Run(r.mp, logits, d.tokens)
			}
			return err
		})
	})
	return a, tok, err
}

// truncStep is the truncation of n shared values by the fixed point's
// fractional bits: a part of the step whose product it follows.
//
// A riding truncation (planner.ridingTrunc) sits between an HE call's
// reply and the client's next upload, and nothing between them needs its
// output: its opening's halves travel with those two flights (the
// server's half, made from its share of the result, with the reply; the
// client's, made once it has decrypted its share and read the server's
// half, with its upload, before the server needs its own output), so it
// adds its bytes but no round. The run engine exchanges the halves on the
// protocols' session between the two flights; its counters are those of
// the schedule above, as the estimate's are.
type truncStep struct {
	proto mpc.Trunc
	rides bool
}

func (p *planner) truncStep(n int) truncStep { return truncStep{proto: mpc.Trunc{Config: p.mpc, N: n}} }

// ridingTrunc is the truncation of n values of an HE call's output whose
// consumer's first flight is the client's upload (the queries, keys and
// values of a QKV projection without a rotary step on shares, an
// attention's output): see truncStep.
func (p *planner) ridingTrunc(n int) truncStep {
	s := p.truncStep(n)
	s.rides = true
	return s
}

// rawProbs is whether the softmax leaves its probabilities with
// mpc.Config.SoftmaxRawBits more fractional bits, their truncation to the
// attention values' riding truncation (valuesTrunc): with the protocols
// by lookup, in a ring that holds them.
func (p *planner) rawProbs() bool { return p.mpc.SoftmaxRawBits() > 0 }

// valuesTrunc is the riding truncation of n outputs of an attention's
// values kernel: by f, and the raw probabilities' extra bits.
func (p *planner) valuesTrunc(n int) truncStep {
	s := p.ridingTrunc(n)
	if p.rawProbs() {
		s.proto.Shift = p.mpc.Ring.Frac() + p.mpc.SoftmaxRawBits()
	}
	return s
}

// noTrunc is the truncation left to the consumer of an untruncated
// product (planner.linearScale): it costs nothing and Run leaves the
// shares as they are.
var noTrunc = truncStep{}

// Estimate is the truncation's estimate (without its round if it rides).
func (s truncStep) Estimate() cost.Cost {
	if s == noTrunc {
		return cost.Cost{}
	}
	return s.riding(s.proto.Estimate())
}

// riding is c without its rounds if the truncation rides the flights
// around it.
func (s truncStep) riding(c cost.Cost) cost.Cost {
	if s.rides {
		c.Rounds = 0
	}
	return c
}

// Run truncates xc and xs (both parties' shares) in place, adding its
// counters to c. It is an error if they are not the n values planned.
func (s truncStep) Run(r *Runner, c *cost.Cost, xc, xs []uint64) error {
	if s == noTrunc {
		return nil
	}
	if len(xc) != s.proto.N || len(xs) != s.proto.N {
		return fmt.Errorf("sim: internal error: a truncation of %d values planned, %d and %d given", s.proto.N, len(xc), len(xs))
	}
	var tc cost.Cost
	err := r.mpcRun(&tc, func() error {
		y, err := s.proto.Run(r.mp, r.pair(xc, xs))
		if err == nil {
			copy(xc, y[mpc.Client].V)
			copy(xs, y[mpc.Server].V)
		}
		return err
	})
	*c = c.Add(s.riding(tc))
	return err
}
