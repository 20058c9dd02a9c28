package mpc

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
)

// TopK keeps the K largest of N shared values and sinks the others by the
// public element Sink: it returns shares of y_i = x_i for the K first
// positions in the order of the values (largest first, ties to the lower
// position: Argmax's order), and x_i - Sink for the rest. Exactly K are
// kept, whatever the ties. A sampler draws among the kept ones when Sink
// exceeds the spread of the values plus that of its noise (package sim);
// every difference of two values, sunk or not, must stay in the centered
// range, where comparisons are exact. 1 <= K < N.
//
// Two methods, planned like the maxima for the worth of a round trip
// (Config.RoundCompares): the one of least comparisons + rounds·worth.
//
//   - Ranks: every pair compared in one round, N(N-1)/2 comparisons; a
//     position's rank (the positions before it in the order) is a local
//     sum of its pairs' bits, and [rank < K] a second round of N
//     comparisons. Two rounds; for at most topKMaxPairs pairs (the
//     dealer's material for them is held at once).
//   - Extraction: K times, the tournament's first maximum with its
//     position (Argmax's, on shares), then the one-hot vector of that
//     position from the N comparisons [i >= position] of the public
//     positions with it (one round; the one-hot is their local
//     differences), which sinks it before the next tournament and counts
//     it as kept. About K(N + tournament) comparisons, K(tournament + 1)
//     rounds.
type TopK struct {
	Config
	N, K int
	Sink uint64
	// force, if not topKPlanned, replaces the planned method (tests).
	force topKMethod
}

// topKMaxPairs bounds the pairs the ranks method compares in one round:
// a comparison key is about 1.5 KB at the 60-bit t, so 2^18 of them keep
// a step's material near 400 MB per party (stories260K's 512 logits make
// 130816 pairs).
const topKMaxPairs = 1 << 18

// topKMethod is a method of TopK.
type topKMethod int

const (
	topKPlanned topKMethod = iota
	topKRanks
	topKExtract
)

func (m topKMethod) String() string { return [...]string{"planned", "ranks", "extraction"}[m] }

// pairs is the number of pairs the ranks method compares.
func (k TopK) pairs() int { return k.N * (k.N - 1) / 2 }

// method is the planned method: the ranks where they fit and cost less
// comparisons + rounds·worth than the extraction.
func (k TopK) method() topKMethod {
	if k.force != topKPlanned {
		return k.force
	}
	if k.pairs() > topKMaxPairs {
		return topKExtract
	}
	w := float64(k.roundCompares())
	price := func(m topKMethod) float64 {
		b := newBill(k.Config)
		b.topK(k.N, k.K, m)
		return compareWork(b.need) + float64(b.cost.Rounds)*w
	}
	if price(topKRanks) <= price(topKExtract) {
		return topKRanks
	}
	return topKExtract
}

// compareWork is the comparisons of n's keys, a select of m values priced
// as 1 + m/2 (its extra payloads, as select.go prices them).
func compareWork(n Need) float64 {
	w := float64(n.Compares)
	for m, c := range n.Selects {
		w += float64(c) * (1 + float64(m)/2)
	}
	return w
}

func (k TopK) bill() *bill {
	p := newBill(k.Config)
	if k.K >= 1 && k.K < k.N {
		p.topK(k.N, k.K, k.method())
	}
	return p
}

