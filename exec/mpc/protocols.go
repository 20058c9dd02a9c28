package mpc

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/cgsim/cgsim/cost"
)

// A Protocol is a two-party computation of a known shape: what it needs
// from the dealer and what it costs are known before any share exists.
type Protocol interface {
	Need() Need
	Estimate() cost.Cost
}

var (
	_ Protocol = Mul{}
	_ Protocol = Trunc{}
	_ Protocol = Sign{}
	_ Protocol = Max{}
	_ Protocol = Argmax{}
	_ Protocol = Exp{}
	_ Protocol = Reciprocal{}
	_ Protocol = Rsqrt{}
	_ Protocol = Softmax{}
	_ Protocol = SiLU{}
	_ Protocol = GELU{}
	_ Protocol = RMSNorm{}
	_ Protocol = LayerNorm{}
)

// play is one party's code of a protocol: it gets its own party (role,
// connection, dealer material) and its own shares of the inputs, in the
// order of the Run's arguments, and returns its own share of the output.
// Every protocol's play is a method of the protocol value with no other
// way to reach a share: the other party's shares never are in its scope.
type play func(p *party, mine ...[]uint64) ([]uint64, error)

// run is the common frame of every Run: check the inputs, fetch the
// material, then run body once per party (Session.each), each party with
// its own shares of the inputs, and assemble the two outputs into a Pair
// after both finished.
func run(s *Session, cfg Config, name string, proto Protocol, shape error, inputs []Pair, lens []int, body play) (Pair, error) {
	if shape != nil {
		return Pair{}, fmt.Errorf("mpc: %s: %w", name, shape)
	}
	if cfg.Ring == nil || cfg.Profile == nil {
		return Pair{}, fmt.Errorf("mpc: %s: incomplete Config (use NewConfig)", name)
	}
	for i, in := range inputs {
		if err := cfg.Ring.check(name, in, lens[i]); err != nil {
			return Pair{}, err
		}
	}
	if err := s.begin(name, cfg, proto.Need()); err != nil {
		return Pair{}, err
	}
	out, err := s.playBoth(inputs, body)
	if err != nil {
		return Pair{}, fmt.Errorf("mpc: %s: %w", name, err)
	}
	return out, nil
}

// playBoth hands each party its own shares of the inputs (index p.role of
// each Pair, and nothing else), runs body for both concurrently and
// returns the outputs as a Pair.
func (s *Session) playBoth(inputs []Pair, body play) (Pair, error) {
	var out [2][]uint64
	err := s.each(func(p *party) error {
		mine := make([][]uint64, len(inputs))
		for i, in := range inputs {
			mine[i] = in[p.role].V
		}
		v, err := body(p, mine...)
		out[p.role] = v
		return err
	})
	if err != nil {
		return Pair{}, err
	}
	t := s.cfg.Ring.t
	return Pair{{Mod: t, V: out[Client]}, {Mod: t, V: out[Server]}}, nil
}

func positive(what string, v int) error {
	if v < 1 {
		return fmt.Errorf("%s is %d, want at least 1", what, v)
	}
	return nil
}

func newPlan(c Config) *plan { return &plan{cfg: c} }

// ----- Mul -----

// Mul multiplies two shared vectors of N elements element-wise with Beaver
// triples, all elements in one round. With Fixed, the product of two
// fixed-point values is truncated back to f fractional bits (a second
// round); without, it is the plain product in Z_t (use it when one factor
// is an integer, such as a comparison bit). Batches of vectors are
// multiplied in one round by concatenating them ([Concat]).
type Mul struct {
	Config
	N     int
	Fixed bool
}

func (m Mul) plan() *plan {
	p := newPlan(m.Config)
	if m.Fixed {
		p.mulFix(m.N)
	} else {
		p.mul(m.N)
	}
	return p
}

