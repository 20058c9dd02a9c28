package calibrate

import (
	"fmt"
	"math"
	"sort"

	"github.com/montanaflynn/stats"

	"github.com/cgsim/cgsim/cost"
)

// How a calibration converges. Each operation is timed in rounds: a round
// is Options.Repetitions timed calls after a warm-up, of which the median
// is kept, and the rounds of all operations are interleaved (round 1 of
// every operation, then round 2 of every operation, ...), so that a burst
// of load elsewhere on the machine spoils one round of a few operations,
// not every round of one. An operation's price is the least of its round
// medians (load only ever adds time; on a virtual machine even CPU time
// grows when the host lends the core to others). Rounds go on, up to
// MaxRounds, until the price of every operation that costs more than
// stableAbove is confirmed: another round's median within
// Options.Tolerance of it. A price one lucky round alone reached is not
// what a second calibration would find; a confirmed one is. A price still
// unconfirmed at MaxRounds is kept as the least all the same (the load
// eased round after round, or one round was lucky); its spread,
// the largest round median over the least less one, is reported: how
// much the machine's load varied while it measured. Times are CPU time
// (cost.CPUSeconds), which other processes do not advance.
const (
	defaultRounds    = 3
	defaultMaxRounds = 8
	defaultTolerance = 0.03
	// stableAbove is the price above which an operation must converge:
	// below it (share operations, additions) the clock's granularity and
	// the cache decide, and such operations weigh little in an estimate.
	stableAbove = 1e-3
)

// measurement is one timed operation of a calibration.
type measurement struct {
	name    string  // for errors: op and level
	per     float64 // operations per timed call
	run     func() error
	prepare func()    // if not nil, called before each timed call, untimed
	medians []float64 // one per round, seconds per call
}

// best is the least round median, per operation.
func (m *measurement) best() float64 { return minOf(m.medians) / m.per }

// confirmation is the second least round median over the least, less
// one: how far the nearest other round lies from the price (+Inf with one
// round).
func (m *measurement) confirmation() float64 {
	if len(m.medians) < 2 {
		return math.Inf(1)
	}
	sorted := append([]float64(nil), m.medians...)
	sort.Float64s(sorted)
	if sorted[0] <= 0 {
		return 0
	}
	return sorted[1]/sorted[0] - 1
}

// spread is the largest round median over the least, less one.
func (m *measurement) spread() float64 {
	lo, hi := minOf(m.medians), maxOf(m.medians)
	if lo <= 0 {
		return 0
	}
	return hi/lo - 1
}

// meter runs measurements against a clock (cost.CPUSeconds; tests give
// a clock of their own).
type meter struct {
	clock func() float64
	opt   Options
}

// measure times every measurement in interleaved rounds until they are
// stable (see above) and returns the number of rounds made. progress, if
// not nil, is called after each timed round of one measurement with the
// number done and the total planned so far (which grows when a round is
// added).
func (mt meter) measure(ms []*measurement, progress func(done, total int)) (int, error) {
	opt := mt.opt
	done := 0
	rounds := 0
	for rounds < opt.MaxRounds {
		planned := max(opt.Rounds, rounds+1) * len(ms)
		for _, m := range ms {
			md, err := mt.median(m)
			if err != nil {
				return rounds, fmt.Errorf("%s: %w", m.name, err)
			}
			m.medians = append(m.medians, md)
			done++
			if progress != nil {
				progress(done, planned)
			}
		}
		rounds++
		if rounds >= opt.Rounds && stable(ms, opt.Tolerance) {
			break
		}
	}
	return rounds, nil
}

// stable reports whether every measurement above stableAbove has its
// price confirmed within tol.
func stable(ms []*measurement, tol float64) bool {
	for _, m := range ms {
		if m.best() > stableAbove && m.confirmation() > tol {
			return false
		}
	}
	return true
}

// median times m.run Repetitions times after one warm-up call and
// returns the median seconds (stats.Median: the mean of the two middle
// times for an even count). m.prepare, if any, runs before each timed
// call, outside the clock.
func (mt meter) median(m *measurement) (float64, error) {
	if err := m.run(); err != nil {
		return 0, err
	}
	ts := make([]float64, mt.opt.Repetitions)
	for i := range ts {
		if m.prepare != nil {
			m.prepare()
		}
		start := mt.clock()
		if err := m.run(); err != nil {
			return 0, err
		}
		ts[i] = mt.clock() - start
	}
	md, err := stats.Median(ts)
	if err != nil {
		return 0, fmt.Errorf("median of %d timings: %w", len(ts), err)
	}
	if md <= 0 { // a clock too coarse for the operation
		md = 1e-9
	}
	return md, nil
}

func minOf(xs []float64) float64 {
	m, _ := stats.Min(xs)
	return m
}

func maxOf(xs []float64) float64 {
	m, _ := stats.Max(xs)
	return m
}

// spreadOf records, per op, the largest spread of its measurements in
// prof.Spread.
func spreadOf(prof *cost.Profile, op cost.Op, m *measurement) {
	if prof.Spread == nil {
		prof.Spread = map[cost.Op]float64{}
	}
	prof.Spread[op] = max(prof.Spread[op], m.spread())
}
