package calibrate

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/params"
)

// Dealing batches of Dealing: each batch takes a few milliseconds
// to deal and expand (0.15-0.2 µs per triple or truncation mask, 25-40 µs
// per comparison key for a 41- to 60-bit t), long enough for the clock and
// the allocations to average out, short enough to repeat and to fit in a
// scheduler's time slice on a busy machine. The dealings of one item, a
// few tens of µs, are repeated dealSmallReps times as often.
const (
	dealBatchTriples  = 20000
	dealBatchTruncs   = 20000
	dealBatchCompares = 100
	dealBatchLookups  = 200 // of 2^dealLookupBits entries each
	dealLookupBits    = 8
	dealSmallReps     = 4
)

// Dealing measures the dealer's operations (cost.OfflineOps and
// cost.OpDealLookup) for
// the share ring of fp on this machine: the wall time of
// mpc.TrustedDealer's Deal plus both parties' Material.Expand, as
// mpc.Session.Preprocess spends it, with opt.Repetitions repetitions of
// each batch (the median is kept). The price of an item of one kind is the
// difference between a batch of it and a dealing of one item, divided by
// the batch's size less one, so that the fixed costs cancel; OpDeal is a
// dealing of one item of every kind less the item prices (at least
// a dealing of one item of any kind less its price). Truncation
// masks are measured by 2^f (the cost does not depend on the shift), a
// lookup mask's entries on tables of 2^dealLookupBits.
func Dealing(fp params.FixedPoint, opt Options) (map[cost.Op]float64, error) {
	opt = opt.withDefaults()
	r, err := mpc.NewRing(fp)
	if err != nil {
		return nil, fmt.Errorf("exec: calibrate dealing: %w", err)
	}
	deal := func(n mpc.Need) func() error {
		return func() error {
			c, s, err := mpc.TrustedDealer{}.Deal(r, n)
			if err != nil {
				return err
			}
			if _, err := c.Expand(r); err != nil {
				return err
			}
			_, err = s.Expand(r)
			return err
		}
	}
	triples := func(m int) mpc.Need { return mpc.Need{Triples: m} }
	truncs := func(m int) mpc.Need {
		var n mpc.Need
		n.Truncs[fp.FracBits] = m
		return n
	}
	compares := func(m int) mpc.Need { return mpc.Need{Compares: m} }
	lookups := func(m int) mpc.Need {
		var n mpc.Need
		n.Lookups[dealLookupBits] = m
		return n
	}
	items := []struct {
		op    cost.Op
		need  func(int) mpc.Need
		batch int
		per   int // priced units per item
	}{
		{cost.OpDealTriple, triples, dealBatchTriples, 1},
		{cost.OpDealTrunc, truncs, dealBatchTruncs, 1},
		{cost.OpDealCompare, compares, dealBatchCompares, 1},
		{cost.OpDealLookup, lookups, dealBatchLookups, 1 << dealLookupBits},
	}
	// The dealings of one item are short: each timed call makes
	// dealSmallReps of them.
	small := func(run func() error) func() error {
		return func() error {
			for range dealSmallReps {
				if err := run(); err != nil {
					return err
				}
			}
			return nil
		}
	}
	ones, manys := make([]*measurement, len(items)), make([]*measurement, len(items))
	var ms []*measurement
	for i, it := range items {
		ones[i] = &measurement{name: fmt.Sprintf("%s, one", it.op), per: dealSmallReps, run: small(deal(it.need(1)))}
		manys[i] = &measurement{name: fmt.Sprintf("%s, %d", it.op, it.batch), per: 1, run: deal(it.need(it.batch))}
		ms = append(ms, ones[i], manys[i])
	}
	allKinds := &measurement{name: "one of each kind", per: dealSmallReps, run: small(deal(triples(1).Add(truncs(1)).Add(compares(1)).Add(lookups(1))))}
	ms = append(ms, allKinds)
	if _, err := (meter{clock: cost.CPUSeconds, opt: opt}).measure(ms, nil); err != nil {
		return nil, fmt.Errorf("exec: calibrate dealing: %w", err)
	}
	out := map[cost.Op]float64{}
	itemSum, floor := 0.0, 0.0
	for i, it := range items {
		one, many := ones[i].best(), manys[i].best()
		item := max((many-one)/float64(it.batch-1), 1e-9)
		out[it.op] = item / float64(it.per)
		itemSum += item
		// A dealing of one item of any kind, less the item, is a lower
		// bound of the fixed cost (it lacks the other kinds' streams).
		floor = max(floor, one-item)
	}
	secs := allKinds.best()
	// On a noisy machine the difference may fall below the bound.
	out[cost.OpDeal] = max(secs-itemSum, floor, 1e-9)
	return out, nil
}
