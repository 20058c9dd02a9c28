package model

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
)

// Speculative decoding in plaintext, greedy or sampled: the reference of
// the secure speculative strategy (package sim), step by step as it runs.

// Propose returns the k tokens draft proposes greedily after logits, its
// logits at st's position, and feeds them to st, so that a fully accepted
// proposal leaves st in step (a rejected one is dropped by
// State.Truncate).
func Propose(draft *Model, st *State, logits []float64, k int) ([]int, error) {
	toks, _, err := propose(draft, st, logits, k, Sampler{}, nil)
	return toks, err
}

// ProposeSampled is Propose drawing each token from the draft's
// softmax(logits/T), T = s.Temperature, by the inverse of its distribution
// function at a uniform of rng; it also returns those distributions q_i,
// which speculative sampling compares with the model's.
func ProposeSampled(draft *Model, st *State, logits []float64, k int, s Sampler, rng *rand.Rand) ([]int, [][]float64, error) {
	return propose(draft, st, logits, k, s, rng)
}

func propose(draft *Model, st *State, logits []float64, k int, s Sampler, rng *rand.Rand) ([]int, [][]float64, error) {
	out := make([]int, 0, k)
	var qs [][]float64
	for len(out) < k {
		var tok int
		if s.Greedy() {
			tok = Argmax(logits)
		} else {
			q := Probabilities(logits, s.Temperature)
			tok = InverseCDF(q, rng.Float64())
			qs = append(qs, q)
		}
		out = append(out, tok)
		var err error
		if logits, err = draft.Forward(st, tok); err != nil {
			return nil, nil, err
		}
	}
	return out, qs, nil
}

// Probabilities returns softmax(logits/temp).
func Probabilities(logits []float64, temp float64) []float64 {
	p := make([]float64, len(logits))
	for i, v := range logits {
		p[i] = v / temp
	}
	Softmax(p)
	return p
}

// InverseCDF returns the first j whose prefix sum w_0 + ... + w_j exceeds
// u·Σw, for weights w >= 0 and u in [0, 1): a draw from w normalized; the
// last index if none does (all weights 0).
func InverseCDF(w []float64, u float64) int {
	j, _ := inverseCDF(w, u)
	return j
}

// inverseCDF is InverseCDF and the draw's margin (SpecStats.Margin).
func inverseCDF(w []float64, u float64) (int, float64) {
	total := 0.0
	for _, x := range w {
		total += x
	}
	if total == 0 {
		return len(w) - 1, 0
	}
	c, at := 0.0, u*total
	for j, x := range w[:len(w)-1] {
		if c+x > at {
			return j, min(at-c, c+x-at) / total
		}
		c += x
	}
	return len(w) - 1, (at - c) / total
}

// SpecRand is the randomness of the speculative pass whose first new
// token is the step-th generated (from 0), a function of (Seed, step)
// only. Client is the client's stream: the draft's tokens (one uniform
// each, ProposeSampled), then one uniform r_i per proposal for its
// acceptance test. Residual is the server's uniform u, at which the
// pass's last token is drawn from the residual distribution.
func (s Sampler) SpecRand(step int) (client *rand.Rand, residual float64) {
	stream := func(domain string) *rand.Rand {
		var seed [32]byte
		copy(seed[:], domain)
		binary.LittleEndian.PutUint64(seed[16:], s.Seed)
		binary.LittleEndian.PutUint64(seed[24:], uint64(step))
		return rand.New(rand.NewChaCha8(seed))
	}
	return stream("cgsim/spec-draft"), stream("cgsim/spec-resid").Float64()
}

// Accepts is speculative sampling's test of a proposal x drawn from q:
// accepted iff r·q(x) <= p(x), r the client's uniform, p the model's
// probabilities.
func Accepts(p, q []float64, x int, r float64) bool { return r*q[x] <= p[x] }

// Residual returns max(0, p - q), unnormalized: the distribution the
// token after a rejected proposal is drawn from (p itself when q is nil:
// after a fully accepted draft).
func Residual(p, q []float64) []float64 {
	w := make([]float64, len(p))
	for j := range p {
		w[j] = p[j]
		if q != nil {
			w[j] = max(0, p[j]-q[j])
		}
	}
	return w
}

