package mpc

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
)

// Accept is the verification of a draft in greedy speculative decoding,
// on shares. Its inputs are Rows rows of N shared logits, the model's
// before each of the Rows-1 draft tokens and after the last, and the
// draft tokens, which the client holds (shared as its own input: the
// server's shares are zeros). It reveals to the client only the number a
// of draft tokens, counted from the first, that equal the model's greedy
// choice (the argmax of the row before them, ties to the lower id) and
// the model's choice at row a: the corrected token, or the one after a
// fully accepted draft. The server learns nothing.
//
// The rows' argmax positions stay shared (the tournament of Argmax over
// all rows at once); equality with the draft token is [x >= 0] - [x >= 1]
// of their integer difference x (one round of comparisons); the prefix
// products p_i = eq_1·...·eq_i take ceil(log2(Rows-1)) rounds of products
// (a Hillis-Steele scan of 0/1 values); a = Σ p_i is local, and so is the
// one-hot vector of the stopping row, p_{i-1} - p_i, whose products with
// the positions (one round) sum to the token. Then a and the token go to
// the client. 2 <= Rows.
type Accept struct {
	Config
	Rows, N int
}

func (a Accept) bill() *bill {
	p := newBill(a.Config)
	if a.Rows < 2 || a.N < 1 {
		return p
	}
	d := a.Rows - 1
	p.rowMax([]rowRun{{a.N, a.Rows}}, true)
	p.affine(2 * d)
	p.sign(2 * d)
	p.local(2 * 2 * d)
	p.prefixProducts(d)
	p.local(2 * (2*d + 1))
	p.mul(a.Rows)
	p.local(2 * a.Rows)
	p.reveal(2)
	return p
}

// Need is the dealer material of one Run.
func (a Accept) Need() Need { return a.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (a Accept) Estimate() cost.Cost { return a.bill().estimate() }

// Run returns the accepted count and the model's token at that row, which
// only the client learns (Run plays both parties and hands them to the
// caller as the client's output). drafts holds the Rows-1 draft tokens as
// the client's shares (the server's zeros).
func (a Accept) Run(s *Session, logits, drafts Pair) (accepted, token int, err error) {
	shape := firstErr(positive("length", a.N), positive("draft tokens", a.Rows-1))
	out, err := run(s, a.Config, "accept", a, shape, []Pair{logits, drafts}, []int{a.Rows * a.N, a.Rows - 1}, a.play)
	if err != nil {
		return -1, -1, err
	}
	v := out[Client].V // the client's output; the server's is empty
	if len(v) != 2 || v[0] >= uint64(a.Rows) || v[1] >= uint64(a.N) {
		return -1, -1, fmt.Errorf("mpc: accept: the client got %v, want a count below %d and a token below %d", v, a.Rows, a.N)
	}
	return int(v[0]), int(v[1]), nil
}

// prefixProducts returns the prefix products x_0·...·x_i of shared 0/1
// values by a Hillis-Steele scan: ceil(log2 n) rounds, n - 2^k products
// at round k.
func (p *party) prefixProducts(x []uint64) ([]uint64, error) {
	n := len(x)
	for step := 1; step < n; step *= 2 { // x_i ← x_i · x_{i-step}
		prod, err := p.mul(x[step:], x[:n-step])
		if err != nil {
			return nil, err
		}
		x = append(x[:step:step], prod...)
	}
	return x, nil
}

func (p *bill) prefixProducts(n int) {
	for step := 1; step < n; step *= 2 {
		p.mul(n - step)
	}
}

// play is one party's Accept: the client returns the count and the token,
// the server nothing.
func (a Accept) play(p *party, mine ...[]uint64) ([]uint64, error) {
	r, d := p.r, a.Rows-1
	_, idx, err := p.rowMax(a.Nonlinear, mine[0], repeat(a.N, a.Rows), true)
	if err != nil {
		return nil, err
	}
	// x_i = idx_i - draft_i, and x_i - 1: eq_i = [x_i >= 0] - [x_i - 1 >= 0].
	x := p.affine(1, idx[:d], r.Neg(1), mine[1], 0)
	xm := p.affine(1, idx[:d], r.Neg(1), mine[1], r.Neg(1))
	ge, err := p.sign(concat(x, xm))
	if err != nil {
		return nil, err
	}
	pre := make([]uint64, d)
	for i := range pre {
		pre[i] = r.Sub(ge[i], ge[d+i])
	}
	p.charge(2 * d)
	if pre, err = p.prefixProducts(pre); err != nil {
		return nil, err
	}
	// a = Σ pre_i; the stopping row's one-hot: 1 - pre_0, pre_{i-1} - pre_i,
	// pre_{d-1}.
	count := uint64(0)
	stop := make([]uint64, a.Rows)
	for i := range a.Rows {
		if i < d {
			count = r.Add(count, pre[i])
		}
		switch {
		case i == 0:
			stop[0] = r.Neg(pre[0])
			if p.role == Client {
				stop[0] = r.Add(stop[0], 1)
			}
		case i == d:
			stop[i] = pre[d-1]
		default:
			stop[i] = r.Sub(pre[i-1], pre[i])
		}
	}
	p.charge(2*d + 1)
	sel, err := p.mul(stop, idx)
	if err != nil {
		return nil, err
	}
	tok := uint64(0)
	for _, v := range sel {
		tok = r.Add(tok, v)
	}
	p.charge(a.Rows)
	return p.revealToClient([]uint64{count, tok})
}
