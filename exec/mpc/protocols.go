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

// run is the common frame of every Run: check the inputs, fetch the
// material, run the body.
func run(s *Session, cfg Config, name string, proto Protocol, shape error, inputs []Pair, lens []int, body func() (shared, error)) (Pair, error) {
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
	out, err := body()
	if err != nil {
		return Pair{}, fmt.Errorf("mpc: %s: %w", name, err)
	}
	return out.pair(cfg.Ring), nil
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
	return run(s, m.Config, "mul", m, positive("length", m.N), []Pair{x, y}, []int{m.N, m.N}, func() (shared, error) {
		if m.Fixed {
			return s.mulFix(fromPair(x), fromPair(y))
		}
		return s.mul(fromPair(x), fromPair(y))
	})
}

// ----- Trunc -----

// Trunc divides N shared values by 2^f (fixed-point rescaling after a
// product), in one round. See the package documentation for its range and
// error.
type Trunc struct {
	Config
	N int
}

func (t Trunc) plan() *plan { p := newPlan(t.Config); p.trunc(t.N); return p }

// Need is the dealer material of one Run.
func (t Trunc) Need() Need { return t.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (t Trunc) Estimate() cost.Cost { return t.plan().estimate() }

// Run returns shares of x / 2^f.
func (t Trunc) Run(s *Session, x Pair) (Pair, error) {
	return run(s, t.Config, "trunc", t, positive("length", t.N), []Pair{x}, []int{t.N}, func() (shared, error) {
		return s.trunc(fromPair(x))
	})
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
	return run(s, g.Config, "sign", g, positive("length", g.N), []Pair{x}, []int{g.N}, func() (shared, error) {
		return s.sign(fromPair(x))
	})
}

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
	return run(s, m.Config, "max", m, shape, []Pair{x}, []int{m.Rows * m.Cols}, func() (shared, error) {
		v, _, err := s.maxRows(fromPair(x), m.lens(), false)
		return v, err
	})
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
	var pos uint64
	_, err := run(s, a.Config, "argmax", a, positive("length", a.N), []Pair{x}, []int{a.N}, func() (shared, error) {
		_, idx, err := s.maxRows(fromPair(x), []int{a.N}, true)
		if err != nil {
			return shared{}, err
		}
		v, err := s.revealToClient(idx)
		if err != nil {
			return shared{}, err
		}
		pos = v[0]
		return shared{}, nil
	})
	if err != nil {
		return -1, err
	}
	if pos >= uint64(a.N) {
		return -1, fmt.Errorf("mpc: argmax: revealed position %d out of [0, %d)", pos, a.N)
	}
	return int(pos), nil
}

// ----- Exp -----

// Exp returns e^x for N shared values x <= 0 (as after subtracting a
// maximum): (1 + x/256)^256 by 8 squarings, and 0 below -16.
type Exp struct {
	Config
	N int
}

func (e Exp) plan() *plan { p := newPlan(e.Config); p.exp(e.N); return p }

