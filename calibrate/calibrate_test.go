package calibrate

import (
	"strings"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
	"github.com/tuneinsight/lattigo/v5/schemes/ckks"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/params"
)

// TestCalibrate measures tiny insecure parameters (log N 10, three levels:
// insecure, for speed only) and checks the profile is complete and sane.
func TestCalibrate(t *testing.T) {
	bp, err := bgv.NewParametersFromLiteral(bgv.ParametersLiteral{
		LogN: 10, LogQ: []int{40, 30, 30}, LogP: []int{41}, PlaintextModulus: 65537,
	})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := ckks.NewParametersFromLiteral(ckks.ParametersLiteral{
		LogN: 10, LogQ: []int{45, 35, 35}, LogP: []int{46}, LogDefaultScale: 35,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Three repetitions in two rounds at least: enough to exercise the
	// medians and the rounds, short enough for a unit test. Each round
	// times every op and the hoisted rotations' decomposition at each of
	// the 3 levels, but the rescale at level 0 (nothing to drop), and a
	// seed's expansion at the top level, and the decodings: one for CKKS,
	// three for BGV (a decode, and an encode and a decode in the
	// coefficients).
	calls, lastTotal, perRound := 0, 0, 0
	opt := Options{Repetitions: 3, Hoisted: 4, Rounds: 2, MaxRounds: 3, Progress: func(done, total int) {
		calls++
		if done != calls || done > total || total%perRound != 0 || total < 2*perRound {
			t.Errorf("progress %d/%d at call %d (%d per round)", done, total, calls, perRound)
		}
		lastTotal = total
	}}
	profiles := map[string]struct {
		measure   func() (*cost.Profile, error)
		encodings []cost.Op
	}{
		"bgv":  {func() (*cost.Profile, error) { return BGV("bgv-tiny-insecure", bp, opt) }, []cost.Op{cost.OpDecode, cost.OpEncodeCoeffs, cost.OpDecodeCoeffs}},
		"ckks": {func() (*cost.Profile, error) { return CKKS("ckks-tiny-insecure", cp, opt) }, []cost.Op{cost.OpDecode}},
	}
	for name, tt := range profiles {
		t.Run(name, func(t *testing.T) {
			calls, perRound = 0, 3*(len(cost.Ops())+1+len(tt.encodings))
			prof, err := tt.measure()
			if err != nil {
				t.Fatal(err)
			}
			if calls != lastTotal || prof.Rounds < 2 || prof.Rounds > 3 || calls != prof.Rounds*perRound {
				t.Errorf("%d progress calls, last total %d, %d rounds of %d", calls, lastTotal, prof.Rounds, perRound)
			}
			if m := cost.ThisMachine(); prof.CPU != m.CPU || prof.Cores != m.Cores || prof.GoVersion != m.GoVersion || !prof.SameMachine(m) && m.CPU != "" {
				t.Errorf("profile machine %+v, this one %+v", prof.MachineOf(), m)
			}
			if want := len(cost.Ops()) + 1 + len(tt.encodings); len(prof.Spread) != want {
				t.Errorf("spread of %d ops, want %d", len(prof.Spread), want)
			}
			for _, op := range tt.encodings {
				if _, ok := prof.Seconds[op]; !ok {
					t.Errorf("%s not measured", op)
				}
			}
			if err := prof.Validate(); err != nil {
				t.Fatal(err)
			}
			if prof.MaxLevel != 2 || prof.LogN != 10 {
				t.Errorf("profile shape: log N %d, max level %d", prof.LogN, prof.MaxLevel)
			}
			// A key-switching rotation costs more than an addition at the top
			// level, by far (an order of magnitude at any size).
			if r, a := prof.Time(cost.OpRotate, 2), prof.Time(cost.OpAdd, 2); r < 2*a {
				t.Errorf("rotation %.3gs not dearer than add %.3gs", r, a)
			}
		})
	}
	if _, err := BGV("x", bp, Options{Hoisted: calibrationRotations + 1}); err == nil {
		t.Error("too many hoisted rotations accepted")
	}
}

// TestCalibrateDealing measures the dealer's operations: Dealing
// alone at both rings of the presets, and BGV with a fixed point,
// whose profile then prices them at every level; a fixed point of another
// modulus than the parameters' is an error.
func TestCalibrateDealing(t *testing.T) {
	// One repetition: the test checks the shape of the result, not its
	// precision.
	opt := Options{Repetitions: 1}
	for _, name := range []string{"bgv-n13", "bgv-n14"} {
		t.Run(name, func(t *testing.T) {
			pr, err := params.ByName(name)
			if err != nil {
				t.Fatal(err)
			}
			deal, err := Dealing(pr.FixedPoint, opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range cost.OfflineOps() {
				if !(deal[op] > 0) {
					t.Errorf("%s: %v seconds", op, deal[op])
				}
			}
			// A comparison key is bits(t) >= 41 levels of 8 AES blocks
			// each; a triple is 10 PRG elements: the key costs over ten
			// times as much on any machine.
			if deal[cost.OpDealCompare] < 10*deal[cost.OpDealTriple] {
				t.Errorf("comparison key %.3g s not dearer than 10 triples (%.3g s each)", deal[cost.OpDealCompare], deal[cost.OpDealTriple])
			}
		})
	}
	t.Run("profile", func(t *testing.T) {
		pr, err := params.ByName("bgv-test-insecure")
		if err != nil {
			t.Fatal(err)
		}
		bp, err := pr.BGV()
		if err != nil {
			t.Fatal(err)
		}
		last := [2]int{}
		o := Options{Repetitions: 1, Hoisted: 2, FixedPoint: pr.FixedPoint,
			Progress: func(done, total int) { last = [2]int{done, total} }}
		prof, err := BGV(pr.Name, bp, o)
		if err != nil {
			t.Fatal(err)
		}
		if err := prof.Validate(); err != nil {
			t.Fatal(err)
		}
		if !prof.PricesOffline() {
			t.Error("the profile does not price the dealer")
		}
		if prof.RoundSeconds() <= 0 {
			t.Error("the profile does not price a round")
		}
		if _, ok := prof.Seconds[cost.OpShareProtocol]; !ok {
			t.Error("the profile does not price the protocols' share operations")
		}
		// A DCF level is two AES blocks and a 128-bit reduction: dearer
		// than one modular operation on any machine.
		if _, ok := prof.Seconds[cost.OpDCF]; !ok || prof.DCFSeconds() < prof.Time(cost.OpShare, 0) {
			t.Errorf("a DCF level priced %v s (a share operation %v s)", prof.Seconds[cost.OpDCF], prof.Time(cost.OpShare, 0))
		}
		// Every round of every level of every online op and of the
		// decomposition (less the rescale at level 0, plus a seed's
		// expansion at the top level, plus the decode and the two
		// coefficient encodings), then the
		// dealing.
		if want := prof.Rounds*(prof.MaxLevel+1)*(len(cost.Ops())+4) + 1; last != [2]int{want, want} {
			t.Errorf("last progress %v, want %d of %d", last, want, want)
		}
		small, err := params.ByName("bgv-n13")
		if err != nil {
			t.Fatal(err)
		}
		o.FixedPoint, o.Progress = small.FixedPoint, nil
		if _, err := BGV(pr.Name, bp, o); err == nil || !strings.Contains(err.Error(), "plaintext modulus") {
			t.Errorf("a fixed point of another modulus: %v", err)
		}
	})
}

// TestAtLevel: an operation that leaves its output at another level than
// the one it prices fails the calibration (an output shared with the
// rescale once priced every later operation a level low).
func TestAtLevel(t *testing.T) {
	p, err := bgv.NewParametersFromLiteral(bgv.ParametersLiteral{
		LogN: 10, LogQ: []int{40, 30, 30}, LogP: []int{41}, PlaintextModulus: 65537,
	})
	if err != nil {
		t.Fatal(err)
	}
	ct := rlwe.NewCiphertext(p, 1, 2)
	keep := atLevel(ct, 2, func() error { return nil })
	drop := atLevel(ct, 2, func() error { ct.Resize(1, 1); return nil })
	if err := keep(); err != nil {
		t.Errorf("an output kept at its level: %v", err)
	}
	if err := drop(); err == nil || !strings.Contains(err.Error(), "level 1, not 2") {
		t.Errorf("an output dropped a level: %v", err)
	}
	if err := keep(); err == nil {
		t.Error("the dropped output passed the check")
	}
}
