package calibrate

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/params"
)

// The two-party protocols' own work is measured the way a run spends it:
// both parties in this process over the metered in-process pipe, the
// dealer's material dealt inline. What other ops already price in a call
// (its share operations, its rounds or DCF levels at the profile's price)
// and the inline dealing (offline seconds, which the session measures) is
// taken out call by call: the clock of such a measurement is the CPU time
// the session's own record does not account for (unpriced).

// roundBatch is the number of one-round protocols a timed call of Round
// runs: enough to average the scheduler's hand-offs.
const roundBatch = 64

// dcfBatch is the number of comparisons of a timed call of DCF: each
// evaluates bits(t) levels of its key per party, about a millisecond in
// all at a 60-bit t.
const dcfBatch = 64

// unpriced is a clock for a measurement of the session s: CPU time less the
// offline seconds and the compute seconds s has recorded, less the rounds'
// price if withRounds (prof's OpRound, zero without it).
func unpriced(s *mpc.Session, prof *cost.Profile, withRounds bool) func() float64 {
	return func() float64 {
		c := s.Cost()
		t := cost.CPUSeconds() - c.OfflineSeconds - c.ComputeSeconds
		if withRounds {
			t -= float64(c.Rounds) * prof.RoundSeconds()
		}
		return t
	}
}

// Round measures cost.OpRound for the share ring of fp: the CPU time of a
// one-round two-party protocol on one element (a truncation), less what
// prof's share operations price in it and the inline dealing. prof must
// price OpShare.
func Round(fp params.FixedPoint, prof *cost.Profile, opt Options) (float64, error) {
	opt = opt.withDefaults()
	cfg, err := mpc.NewConfig(fp, prof)
	if err != nil {
		return 0, fmt.Errorf("calibrate round: %w", err)
	}
	s := mpc.NewSession(cfg, mpc.TrustedDealer{})
	defer s.Close()
	x, err := cfg.Ring.SplitElements([]uint64{1 << fp.FracBits})
	if err != nil {
		return 0, fmt.Errorf("calibrate round: %w", err)
	}
	tr := mpc.Trunc{Config: cfg, N: 1}
	m := &measurement{name: "round", per: roundBatch, run: func() error {
		for range roundBatch {
			if _, err := tr.Run(s, x); err != nil {
				return err
			}
		}
		return nil
	}}
	if _, err := (meter{clock: unpriced(s, prof, false), opt: opt}).measure([]*measurement{m}, nil); err != nil {
		return 0, fmt.Errorf("calibrate round: %w", err)
	}
	return max(m.best(), 1e-9), nil
}

// DCF measures cost.OpDCF for the share ring of fp: the CPU time of one
// comparison protocol (mpc.Sign) on dcfBatch elements, less what prof
// prices in it but its DCF levels (its share operations and its round)
// and the inline dealing, per DCF level evaluated. prof must price
// OpShare; its OpRound, if any, is taken out.
func DCF(fp params.FixedPoint, prof *cost.Profile, opt Options) (float64, error) {
	opt = opt.withDefaults()
	cfg, err := mpc.NewConfig(fp, prof)
	if err != nil {
		return 0, fmt.Errorf("calibrate dcf: %w", err)
	}
	s := mpc.NewSession(cfg, mpc.TrustedDealer{})
	defer s.Close()
	vals := make([]uint64, dcfBatch)
	for i := range vals {
		vals[i] = uint64(i) << fp.FracBits
	}
	x, err := cfg.Ring.SplitElements(vals)
	if err != nil {
		return 0, fmt.Errorf("calibrate dcf: %w", err)
	}
	sign := mpc.Sign{Config: cfg, N: dcfBatch}
	levels := sign.Estimate().DCFLevels
	if levels <= 0 {
		return 0, fmt.Errorf("calibrate dcf: a comparison evaluates no DCF level")
	}
	// The clock takes out the DCF levels at the profile's price too (the
	// fallback, OpDCF being what is measured): add it back per level.
	m := &measurement{name: "dcf", per: float64(levels), run: func() error {
		_, err := sign.Run(s, x)
		return err
	}}
	if _, err := (meter{clock: unpriced(s, prof, true), opt: opt}).measure([]*measurement{m}, nil); err != nil {
		return 0, fmt.Errorf("calibrate dcf: %w", err)
	}
	return max(m.best()+prof.DCFSeconds(), 1e-9), nil
}

// setFlat prices op at seconds in prof, the same at every level (as the
// other per-element ops: shares, rounds, DCF levels, the dealer's items).
func setFlat(prof *cost.Profile, op cost.Op, seconds float64) {
	row := make([]float64, prof.MaxLevel+1)
	for i := range row {
		row[i] = seconds
	}
	prof.Seconds[op] = row
}
