// Package hetest is the test kit of the packages whose tests run real BGV
// ciphertexts (exec, kv): a preset's parameters and profile, memoized per
// test binary, random vectors modulo t and their additive shares, the
// counter comparison of a Run against its Estimate, and a tally for setup
// work whose cost no test checks.
//
// It imports neither exec nor kv, so that the tests inside package exec
// can use it: shares come back as two slices, which each package wraps in
// its own type (exec.Shared).
package hetest

import (
	"math/bits"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/calibrate"
	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/params"
)

// Presets are the presets the HE tests loop over: the insecure test preset
// always, the secure bgv-n13 unless -short.
func Presets() []string {
	if testing.Short() {
		return []string{"bgv-test-insecure"}
	}
	return []string{"bgv-test-insecure", "bgv-n13"}
}

// Env is a preset with its BGV parameters and a profile that prices them.
type Env struct {
	Name    string
	Preset  params.Preset
	Params  bgv.Parameters
	Profile *cost.Profile
}

var (
	envMu    sync.Mutex
	envCache = map[envKey]*Env{}
)

type envKey struct {
	name string
	reps int
}

// ForTest returns a preset's environment: its embedded default profile if
// there is one, else a quick calibration (3 repetitions: the tests check
// counters, not seconds).
func ForTest(tb testing.TB, name string) *Env {
	tb.Helper()
	return load(tb, name, calibrate.Options{Repetitions: 3, Hoisted: 4, Rounds: 1})
}

// ForBench is ForTest for benchmarks, which report seconds: a missing
// default profile is calibrated with 5 repetitions (the medians the
// estimates are priced with).
func ForBench(tb testing.TB, name string) *Env {
	tb.Helper()
	return load(tb, name, calibrate.Options{Repetitions: 5, Rounds: 1})
}

func load(tb testing.TB, name string, opt calibrate.Options) *Env {
	tb.Helper()
	envMu.Lock()
	defer envMu.Unlock()
	key := envKey{name, opt.Repetitions}
	if e, ok := envCache[key]; ok {
		return e
	}
	pr, err := params.ByName(name)
	if err != nil {
		tb.Fatal(err)
	}
	bp, err := pr.BGV()
	if err != nil {
		tb.Fatal(err)
	}
	prof, err := cost.Default(name)
	if err != nil {
		if prof, err = calibrate.BGV(name, bp, opt); err != nil {
			tb.Fatal(err)
		}
	}
	e := &Env{Name: name, Preset: pr, Params: bp, Profile: prof}
	envCache[key] = e
	return e
}

// RandVec is n values uniform modulo t.
func RandVec(t uint64, n int) []uint64 {
	v := make([]uint64, n)
	for i := range v {
		v[i] = rand.Uint64N(t)
	}
	return v
}

// Share splits v into the client's share c = v - r and the server's share
// s = r modulo t, for a fresh uniform r.
func Share(v []uint64, t uint64) (c, s []uint64) {
	s = RandVec(t, len(v))
	c = make([]uint64, len(v))
	for i := range v {
		c[i] = (v[i]%t + t - s[i]) % t
	}
	return c, s
}

// MulMod is a·b mod t.
func MulMod(a, b, t uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	_, r := bits.Div64(hi%t, lo, t)
	return r
}

// CheckCounters fails the test if the counters of what Run recorded and of
// what Estimate predicted differ (cost.CounterDiff); what names the
// primitive.
func CheckCounters(tb testing.TB, what string, run, est cost.Cost) {
	tb.Helper()
	if d := cost.CounterDiff(run, est); len(d) != 0 {
		tb.Errorf("%s: Run and Estimate disagree: %v", what, d)
	}
}

// NopTally is a tally for setup work whose cost no test checks: every
// operation at every level priced one second.
func NopTally() *cost.Tally {
	p := &cost.Profile{Params: "none", Seconds: map[cost.Op][]float64{}}
	for _, op := range cost.Ops() {
		p.Seconds[op] = make([]float64, 64)
		for i := range p.Seconds[op] {
			p.Seconds[op][i] = 1
		}
	}
	return cost.NewTally(p)
}