// Need is the dealer material of one Run.
func (m Mul) Need() Need { return m.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (m Mul) Estimate() cost.Cost { return m.plan().estimate() }

// Run returns shares of x ⊙ y.
func (m Mul) Run(s *Session, x, y Pair) (Pair, error) {
	return run(s, m.Config, "mul", m, positive("length", m.N), []Pair{x, y}, []int{m.N, m.N}, m.play)
}

// play is one party's Mul: its shares of x and y.
func (m Mul) play(p *party, mine ...[]uint64) ([]uint64, error) {
	x, y := mine[0], mine[1]
	if m.Fixed {
		return p.mulFix(x, y)
	}
	return p.mul(x, y)
}

// ----- Trunc -----

// Trunc divides N shared values by 2^f (fixed-point rescaling after a
// product), in one round. See the package documentation for its range and
// error.
type Trunc struct {
	Config
	N int
}

func (t Trunc) plan() *plan { p := newPlan(t.Config); p.trunc(t.N, frac(t.Config)); return p }

// Need is the dealer material of one Run.
func (t Trunc) Need() Need { return t.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (t Trunc) Estimate() cost.Cost { return t.plan().estimate() }

// Run returns shares of x / 2^f.
func (t Trunc) Run(s *Session, x Pair) (Pair, error) {
	return run(s, t.Config, "trunc", t, positive("length", t.N), []Pair{x}, []int{t.N}, t.play)
}

// play is one party's Trunc.
func (t Trunc) play(p *party, mine ...[]uint64) ([]uint64, error) {
	return p.trunc(mine[0], p.r.frac)
}

// ----- Sign -----

// Sign returns shares of the bits [x_i >= 0] (as plain elements 0 or 1,
// not fixed point) for N shared values. Comparisons a >= b are Sign of
// a - b. It is exact on the whole centered range.
type Sign struct {
	Config
	N int
}

func (g Sign) plan() *plan { p := newPlan(g.Config); p.sign(g.N); return p }

// Need is the dealer material of one Run.
func (g Sign) Need() Need { return g.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (g Sign) Estimate() cost.Cost { return g.plan().estimate() }

// Run returns shares of [x >= 0].
func (g Sign) Run(s *Session, x Pair) (Pair, error) {
	return run(s, g.Config, "sign", g, positive("length", g.N), []Pair{x}, []int{g.N}, g.play)
}

// play is one party's Sign.
func (g Sign) play(p *party, mine ...[]uint64) ([]uint64, error) { return p.sign(mine[0]) }

// ----- Max -----

// Max returns the maximum of each row of a Rows x Cols shared matrix
// (row-major), by a tournament of ceil(log2 Cols) levels.
type Max struct {
	Config
	Rows, Cols int
}

func (m Max) lens() []int { return repeat(m.Cols, m.Rows) }

func (m Max) plan() *plan { p := newPlan(m.Config); p.maxRows(m.lens(), false); return p }

// Need is the dealer material of one Run.
func (m Max) Need() Need { return m.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (m Max) Estimate() cost.Cost { return m.plan().estimate() }

// Run returns shares of the Rows maxima.
func (m Max) Run(s *Session, x Pair) (Pair, error) {
	shape := firstErr(positive("rows", m.Rows), positive("columns", m.Cols))
	return run(s, m.Config, "max", m, shape, []Pair{x}, []int{m.Rows * m.Cols}, m.play)
}

// play is one party's Max.
func (m Max) play(p *party, mine ...[]uint64) ([]uint64, error) {
	v, _, err := p.maxRows(mine[0], m.lens(), false)
	return v, err
}

// ----- Argmax -----

// Argmax finds the position of the largest of N shared values (the first
// one on ties, as model.Argmax) and reveals it to the client only: a
// tournament that carries shares of the position beside the value, then
// the server sends its share of the position.
type Argmax struct {
	Config
	N int
}

func (a Argmax) plan() *plan {
	p := newPlan(a.Config)
	p.maxRows([]int{a.N}, true)
	p.reveal(1)
	return p
}

// Need is the dealer material of one Run.
func (a Argmax) Need() Need { return a.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (a Argmax) Estimate() cost.Cost { return a.plan().estimate() }

// Run returns the position, which only the client learns (the server's
// code never sees it; Run plays both parties and hands it to the caller as
// the client's output).
func (a Argmax) Run(s *Session, x Pair) (int, error) {
	out, err := run(s, a.Config, "argmax", a, positive("length", a.N), []Pair{x}, []int{a.N}, a.play)
	if err != nil {
		return -1, err
	}
	if len(out[Client].V) != 1 {
		return -1, fmt.Errorf("mpc: argmax: the client got %d positions", len(out[Client].V))
	}
	pos := out[Client].V[0] // the client's output; the server's is empty
	if pos >= uint64(a.N) {
		return -1, fmt.Errorf("mpc: argmax: revealed position %d out of [0, %d)", pos, a.N)
	}
	return int(pos), nil
}

// play is one party's Argmax: the client returns the revealed position
// (one element), the server nothing.
func (a Argmax) play(p *party, mine ...[]uint64) ([]uint64, error) {
	_, idx, err := p.maxRows(mine[0], []int{a.N}, true)
	if err != nil {
		return nil, err
	}
	return p.revealToClient(idx)
}

// ----- Exp -----

// Exp returns e^x for N shared values x <= 0 (as after subtracting a
// maximum): (1 + u + u²/2)^64 with u = x/64, by 6 squarings at the working
// precision, and 0 below -16.
type Exp struct {
	Config
	N int
}

func (e Exp) plan() *plan { p := newPlan(e.Config); p.exp(e.N, frac(e.Config)); return p }

// Need is the dealer material of one Run.
func (e Exp) Need() Need { return e.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (e Exp) Estimate() cost.Cost { return e.plan().estimate() }

// Run returns shares of e^x.
func (e Exp) Run(s *Session, x Pair) (Pair, error) {
	return run(s, e.Config, "exp", e, positive("length", e.N), []Pair{x}, []int{e.N}, e.play)
}

// play is one party's Exp.
func (e Exp) play(p *party, mine ...[]uint64) ([]uint64, error) { return p.exp(mine[0], p.r.frac) }

// ----- Reciprocal and Rsqrt -----

// Reciprocal returns 1/x for N shared values in [2^Lo, 2^Hi):
// 2(Hi-Lo)-1 comparisons with the powers of √2 (one round) give an
// initial guess within ±0.172, then 3 Goldschmidt steps at the working
// precision.
type Reciprocal struct {
	Config
	N      int
	Lo, Hi int // the input range is [2^Lo, 2^Hi)
}

// rangeErr checks an octave range [2^lo, 2^hi) of Reciprocal, Rsqrt and
// the norms: lo >= 4 - f (the smallest value has 16 units), hi <= 2·IntBits
// + 2 (mean squares of in-range values fit), and 1/x and 1/sqrt(x) keep at
// least f fractional bits of working precision.
func rangeErr(lo, hi int, c Config) error {
	if c.Ring == nil {
		return nil
	}
	r := c.Ring
	if lo >= hi || lo < 4-r.frac || hi > 2*r.fp.IntBits+2 || min(r.recipPrec(lo), r.rsqrtPrec(lo)) < r.frac {
		return fmt.Errorf("range [2^%d, 2^%d) is empty or beyond [2^%d, 2^%d)", lo, hi, max(4-r.frac, r.minLo()), 2*r.fp.IntBits+2)
	}
	return nil
}

// minLo is the smallest lo whose working precisions are at least f.
func (r *Ring) minLo() int {
	lo := 4 - r.frac
	for min(r.recipPrec(lo), r.rsqrtPrec(lo)) < r.frac {
		lo++
	}
	return lo
}

func (q Reciprocal) plan() *plan {
	p := newPlan(q.Config)
	f := frac(q.Config)
	p.reciprocal(q.N, f, q.Lo, q.Hi, f)
	return p
}

// Need is the dealer material of one Run.
func (q Reciprocal) Need() Need { return q.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (q Reciprocal) Estimate() cost.Cost { return q.plan().estimate() }

// Run returns shares of 1/x.
func (q Reciprocal) Run(s *Session, x Pair) (Pair, error) {
	shape := firstErr(positive("length", q.N), rangeErr(q.Lo, q.Hi, q.Config))
	return run(s, q.Config, "reciprocal", q, shape, []Pair{x}, []int{q.N}, q.play)
}

// play is one party's Reciprocal.
func (q Reciprocal) play(p *party, mine ...[]uint64) ([]uint64, error) {
	f := p.r.frac
	return p.reciprocal(mine[0], f, q.Lo, q.Hi, f)
}

// Rsqrt returns 1/sqrt(x) for N shared values in [2^Lo, 2^Hi): a guess
// from the half-octave bins (one round of comparisons), then 2
// third-order steps.
type Rsqrt struct {
	Config
	N      int
	Lo, Hi int // the input range is [2^Lo, 2^Hi)
}

func (q Rsqrt) plan() *plan {
	p := newPlan(q.Config)
	p.open(p.halfOctaves(q.N, q.Lo, q.Hi)...)
	if q.Ring != nil {
		p.rsqrt(q.N, q.Lo, q.Hi, q.Ring.rsqrtPrec(q.Lo), 0, q.Ring.frac)
	}
	return p
}

// Need is the dealer material of one Run.
func (q Rsqrt) Need() Need { return q.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (q Rsqrt) Estimate() cost.Cost { return q.plan().estimate() }

// Run returns shares of 1/sqrt(x).
func (q Rsqrt) Run(s *Session, x Pair) (Pair, error) {
	shape := firstErr(positive("length", q.N), rangeErr(q.Lo, q.Hi, q.Config))
	return run(s, q.Config, "rsqrt", q, shape, []Pair{x}, []int{q.N}, q.play)
}

// play is one party's Rsqrt.
func (q Rsqrt) play(p *party, mine ...[]uint64) ([]uint64, error) {
	f := p.r.frac
	x := mine[0]
	var b []uint64
	if err := p.open(p.halfOctaves(x, f, q.Lo, q.Hi, &b)...); err != nil {
		return nil, err
	}
	return p.rsqrt(x, b, 1, 0, q.Lo, q.Hi, p.r.rsqrtPrec(q.Lo), 0, f)
}

// ----- Softmax -----

// Softmax normalizes each row of a Rows x Cols shared matrix (row-major):
// exp(x - max) / Σ exp(x - max). Several heads are batched by stacking
// their rows. With Causal, the rows are Heads stacked blocks (0 means one)
// of q = Rows/Heads queries each, the last q positions of Cols keys: row i
// of a block only sees its first Cols - q + 1 + i entries; the others are
// output as 0 and cost nothing (a prefill's causal attention, all heads in
// one Run, handles about half the entries of full rows).
type Softmax struct {
	Config
	Rows, Cols int
	Causal     bool
	Heads      int
}

// queries is the number of rows of a causal block (at least 1, so that
// Need and Estimate of a shape Run would refuse do not divide by zero).
func (m Softmax) queries() int {
	if m.Heads <= 1 || m.Heads > m.Rows {
		return max(m.Rows, 1)
	}
	return m.Rows / m.Heads
}

func (m Softmax) lens() []int {
	lens := repeat(m.Cols, m.Rows)
	if m.Causal {
		q := m.queries()
		for i := range lens {
			lens[i] = m.Cols - q + 1 + i%q
		}
	}
	return lens
}

func (m Softmax) shape() error {
	if err := firstErr(positive("rows", m.Rows), positive("columns", m.Cols)); err != nil {
		return err
	}
	if m.Heads < 0 || (m.Heads > 1 && (!m.Causal || m.Rows%m.Heads != 0)) {
		return fmt.Errorf("softmax of %d rows in %d heads (causal %v): Heads must divide the rows of a causal softmax", m.Rows, m.Heads, m.Causal)
	}
	if q := m.queries(); m.Causal && q > m.Cols {
		return fmt.Errorf("causal softmax of %d rows over %d columns: more queries than keys", q, m.Cols)
	}
	return nil
}

// sumRange is the octave range of a row sum: [1, Cols] ⊂ [2^0, 2^Hi).
func (m Softmax) sumRange() (int, int) { return 0, bits.Len(uint(m.Cols)) }

func (m Softmax) plan() *plan {
	p := newPlan(m.Config)
	lens := m.lens()
	n := sum(lens)
	w := p.cfg.Ring.work
	p.maxRows(lens, false)
	p.affine(n)
	p.exp(n, w)
	p.sumRows(n)
	lo, hi := m.sumRange()
	p.reciprocal(len(lens), w, lo, hi, w)
	p.mulTrunc(n, 2*w-p.cfg.Ring.frac)
	return p
}

// Need is the dealer material of one Run.
func (m Softmax) Need() Need { return m.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (m Softmax) Estimate() cost.Cost { return m.plan().estimate() }

// Run returns shares of the Rows x Cols probabilities.
func (m Softmax) Run(s *Session, x Pair) (Pair, error) {
	return run(s, m.Config, "softmax", m, m.shape(), []Pair{x}, []int{m.Rows * m.Cols}, m.play)
}

// play is one party's Softmax.
func (m Softmax) play(p *party, mine ...[]uint64) ([]uint64, error) {
	r := p.r
	lens := m.lens()
	x := mine[0]
	var parts [][]uint64
	for i, l := range lens {
		parts = append(parts, x[i*m.Cols:i*m.Cols+l])
	}
	v := concat(parts...)
	mx, _, err := p.maxRows(v, lens, false)
	if err != nil {
		return nil, err
	}
	w := r.work
	d := p.affine(1, v, r.Neg(1), broadcast(mx, lens), 0)
	e, err := p.exp(d, w)
	if err != nil {
		return nil, err
	}
	lo, hi := m.sumRange()
	inv, err := p.reciprocal(p.sumRows(e, lens), w, lo, hi, w)
	if err != nil {
		return nil, err
	}
	pr, err := p.mulTrunc(e, broadcast(inv, lens), 2*w-r.frac)
	if err != nil {
		return nil, err
	}
	// Scatter back into the full matrix; masked entries are 0.
	out := make([]uint64, m.Rows*m.Cols)
	off := 0
	for i, l := range lens {
		copy(out[i*m.Cols:], pr[off:off+l])
		off += l
	}
	return out, nil
}

// ----- SiLU and GELU -----

// SiLU returns x·σ(x) for N shared values (llama's gate): one round of
// comparisons with 0 and ±16, e^-|x| by the limit formula, a reciprocal on
// [1, 2] by Goldschmidt steps, and x·σ(x) = relu(x) beyond |x| >= 16.
type SiLU struct {
	Config
	N int
}

func (u SiLU) plan() *plan {
	p := newPlan(u.Config)
	r := p.cfg.Ring
	p.open(p.sigmoidSign(u.N))
	p.sigmoidParts(u.N)
	p.mul(2 * u.N)
	p.toPrec(u.N, r.frac+expSquarings, r.work)
	p.sigmoidTail(u.N)
	return p
}

// Need is the dealer material of one Run.
func (u SiLU) Need() Need { return u.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (u SiLU) Estimate() cost.Cost { return u.plan().estimate() }

// Run returns shares of SiLU(x).
func (u SiLU) Run(s *Session, x Pair) (Pair, error) {
	return run(s, u.Config, "silu", u, positive("length", u.N), []Pair{x}, []int{u.N}, u.play)
}

// play is one party's SiLU.
func (u SiLU) play(p *party, mine ...[]uint64) ([]uint64, error) {
	r := p.r
	x := mine[0]
	var g sigmoidBits
	if err := p.open(p.sigmoidSign(x, siluClip, &g)); err != nil {
		return nil, err
	}
	pos, in, q := p.sigmoidParts(g, u.N)
	prod, err := p.mul(concat(q, pos), concat(x, x))
	if err != nil {
		return nil, err
	}
	// q·x has f fractional bits: as q·x/64 it has f + 6.
	uu, err := p.toPrec(prod[:u.N], r.frac+expSquarings, r.work)
	if err != nil {
		return nil, err
	}
	return p.sigmoidTail(x, uu, in, prod[u.N:2*u.N])
}

const (
	siluClip = 16.0 // σ(x) is within 1.2e-7 of 0 or 1 beyond
	geluClip = 8.0  // 2·sqrt(2/π)(x + 0.044715x³) is beyond 49 at |x| = 8
)

// GELU returns GPT-2's tanh form 0.5x(1 + tanh(u)) = x·σ(2u),
// u = sqrt(2/π)(x + 0.044715x³), for N shared values: 2u = x·a with
// a = c1 + c2·x², then as SiLU with the saturation at |x| >= 8. The
// comparisons share their round with x·x.
type GELU struct {
	Config
	N int
}

// geluCoef are c1 = 2·sqrt(2/π) and c2 = 0.044715·c1.
func geluCoef() (float64, float64) {
	c1 := 2 * math.Sqrt(2/math.Pi)
	return c1, c1 * 0.044715
}

func (g GELU) plan() *plan {
	p := newPlan(g.Config)
	r := p.cfg.Ring
	n := g.N
	p.open(p.sigmoidSign(n), mulPiece(n))
	p.sigmoidParts(n)
	p.open(truncPiece(n, r.frac), mulPiece(2*n))
	p.mulPub(n, r.work)
	p.addConst(n)
	p.mul(n)
	p.toPrec(n, 2*r.frac+expSquarings, r.work)
	p.sigmoidTail(n)
	return p
}

// Need is the dealer material of one Run.
func (g GELU) Need() Need { return g.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (g GELU) Estimate() cost.Cost { return g.plan().estimate() }

// Run returns shares of GELU(x).
func (g GELU) Run(s *Session, x Pair) (Pair, error) {
	return run(s, g.Config, "gelu", g, positive("length", g.N), []Pair{x}, []int{g.N}, g.play)
}

// play is one party's GELU.
func (g GELU) play(p *party, mine ...[]uint64) ([]uint64, error) {
	r := p.r
	n := g.N
	x := mine[0]
	var sb sigmoidBits
	var xx []uint64
	if err := p.open(p.sigmoidSign(x, geluClip, &sb), p.mulOp(x, x, &xx)); err != nil {
		return nil, err
	}
	pos, in, q := p.sigmoidParts(sb, n)
	var x2, qp []uint64
	if err := p.open(p.truncOp(xx, r.frac, &x2), p.mulOp(concat(q, pos), concat(x, x), &qp)); err != nil {
		return nil, err
	}
	c1, c2 := geluCoef()
	a, err := p.truncMaybe(p.mulPubRaw(x2, []uint64{r.encodeAt(c2, r.work)}, 0), r.work)
	if err != nil {
		return nil, err
	}
	a = p.addConst(a, r.Encode(c1))
	qz, err := p.mul(qp[:n], a) // q·x·a = q·z with 2f fractional bits
	if err != nil {
		return nil, err
	}
	uu, err := p.toPrec(qz, 2*r.frac+expSquarings, r.work)
	if err != nil {
		return nil, err
	}
	return p.sigmoidTail(x, uu, in, qp[n:2*n])
}

// ----- RMSNorm and LayerNorm -----

// normRange is the octave range of a norm's mean square (plus epsilon):
// the given one, or when both are zero the default
// [2^-10, 2^(2·IntBits+1)), which covers every mean square of in-range
// values and the variances of GPT-2's first LayerNorm (about 1/768).
func normRange(c Config, lo, hi int) (int, int) {
	if lo != 0 || hi != 0 || c.Ring == nil {
		return lo, hi
	}
	return -10, 2*c.Ring.fp.IntBits + 1
}

// RMSNorm returns x / sqrt(mean(x²) + Eps) for each row of a Rows x Dim
// shared matrix. The gain is not applied: fold it into the next linear
// layer (W·diag(gain)). VarLo and VarHi bound mean(x²) + Eps to
// [2^VarLo, 2^VarHi); both zero means the default of the ring (see
// the package documentation).
type RMSNorm struct {
	Config
	Rows, Dim    int
	Eps          float64
	VarLo, VarHi int
}

func (m RMSNorm) plan() *plan {
	p := newPlan(m.Config)
	p.normTail(m.Rows, m.Dim, m.VarLo, m.VarHi)
	return p
}

// normShift is e = ceil(log2 dim): 1/dim = m·2^-e with m in (1/2, 1], and
// the coefficients m·y²/2^e of the inverse square root of the row sum are
// encoded with e more bits.
func normShift(dim int) int { return bits.Len(uint(dim - 1)) }

// normPrec is the working precision of a norm's inverse square root: that
// of rsqrt, less when the product of the row sum (f bits) by the
// coefficients (P + e bits) would leave the truncation range.
func (r *Ring) normPrec(lo, dim int) int {
	return min(r.rsqrtPrec(lo), r.TruncBound()-1-r.frac-normShift(dim))
}

func (p *plan) normTail(rows, dim, vlo, vhi int) {
	r := p.cfg.Ring
	n := rows * dim
	lo, hi := normRange(p.cfg, vlo, vhi)
	P := r.normPrec(lo, dim)
	p.mulFix(n)
	p.sumRows(n)
	p.open(p.halfOctaves(rows, lo, hi)...)
	p.rsqrt(rows, lo, hi, P, normShift(dim), P)
	p.mulTrunc(n, P)
}

// normTail computes x / sqrt(mean(x²) + eps) row by row: the row sums S
// of x² (f fractional bits, not divided) are compared with
// dim·(2^(j/2) - eps), the half-octave bounds of mean + eps, and 1/dim
// goes into the public coefficients of the inverse square root, so that
// the mean keeps the resolution 2^-f/dim.
func (p *party) normTail(x []uint64, rows, dim int, eps float64, vlo, vhi int) ([]uint64, error) {
	r := p.r
	lo, hi := normRange(Config{Ring: r}, vlo, vhi)
	lens := repeat(dim, rows)
	P := r.normPrec(lo, dim)
	sq, err := p.mulFix(x, x)
	if err != nil {
		return nil, err
	}
	sum := p.sumRows(sq, lens)
	var blocks [][]uint64
	for j := 2*lo + 1; j < 2*hi; j++ {
		blocks = append(blocks, p.addConst(sum, r.Neg(r.Encode((math.Pow(2, float64(j)/2)-eps)*float64(dim)))))
	}
	var b []uint64
	if len(blocks) > 0 {
		if err := p.open(p.signOp(concat(blocks...), &b)); err != nil {
			return nil, err
		}
	}
	y, err := p.rsqrt(sum, b, 1/float64(dim), eps, lo, hi, P, normShift(dim), P)
	if err != nil {
		return nil, err
	}
	return p.mulTrunc(x, broadcast(y, lens), P)
}

func (m RMSNorm) shape() error {
	if err := firstErr(positive("rows", m.Rows), positive("dimension", m.Dim), epsErr(m.Eps)); err != nil {
		return err
	}
	lo, hi := normRange(m.Config, m.VarLo, m.VarHi)
	if r := m.Ring; r != nil && (lo >= hi || lo < -r.frac || hi > 2*r.fp.IntBits+2 || r.normPrec(lo, m.Dim) < r.frac) {
		return fmt.Errorf("range [2^%d, 2^%d) is empty or beyond [2^%d, 2^%d)", lo, hi, -r.frac, 2*r.fp.IntBits+2)
	}
	return nil
}

func epsErr(eps float64) error {
	if !(eps >= 0) || eps > 1 {
		return fmt.Errorf("epsilon %v outside [0, 1]", eps)
	}
	return nil
}

// Need is the dealer material of one Run.
func (m RMSNorm) Need() Need { return m.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (m RMSNorm) Estimate() cost.Cost { return m.plan().estimate() }

// Run returns shares of the normalized rows.
func (m RMSNorm) Run(s *Session, x Pair) (Pair, error) {
	return run(s, m.Config, "rmsnorm", m, m.shape(), []Pair{x}, []int{m.Rows * m.Dim}, m.play)
}

// play is one party's RMSNorm.
func (m RMSNorm) play(p *party, mine ...[]uint64) ([]uint64, error) {
	return p.normTail(mine[0], m.Rows, m.Dim, m.Eps, m.VarLo, m.VarHi)
}

// LayerNorm returns (x - mean(x)) / sqrt(var(x) + Eps) for each row of a
// Rows x Dim shared matrix, with the population variance. Gain and bias
// are not applied: fold them into the next linear layer
// (W·diag(gain), W·bias added to its bias). VarLo and VarHi as for RMSNorm.
type LayerNorm struct {
	Config
	Rows, Dim    int
	Eps          float64
	VarLo, VarHi int
}

// meanShift is floor(log2 dim).
func meanShift(dim int) int { return bits.Len(uint(dim)) - 1 }

// The mean of a LayerNorm row: the row sum divided by 2^e (e =
// floor(log2 dim)), then by dim/2^e in [1, 2) as a scaling of values below
// 2^(IntBits+1).
func (m LayerNorm) plan() *plan {
	p := newPlan(m.Config)
	n := m.Rows * m.Dim
	e := meanShift(m.Dim)
	p.sumRows(n)
	p.trunc(m.Rows, e)
	p.scale(m.Rows, math.Ldexp(1, e)/float64(m.Dim), p.cfg.Ring.fp.IntBits+1)
	p.affine(n)
	p.normTail(m.Rows, m.Dim, m.VarLo, m.VarHi)
	return p
}

// Need is the dealer material of one Run.
func (m LayerNorm) Need() Need { return m.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (m LayerNorm) Estimate() cost.Cost { return m.plan().estimate() }

// Run returns shares of the normalized rows.
func (m LayerNorm) Run(s *Session, x Pair) (Pair, error) {
	shape := RMSNorm(m).shape()
	return run(s, m.Config, "layernorm", m, shape, []Pair{x}, []int{m.Rows * m.Dim}, m.play)
}

// play is one party's LayerNorm.
func (m LayerNorm) play(p *party, mine ...[]uint64) ([]uint64, error) {
	r := p.r
	lens := repeat(m.Dim, m.Rows)
	x := mine[0]
	e := meanShift(m.Dim)
	sum, err := p.truncMaybe(p.sumRows(x, lens), e)
	if err != nil {
		return nil, err
	}
	mu, err := p.scale(sum, math.Ldexp(1, e)/float64(m.Dim), r.fp.IntBits+1)
	if err != nil {
		return nil, err
	}
	d := p.affine(1, x, r.Neg(1), broadcast(mu, lens), 0)
	return p.normTail(d, m.Rows, m.Dim, m.Eps, m.VarLo, m.VarHi)
}

// ----- helpers -----

func repeat(v, n int) []int {
	out := make([]int, max(n, 0))
	for i := range out {
		out[i] = v
	}
	return out
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func frac(c Config) int {
	if c.Ring == nil {
		return 0
	}
	return c.Ring.frac
}

// Concat joins pairs of the same ring into one, to batch several vectors
// into one Run.
func Concat(ps ...Pair) Pair {
	var out Pair
	for _, p := range ps {
		for role := range out {
			out[role].Mod = p[role].Mod
			out[role].V = append(out[role].V, p[role].V...)
		}
	}
	return out
}
