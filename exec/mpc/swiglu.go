package mpc

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
)

// SwiGLU returns SiLU(g)·u for N shared pairs (llama's gated feed-forward
// activation) by lookup (Nonlinear = LUT), in 4 rounds where SiLU then a
// fixed-point product take 5. g and u carry Scale fractional bits beyond
// f (the fused W1|W3 projection's output left untruncated: Scale = f;
// 0: f bits).
//
// The first round is SiLU's (activation_lut.go: the comparisons and the
// lookup of the line (A, B) at g's bin) with u's truncation beside it.
// The second makes in·A, b_hi·g and B·g (g truncated in the same round,
// fused.go) and in·u. The third multiplies each of SiLU's three terms by
// u at once, in·A·u, (b_hi·g)·u and in·u·trunc(B·g) (that truncation
// fused with its product), and the fourth truncates their sum: the gated
// product's own truncation. With Raw the sum is returned with 2f
// fractional bits (f beyond f) and the consumer truncates it: the
// feed-forward's second projection, whose output goes to the residual
// stream, which keeps the bits until the next norm truncates it in its
// first round (Config.MaxNormScale): 3 rounds.
type SwiGLU struct {
	Config
	N     int
	Scale int
	Raw   bool
}

var _ Protocol = SwiGLU{}

func (m SwiGLU) bill() *bill {
	p := newBill(m.Config)
	n, r := m.N, p.cfg.Ring
	p.addConst(3 * n)
	p.open(p.cfg.signPiece(2*n), lookupPiece(n, actLookupBits, 2), truncShiftPiece(n, m.Scale))
	p.affine(n)
	p.open(mulPiece(2*n), mulShiftPiece(2*n, m.Scale))
	p.open(mulPiece(2*n), truncMulPiece(n, r.work))
	p.local(4 * n)
	if !m.Raw {
		p.trunc(n, r.frac)
	}
	return p
}

// truncShiftPiece is a truncation by 2^k, none when k is 0.
func truncShiftPiece(n, k int) piece {
	if k == 0 {
		return piece{}
	}
	return truncPiece(n, k)
}

// Need is the dealer material of one Run.
func (m SwiGLU) Need() Need { return m.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (m SwiGLU) Estimate() cost.Cost { return m.bill().estimate() }

func (m SwiGLU) shape() error {
	if m.Nonlinear != LUT {
		return fmt.Errorf("the fused gated activation computes by lookup only (Nonlinear = lut)")
	}
	return firstErr(positive("length", m.N), lutErr(m.Config, siluLUT, m.Scale))
}

// Run returns shares of SiLU(g)·u.
func (m SwiGLU) Run(s *Session, g, u Pair) (Pair, error) {
	return run(s, m.Config, "swiglu", m, m.shape(), []Pair{g, u}, []int{m.N, m.N}, m.play)
}

// play is one party's SwiGLU.
func (m SwiGLU) play(p *party, mine ...[]uint64) ([]uint64, error) {
	r := p.r
	x, u := mine[0], mine[1]
	n, scale := m.N, m.Scale
	var cmp, ut []uint64
	var tab [][]uint64
	pieces := p.lineOps(x, siluLUT, scale, &cmp, &tab)
	if scale > 0 {
		pieces = append(pieces, p.truncOp(u, scale, &ut))
	} else {
		ut = u
	}
	if err := p.open(pieces...); err != nil {
		return nil, err
	}
	hi, inside := p.lineGates(cmp, n)
	// in·A and in·u; b_hi·g and B·g, g truncated to f bits in the round
	var prod, hbx []uint64
	if err := p.open(p.mulOp(concat(inside, inside), concat(tab[0], ut), &prod),
		p.mulShiftOp(concat(x, x), scale, concat(hi, tab[1]), &hbx)); err != nil {
		return nil, err
	}
	// (in·A)·u and (b_hi·g)·u; in·u·trunc(B·g): 2f bits each
	var au, bu []uint64
	if err := p.open(p.mulOp(concat(prod[:n], hbx[:n]), concat(ut, ut), &au),
		p.truncMulOp(hbx[n:], r.work, prod[n:], &bu)); err != nil {
		return nil, err
	}
	sum := make([]uint64, n)
	for i := range sum {
		sum[i] = r.Add(r.Add(au[i], au[n+i]), bu[i])
	}
	p.charge(2 * n)
	if m.Raw {
		return sum, nil
	}
	return p.trunc(sum, r.frac)
}
