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
// (its share operations, its round) and the inline dealing (offline
// seconds, which the session measures) is taken out call by call: the
// clock of such a measurement is the CPU time the session's own record
// does not account for (protocolTime).

// roundBatch is the number of one-round protocols a timed call of Round
// runs: enough to average the scheduler's hand-offs.
const roundBatch = 64

// dcfBatch is the number of comparisons of a timed call of DCF: each
// evaluates bits(t) levels of its key per party, about a millisecond in
// all at a 60-bit t.
const dcfBatch = 64

// protocolTime measures, for the share ring of fp, the seconds per call of
// the protocol run makes (cfg is the session's configuration) on the
// shares of vals, divided by per: the CPU time the session's own record
// does not account for, that is less its inline dealing (offline seconds)
// and what prof prices in it (compute seconds), for op OpRound; for OpDCF
// (OpShareProtocol) less its rounds' price (prof's OpRound, zero without
// it) but with its DCF levels (its share operations) kept in: they are
// what is measured. prof must price OpShare.
func protocolTime(name string, fp params.FixedPoint, prof *cost.Profile, opt Options, vals []uint64, per float64, op cost.Op,
	run func(cfg mpc.Config, s *mpc.Session, x mpc.Pair) error) (float64, error) {
	opt = opt.withDefaults()
	cfg, err := mpc.NewConfig(fp, prof)
	if err != nil {
		return 0, fmt.Errorf("calibrate %s: %w", name, err)
	}
	s := mpc.NewSession(cfg, mpc.TrustedDealer{})
	defer s.Close()
	x, err := cfg.Ring.SplitElements(vals)
	if err != nil {
		return 0, fmt.Errorf("calibrate %s: %w", name, err)
	}
	clock := func() float64 {
		c := s.Cost()
		t := cost.CPUSeconds() - c.OfflineSeconds - c.ComputeSeconds
		switch op {
		case cost.OpDCF:
			t += float64(c.DCFLevels)*prof.DCFSeconds() - float64(c.Rounds)*prof.RoundSeconds()
		case cost.OpLUT:
			t += float64(c.LUTEntries)*prof.LUTSeconds() - float64(c.Rounds)*prof.RoundSeconds()
		case cost.OpShareProtocol:
			t += prof.Charge(op, 0, c.ShareOps).ComputeSeconds - float64(c.Rounds)*prof.RoundSeconds()
		}
		return t
	}
	m := &measurement{name: name, per: per, run: func() error { return run(cfg, s, x) }}
	if _, err := (meter{clock: clock, opt: opt}).measure([]*measurement{m}, nil); err != nil {
		return 0, fmt.Errorf("calibrate %s: %w", name, err)
	}
	return max(m.best(), 1e-9), nil
}

// Round measures cost.OpRound for the share ring of fp: the CPU time of a
// one-round two-party protocol on one element (a truncation), less what
// prof's share operations price in it and the inline dealing. prof must
// price OpShare.
func Round(fp params.FixedPoint, prof *cost.Profile, opt Options) (float64, error) {
	return protocolTime("round", fp, prof, opt, []uint64{1 << fp.FracBits}, roundBatch, cost.OpRound,
		func(cfg mpc.Config, s *mpc.Session, x mpc.Pair) error {
			tr := mpc.Trunc{Config: cfg, N: 1}
			for range roundBatch {
				if _, err := tr.Run(s, x); err != nil {
					return err
				}
			}
			return nil
		})
}

