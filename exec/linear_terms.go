package exec

import "github.com/cgsim/cgsim/cost"

// The terms of a linear layer's estimate, memoized over the candidates of
// one packing search (Planner.Linear prices hundreds of packings of one
// layer).

// estimateTerms memoizes the terms of Linear.Estimate that depend on few of
// a packing's sizes: the input ciphertexts' transfer and the server's
// share (per token group count), the baby steps (and per baby step count),
// the return of the outputs (per output ciphertext count) and the weights'
// encoding (per diagonal count). Each term is made by the same call as
// without the memo, once per distinct argument, and the estimate adds the
// terms in the same order: a candidate's estimate is the same number
// either way. A nil memo computes every term.
type estimateTerms struct {
	terms map[termKey]cost.Cost
	// sends are the return paths of the terms, a term's key holding the
	// index of its own (a search has one or two).
	sends []returnPath
}

// termKey is one term and every argument it is computed from (besides the
// layer's profile and ring, which a search does not change).
type termKey struct {
	term estimateTerm
	// at is the level the term is priced at, or for termReturn the index
	// of its return path in sends.
	at   int
	n, k int64
}

// estimateTerm names the memoized terms.
type estimateTerm uint8

const (
	termSendInput estimateTerm = iota + 1 // sendInputCost(level, n)
	termPlain                             // plainCost(level, n)
	termHoisted                           // hoistedCost(level, n, k)
	termReturn                            // returnCost(send, n, cores k)
	termWeights                           // WeightsCost: n diagonals at level
)

func newEstimateTerms() *estimateTerms { return &estimateTerms{terms: map[termKey]cost.Cost{}} }

// get is the term k, computed by f once.
func (t *estimateTerms) get(k termKey, f func() cost.Cost) cost.Cost {
	if t == nil {
		return f()
	}
	c, ok := t.terms[k]
	if !ok {
		c = f()
		t.terms[k] = c
	}
	return c
}

// send is the index of sp in sends (added if new; -1 for a nil memo).
func (t *estimateTerms) send(sp returnPath) int {
	if t == nil {
		return -1
	}
	for i, s := range t.sends {
		if s == sp {
			return i
		}
	}
	t.sends = append(t.sends, sp)
	return len(t.sends) - 1
}
