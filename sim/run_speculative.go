package sim

import (
	"fmt"
	"math"

	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/model"
)

// The run engine's speculative operations (strategy_speculative.go): the
// client's draft in plaintext, the accept protocol, the cache's rollback.

// specDraw is a sampled pass's coins: the draft's distributions q_i of
// its proposals and the client's uniforms r_i, and the server's uniform u
// (model.Sampler.SpecRand).
type specDraw struct {
	q [][]float64
	r []float64
	u float64
}

// Propose runs the client's draft (RunOptions.Draft) after prefix, on the
// client's side in plaintext: at most min(gamma, most) tokens, greedy or
// drawn at the sampler's temperature (model.ProposeSampled, with the
// pass's coins: model.Sampler.SpecRand of the tokens chosen so far). The
// draft's own cache follows the prefix: it keeps what the prefix shares
// with what it was fed and runs the rest.
func (r *Runner) Propose(prefix []int, most int) ([]int, error) {
	k := min(r.gamma, most)
	if k <= 0 || len(prefix) == 0 {
		return nil, nil
	}
	if r.draft == nil {
		return nil, fmt.Errorf("sim: run: a speculative step without a draft model")
	}
	c := 0
	for c < len(r.dfed) && c < len(prefix) && r.dfed[c] == prefix[c] {
		c++
	}
	c = min(c, len(prefix)-1) // the last token is fed again, for its logits
	if err := r.dstate.Truncate(c); err != nil {
		return nil, err
	}
	r.dfed = r.dfed[:c]
	var logits []float64
	for _, tok := range prefix[c:] {
		var err error
		if logits, err = r.draft.Forward(r.dstate, tok); err != nil {
			return nil, fmt.Errorf("sim: draft: %w", err)
		}
		r.dfed = append(r.dfed, tok)
	}
	var out []int
	var err error
	if r.sampler.Greedy() {
		out, err = model.Propose(r.draft, r.dstate, logits, k)
	} else {
		client, u := r.sampler.SpecRand(r.picks)
		r.draw = specDraw{u: u}
		if out, r.draw.q, err = model.ProposeSampled(r.draft, r.dstate, logits, k, r.sampler, client); err == nil {
			for range out {
				r.draw.r = append(r.draw.r, client.Float64())
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sim: draft: %w", err)
	}
	r.dfed = append(r.dfed, out...)
	return out, nil
}

// Verify runs the accept protocol on the rows of logits and the client's
// drafts (and, sampled, the pass's coins): the client learns the accepted
// count and the token, the server the count.
func (r *Runner) Verify(v Value, drafts []int) (int, int, error) {
	x, err := r.asShares(v)
	if err != nil {
		return 0, 0, err
	}
	if x.rows != len(drafts)+1 || len(drafts) == 0 {
		return 0, 0, fmt.Errorf("sim: verifying %d draft tokens with %d rows of logits", len(drafts), x.rows)
	}
	st := r.plan.acceptStep(x.rows, x.cols, x.scale)
	in, err := r.draftShares(drafts, x.cols, st.inputBits())
	if err != nil {
		return 0, 0, err
	}
	a, tok, err := st.Run(r, r.pair(x.c, x.s), in)
	if err == nil {
		r.proposed, r.accepted = append(r.proposed, len(drafts)), append(r.accepted, a)
		r.picks += a + 1
	}
	return a, tok, err
}

// draftShares is the client's draft as the accept step takes it, its own
// input (the server's shares zeros), and the server's uniform (the
// client's share 0), in the fixed point: r·q(x) rounded up and q rounded
// with g fractional bits (mpc.AcceptSampled.InputBits), u rounded down
// with f so that u·W stays below W.
func (r *Runner) draftShares(drafts []int, n, g int) (draftShares, error) {
	var in draftShares
	own := func(v []uint64) mpc.Pair { return r.pair(v, make([]uint64, len(v))) }
	d := make([]uint64, len(drafts))
	for i, t := range drafts {
		if t < 0 || t >= n {
			return in, fmt.Errorf("sim: draft token %d outside the vocabulary of %d", t, n)
		}
		d[i] = uint64(t)
	}
	in.tokens = own(d)
	if r.sampler.Greedy() {
		return in, nil
	}
	w := r.draw
	if len(w.q) != len(drafts) || len(w.r) != len(drafts) {
		return in, fmt.Errorf("sim: verifying %d sampled draft tokens with the coins of %d", len(drafts), len(w.q))
	}
	f := r.q.fp.FracBits
	hot, v, q := make([]uint64, len(drafts)*n), make([]uint64, len(drafts)), make([]uint64, len(drafts)*n)
	for i, t := range drafts {
		hot[i*n+t] = 1
		x := w.r[i] * w.q[i][t]
		if !(x >= 0 && x <= 1) {
			return in, fmt.Errorf("sim: a draft's r·q(x) of %v, want a probability", x)
		}
		v[i] = uint64(math.Ceil(math.Ldexp(x, g))) // in [0, 2^g]
		for j, p := range w.q[i] {
			var err error
			if q[i*n+j], err = r.q.enc(p, g); err != nil {
				return in, err
			}
		}
	}
	u := uint64(math.Floor(math.Ldexp(w.u, f)))
	in.hot, in.v, in.q, in.u = own(hot), own(v), own(q), r.pair([]uint64{0}, []uint64{u})
	return in, nil
}

// Rollback drops the cached tokens at pos and after (kv's Truncate: no
// cryptography, nothing recorded).
func (r *Runner) Rollback(pos int) error {
	if r.fcache == nil {
		return fmt.Errorf("sim: rollback without the feature-major cache")
	}
	if err := r.fcache.Truncate(pos); err != nil {
		return err
	}
	for l := range r.ctx {
		r.ctx[l] = pos
	}
	return nil
}

// Propose returns min(gamma, most) placeholder tokens: an estimate has no
// draft.
func (e *Estimator) Propose(_ []int, most int) ([]int, error) {
	return make([]int, max(min(e.spec.gamma, most), 0)), nil
}

// Verify records the accept protocol and returns the accepted count of
// the acceptance model (specModel) and token 0.
func (e *Estimator) Verify(v Value, drafts []int) (int, int, error) {
	s, err := asShape(v)
	if err != nil {
		return 0, 0, err
	}
	if s.rows != len(drafts)+1 || len(drafts) == 0 {
		return 0, 0, fmt.Errorf("sim: verifying %d draft tokens with %d rows of logits", len(drafts), s.rows)
	}
	e.rec(KindArgmax, e.plan.estAccept(s.rows, s.cols, s.scale))
	a, err := e.spec.next(len(drafts))
	return a, 0, err
}

// Rollback drops the cached tokens at pos and after: nothing to record.
func (e *Estimator) Rollback(pos int) error {
	for l := range e.ctx {
		e.ctx[l] = pos
	}
	return nil
}

// specModel is the estimate's acceptance: the counts of accepted, in
// order, if not nil (a run's, replayed: each at most its pass's
// proposals, every one used), else each proposal accepted with
// probability rate until the first rejection, drawn from a fixed
// low-discrepancy sequence (u_n = frac(n·φ), accepted iff u_n < rate), so
// that an estimate is reproducible and the acceptance of its passes,
// accepted / (accepted + rejected), is rate up to the sequence's
// discrepancy. The zero value accepts nothing: the most passes, which is
// what a session's budget is sized for.
type specModel struct {
	gamma    int
	rate     float64
	accepted []int
	draws    int   // the sequence's draws so far
	made     []int // the counts returned so far
	proposed []int // and the proposals of each step
}

// goldenFrac is frac(φ), φ the golden ratio: the additive recurrence's
// step of least discrepancy.
const goldenFrac = 0.6180339887498949

// next is the accepted count of the next step of k proposals.
func (m *specModel) next(k int) (int, error) {
	var a int
	if m.accepted != nil {
		i := len(m.made)
		if i >= len(m.accepted) {
			return 0, fmt.Errorf("sim: the replayed accepted counts end after %d verification passes; the generation makes more", len(m.accepted))
		}
		if a = m.accepted[i]; a < 0 || a > k {
			return 0, fmt.Errorf("sim: replayed pass %d accepts %d proposals of %d", i, a, k)
		}
	} else {
		for a < k {
			m.draws++
			u := float64(m.draws) * goldenFrac
			if u-float64(int(u)) >= m.rate {
				break
			}
			a++
		}
	}
	m.made, m.proposed = append(m.made, a), append(m.proposed, k)
	return a, nil
}

// done checks that a replay used every count it was given.
func (m *specModel) done() error {
	if m.accepted != nil && len(m.made) != len(m.accepted) {
		return fmt.Errorf("sim: %d accepted counts replayed for a generation of %d verification passes", len(m.accepted), len(m.made))
	}
	return nil
}
