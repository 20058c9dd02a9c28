package mpc

import (
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/params"
)

// testProfile prices every operation at one microsecond: the tests compare
// counters, never seconds.
func testProfile() *cost.Profile {
	p := &cost.Profile{Params: "mpc-test", Scheme: "BGV", LogN: 13, MaxLevel: 0, Seconds: map[cost.Op][]float64{}}
	for _, op := range cost.Ops() {
		p.Seconds[op] = []float64{1e-6}
	}
	return p
}

// testPresets are the fixed-point settings the tests loop over: bgv-n13's
// (41-bit t, f = 12, values in (-32, 32)) and bgv-n14's, which bgv-n15,
// bgv-n16 and bgv-test-insecure share (60-bit t, f = 14, (-4096, 4096)).
var testPresets = []string{"bgv-n13", "bgv-n14"}

// testConfig is the Config of a preset's fixed point.
func testConfig(t testing.TB, preset string) Config {
	p, err := params.ByName(preset)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConfig(p.FixedPoint, testProfile())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