// Need is the dealer material of one Run.
func (k TopK) Need() Need { return k.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (k TopK) Estimate() cost.Cost { return k.bill().estimate() }

// Run returns shares of the values with all but the K largest sunk.
func (k TopK) Run(s *Session, x Pair) (Pair, error) {
	shape := positive("length", k.N)
	if shape == nil && (k.K < 1 || k.K >= k.N) {
		shape = fmt.Errorf("keep %d of %d: want 1 to %d", k.K, k.N, k.N-1)
	}
	return run(s, k.Config, "top-k", k, shape, []Pair{x}, []int{k.N}, k.play)
}

// play is one party's TopK.
func (k TopK) play(p *party, mine ...[]uint64) ([]uint64, error) {
	x := mine[0]
	var keep []uint64
	var err error
	if k.method() == topKRanks {
		keep, err = p.topKRanks(x, k.K)
	} else {
		keep, err = p.topKExtract(k.Nonlinear, x, k.K, k.Sink)
	}
	if err != nil {
		return nil, err
	}
	r := p.r
	return p.affine(1, x, k.Sink, keep, r.Neg(k.Sink)), nil // x - Sink·(1 - keep)
}

// topK bills party.topKRanks or party.topKExtract, then the sinking.
func (p *bill) topK(n, k int, m topKMethod) {
	if m == topKRanks {
		np := n * (n - 1) / 2
		p.affine(np)
		p.sign(np)
		p.local(2 * (2*np + n))
		p.affine(n)
		p.sign(n)
	} else {
		for i := range k {
			p.rowMax([]rowRun{{n, 1}}, true)
			p.affine(n)
			p.sign(n)
			p.local(2 * 2 * n)
			if i+1 < k {
				p.affine(n)
			}
		}
	}
	p.affine(n)
}

// topKRanks returns shares of the bits [rank_i < k], rank_i being the
// positions before i in the order: the j < i with x_j >= x_i and the
// j > i with x_j > x_i. With b_ij = [x_i >= x_j] for the pairs i < j,
// rank_i = (n - 1 - i) + Σ_{j<i} b_ji - Σ_{j>i} b_ij.
func (p *party) topKRanks(x []uint64, k int) ([]uint64, error) {
	r, n := p.r, len(x)
	np := n * (n - 1) / 2
	as, bs := make([]uint64, 0, np), make([]uint64, 0, np)
	for i := range n {
		for j := i + 1; j < n; j++ {
			as = append(as, x[i])
			bs = append(bs, x[j])
		}
	}
	b, err := p.sign(p.affine(1, as, r.Neg(1), bs, 0))
	if err != nil {
		return nil, err
	}
	rank := make([]uint64, n)
	q := 0
	for i := range n {
		if p.role == Client {
			rank[i] = r.Add(rank[i], uint64(n-1-i))
		}
		for j := i + 1; j < n; j++ {
			rank[j] = r.Add(rank[j], b[q])
			rank[i] = r.Sub(rank[i], b[q])
			q++
		}
	}
	p.charge(2*np + n)
	return p.sign(p.affine(r.Neg(1), rank, 0, nil, uint64(k-1))) // [k - 1 - rank >= 0]
}

// topKExtract returns shares of the one-hot vectors of the k first
// positions in the order, summed: k tournaments with positions, each
// position's one-hot from the comparisons [i - position >= 0] (a step
// that rises at the position: its differences), sunk by sink before the
// next tournament.
func (p *party) topKExtract(nl Nonlinear, x []uint64, k int, sink uint64) ([]uint64, error) {
	r, n := p.r, len(x)
	pos := make([]uint64, n)
	for i := range pos {
		pos[i] = uint64(i)
	}
	pos = p.public(pos)
	keep := make([]uint64, n)
	y := x
	for i := range k {
		_, at, err := p.rowMax(nl, y, []int{n}, true)
		if err != nil {
			return nil, err
		}
		g, err := p.sign(p.affine(1, pos, r.Neg(1), broadcast(at, []int{n}), 0))
		if err != nil {
			return nil, err
		}
		e := make([]uint64, n)
		for j := range e {
			e[j] = g[j]
			if j > 0 {
				e[j] = r.Sub(g[j], g[j-1])
			}
			keep[j] = r.Add(keep[j], e[j])
		}
		p.charge(2 * n)
		if i+1 < k {
			y = p.affine(1, y, r.Neg(sink), e, 0)
		}
	}
	return keep, nil
}