// Need is the dealer material of one Run.
func (e Exp) Need() Need { return e.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (e Exp) Estimate() cost.Cost { return e.plan().estimate() }

// Run returns shares of e^x.
func (e Exp) Run(s *Session, x Pair) (Pair, error) {
	return run(s, e.Config, "exp", e, positive("length", e.N), []Pair{x}, []int{e.N}, func() (shared, error) {
		return s.exp(fromPair(x))
	})
}

// ----- Reciprocal and Rsqrt -----

// Reciprocal returns 1/x for N shared values in [2^Lo, 2^Hi): Hi-Lo-1
// comparisons with powers of two (one batched Sign) give an initial guess
// within ±1/3, then 4 Newton steps.
type Reciprocal struct {
	Config
	N      int
	Lo, Hi int // the input range is [2^Lo, 2^Hi)
}

func rangeErr(lo, hi, f int) error {
	if lo >= hi || lo < 4-f || hi > 40 {
		return fmt.Errorf("range [2^%d, 2^%d) is empty or beyond [2^%d, 2^40)", lo, hi, 4-f)
	}
	return nil
}

func (q Reciprocal) plan() *plan { p := newPlan(q.Config); p.reciprocal(q.N, q.Lo, q.Hi); return p }

// Need is the dealer material of one Run.
func (q Reciprocal) Need() Need { return q.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (q Reciprocal) Estimate() cost.Cost { return q.plan().estimate() }

// Run returns shares of 1/x.
func (q Reciprocal) Run(s *Session, x Pair) (Pair, error) {
	shape := firstErr(positive("length", q.N), rangeErr(q.Lo, q.Hi, frac(q.Config)))
	return run(s, q.Config, "reciprocal", q, shape, []Pair{x}, []int{q.N}, func() (shared, error) {
		return s.reciprocal(fromPair(x), q.Lo, q.Hi)
	})
}

// Rsqrt returns 1/sqrt(x) for N shared values in [2^Lo, 2^Hi): an
// octave-based guess, then 4 Newton steps.
type Rsqrt struct {
	Config
	N      int
	Lo, Hi int // the input range is [2^Lo, 2^Hi)
}

func (q Rsqrt) plan() *plan { p := newPlan(q.Config); p.rsqrt(q.N, q.Lo, q.Hi); return p }

// Need is the dealer material of one Run.
func (q Rsqrt) Need() Need { return q.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (q Rsqrt) Estimate() cost.Cost { return q.plan().estimate() }

// Run returns shares of 1/sqrt(x).
func (q Rsqrt) Run(s *Session, x Pair) (Pair, error) {
	shape := firstErr(positive("length", q.N), rangeErr(q.Lo, q.Hi, frac(q.Config)))
	return run(s, q.Config, "rsqrt", q, shape, []Pair{x}, []int{q.N}, func() (shared, error) {
		return s.rsqrt(fromPair(x), q.Lo, q.Hi)
	})
}

// ----- Softmax -----

// Softmax normalizes each row of a Rows x Cols shared matrix (row-major):
// exp(x - max) / Σ exp(x - max). With Causal, row i only sees its first
// Cols - Rows + 1 + i entries (the queries are the last Rows positions of
// Cols keys); the others are output as 0 and cost nothing. Several heads
// are batched by stacking their rows.
type Softmax struct {
	Config
	Rows, Cols int
	Causal     bool
}

func (m Softmax) lens() []int {
	lens := repeat(m.Cols, m.Rows)
	if m.Causal {
		for i := range lens {
			lens[i] = m.Cols - m.Rows + 1 + i
		}
	}
	return lens
}

func (m Softmax) shape() error {
	if err := firstErr(positive("rows", m.Rows), positive("columns", m.Cols)); err != nil {
		return err
	}
	if m.Causal && m.Rows > m.Cols {
		return fmt.Errorf("causal softmax of %d rows over %d columns: more queries than keys", m.Rows, m.Cols)
	}
	return nil
}

// sumRange is the octave range of a row sum: [1, Cols] ⊂ [2^0, 2^Hi).
func (m Softmax) sumRange() (int, int) { return 0, bits.Len(uint(m.Cols)) }

func (m Softmax) plan() *plan {
	p := newPlan(m.Config)
	lens := m.lens()
	n := sum(lens)
	p.maxRows(lens, false)
	p.affine(n)
	p.exp(n)
	p.sumRows(n)
	lo, hi := m.sumRange()
	p.reciprocal(len(lens), lo, hi)
	p.mulFix(n)
	return p
}

// Need is the dealer material of one Run.
func (m Softmax) Need() Need { return m.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (m Softmax) Estimate() cost.Cost { return m.plan().estimate() }

// Run returns shares of the Rows x Cols probabilities.
func (m Softmax) Run(s *Session, x Pair) (Pair, error) {
	return run(s, m.Config, "softmax", m, m.shape(), []Pair{x}, []int{m.Rows * m.Cols}, func() (shared, error) {
		r := s.cfg.Ring
		lens := m.lens()
		xs := fromPair(x)
		var parts []shared
		for i, l := range lens {
			parts = append(parts, xs.part(i*m.Cols, i*m.Cols+l))
		}
		v := concat(parts...)
		mx, _, err := s.maxRows(v, lens, false)
		if err != nil {
			return shared{}, err
		}
		d := s.affine(1, v, r.Neg(1), broadcast(mx, lens), 0)
		e, err := s.exp(d)
		if err != nil {
			return shared{}, err
		}
		lo, hi := m.sumRange()
		inv, err := s.reciprocal(s.sumRows(e, lens), lo, hi)
		if err != nil {
			return shared{}, err
		}
		pr, err := s.mulFix(e, broadcast(inv, lens))
		if err != nil {
			return shared{}, err
		}
		// Scatter back into the full matrix; masked entries are 0.
		out := shared{make([]uint64, m.Rows*m.Cols), make([]uint64, m.Rows*m.Cols)}
		off := 0
		for i, l := range lens {
			for role := range out {
				copy(out[role][i*m.Cols:], pr[role][off:off+l])
			}
			off += l
		}
		return out, nil
	})
}

// ----- SiLU and GELU -----

// SiLU returns x·σ(x) for N shared values (llama's gate): σ from e^-|x|
// and a reciprocal on [1, 2], with x·σ(x) = relu(x) beyond |x| >= 16.
type SiLU struct {
	Config
	N int
}

func (u SiLU) plan() *plan { p := newPlan(u.Config); p.xSigmoid(u.N); return p }

// Need is the dealer material of one Run.
func (u SiLU) Need() Need { return u.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (u SiLU) Estimate() cost.Cost { return u.plan().estimate() }

// Run returns shares of SiLU(x).
func (u SiLU) Run(s *Session, x Pair) (Pair, error) {
	return run(s, u.Config, "silu", u, positive("length", u.N), []Pair{x}, []int{u.N}, func() (shared, error) {
		xs := fromPair(x)
		return s.xSigmoid(xs, xs, siluClip)
	})
}

const (
	siluClip = 16.0 // σ(x) is within 1.2e-7 of 0 or 1 beyond
	geluClip = 8.0  // 2·sqrt(2/π)(x + 0.044715x³) is beyond 49 at |x| = 8
)

// GELU returns GPT-2's tanh form 0.5x(1 + tanh(u)) = x·σ(2u),
// u = sqrt(2/π)(x + 0.044715x³), for N shared values: two products for x³,
// one public product, then as SiLU with the saturation at |x| >= 8.
type GELU struct {
	Config
	N int
}

func (g GELU) plan() *plan {
	p := newPlan(g.Config)
	p.mulFix(g.N)
	p.mulFix(g.N)
	p.affine(g.N)
	p.trunc(g.N)
	p.xSigmoid(g.N)
	return p
}

// Need is the dealer material of one Run.
func (g GELU) Need() Need { return g.plan().need }

// Estimate is the cost of one Run, offline bytes included.
func (g GELU) Estimate() cost.Cost { return g.plan().estimate() }

// Run returns shares of GELU(x).
func (g GELU) Run(s *Session, x Pair) (Pair, error) {
	return run(s, g.Config, "gelu", g, positive("length", g.N), []Pair{x}, []int{g.N}, func() (shared, error) {
		r := s.cfg.Ring
		xs := fromPair(x)
		x2, err := s.mulFix(xs, xs)
		if err != nil {
			return shared{}, err
		}
		x3, err := s.mulFix(x2, xs)
		if err != nil {
			return shared{}, err
		}
		c1 := 2 * math.Sqrt(2/math.Pi)
		z, err := s.trunc(s.affine(r.Encode(c1), xs, r.Encode(c1*0.044715), x3, 0))
		if err != nil {
			return shared{}, err
		}
		return s.xSigmoid(xs, z, geluClip)
	})
}

// ----- RMSNorm and LayerNorm -----

// Default octave range of a norm's variance: [2^-10, 2^16).
const (
	DefaultVarLo = -10
	DefaultVarHi = 16
)

// RMSNorm returns x / sqrt(mean(x²) + Eps) for each row of a Rows x Dim
// shared matrix. The gain is not applied: fold it into the next linear
// layer (W·diag(gain)). VarLo and VarHi bound mean(x²) + Eps to
// [2^VarLo, 2^VarHi); both zero means the defaults.
type RMSNorm struct {
	Config
	Rows, Dim    int
	Eps          float64
	VarLo, VarHi int
}

func varRange(lo, hi int) (int, int) {
	if lo == 0 && hi == 0 {
		return DefaultVarLo, DefaultVarHi
	}
	return lo, hi
}

func (m RMSNorm) plan() *plan {
	p := newPlan(m.Config)
	p.normTail(m.Rows, m.Dim, m.VarLo, m.VarHi)
	return p
}

func (p *plan) normTail(rows, dim, vlo, vhi int) {
	n := rows * dim
	lo, hi := varRange(vlo, vhi)
	p.mulFix(n)
	p.sumRows(n)
	p.scale(rows, 1/float64(dim))
	p.addConst(rows)
	p.rsqrt(rows, lo, hi)
	p.mulFix(n)
}

// normTail computes x / sqrt(mean(x²) + eps) row by row.
func (s *Session) normTail(x shared, rows, dim int, eps float64, vlo, vhi int) (shared, error) {
	r := s.cfg.Ring
	lo, hi := varRange(vlo, vhi)
	lens := repeat(dim, rows)
	sq, err := s.mulFix(x, x)
	if err != nil {
		return shared{}, err
	}
	v, err := s.scale(s.sumRows(sq, lens), 1/float64(dim))
	if err != nil {
		return shared{}, err
	}
	y, err := s.rsqrt(s.addConst(v, r.Encode(eps)), lo, hi)
	if err != nil {
		return shared{}, err
	}
	return s.mulFix(x, broadcast(y, lens))
}

func (m RMSNorm) shape() error {
	lo, hi := varRange(m.VarLo, m.VarHi)
	return firstErr(positive("rows", m.Rows), positive("dimension", m.Dim), rangeErr(lo, hi, frac(m.Config)), epsErr(m.Eps))
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
	return run(s, m.Config, "rmsnorm", m, m.shape(), []Pair{x}, []int{m.Rows * m.Dim}, func() (shared, error) {
		return s.normTail(fromPair(x), m.Rows, m.Dim, m.Eps, m.VarLo, m.VarHi)
	})
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

func (m LayerNorm) plan() *plan {
	p := newPlan(m.Config)
	n := m.Rows * m.Dim
	p.sumRows(n)
	p.scale(m.Rows, 1/float64(m.Dim))
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
	return run(s, m.Config, "layernorm", m, shape, []Pair{x}, []int{m.Rows * m.Dim}, func() (shared, error) {
		r := s.cfg.Ring
		lens := repeat(m.Dim, m.Rows)
		xs := fromPair(x)
		mu, err := s.scale(s.sumRows(xs, lens), 1/float64(m.Dim))
		if err != nil {
			return shared{}, err
		}
		d := s.affine(1, xs, r.Neg(1), broadcast(mu, lens), 0)
		return s.normTail(d, m.Rows, m.Dim, m.Eps, m.VarLo, m.VarHi)
	})
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
