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

// playStep plays one communication step of both parties (fn) on a
// session dealt exactly the step's bill, p, and returns the opened
// output. It fails t unless the step makes one round, leaves no material
// and records the bill's counters.
func playStep(t *testing.T, cfg Config, p *bill, in []Pair, fn func(pt *party, mine ...[]uint64) ([]uint64, error)) []uint64 {
	t.Helper()
	s := NewSession(cfg, TrustedDealer{})
	defer s.Close()
	if err := s.Preprocess(p.need); err != nil {
		t.Fatal(err)
	}
	out, err := s.playBoth(in, fn)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cfg.Ring.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if left := s.Left(); left != (Need{}) {
		t.Errorf("material left over: %v", left)
	}
	online := s.Cost()
	online.OfflineBytes, online.OfflineSeconds = 0, 0
	if d := cost.CounterDiff(online, p.cost); len(d) > 0 {
		t.Errorf("counters differ from the bill's: %v", d)
	}
	if online.Rounds != 1 {
		t.Errorf("%d rounds, want 1", online.Rounds)
	}
	return got
}