// GenerateSpeculative is speculative decoding, step by step as the secure
// strategy runs it: the model chooses the first token after the prompt
// (the prefill, s.Pick); then each pass lets draft propose up to gamma
// tokens (never more than the tokens left but one), and m keeps some of
// them and adds its own next token; a step with no room for a proposal
// adds the model's next token alone (s.Pick). The draft must have m's
// vocabulary and at least its context; s has no top-k filter.
//
// Greedy (the zero Sampler): the draft proposes its argmax tokens, m
// keeps the longest prefix of them that equals its own greedy choices and
// adds its own next token (the corrected one, or the one after a fully
// accepted proposal). The tokens are exactly [Generate]'s.
//
// Sampled (a temperature T): the draft draws its proposals x_i from its
// q_i = softmax(draft logits/T), and each is accepted iff r_i·q_i(x_i)
// <= p_i(x_i), p_i = softmax(logits/T) the model's (Leviathan et al.,
// 2023), until the first rejection; the pass's last token is drawn from
// max(0, p_a - q_a) normalized after a rejection at a, or from p after a
// fully accepted draft, by [InverseCDF] at the server's uniform
// ([Sampler.SpecRand]). The tokens are distributed as sampling from m at
// T, whatever the draft (not [GenerateSampled]'s tokens: the coins
// differ).
//
// The stats count the passes that verified proposals.
func GenerateSpeculative(m, draft *Model, prompt []int, n, gamma int, s Sampler) ([]int, SpecStats, error) {
	var st SpecStats
	if m == nil || draft == nil {
		return nil, st, fmt.Errorf("model: speculative: nil model")
	}
	if gamma < 1 {
		return nil, st, fmt.Errorf("model: speculative: gamma %d, want at least 1", gamma)
	}
	if err := s.Validate(); err != nil {
		return nil, st, err
	}
	if s.FilterK() > 0 {
		return nil, st, fmt.Errorf("model: speculative sampling has no top-k filter")
	}
	if draft.Config.VocabSize != m.Config.VocabSize || draft.Config.SeqLen < m.Config.SeqLen {
		return nil, st, fmt.Errorf("model: speculative: the draft %s (vocabulary %d, context %d) cannot propose for %s (%d, %d)",
			draft.Config.Name, draft.Config.VocabSize, draft.Config.SeqLen, m.Config.Name, m.Config.VocabSize, m.Config.SeqLen)
	}
	if _, err := Generate(m, prompt, 0); err != nil { // the checks of the prompt
		return nil, st, err
	}
	if n < 1 || len(prompt)+n-1 > m.Config.SeqLen {
		return nil, st, fmt.Errorf("model: %s: speculative: a prompt of %d tokens and %d new ones need %d positions, the maximum sequence length is %d",
			m.Config.Name, len(prompt), n, len(prompt)+n-1, m.Config.SeqLen)
	}
	ts, ds := m.NewState(), draft.NewState()
	var logits, dlogits []float64
	var err error
	for _, tok := range prompt {
		if logits, err = m.Forward(ts, tok); err != nil {
			return nil, st, err
		}
		if _, err = draft.Forward(ds, tok); err != nil {
			return nil, st, err
		}
	}
	if !s.Greedy() {
		st.Margin = math.Inf(1)
	}
	out := []int{s.Pick(logits, 0)} // the prefill's token
	for len(out) < n {
		next := out[len(out)-1]
		if logits, err = m.Forward(ts, next); err != nil {
			return nil, st, err
		}
		if dlogits, err = draft.Forward(ds, next); err != nil {
			return nil, st, err
		}
		k := min(gamma, n-len(out)-1) // the step adds the model's own token too
		if k == 0 {
			out = append(out, s.Pick(logits, len(out)))
			continue
		}
		client, u := s.SpecRand(len(out))
		proposal, qs, err := propose(draft, ds, dlogits, k, s, client)
		if err != nil {
			return nil, st, err
		}
		rs := make([]float64, len(qs))
		for i := range rs {
			rs[i] = client.Float64()
		}
		margin := func(m float64) { st.Margin = min(st.Margin, m) }
		// Verify: the model's logits before each proposed token.
		accepted := 0
		var p []float64
		for i, tok := range proposal {
			if s.Greedy() {
				if Argmax(logits) != tok {
					break
				}
			} else {
				p = Probabilities(logits, s.Temperature)
				margin(math.Abs(p[tok] - rs[i]*qs[i][tok]))
				if !Accepts(p, qs[i], tok, rs[i]) {
					break
				}
			}
			out = append(out, tok)
			accepted++
			if logits, err = m.Forward(ts, tok); err != nil {
				return nil, st, err
			}
		}
		st.Add(k, accepted)
		if s.Greedy() {
			out = append(out, Argmax(logits))
		} else {
			w := Probabilities(logits, s.Temperature)
			if accepted < k {
				w = Residual(p, qs[accepted])
			}
			j, m := inverseCDF(w, u)
			margin(m)
			out = append(out, j)
		}
		// Both caches keep the prompt and the tokens before the new one.
		keep := len(prompt) + len(out) - 1
		if err := ds.Truncate(min(keep, ds.Pos)); err != nil {
			return nil, st, err
		}
		if err := ts.Truncate(min(keep, ts.Pos)); err != nil {
			return nil, st, err
		}
	}
	if math.IsInf(st.Margin, 1) { // no sampled decision
		st.Margin = 0
	}
	return out, st, nil
}
