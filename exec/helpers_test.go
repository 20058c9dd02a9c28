package exec

import (
	"sync"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/calibrate"
	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/params"
)

// testPresets are the presets the tests loop over: the insecure test preset
// always, the secure bgv-n13 unless -short.
func testPresets(t testing.TB) []string {
	if testing.Short() {
		return []string{"bgv-test-insecure"}
	}
	return []string{"bgv-test-insecure", "bgv-n13"}
}

type testEnv struct {
	name    string
	params  bgv.Parameters
	profile *cost.Profile
}

var (
	envMu    sync.Mutex
	envCache = map[string]*testEnv{}
)

// env returns the parameters of a preset and a profile for it: the
// embedded default if there is one, else a quick calibration (3
// repetitions: the counters, not the seconds, are what the tests check).
func env(t testing.TB, name string) *testEnv {
	t.Helper()
	envMu.Lock()
	defer envMu.Unlock()
	if e, ok := envCache[name]; ok {
		return e
	}
	pr, err := params.ByName(name)
	if err != nil {
		t.Fatal(err)
	}
	bp, err := pr.BGV()
	if err != nil {
		t.Fatal(err)
	}
	prof, err := cost.Default(name)
	if err != nil {
		prof, err = calibrate.BGV(name, bp, calibrate.Options{Repetitions: 3, Hoisted: 4})
		if err != nil {
			t.Fatal(err)
		}
	}
	e := &testEnv{name: name, params: bp, profile: prof}
	envCache[name] = e
	return e
}

// checkCounters fails the test if the counters of run and est differ.
func checkCounters(t testing.TB, run, est cost.Cost) {
	t.Helper()
	if d := cost.CounterDiff(run, est); len(d) != 0 {
		t.Errorf("Run and Estimate disagree: %v", d)
	}
}

func randVec(t testing.TB, tmod uint64, n int) []uint64 {
	t.Helper()
	v, err := UniformMod(tmod, n)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func share(t testing.TB, v []uint64, tmod uint64) Shared {
	t.Helper()
	s, err := ShareOf(v, tmod)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func equalVec(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// encryptVecs plays the client's part of building an encrypted input: it
// encrypts slot vectors at level and sends them to the server.
func encryptVecs(t testing.TB, s *Session, level int, vecs [][]uint64) []*rlwe.Ciphertext {
	t.Helper()
	var cts []*rlwe.Ciphertext
	err := s.both(func(cl *Client) error {
		return cl.sendInputs(nopTally(), level, vecs)
	}, func(sv *Server) error {
		var err error
		cts, err = sv.recvInputs(nopTally(), len(vecs))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return cts
}

// nopTally is a tally for setup work whose cost no test checks.
func nopTally() *cost.Tally {
	p := &cost.Profile{Params: "none", Seconds: map[cost.Op][]float64{}}
	for _, op := range cost.Ops() {
		p.Seconds[op] = make([]float64, 64)
		for i := range p.Seconds[op] {
			p.Seconds[op][i] = 1
		}
	}
	return cost.NewTally(p)
}
