package exec

import (
	"testing"

	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
	"github.com/tuneinsight/lattigo/v5/schemes/ckks"

	"github.com/cgsim/cgsim/cost"
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
	// Three repetitions: enough to exercise the median, short enough for a unit test.
	calls := 0
	opt := CalibrationOptions{Repetitions: 3, Hoisted: 4, Progress: func(done, total int) {
		calls++
		if done != calls || total != 3*len(cost.Ops()) {
			t.Errorf("progress %d/%d at call %d", done, total, calls)
		}
	}}
	profiles := map[string]func() (*cost.Profile, error){
		"bgv":  func() (*cost.Profile, error) { return CalibrateBGV("bgv-tiny-insecure", bp, opt) },
		"ckks": func() (*cost.Profile, error) { return CalibrateCKKS("ckks-tiny-insecure", cp, opt) },
	}
	for name, measure := range profiles {
		t.Run(name, func(t *testing.T) {
			calls = 0
			prof, err := measure()
			if err != nil {
				t.Fatal(err)
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
	if _, err := CalibrateBGV("x", bp, CalibrationOptions{Hoisted: calibrationRotations + 1}); err == nil {
		t.Error("too many hoisted rotations accepted")
	}
}
