package exec

import (
	"fmt"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
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

// linearPlan is the packing of a linear layer; see the package
// documentation ("Linear layers") for the layout.
type linearPlan struct {
	n      int // lane width: the input width padded to a power of two, at most a slot row
	chunks int // input ciphertexts per token group: ceil(In / n)
	lanes  int // lanes per ciphertext, N/n (lanes per row: lanes/2)
	tok    int // tokens per input ciphertext (T)
	blocks int // row blocks per output ciphertext (R); tok*blocks <= lanes
	b      int // output rows per block (power of two, <= n)
	g      int // baby steps (power of two, <= b)
	groups int // token groups: ceil(m / tok)
	outs   int // output ciphertexts per input ciphertext: ceil(ceil(dOut/b) / blocks)
	level  int // level of the client's encryption
	send   sendPlan
	noise  float64 // payload before the return
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
	plan     linearPlan
}

// NewLinear plans a linear layer of shape out x in over m tokens. Decode
// needs m = 1. The packing (rows per block, baby steps, tokens per
// ciphertext) is the one with the smallest estimated time under prof
// (compute plus a LAN transfer), among all those the slots allow.
func NewLinear(p bgv.Parameters, prof *cost.Profile, out, in, m int, enc Encoding) (*Linear, error) {
	pl, err := NewPlanner(p, prof)
	if err != nil {
		return nil, err
	}
	return pl.Linear(out, in, m, enc)
}

// Linear is the checked constructor of a linear layer (see NewLinear).
func (pln Planner) Linear(out, in, m int, enc Encoding) (*Linear, error) {
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
	n := nextPow2(in)
	if row := p.MaxSlots() / 2; n > row {
		n = row
	}
	chunks := ceilDiv(in, n)
	l := &Linear{Params: p, Profile: prof, Out: out, In: in, Tokens: m, Encoding: enc}
	nm := pln.NoiseModel()
	// The levels depend on whether the input is rotated before its
	// products (baby steps, g > 1) or not (g = 1): a key switch before a
	// product is multiplied by the plaintext's N·t, one after is only added.
	type levels struct {
		level int
		send  sendPlan
		noise float64
		err   error
	}
	var byBaby [2]levels
	for i := range byBaby {
		rotated := i == 1
		f := func(nu float64) float64 { return linearNoise(nm, nu, n*chunks, rotated) }
		lv := &byBaby[i]
		lv.level, lv.send, lv.err = nm.inputLevel(f)
		lv.noise = f(nm.FreshSK())
	}
	if byBaby[0].err != nil {
		return nil, fmt.Errorf("exec: linear layer %dx%d: %w", out, in, byBaby[0].err)
	}
	lanes := p.MaxSlots() / n
	var best *linearPlan
	var bestSec float64
	for _, tok := range tokenChoices(m, lanes) {
		for b := 1; b <= n; b *= 2 {
			for g := 1; g <= b; g *= 2 {
				lv := byBaby[0]
				if g > 1 {
					if lv = byBaby[1]; lv.err != nil {
						continue
					}
				}
				pl := linearPlan{n: n, chunks: chunks, lanes: lanes, tok: tok, blocks: lanes / tok, b: b, g: g, level: lv.level, send: lv.send,
					noise: lv.noise}
				pl.groups = ceilDiv(m, tok)
				pl.outs = ceilDiv(ceilDiv(out, b), pl.blocks)
				l.plan = pl
				c := net.LAN.Price(l.Estimate())
				if best == nil || c.Seconds() < bestSec {
					cp := pl
					best, bestSec = &cp, c.Seconds()
				}
			}
		}
	}
	l.plan = *best
	return l, nil
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
func (l *Linear) RowsPerBlock() int        { return l.plan.b }
func (l *Linear) BabySteps() int           { return l.plan.g }
func (l *Linear) TokensPerCiphertext() int { return l.plan.tok }
func (l *Linear) InputCiphertexts() int    { return l.plan.groups * l.plan.chunks }
func (l *Linear) OutputCiphertexts() int   { return l.plan.groups * l.plan.outs }

// Level is the level at which the client encrypts; SendLevel the level of
// what the server returns.
func (l *Linear) Level() int     { return l.plan.level }
func (l *Linear) SendLevel() int { return l.plan.send.to }

// Noise is the noise model's payload (log2 of the infinity norm of
// m + t·e, see noiseModel) of the server's results before they are
// masked and flooded, in bits.
func (l *Linear) Noise() float64 { return l.plan.noise }

func (l *Linear) String() string {
	return fmt.Sprintf("linear %dx%d %s m=%d (b=%d g=%d T=%d, %d in / %d out cts, levels %d->%d)",
		l.Out, l.In, l.Encoding, l.Tokens, l.plan.b, l.plan.g, l.plan.tok, l.InputCiphertexts(), l.OutputCiphertexts(), l.plan.level, l.plan.send.to)
}

// laneStride is the slot distance between consecutive features of a lane:
// lanes per row.
func (pl linearPlan) laneStride() int { return pl.lanes / 2 }

// Rotations lists the rotations of Run: baby steps h·L (0 < h < g), giant
// steps j·g·L (0 < j < b/g) and folds s·L (s = b, 2b, ..., n/2), where L is
// the lane stride.
func (l *Linear) Rotations() []int {
	pl := l.plan
	L := pl.laneStride()
	var r []int
	for h := 1; h < pl.g; h++ {
		r = append(r, h*L)
	}
	for j := 1; j < pl.b/pl.g; j++ {
		r = append(r, j*pl.g*L)
	}
	for s := pl.b; s < pl.n; s *= 2 {
		r = append(r, s*L)
	}
	return r
}

// RotationCount is the number of rotations one Run performs.
func (l *Linear) RotationCount() int64 {
	pl := l.plan
	perOut := int64(pl.b/pl.g-1) + int64(log2Int(pl.n/pl.b))
	return int64(pl.groups) * (int64(pl.chunks*(pl.g-1)) + int64(pl.outs)*perOut)
}

// RotationLowerBound is the bound RotationCount is compared with: every
// output slot depends on In input slots; a circuit of additions,
// plaintext products and r rotations can make one slot depend on at most
// 2^r input slots (a dependency path is a subset of the rotations), so at
// least ceil(log2(In/K)) rotations are needed per token group whose input
// is spread over K ciphertexts (K = 1 unless In exceeds a slot row).
func (l *Linear) RotationLowerBound() int64 {
	return int64(l.plan.groups) * int64(bits.Len(uint(ceilDiv(l.In, l.plan.chunks)-1)))
}

// Estimate prices one Run.
func (l *Linear) Estimate() cost.Cost {
	pl := l.plan
	prof := l.Profile
	lvl := pl.level
	G, O, K := int64(pl.groups), int64(pl.outs), int64(pl.chunks)
	b, g := int64(pl.b), int64(pl.g)
	folds := int64(log2Int(pl.n / pl.b))
	c := cost.Sum(
		sendInputCost(prof, l.Params.LogN(), lvl, G*K),
		// server: its share into the ciphertexts
		plainCost(prof, l.Params.LogN(), lvl, G*K),
		// diagonals, laid out and encoded once per output index and chunk
		layoutCost(prof, l.Params.LogN(), O*b*K),
		prof.Charge(cost.OpEncode, lvl, O*b*K),
		// baby steps
		hoistedCost(prof, lvl, G*K, g-1),
		// per output ciphertext: b·K products, giant steps, folds
		prof.Charge(cost.OpMulPlain, lvl, G*O*b*K),
		prof.Charge(cost.OpAdd, lvl, G*O*(b*K-1+folds)),
		prof.Charge(cost.OpRotate, lvl, G*O*(b/g-1+folds)),
		returnCost(prof, l.Params.LogN(), pl.send, G*O),
		cost.Cost{Rounds: 1},
	)
	return c
}

// hoistedCost prices batches of k rotations of one ciphertext sharing its
// decomposition (hoistedRotations): the first rotation of a batch pays the
// decomposition and is priced as an OpRotate, the k-1 others as
// OpRotateHoisted (calibrated as the marginal rotation of a batch).
func hoistedCost(prof *cost.Profile, lvl int, batches, k int64) cost.Cost {
	if k < 1 {
		return cost.Cost{}
	}
	return prof.Charge(cost.OpRotate, lvl, batches).Add(prof.Charge(cost.OpRotateHoisted, lvl, batches*(k-1)))
}

// slot is the slot index of feature c of lane lam.
func (pl linearPlan) slot(lam, c int) int {
	L := pl.laneStride()
	return (lam/L)*(pl.lanes/2*pl.n) + c*L + lam%L
}

// inputVectors lays out the rows of X (m x In, row-major) for the client
// or server share: ciphertext gr·K + k holds columns k·n .. k·n+n-1 of
// the tokens of group gr, lane rho·T+tau holding token gr·T+tau.
func (l *Linear) inputVectors(x []uint64) [][]uint64 {
	pl := l.plan
	N := l.Params.MaxSlots()
	vecs := make([][]uint64, pl.groups*pl.chunks)
	for gr := 0; gr < pl.groups; gr++ {
		for k := 0; k < pl.chunks; k++ {
			v := make([]uint64, N)
			for tau := 0; tau < pl.tok; tau++ {
				tokIdx := gr*pl.tok + tau
				if tokIdx >= l.Tokens {
					break
				}
				row := x[tokIdx*l.In : (tokIdx+1)*l.In]
				hi := (k + 1) * pl.n
				if hi > l.In {
					hi = l.In
				}
				row = row[k*pl.n : hi]
				for rho := 0; rho < pl.blocks; rho++ {
					lam := rho*pl.tok + tau
					for c, xv := range row {
						v[pl.slot(lam, c)] = xv
					}
				}
			}
			vecs[gr*pl.chunks+k] = v
		}
	}
	return vecs
}

// extract reads Y (m x Out) from the decrypted output vectors (or the
// masks), in the order the server produced them: group-major.
func (l *Linear) extract(vecs [][]uint64) []uint64 {
	pl := l.plan
	y := make([]uint64, l.Tokens*l.Out)
	for gr := 0; gr < pl.groups; gr++ {
		for o := 0; o < pl.outs; o++ {
			v := vecs[gr*pl.outs+o]
			for rho := 0; rho < pl.blocks; rho++ {
				for tau := 0; tau < pl.tok; tau++ {
					tokIdx := gr*pl.tok + tau
					if tokIdx >= l.Tokens {
						break
					}
					lam := rho*pl.tok + tau
					for r := 0; r < pl.b; r++ {
						row := (o*pl.blocks+rho)*pl.b + r
						if row >= l.Out {
							break
						}
						y[tokIdx*l.Out+row] = v[pl.slot(lam, r)]
					}
				}
			}
		}
	}
	return y
}

// diagonal writes into v (N slots, overwritten) the slot vector of
// generalized diagonal i of chunk k for output ciphertext o, pre-rotated
// right by shift slots (within each row).
func (l *Linear) diagonal(v []uint64, w Matrix, o, k, i, shift int) []uint64 {
	pl := l.plan
	N := l.Params.MaxSlots()
	row := N / 2
	L := pl.laneStride()
	v = v[:N]
	clear(v)
	for rho := 0; rho < pl.blocks; rho++ {
		for tau := 0; tau < pl.tok; tau++ {
			lam := rho*pl.tok + tau
			half := (lam / L) * row
			pos := (lam%L + shift) % row // slot of feature 0, rotated, within the row
			r0 := (o*pl.blocks + rho) * pl.b
			for c := 0; c < pl.n; c, pos = c+1, pos+L {
				if pos >= row {
					pos -= row
				}
				r := r0 + c%pl.b
				col := k*pl.n + (c+i)%pl.n
				if r >= l.Out || col >= l.In {
					continue
				}
				v[half+pos] = w.Data[r*w.Cols+col]
			}
		}
	}
	return v
}

// Run computes shares of Y = X W^T (each token's row times W^T) for the
// shared input x (Tokens x In, row-major) and the server's W. Only the
// client side sees x.C and only the server side sees w and x.S. It records
// its operations and traffic into tally.
func (l *Linear) Run(s *Session, tally *cost.Tally, w Matrix, x Shared) (Shared, error) {
	var sizes error
	if w.Rows != l.Out || w.Cols != l.In || len(w.Data) != l.Out*l.In {
		sizes = fmt.Errorf("exec: %v given a %dx%d matrix", l, w.Rows, w.Cols)
	} else if len(x.C) != l.Tokens*l.In || len(x.S) != l.Tokens*l.In {
		sizes = fmt.Errorf("exec: %v given shares of %d and %d elements, want %d", l, len(x.C), len(x.S), l.Tokens*l.In)
	}
	xC, xS := x.C, x.S // each half gets its own share only
	return runShared(s, tally, sizes,
		func(cl *Client) ([]uint64, error) { return l.client(cl, tally, xC) },
		func(sv *Server) ([]uint64, error) { return l.server(sv, tally, w, xS) })
}

// client is the client's half of Run: only the client's share.
func (l *Linear) client(cl *Client, tally *cost.Tally, xC []uint64) ([]uint64, error) {
	pl := l.plan
	if err := cl.sendInputs(tally, pl.level, l.inputVectors(xC)); err != nil {
		return nil, err
	}
	vals, err := cl.recvOutputs(tally, pl.groups*pl.outs)
	if err != nil {
		return nil, err
	}
	return l.extract(vals), nil
}

// server is the server's half of Run: only the weights and the server's
// share.
func (l *Linear) server(sv *Server, tally *cost.Tally, w Matrix, xS []uint64) ([]uint64, error) {
	outs, err := l.serverCompute(sv, tally, w, xS)
	if err != nil {
		return nil, err
	}
	masks, err := sv.sendOutputs(tally, outs, nil, l.plan.send)
	if err != nil {
		return nil, err
	}
	return l.extract(masks), nil
}

// serverCompute receives the client's ciphertexts, adds the server's share
// and evaluates W on them: one ciphertext per (group, output index).
func (l *Linear) serverCompute(sv *Server, tally *cost.Tally, w Matrix, xS []uint64) ([]*rlwe.Ciphertext, error) {
	pl := l.plan
	p := l.Params
	lvl := pl.level
	cts, err := sv.recvInputs(tally, pl.groups*pl.chunks)
	if err != nil {
		return nil, err
	}
	for gr, v := range l.inputVectors(xS) {
		if cts[gr].Level() != lvl {
			return nil, fmt.Errorf("exec: server: input at level %d, planned %d", cts[gr].Level(), lvl)
		}
		if err := sv.addPlain(tally, cts[gr], v); err != nil {
			return nil, err
		}
	}
	L := pl.laneStride()
	// Diagonals, pre-rotated by -j·g·L, encoded once per output index and
	// chunk. With one token group each is used once: it is encoded just
	// before its product into a reused plaintext; otherwise they are kept
	// for all groups.
	cache := pl.groups > 1
	var diags [][][]*rlwe.Plaintext
	scratch := bgv.NewPlaintext(p, lvl)
	dvec := make([]uint64, p.MaxSlots()) // each diagonal is laid out here, then encoded
	diag := func(o, k, i int) (*rlwe.Plaintext, error) {
		if cache && diags[o][k][i] != nil {
			return diags[o][k][i], nil
		}
		pt := scratch
		if cache {
			pt = bgv.NewPlaintext(p, lvl)
		}
		if err := sv.ecd.Encode(l.diagonal(dvec, w, o, k, i, (i/pl.g)*pl.g*L), pt); err != nil {
			return nil, fmt.Errorf("exec: server: encoding a diagonal: %w", err)
		}
		tally.Op(cost.OpShare, 0, int64(p.MaxSlots()))
		tally.Op(cost.OpEncode, lvl, 1)
		if cache {
			diags[o][k][i] = pt
		}
		return pt, nil
	}
	if cache {
		diags = make([][][]*rlwe.Plaintext, pl.outs)
		for o := range diags {
			diags[o] = make([][]*rlwe.Plaintext, pl.chunks)
			for k := range diags[o] {
				diags[o][k] = make([]*rlwe.Plaintext, pl.b)
			}
		}
	}
	ev := sv.eval
	out := make([]*rlwe.Ciphertext, 0, pl.groups*pl.outs)
	// Work ciphertexts, allocated once and reused for every group and
	// output: the baby steps of each chunk, a product, a giant step, a fold.
	baby := make([][]*rlwe.Ciphertext, pl.chunks)
	for k := range baby {
		baby[k] = make([]*rlwe.Ciphertext, pl.g)
		for h := 1; h < pl.g; h++ {
			baby[k][h] = bgv.NewCiphertext(p, 1, lvl)
		}
	}
	tmp := bgv.NewCiphertext(p, 1, lvl)
	giant := bgv.NewCiphertext(p, 1, lvl)
	for gr := 0; gr < pl.groups; gr++ {
		for k := range baby {
			if err := hoistedRotations(ev, tally, cts[gr*pl.chunks+k], L, baby[k]); err != nil {
				return nil, err
			}
		}
		for o := 0; o < pl.outs; o++ {
			acc := bgv.NewCiphertext(p, 1, lvl) // returned: fresh
			for j := 0; j < pl.b/pl.g; j++ {
				// Giant step j: Σ diag ⊙ baby into inner (acc itself for
				// j = 0, which needs no rotation), rotated, added to acc.
				inner := acc
				if j > 0 {
					inner = giant
				}
				first := true
				for k := 0; k < pl.chunks; k++ {
					for h := 0; h < pl.g; h++ {
						dst := tmp
						if first {
							dst = inner
						}
						pt, err := diag(o, k, j*pl.g+h)
						if err != nil {
							return nil, err
						}
						if err := ev.Mul(baby[k][h], pt, dst); err != nil {
							return nil, fmt.Errorf("exec: server: ct-pt product: %w", err)
						}
						tally.Op(cost.OpMulPlain, lvl, 1)
						if !first {
							if err := ev.Add(inner, tmp, inner); err != nil {
								return nil, err
							}
							tally.Op(cost.OpAdd, lvl, 1)
						}
						first = false
					}
				}
				if j > 0 {
					if err := ev.RotateColumns(inner, j*pl.g*L, inner); err != nil {
						return nil, fmt.Errorf("exec: server: giant step: %w", err)
					}
					tally.Op(cost.OpRotate, lvl, 1)
					if err := ev.Add(acc, inner, acc); err != nil {
						return nil, err
					}
					tally.Op(cost.OpAdd, lvl, 1)
				}
			}
			if err := foldSumWith(ev, tally, acc, tmp, pl.b*L, pl.n*L); err != nil {
				return nil, err
			}
			out = append(out, acc)
		}
	}
	return out, nil
}

// hoistedRotations sets out[h] to ct rotated by h·step for h < len(out)
// (out[0] = ct itself; out[1:] are overwritten), sharing one decomposition
// of ct (hoisting). It records the first rotation as an OpRotate (it pays
// the decomposition) and the others as OpRotateHoisted (see hoistedCost).
func hoistedRotations(ev *bgv.Evaluator, tally *cost.Tally, ct *rlwe.Ciphertext, step int, out []*rlwe.Ciphertext) error {
	out[0] = ct
	if len(out) == 1 {
		return nil
	}
	p := ev.GetParameters()
	lvl := ct.Level()
	buf := ev.GetBuffDecompQP()
	ev.DecomposeNTT(lvl, p.MaxLevelP(), p.PCount(), ct.Value[1], ct.IsNTT, buf)
	for h := 1; h < len(out); h++ {
		if err := ev.AutomorphismHoisted(lvl, ct, buf, p.GaloisElement(h*step), out[h]); err != nil {
			return fmt.Errorf("exec: server: hoisted rotation: %w", err)
		}
		*out[h].MetaData = *ct.MetaData
		op := cost.OpRotateHoisted
		if h == 1 {
			op = cost.OpRotate
		}
		tally.Op(op, lvl, 1)
	}
	return nil
}

// foldSum adds ct to its rotations by from, 2·from, ..., until:
// log2(until/from) rotations and additions; afterwards slot p holds the sum
// of slots p, p+from, ..., p+until-from.
func foldSum(ev *bgv.Evaluator, tally *cost.Tally, ct *rlwe.Ciphertext, from, until int) error {
	if from >= until {
		return nil
	}
	return foldSumWith(ev, tally, ct, bgv.NewCiphertext(*ev.GetParameters(), 1, ct.Level()), from, until)
}

// foldSumWith is foldSum with tmp (a ciphertext at ct's level) as its
// work space.
func foldSumWith(ev *bgv.Evaluator, tally *cost.Tally, ct, tmp *rlwe.Ciphertext, from, until int) error {
	for s := from; s < until; s *= 2 {
		if err := ev.RotateColumns(ct, s, tmp); err != nil {
			return fmt.Errorf("exec: server: folding rotation: %w", err)
		}
		tally.Op(cost.OpRotate, ct.Level(), 1)
		if err := ev.Add(ct, tmp, ct); err != nil {
			return err
		}
		tally.Op(cost.OpAdd, ct.Level(), 1)
	}
	return nil
}
