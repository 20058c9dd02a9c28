package mpc

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/cgsim/cgsim/cost"
)

// AcceptSampled is the verification of a draft in speculative sampling
// (Leviathan et al., 2023; on shares as in POST, ICML 2025), the sampling
// counterpart of [Accept]. Its inputs are Rows rows of N shared logits
// (with Scale fractional bits beyond f), the model's before each of the
// d = Rows-1 draft tokens and after the last, and the client's draft: the
// one-hot rows of its d tokens x_i, the products v_i = r_i·q_i(x_i) of
// its uniforms r_i by the draft's probabilities of them, and the draft's
// d distributions q_i, with InputBits fractional bits (finer than f; v
// rounded up, so that a positive r·q(x) never reads 0 and a token of
// probability 0 is never accepted; q rounded); and the server's uniform u
// in [0, 1) (f bits). The client's inputs are its shares (the server's
// are zeros), the server's u likewise.
//
// With p_i = softmax(logits_i / Temperature), draft token i is accepted
// iff r_i·q_i(x_i) <= p_i(x_i), and a is the number accepted before the
// first rejection. The token after them is drawn from the residual
// max(0, p_a - q_a), normalized (from p_d when every draft token is
// accepted, q_d being 0), by the inverse of its distribution function at
// u. The tokens so generated are distributed as sampling from p alone,
// whatever the draft (p the fixed point's softmax: see below). The client
// learns a and the token; the server
// learns a (it rolls the cache back to it) and nothing of the token.
//
// Nothing is divided: with e_i = exp(z_i - max z_i), z_i = logits_i/T (f
// fractional bits), and S_i = Σ e_i, the test is e_i(x_i)·2^g - v_i·S_i
// >= 0 with g = InputBits: both sides carry f + g fractional bits, and no
// truncation rounds them (one round of products: the one-hot rows by e_i,
// v_i by S_i, and every q_i by S_i for the residual); the
// acceptances' prefix products are Accept's scan, a is their sum, opened
// to both; the residual w = max(0, e_a - q_a·S_a) is a select of row a
// (public now) at that precision, then truncated to f bits, and the token
// is the number of its prefix sums c_j, j < N-1, with c_j <= u·Σ w: N-1
// comparisons, summed locally, opened to the client. 2 <= Rows.
//
// The decisions are those of speculative sampling from the fixed point's
// softmax: a token whose e rounds to 0 (p·S below 2^-(f+1)) has
// probability 0 there, and each residual weight carries its truncation's
// error (below 2^-f of e's unit).
type AcceptSampled struct {
	Config
	Rows, N     int
	Temperature float64
	Scale       int
}

// Fits is an error if the shape, temperature or method cannot run in the
// ring (Run refuses them with it).
func (a AcceptSampled) Fits() error { return a.shape() }

// maxInputBits caps InputBits: the client's products r·q(x) and
// probabilities are float64 (53 bits of mantissa).
const maxInputBits = 40

// InputBits is the fractional bits of the client's inputs v and q: the
// most such that e·2^InputBits and v·S (f + InputBits bits, below
// N·2^(f+InputBits)) stay in the truncation's range, at most
// maxInputBits. shape refuses a ring where it falls below f.
func (a AcceptSampled) InputBits() int {
	if a.Ring == nil {
		return 0
	}
	return min(maxInputBits, a.Ring.TruncBound()-1-a.Ring.frac-bits.Len(uint(a.N)))
}

// lens is the rows' lengths.
func (a AcceptSampled) lens() []int { return repeat(a.N, a.Rows) }

// tempParams is whether the differences are scaled by 1/T and the
// magnitude bits of the values scaled: a difference of two logits.
func (a AcceptSampled) tempParams() (bool, int) {
	return a.Temperature != 1, a.Ring.fp.IntBits + 1
}

func (a AcceptSampled) shape() error {
	if err := firstErr(positive("length", a.N), positive("draft tokens", a.Rows-1), a.methodErr(), scaleErr(a.Config, a.Scale)); err != nil {
		return err
	}
	if a.Nonlinear == LUT {
		if err := expLUTErr(a.Config, 0); err != nil {
			return err
		}
	}
	t := a.Temperature
	if !(t > 0 && !math.IsInf(t, 0)) {
		return fmt.Errorf("temperature %v: want a positive number", t)
	}
	_, mag := a.tempParams()
	if _, k := a.Ring.scaleParams(1/t, mag); k < 0 {
		return fmt.Errorf("temperature %v: too low for this ring (the logits' differences divided by it would leave its range)", t)
	}
	if g := a.InputBits(); g < a.Ring.frac {
		return fmt.Errorf("a vocabulary of %d: probabilities times sums need %d bits, the ring's truncation range has %d", a.N, 2*a.Ring.frac+bits.Len(uint(a.N))+1, a.Ring.TruncBound())
	}
	return nil
}

func (a AcceptSampled) bill() *bill {
	p := newBill(a.Config)
	if a.Rows < 2 || a.N < 1 {
		return p
	}
	d, n, f := a.Rows-1, a.Rows*a.N, a.Ring.frac
	p.rowMax([]rowRun{{a.N, a.Rows}}, false)
	p.affine(n)
	p.trunc(n, a.Scale)
	if scaled, mag := a.tempParams(); scaled {
		p.scale(n, 1/a.Temperature, mag)
	}
	if a.Nonlinear == LUT {
		p.expLUT(n, 0)
		p.trunc(n, f)
	} else {
		p.exp(n, f)
	}
	p.sumRows(n)
	p.open(mulPiece(d*a.N), mulPiece(d), mulPiece(d*a.N))
	p.sumRows(d * a.N)
	p.affine(d)
	p.sign(d)
	p.prefixProducts(d)
	p.sumRows(d)
	p.open(publicPiece(1))
	p.affine(a.N)
	p.selects(a.N, 1)
	p.trunc(a.N, a.InputBits())
	p.sumRows(a.N)
	p.mulTrunc(1, f)
	p.affine(a.N - 1)
	p.sign(a.N - 1)
	p.local(2 * (a.N - 1))
	p.reveal(1)
	return p
}

