package exec

import (
	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
)

// The packing search of a linear layer (Planner.Linear): every packing the
// slots allow is priced, the terms of their estimates memoized over the
// search (a layer has hundreds of candidates).

// packingLevels are the levels of a linear layer's packings, with or
// without baby steps: where the client encrypts, the return path of the
// outputs and their payload before it (or why no level fits).
type packingLevels struct {
	level int
	send  returnPath
	noise float64
	err   error
}

// linearLevels are the levels of the packings of a linear layer whose
// outputs sum width products (the lanes' width times the input chunks),
// without baby steps (g = 1) and with them (g > 1): a key switch before a
// product is multiplied by the plaintext's N·t, one after is only added.
func (pln Planner) linearLevels(width int) [2]packingLevels {
	nm := pln.NoiseModel()
	var byBaby [2]packingLevels
	for i := range byBaby {
		rotated := i == 1
		f := func(nu float64) float64 { return linearNoise(nm, nu, width, rotated) }
		lv := &byBaby[i]
		lv.level, lv.send, lv.err = nm.inputLevel(f)
		lv.noise = f(nm.FreshSK())
	}
	return byBaby
}

// packings calls f with every packing of l's shape (Out x In over Tokens)
// that the slots allow: lanes n wide, chunks input ciphertexts per token
// group, at the levels byBaby[0] without baby steps (g = 1) and byBaby[1]
// with them (none if byBaby[1].err is set).
func (l *Linear) packings(n, chunks int, byBaby [2]packingLevels, f func(linearPacking)) {
	lanes := l.Params.MaxSlots() / n
	for _, tok := range tokenChoices(l.Tokens, lanes) {
		for b := 1; b <= n; b *= 2 {
			for g := 1; g <= b; g *= 2 {
				lv := byBaby[0]
				if g > 1 {
					if lv = byBaby[1]; lv.err != nil {
						continue
					}
				}
				pk := linearPacking{n: n, chunks: chunks, lanes: lanes, tok: tok, blocks: lanes / tok, b: b, g: g, level: lv.level, send: lv.send,
					noise: lv.noise}
				pk.groups = ceilDiv(l.Tokens, tok)
				pk.outs = ceilDiv(ceilDiv(l.Out, b), pk.blocks)
				f(pk)
			}
		}
	}
}

// cheapest is the packing (see packings and coeffPackings) of the
// smallest estimated work on one core (l.cores is zero; see
// workSeconds): compute, the transfer over nw and the offline seconds of
// Estimate, or of EstimateEncoded for weights encoded once; the first of
// equal ones, slot packings first. It sets l.pack as it goes.
//
// Without any packing (no level fits the noise of either family) it
// returns false.
func (l *Linear) cheapest(n, chunks int, byBaby [2]packingLevels, nm NoiseModel, once bool, nw net.Network) (linearPacking, bool) {
	var best linearPacking
	var bestSec float64
	found := false
	terms := newEstimateTerms()
	price := l.estimate
	if once {
		price = l.estimateEncoded
	}
	try := func(pk linearPacking) {
		l.pack = pk
		if sec := workSeconds(nw.Price(price(terms))); !found || sec < bestSec {
			best, bestSec, found = pk, sec, true
		}
	}
	if linearFamilies != coefficientsOnly && byBaby[0].err == nil {
		l.packings(n, chunks, byBaby, try)
	}
	if linearFamilies != slotsOnly {
		l.coeffPackings(nm, try)
	}
	return best, found
}

// linearFamilies restricts the packing search to one family (tests).
var linearFamilies = bothFamilies

const (
	bothFamilies = iota
	slotsOnly
	coefficientsOnly
)

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
	dom  Domain // of the messages sent, added, returned
	n, k int64
}

// estimateTerm names the memoized terms.
type estimateTerm uint8

const (
	termSendInput estimateTerm = iota + 1 // sendInputCost(level, dom, n)
	termPlain                             // plainCost(level, dom, n)
	termHoisted                           // hoistedCost(level, n, k)
	termReturn                            // returnCost(send, dom, n, cores k)
	termWeights                           // WeightsCost: n diagonals at level, in dom
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