// DCF measures cost.OpDCF for the share ring of fp: the CPU time of one
// comparison protocol (mpc.Sign) on dcfBatch elements, less what prof
// prices in it but its DCF levels (its share operations and its round)
// and the inline dealing, per DCF level evaluated. prof must price
// OpShare; its OpRound, if any, is taken out.
func DCF(fp params.FixedPoint, prof *cost.Profile, opt Options) (float64, error) {
	vals := make([]uint64, dcfBatch)
	for i := range vals {
		vals[i] = uint64(i) << fp.FracBits
	}
	cfg, err := mpc.NewConfig(fp, prof)
	if err != nil {
		return 0, fmt.Errorf("calibrate dcf: %w", err)
	}
	levels := mpc.Sign{Config: cfg, N: dcfBatch}.Estimate().DCFLevels
	if levels <= 0 {
		return 0, fmt.Errorf("calibrate dcf: a comparison evaluates no DCF level")
	}
	return protocolTime("dcf", fp, prof, opt, vals, float64(levels), cost.OpDCF,
		func(cfg mpc.Config, s *mpc.Session, x mpc.Pair) error {
			_, err := mpc.Sign{Config: cfg, N: dcfBatch}.Run(s, x)
			return err
		})
}

// lutBatch is the lookups of a timed call of LUT: each reads two tables
// of 2^lutBits entries per party, about two milliseconds in all.
const (
	lutBatch = 256
	lutBits  = 10
)

// LUT measures cost.OpLUT for the share ring of fp: the CPU time of a
// lookup (mpc.Lookup, two tables of 2^lutBits entries, as the
// activations read) of lutBatch values, less what prof prices in it but
// its table entries (its share operations and its round) and the inline
// dealing, per table entry read. prof must price OpShare; its OpRound, if
// any, is taken out.
func LUT(fp params.FixedPoint, prof *cost.Profile, opt Options) (float64, error) {
	cfg, err := mpc.NewConfig(fp, prof)
	if err != nil {
		return 0, fmt.Errorf("calibrate lut: %w", err)
	}
	vals := make([]uint64, lutBatch)
	for i := range vals {
		vals[i] = uint64(i) << fp.FracBits
	}
	l := mpc.Lookup{Config: cfg, N: lutBatch, Shift: fp.FracBits, Bits: lutBits, Tables: [][]uint64{mpc.IndexTable(lutBits), mpc.IndexTable(lutBits)}}
	entries := l.Estimate().LUTEntries
	if entries <= 0 {
		return 0, fmt.Errorf("calibrate lut: a lookup reads no table entry")
	}
	return protocolTime("lut", fp, prof, opt, vals, float64(entries), cost.OpLUT,
		func(cfg mpc.Config, s *mpc.Session, x mpc.Pair) error {
			l.Config = cfg
			_, err := l.Run(s, x)
			return err
		})
}

// shareBatch is the elements of the products a timed call of
// ShareProtocol makes: a few tens of thousands of share operations.
const shareBatch = 1024

// ShareProtocol measures cost.OpShareProtocol for the share ring of fp:
// the CPU time of a fixed-point product (mpc.Mul, a Beaver product and a
// truncation, the protocols' most common steps) of shareBatch elements,
// less what prof prices in it but its share operations (its rounds) and
// the inline dealing, per share operation. prof must price OpShare; its
// OpRound, if any, is taken out.
func ShareProtocol(fp params.FixedPoint, prof *cost.Profile, opt Options) (float64, error) {
	vals := make([]uint64, shareBatch)
	for i := range vals {
		vals[i] = uint64(i%7) << fp.FracBits
	}
	cfg, err := mpc.NewConfig(fp, prof)
	if err != nil {
		return 0, fmt.Errorf("calibrate share protocol: %w", err)
	}
	mul := mpc.Mul{Config: cfg, N: shareBatch, Fixed: true}
	ops := mul.Estimate().ShareOps
	if ops <= 0 {
		return 0, fmt.Errorf("calibrate share protocol: a product makes no share operation")
	}
	return protocolTime("share protocol", fp, prof, opt, vals, float64(ops), cost.OpShareProtocol,
		func(cfg mpc.Config, s *mpc.Session, x mpc.Pair) error {
			_, err := mpc.Mul{Config: cfg, N: shareBatch, Fixed: true}.Run(s, x, x)
			return err
		})
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
