package model

import "container/heap"

// minMergeScore is llama2.c's initial best score: a pair whose merged
// piece scores at or below it never merges.
const minMergeScore = -1e10

// merge applies the greedy BPE merges of Encode to tokens in place and
// returns the merged sequence: repeatedly the adjacent pair whose
// concatenated pieces form the piece of the highest score (the leftmost on
// ties) is replaced by that piece, until no pair merges.
//
// It is llama2.c's quadratic loop (a scan of every pair for every merge)
// done in O(n log n): the tokens form a doubly linked list, and a heap holds
// the candidate merges ordered by score, then by the position of the left
// token, which the list keeps in order. A merge changes its left token and
// removes its right one, so only the pairs on either side of it are new;
// heap entries that a merge made stale (a token gone or changed since the
// entry was pushed) are skipped when they surface.
func (t *Tokenizer) merge(tokens []int) []int {
	n := len(tokens)
	if n < 2 {
		return tokens
	}
	next := make([]int, n) // -1: end of the list
	prev := make([]int, n) // -1: start of the list
	gen := make([]int, n)  // bumped when a token changes; -1 once it is merged away
	for i := range tokens {
		next[i], prev[i] = i+1, i-1
	}
	next[n-1] = -1
	h := &mergeHeap{}
	push := func(l int) {
		if l < 0 || next[l] < 0 {
			return
		}
		r := next[l]
		id, ok := t.ids[t.pieces[tokens[l]]+t.pieces[tokens[r]]]
		if ok && t.scores[id] > minMergeScore {
			heap.Push(h, mergeCand{score: t.scores[id], left: l, right: r, id: id, genL: gen[l], genR: gen[r]})
		}
	}
	for i := 0; i+1 < n; i++ {
		push(i)
	}
	for h.Len() > 0 {
		c := heap.Pop(h).(mergeCand)
		if gen[c.left] != c.genL || gen[c.right] != c.genR || next[c.left] != c.right {
			continue // stale: a token of the pair changed or left
		}
		tokens[c.left] = c.id
		gen[c.left]++
		gen[c.right] = -1
		nr := next[c.right]
		next[c.left] = nr
		if nr >= 0 {
			prev[nr] = c.left
		}
		push(prev[c.left])
		push(c.left)
	}
	out := tokens[:0]
	for i := 0; i >= 0; i = next[i] {
		out = append(out, tokens[i])
	}
	return out
}

// mergeCand is a candidate merge of the adjacent tokens at positions left
// and right into id, valid while both tokens are as they were when it was
// pushed (their generations genL, genR).
type mergeCand struct {
	score       float64
	left, right int
	id          int
	genL, genR  int
}

// mergeHeap pops the highest score first, the leftmost pair on ties.
type mergeHeap []mergeCand

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	if h[i].score != h[j].score {
		return h[i].score > h[j].score
	}
	return h[i].left < h[j].left
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(mergeCand)) }
func (h *mergeHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
