package sim

import (
	"fmt"

	"github.com/cgsim/cgsim/model"
)

// The run engine's speculative operations (strategy_speculative.go): the
// client's draft in plaintext, the accept protocol, the cache's rollback.

// Propose runs the client's draft (RunOptions.Draft) greedily after
// prefix, on the client's side in plaintext: at most min(gamma, most)
// tokens. The draft's own cache follows the prefix: it keeps what the
// prefix shares with what it was fed and runs the rest.
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
	out, err := model.Propose(r.draft, r.dstate, logits, k)
	if err != nil {
		return nil, fmt.Errorf("sim: draft: %w", err)
	}
	r.dfed = append(r.dfed, out...)
	return out, nil
}

// Verify runs the accept protocol on the rows of logits and the client's
// drafts; only the client learns the result.
func (r *Runner) Verify(v Value, drafts []int) (int, int, error) {
	x, err := r.asShares(v)
	if err != nil {
		return 0, 0, err
	}
	if x.rows != len(drafts)+1 || len(drafts) == 0 {
		return 0, 0, fmt.Errorf("sim: verifying %d draft tokens with %d rows of logits", len(drafts), x.rows)
	}
	d := make([]uint64, len(drafts))
	for i, t := range drafts {
		if t < 0 || t >= x.cols {
			return 0, 0, fmt.Errorf("sim: draft token %d outside the vocabulary of %d", t, x.cols)
		}
		d[i] = uint64(t)
	}
	a, tok, err := r.plan.acceptStep(x.rows, x.cols).Run(r, r.pair(x.c, x.s), r.pair(d, make([]uint64, len(d))))
	if err == nil {
		r.proposed, r.accepted = append(r.proposed, len(drafts)), append(r.accepted, a)
	}
	return a, tok, err
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
	e.rec(KindArgmax, e.plan.estAccept(s.rows, s.cols))
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