// Need is the dealer material of one Run.
func (a AcceptSampled) Need() Need { return a.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (a AcceptSampled) Estimate() cost.Cost { return a.bill().estimate() }

// Run returns the accepted count and the token drawn after them, which
// only the client learns (Run plays both parties and hands them to the
// caller as the client's output). hot holds the draft tokens' one-hot
// rows (d x N), v the products r_i·q_i(x_i) (d), q the draft's
// distributions (d x N), u the server's uniform (1).
func (a AcceptSampled) Run(s *Session, logits, hot, v, q, u Pair) (accepted, token int, err error) {
	d := a.Rows - 1
	out, err := run(s, a.Config, "accept-sampled", a, a.shape(), []Pair{logits, hot, v, q, u},
		[]int{a.Rows * a.N, d * a.N, d, d * a.N, 1}, a.play)
	if err != nil {
		return -1, -1, err
	}
	c, sv := out[Client].V, out[Server].V
	if len(c) != 2 || c[0] >= uint64(a.Rows) || c[1] >= uint64(a.N) || len(sv) != 1 || sv[0] != c[0] {
		return -1, -1, fmt.Errorf("mpc: accept-sampled: the client got %v and the server %v, want one count below %d for both and a token below %d", c, sv, a.Rows, a.N)
	}
	return int(c[0]), int(c[1]), nil
}

// play is one party's AcceptSampled: both return the count, the client
// the token after it.
func (a AcceptSampled) play(p *party, mine ...[]uint64) ([]uint64, error) {
	r, d, N, f := p.r, a.Rows-1, a.N, p.r.frac
	logits, hot, v, q, u := mine[0], mine[1], mine[2], mine[3], mine[4]
	lens := a.lens()
	mx, _, err := p.rowMax(a.Nonlinear, logits, lens, false)
	if err != nil {
		return nil, err
	}
	z := p.affine(1, logits, r.Neg(1), broadcast(mx, lens), 0) // <= 0
	if z, err = p.truncMaybe(z, a.Scale); err != nil {
		return nil, err
	}
	if scaled, mag := a.tempParams(); scaled {
		if z, err = p.scale(z, 1/a.Temperature, mag); err != nil {
			return nil, err
		}
	}
	var e []uint64
	if a.Nonlinear == LUT {
		if e, err = p.expLUT(z, 0, f); err == nil {
			e, err = p.trunc(e, f)
		}
	} else {
		e, err = p.exp(z, f)
	}
	if err != nil {
		return nil, err
	}
	S := p.sumRows(e, lens)
	// One round: hot·e, v·S and q·S (the residual's, every row's); v·S and
	// q·S carry f + g fractional bits, compared with e·2^g untruncated.
	g := a.InputBits()
	lift := r.FromInt(1 << g)
	var he, vS, qS []uint64
	sd := broadcast(S[:d], repeat(N, d))
	if err := p.open(p.mulOp(hot, e[:d*N], &he), p.mulOp(v, S[:d], &vS), p.mulOp(q, sd, &qS)); err != nil {
		return nil, err
	}
	ex := p.sumRows(he, repeat(N, d)) // e_i(x_i)
	ok, err := p.sign(p.affine(lift, ex, r.Neg(1), vS, 0))
	if err != nil {
		return nil, err
	}
	pre, err := p.prefixProducts(ok)
	if err != nil {
		return nil, err
	}
	count := uint64(0)
	for _, b := range pre {
		count = r.Add(count, b)
	}
	p.charge(d)
	opened, err := p.openPublic([]uint64{count})
	if err != nil {
		return nil, err
	}
	k := int(opened[0])
	if k > d {
		return nil, fmt.Errorf("opened an accepted count of %d of %d draft tokens", opened[0], d)
	}
	// The residual of row k: w = max(0, e_k - q_k·S_k), q_d = 0.
	qk := make([]uint64, N)
	if k < d {
		qk = qS[k*N : (k+1)*N]
	}
	res := p.affine(lift, e[k*N:(k+1)*N], r.Neg(1), qk, 0)
	_, wg, err := p.selects(res, res)
	if err != nil {
		return nil, err
	}
	w, err := p.trunc(wg[0], g) // f bits
	if err != nil {
		return nil, err
	}
	c := make([]uint64, N) // prefix sums; c[N-1] = Σ w
	acc := uint64(0)
	for j, x := range w {
		acc = r.Add(acc, x)
		c[j] = acc
	}
	p.charge(N)
	uw, err := p.mulTrunc(u, c[N-1:], f)
	if err != nil {
		return nil, err
	}
	below, err := p.sign(p.affine(1, broadcast(uw, []int{N - 1}), r.Neg(1), c[:N-1], 0)) // [c_j <= u·W]
	if err != nil {
		return nil, err
	}
	tok := uint64(0)
	for _, b := range below {
		tok = r.Add(tok, b)
	}
	p.charge(N - 1)
	got, err := p.revealToClient([]uint64{tok})
	if p.role == Server || err != nil {
		return []uint64{opened[0]}, err
	}
	return []uint64{opened[0], got[0]}, nil
}
