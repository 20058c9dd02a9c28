package exec

import (
	"fmt"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// Matrix is a Rows x Cols matrix of integers modulo t, row-major: the
// server's private weights in fixed point.
type Matrix struct {
	Rows, Cols int
	Data       []uint64
}

// At is the entry (i, j).
func (m Matrix) At(i, j int) uint64 { return m.Data[i*m.Cols+j] }

// MulVec is W x mod t for one vector x of length Cols (the plaintext
// reference).
func (m Matrix) MulVec(x []uint64, t uint64) []uint64 {
	y := make([]uint64, m.Rows)
	for i := range y {
		var acc uint64
		row := m.Data[i*m.Cols : (i+1)*m.Cols]
		for j, w := range row {
			hi, lo := bits.Mul64(w, x[j])
			_, r := bits.Div64(hi%t, lo, t)
			acc += r
			if acc >= t {
				acc -= t
			}
		}
		y[i] = acc
	}
	return y
}

// Encoding is how a linear layer packs its input: one token (decode) or m
// tokens at once (prefill).
type Encoding int

const (
	// Decode packs one token: the input vector is replicated in every lane
	// of the ciphertext and the lanes compute different blocks of output
	// rows.
	Decode Encoding = iota + 1
	// Prefill packs several tokens per ciphertext, one per lane (or one per
	// group of lanes, the group's lanes computing different row blocks).
	Prefill
)

func (e Encoding) String() string {
	switch e {
	case Decode:
		return "decode"
	case Prefill:
		return "prefill"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// Linear is the secure linear layer y = W x for the server's private W
// (Out x In) and a shared input x of Tokens tokens. See the package
// documentation for the encoding and the cost formula.
//
// A Linear is a plain value, safe for concurrent use; its Run is not (it
// uses the session's parties).
type Linear struct {
	Params   bgv.Parameters
	Profile  *cost.Profile
	Out, In  int // shape of W
	Tokens   int // m: 1 for decode
	Encoding Encoding
	pack     linearPacking
	cores    int // the server's, for the price (Planner.Cores)
	// clientCores are the client's, for the price (Planner.ClientCores).
	clientCores int
}

// NewLinear plans a linear layer of shape out x in over m tokens. Decode
// needs m = 1. The packing (rows per block, baby steps, tokens per
// ciphertext, or a coefficient packing) is the one with the smallest
// estimated time under prof (compute plus a LAN transfer; a Planner's
// Network chooses another link), among all those the ring allows.
func NewLinear(p bgv.Parameters, prof *cost.Profile, out, in, m int, enc Encoding) (*Linear, error) {
	return planned(p, prof, func(pl Planner) (*Linear, error) { return pl.Linear(out, in, m, enc) })
}

// Linear is the checked constructor of a linear layer (see NewLinear).
func (pln Planner) Linear(out, in, m int, enc Encoding) (*Linear, error) {
	return pln.linear(out, in, m, enc, false)
}

// LinearEncodedOnce is Linear for a server that encodes the weights once
// (EncodeWeights, then RunEncoded every call): the packing search prices
// EstimateEncoded, not Estimate.
func (pln Planner) LinearEncodedOnce(out, in, m int, enc Encoding) (*Linear, error) {
	return pln.linear(out, in, m, enc, true)
}

func (pln Planner) linear(out, in, m int, enc Encoding, once bool) (*Linear, error) {
	if err := pln.Check(); err != nil {
		return nil, err
	}
	p, prof := pln.Params, pln.Profile
	if out < 1 || in < 1 || m < 1 {
		return nil, fmt.Errorf("exec: linear layer %dx%d over %d tokens: sizes must be positive", out, in, m)
	}
	if enc == Decode && m != 1 {
		return nil, fmt.Errorf("exec: decode linear layer over %d tokens: decode is one token", m)
	}
	if enc != Decode && enc != Prefill {
		return nil, fmt.Errorf("exec: unknown encoding %v", enc)
	}
	n, chunks := slotLanes(p, in)
	l := &Linear{Params: p, Profile: prof, Out: out, In: in, Tokens: m, Encoding: enc}
	byBaby := pln.linearLevels(n * chunks)
	pk, ok := l.cheapest(n, chunks, byBaby, pln.NoiseModel(), once, pln.network())
	if !ok {
		if byBaby[0].err == nil {
			return nil, fmt.Errorf("exec: linear layer %dx%d: no packing fits the noise", out, in)
		}
		return nil, fmt.Errorf("exec: linear layer %dx%d: %w", out, in, byBaby[0].err)
	}
	l.pack = pk
	// The packing was chosen on one core each: plans do not depend on cores.
	l.cores, l.clientCores = pln.cores(), pln.clientCores()
	return l, nil
}

// slotLanes is the lane width n of a slot packing of In inputs (In padded
// to a power of two, at most a slot row) and its input chunks.
func slotLanes(p bgv.Parameters, in int) (n, chunks int) {
	n = min(nextPow2(in), p.MaxSlots()/2)
	return n, ceilDiv(in, n)
}

// tokenChoices are the numbers of tokens per ciphertext worth trying:
// powers of two below min(m, lanes), and min(m, lanes) itself.
func tokenChoices(m, lanes int) []int {
	top := m
	if top > lanes {
		top = lanes
	}
	var out []int
	for t := 1; t < top; t *= 2 {
		out = append(out, t)
	}
	return append(out, top)
}

// linearNoise is the payload after a linear layer whose outputs sum n
// products (n-wide lanes times the input chunks) of a diagonal with the
// input (the client's encryption of payload in plus the server's share),
// rotated by a baby step first if rotated (g > 1). The giant steps and the
// folds add, per output, at most n/g + n/b <= 2n key switches
// (Linear.serverCompute: b/g giant rotations per output index, then
// log2(n/b) folds that double everything before them), so
// n·(product + 2 key switches) bounds it.
func linearNoise(nm NoiseModel, in float64, n int, rotated bool) float64 {
	x := nm.AddPlain(in)
	if rotated {
		x = nm.KeySwitch(x)
	}
	return nm.Sum(nm.KeySwitch(nm.KeySwitch(nm.MulPlain(x))), n)
}

func nextPow2(x int) int {
	n := 1
	for n < x {
		n *= 2
	}
	return n
}

func log2Int(x int) int { return bits.Len(uint(x)) - 1 }

// RowsPerBlock, BabySteps, TokensPerCiphertext, InputCiphertexts and
// OutputCiphertexts describe the chosen packing.
func (l *Linear) RowsPerBlock() int        { return l.pack.b }
func (l *Linear) BabySteps() int           { return l.pack.g }
func (l *Linear) TokensPerCiphertext() int { return l.pack.tok }
func (l *Linear) InputCiphertexts() int    { return l.pack.groups * l.pack.chunks }
func (l *Linear) OutputCiphertexts() int   { return l.pack.groups * l.pack.outs }

// Level is the level at which the client encrypts; SendLevel the level of
// what the server returns.
func (l *Linear) Level() int     { return l.pack.level }
func (l *Linear) SendLevel() int { return l.pack.send.to }

// Noise is the noise model's payload (log2 of the infinity norm of
// m + t·e, see noiseModel) of the server's results before they are
// masked and flooded, in bits.
func (l *Linear) Noise() float64 { return l.pack.noise }

func (l *Linear) String() string {
	if l.pack.coeffs {
		return fmt.Sprintf("linear %dx%d %s m=%d (coefficients: K=%d b=%d T=%d, %d in / %d out cts, levels %d->%d)",
			l.Out, l.In, l.Encoding, l.Tokens, l.pack.chunks, l.pack.b, l.pack.tok, l.InputCiphertexts(), l.OutputCiphertexts(), l.pack.level, l.pack.send.to)
	}
	return fmt.Sprintf("linear %dx%d %s m=%d (b=%d g=%d T=%d, %d in / %d out cts, levels %d->%d)",
		l.Out, l.In, l.Encoding, l.Tokens, l.pack.b, l.pack.g, l.pack.tok, l.InputCiphertexts(), l.OutputCiphertexts(), l.pack.level, l.pack.send.to)
}

// Domain is where the layer's messages lie: slots (rotations) or
// coefficients (none).
func (l *Linear) Domain() Domain { return l.pack.domain() }

// Rotations lists the rotations of Run: baby steps h·L (0 < h < g), giant
// steps j·g·L (0 < j < b/g) and folds s·L (s = b, 2b, ..., n/2), where L is
// the lane stride.
func (l *Linear) Rotations() []int {
	pk := l.pack
	if pk.coeffs {
		return nil
	}
	L := pk.laneStride()
	var r []int
	for h := 1; h < pk.g; h++ {
		r = append(r, h*L)
	}
	for j := 1; j < pk.b/pk.g; j++ {
		r = append(r, j*pk.g*L)
	}
	for s := pk.b; s < pk.n; s *= 2 {
		r = append(r, s*L)
	}
	return r
}

// RotationCount is the number of rotations one Run performs.
func (l *Linear) RotationCount() int64 {
	pk := l.pack
	if pk.coeffs {
		return 0
	}
	perOut := int64(pk.b/pk.g-1) + int64(log2Int(pk.n/pk.b))
	return int64(pk.groups) * (int64(pk.chunks*(pk.g-1)) + int64(pk.outs)*perOut)
}

// RotationLowerBound is the bound RotationCount is compared with: every
// output slot depends on In input slots; a circuit of additions,
// plaintext products and r rotations can make one slot depend on at most
// 2^r input slots (a dependency path is a subset of the rotations), so at
// least ceil(log2(In/K)) rotations are needed per token group whose input
// is spread over K ciphertexts (K = 1 unless In exceeds a slot row).
//
// A coefficient packing has no slot circuit: its bound is 0.
func (l *Linear) RotationLowerBound() int64 {
	if l.pack.coeffs {
		return 0
	}
	return int64(l.pack.groups) * int64(bits.Len(uint(ceilDiv(l.In, l.pack.chunks)-1)))
}

// Estimate prices one Run: EstimateEncoded and the diagonals' encoding
// (WeightsCost), which Run does inside the giant-step pieces (on the
// server's cores).
func (l *Linear) Estimate() cost.Cost { return l.estimate(nil) }

// estimate is Estimate with its terms memoized in t (nil: none).
func (l *Linear) estimate(t *estimateTerms) cost.Cost {
	pk := l.pack
	w := t.get(termKey{term: termWeights, at: pk.level, dom: pk.domain(), n: pk.weightPlaintexts()}, l.WeightsCost)
	pieces := int64(pk.outs) * int64(pk.b/pk.g) // giant steps, or outputs (b = g = 1)
	if pk.coeffs {
		pieces = int64(pk.outs)
	}
	return l.estimateEncoded(t).Add(onCores(w, pieces, l.cores, func() cost.Cost { return w }))
}

// WeightsCost prices EncodeWeights: the diagonals laid out and encoded
// once per output index and chunk.
func (l *Linear) WeightsCost() cost.Cost {
	pk := l.pack
	diags := pk.weightPlaintexts()
	return layoutCost(l.Profile, l.Params.LogN(), diags).Add(l.Profile.Charge(pk.domain().encodeOp(), pk.level, diags))
}

// WeightsBytes is the memory of the encoded weights (LinearWeights.Bytes):
// outs·b·chunks diagonals (outs·chunks weight polynomials for a
// coefficient packing) at the input level.
func (l *Linear) WeightsBytes() int64 {
	pk := l.pack
	return pk.weightPlaintexts() * int64(l.Params.MaxSlots()) * int64(pk.level+1) * 8
}

// EstimateEncoded prices one RunEncoded: Run without the diagonals'
// encoding.
func (l *Linear) EstimateEncoded() cost.Cost { return l.estimateEncoded(nil) }

// estimateEncoded is EstimateEncoded with its terms memoized in t (nil:
// none).
func (l *Linear) estimateEncoded(t *estimateTerms) cost.Cost {
	pk := l.pack
	if pk.coeffs {
		return l.estimateCoeffs(t)
	}
	prof, logN := l.Profile, l.Params.LogN()
	lvl := pk.level
	G, O, K := int64(pk.groups), int64(pk.outs), int64(pk.chunks)
	b, g := int64(pk.b), int64(pk.g)
	folds := int64(log2Int(pk.n / pk.b))
	c := cost.Sum(
		t.get(termKey{term: termSendInput, at: lvl, dom: pk.domain(), n: G * K}, func() cost.Cost { return sendInputCost(prof, logN, lvl, pk.domain(), G*K, l.clientCores) }),
		// server: its share into the ciphertexts
		t.get(termKey{term: termPlain, at: lvl, dom: pk.domain(), n: G * K}, func() cost.Cost { return plainCost(prof, logN, lvl, pk.domain(), G*K) }),
		// baby steps
		t.get(termKey{term: termHoisted, at: lvl, n: G * K, k: g - 1}, func() cost.Cost { return hoistedCost(prof, lvl, G*K, g-1) }),
		// per output ciphertext: b·K products, giant steps, folds
		prof.Charge(cost.OpMulPlain, lvl, G*O*b*K),
		prof.Charge(cost.OpAdd, lvl, G*O*(b*K-1+folds)),
		prof.Charge(cost.OpRotate, lvl, G*O*(b/g-1+folds)),
		t.get(termKey{term: termReturn, at: t.send(pk.send), dom: pk.domain(), n: G * O, k: int64(l.cores)},
			func() cost.Cost { return returnCost(prof, logN, pk.send, pk.domain(), G*O, l.cores, l.clientCores) }),
		cost.Cost{Rounds: 1},
	)
	if l.cores <= 1 {
		return c // (the packing search prices thousands of candidates on one core)
	}
	// The parallel sections (serverCompute): the hoisted baby steps of
	// each input ciphertext (g - 1 pieces, the decomposition before them),
	// the giant steps (O·b/g pieces per group: g·K products, their sum, a
	// rotation) and the outputs (O pieces per group: the sum of the giant
	// steps, the folds).
	babies := func() cost.Cost { return prof.Charge(cost.OpRotateHoisted, lvl, G*K*(g-1)) }
	giants := func() cost.Cost {
		return cost.Sum(
			prof.Charge(cost.OpMulPlain, lvl, G*O*b*K),
			prof.Charge(cost.OpAdd, lvl, G*O*(b*K-b/g)),
			prof.Charge(cost.OpRotate, lvl, G*O*(b/g-1)),
		)
	}
	outputs := func() cost.Cost {
		return cost.Sum(
			prof.Charge(cost.OpAdd, lvl, G*O*(b/g-1+folds)),
			prof.Charge(cost.OpRotate, lvl, G*O*folds),
		)
	}
	c = onCores(c, g-1, l.cores, babies)
	c = onCores(c, O*(b/g), l.cores, giants)
	return onCores(c, O, l.cores, outputs)
}

// Run computes shares of Y = X W^T (each token's row times W^T) for the
// shared input x (Tokens x In, row-major) and the server's W, encoding W's
// diagonals on the way. Only the client side sees x.C and only the server
// side sees w and x.S. It records its operations and traffic into tally.
func (l *Linear) Run(s *Session, tally *cost.Tally, w Matrix, x Shared) (Shared, error) {
	var sizes error
	if w.Rows != l.Out || w.Cols != l.In || len(w.Data) != l.Out*l.In {
		sizes = fmt.Errorf("exec: %v given a %dx%d matrix", l, w.Rows, w.Cols)
	}
	return l.run(s, tally, sizes, func(*Server) diagonals { return newPerCall(l, tally, w) }, x)
}

// RunEncoded is Run with W's diagonals encoded once (EncodeWeights for
// this Linear's shape and packing).
func (l *Linear) RunEncoded(s *Session, tally *cost.Tally, w *LinearWeights, x Shared) (Shared, error) {
	var sizes error
	if w == nil || w.out != l.Out || w.in != l.In || w.pack != l.pack {
		sizes = fmt.Errorf("exec: %v given weights encoded for another linear layer", l)
	}
	return l.run(s, tally, sizes, func(*Server) diagonals { return w }, x)
}

func (l *Linear) run(s *Session, tally *cost.Tally, sizes error, diag func(*Server) diagonals, x Shared) (Shared, error) {
	if sizes == nil && (len(x.C) != l.Tokens*l.In || len(x.S) != l.Tokens*l.In) {
		sizes = fmt.Errorf("exec: %v given shares of %d and %d elements, want %d", l, len(x.C), len(x.S), l.Tokens*l.In)
	}
	xC, xS := x.C, x.S // each half gets its own share only
	return runShared(s, tally, sizes,
		func(cl *Client) ([]uint64, error) { return l.client(cl, tally, xC) },
		func(sv *Server) ([]uint64, error) { return l.server(sv, tally, diag(sv), xS) })
}

// client is the client's half of Run: only the client's share.
func (l *Linear) client(cl *Client, tally *cost.Tally, xC []uint64) ([]uint64, error) {
	pk := l.pack
	if err := cl.sendInputsIn(tally, pk.level, pk.domain(), l.inputVectors(xC)); err != nil {
		return nil, err
	}
	vals, err := cl.recvOutputsIn(tally, pk.groups*pk.outs, pk.domain())
	if err != nil {
		return nil, err
	}
	return l.extract(vals), nil
}

// server is the server's half of Run: only the weights and the server's
// share.
func (l *Linear) server(sv *Server, tally *cost.Tally, diag diagonals, xS []uint64) ([]uint64, error) {
	outs, err := l.serverCompute(sv, tally, diag, xS)
	if err != nil {
		return nil, err
	}
	masks, err := sv.sendOutputs(tally, outs, l.pack.send)
	if err != nil {
		return nil, err
	}
	return l.extract(masks), nil
}
