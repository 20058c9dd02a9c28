package calibrate

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/params"
)

// roundBatch is the number of one-round protocols a timed call of Round
// runs: enough to average the scheduler's hand-offs.
const roundBatch = 64

// Round measures cost.OpRound for the share ring of fp: the CPU time of a
// one-round two-party protocol on one element (a truncation, both parties
// in this process over the metered in-process pipe, as a run plays them),
// less what prof's other ops price in it (its share operations) and the
// inline dealing (which the session measures as offline seconds). prof
// must price OpShare.
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
	// Per timed call: what the other ops price (the share operations'
	// estimate and the dealing's measured CPU), taken out below.
	var priced []float64
	m := &measurement{name: "round", per: roundBatch, run: func() error {
		before := s.Cost()
		for range roundBatch {
			if _, err := tr.Run(s, x); err != nil {
				return err
			}
		}
		after := s.Cost()
		priced = append(priced, after.OfflineSeconds-before.OfflineSeconds+after.ComputeSeconds-before.ComputeSeconds)
		return nil
	}}
	if _, err := (meter{clock: cost.CPUSeconds, opt: opt}).measure([]*measurement{m}, nil); err != nil {
		return 0, fmt.Errorf("calibrate round: %w", err)
	}
	return max(m.best()-minOf(priced)/roundBatch, 1e-9), nil
}

// dcfBatch is the number of comparisons of a timed call of DCF: each
// evaluates bits(t) levels of its key per party, about a millisecond in
// all at a 60-bit t.
const dcfBatch = 64

// DCF measures cost.OpDCF for the share ring of fp: the CPU time of one
// comparison protocol (mpc.Sign) on dcfBatch elements, both parties in
// this process, less what prof's other ops price in it (its share
// operations and its round) and its inline dealing, per DCF level
// evaluated. prof must price OpShare; its OpRound, if any, is taken out.
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
	var priced []float64
	var levels int64
	m := &measurement{name: "dcf", per: 1, run: func() error {
		before := s.Cost()
		if _, err := sign.Run(s, x); err != nil {
			return err
		}
		after := s.Cost()
		levels = after.DCFLevels - before.DCFLevels
		rounds := after.Rounds - before.Rounds
		shares := after.ComputeSeconds - before.ComputeSeconds - float64(levels)*prof.DCFSeconds()
		priced = append(priced, after.OfflineSeconds-before.OfflineSeconds+shares+float64(rounds)*prof.RoundSeconds())
		return nil
	}}
	if _, err := (meter{clock: cost.CPUSeconds, opt: opt}).measure([]*measurement{m}, nil); err != nil {
		return 0, fmt.Errorf("calibrate dcf: %w", err)
	}
	if levels <= 0 {
		return 0, fmt.Errorf("calibrate dcf: a comparison evaluated no DCF level")
	}
	return max((m.best()-minOf(priced))/float64(levels), 1e-9), nil
}

// SetDCF stores the price of one DCF level in prof (the same at every
// level, as the other per-element ops).
func SetDCF(prof *cost.Profile, seconds float64) {
	row := make([]float64, prof.MaxLevel+1)
	for i := range row {
		row[i] = seconds
	}
	prof.Seconds[cost.OpDCF] = row
}

// SetRound stores the price of one round in prof (the same at every
// level, as the other per-element ops).
func SetRound(prof *cost.Profile, seconds float64) {
	row := make([]float64, prof.MaxLevel+1)
	for i := range row {
		row[i] = seconds
	}
	prof.Seconds[cost.OpRound] = row
}
