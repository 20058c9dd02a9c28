package model

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// MaxTemperature is the largest sampling temperature a [Sampler] accepts.
// Beyond it the noise swamps any logit (the choice is all but uniform) and
// the secure protocol's fixed point would need more integer bits for it.
const MaxTemperature = 100

// gumbelBits is the resolution of the uniforms behind the Gumbel noise:
// u = (k + 1/2)/2^gumbelBits for a uniform integer k, so that the noise
// -ln(-ln u) is finite and lies in [GumbelMin, GumbelMax].
const gumbelBits = 32

// GumbelMin and GumbelMax bound the Gumbel noise of a [Sampler] (before
// the temperature): -ln(-ln u) at the smallest and largest uniform.
var (
	GumbelMin = gumbel(0)
	GumbelMax = gumbel(1<<gumbelBits - 1)
)

// gumbel is the Gumbel value of the k-th point of the uniform grid.
func gumbel(k uint64) float64 {
	u := (float64(k) + 0.5) / (1 << gumbelBits)
	return -math.Log(-math.Log(u))
}

// A Sampler chooses each generated token from the logits. The zero
// Sampler is greedy: the argmax, ties to the lowest id ([Argmax]). With a
// positive Temperature T it samples from softmax(logits/T) by the
// Gumbel-max rule: the token is the argmax of logits_i + T·g_i, with g_i
// independent standard Gumbel noise (-ln(-ln u) of a uniform u); the
// softmax is never computed, which is what lets the secure protocol sample
// with its argmax alone (package sim adds the noise to the server's share
// of the logits). The noise of step s (the s-th generated token, from 0)
// is a function of (Seed, s) only: the same Seed gives the same tokens,
// in the reference and in a secure run. The uniforms lie on a grid of
// 2^32 points, so each g_i is in [GumbelMin, GumbelMax] (about -3.13 and
// 22.87): the chosen token's distribution is the softmax's up to that
// rounding.
//
// With TopK = k > 0 (and a temperature), only the k highest logits can be
// drawn: the others are dropped before the noise is added. The order is
// by logit, ties to the lower id (the order of [Argmax]), so exactly k
// stay ([TopK]).
type Sampler struct {
	Temperature float64 // 0: greedy
	TopK        int     // 0: every token
	Seed        uint64
}

// Validate reports whether the temperature is in [0, MaxTemperature] and
// TopK is not negative.
func (s Sampler) Validate() error {
	if !(s.Temperature >= 0 && s.Temperature <= MaxTemperature) { // also NaN
		return fmt.Errorf("model: temperature %v: want a number from 0 (greedy) to %d", s.Temperature, MaxTemperature)
	}
	if s.TopK < 0 {
		return fmt.Errorf("model: top-k %d: want 0 (every token) or more", s.TopK)
	}
	return nil
}

// Filters reports whether s drops tokens before drawing for a vocabulary
// of vocab: a temperature and 0 < TopK < vocab.
func (s Sampler) Filters(vocab int) bool { return s.FilterK() > 0 && s.TopK < vocab }

// FilterK is the top-k filter s applies: TopK with a temperature, 0
// (none) when greedy.
func (s Sampler) FilterK() int {
	if s.Greedy() {
		return 0
	}
	return s.TopK
}

// TopK returns the ids of the k highest logits, in order (by logit, ties
// to the lower id): the ones a Sampler with TopK = k may draw.
func TopK(logits []float64, k int) []int {
	ids := make([]int, len(logits))
	for i := range ids {
		ids[i] = i
	}
	slices.SortStableFunc(ids, func(a, b int) int { return cmp.Compare(logits[b], logits[a]) })
	return ids[:min(max(k, 0), len(ids))]
}

// Greedy reports whether s picks the argmax.
func (s Sampler) Greedy() bool { return s.Temperature == 0 }

// Noise returns T·g_i for the vocab tokens at generation step step (nil
// when greedy).
func (s Sampler) Noise(step, vocab int) []float64 {
	if s.Greedy() {
		return nil
	}
	var seed [32]byte
	copy(seed[:], "cgsim/gumbel")
	binary.LittleEndian.PutUint64(seed[16:], s.Seed)
	binary.LittleEndian.PutUint64(seed[24:], uint64(step))
	rng := rand.NewChaCha8(seed)
	out := make([]float64, vocab)
	for i := range out {
		out[i] = s.Temperature * gumbel(rng.Uint64()>>(64-gumbelBits))
	}
	return out
}

// Pick returns the token chosen at step from logits: the argmax of
// logits + Noise(step).
func (s Sampler) Pick(logits []float64, step int) int {
	noise := s.Noise(step, len(logits))
	if noise == nil {
		return Argmax(logits)
	}
	y := make([]float64, len(logits))
	for i := range y {
		y[i] = logits[i] + noise[i]
	}
	if s.Filters(len(logits)) {
		kept := TopK(logits, s.TopK)
		best := kept[0]
		for _, i := range kept {
			if y[i] > y[best] || y[i] == y[best] && i < best {
				best = i
			}
		}
		return best
	}
	return Argmax(y)
}
