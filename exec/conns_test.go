package exec

import (
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/internal/hetest"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
)

// TestOneTransport runs the HE primitives and the mpc protocols over one
// net.Pipe and one meter (exec.NewSessionConns, mpc.NewSessionConns),
// interleaved as a generation step interleaves them: each Run's counters
// still equal its Estimate, and the results are exact.
func TestOneTransport(t *testing.T) {
	e := hetest.ForTest(t, "bgv-test-insecure")
	p := e.Params
	tm := p.PlaintextModulus()
	cc, sc, meter, closePipe := net.Pipe()
	defer closePipe()
	l, err := NewLinear(p, e.Profile, 64, 64, 1, Decode)
	if err != nil {
		t.Fatal(err)
	}
	he, err := NewSessionConns(p, cc, sc, meter, closePipe, l)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := params.ByName("bgv-test-insecure")
	if err != nil {
		t.Fatal(err)
	}
	mc, err := mpc.NewConfig(pr.FixedPoint, e.Profile)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		w := randMatrix(t, tm, 64, 64)
		x := hetest.RandVec(tm, 64)
		tally := cost.NewTally(e.Profile)
		y, err := l.Run(he, tally, w, share(t, x, tm))
		if err != nil {
			t.Fatal(err)
		}
		hetest.CheckCounters(t, "linear", tally.Cost(), l.Estimate())
		got := y.Reveal(tm)
		for r := 0; r < 64; r++ {
			var want uint64
			for c := 0; c < 64; c++ {
				want = (want + hetest.MulMod(w.Data[r*64+c], x[c], tm)) % tm
			}
			if got[r] != want {
				t.Fatalf("round %d: row %d: got %d, want %d", round, r, got[r], want)
			}
		}
		a, err := mc.Ring.Split([]float64{1.5, -2, 3})
		if err != nil {
			t.Fatal(err)
		}
		m := mpc.Mul{Config: mc, N: 3, Fixed: true}
		// A fresh mpc session per round over the same transport: its Cost
		// is this Run's.
		mp := mpc.NewSessionConns(mc, mpc.TrustedDealer{}, cc, sc, meter, closePipe)
		prod, err := m.Run(mp, a, a)
		if err != nil {
			t.Fatal(err)
		}
		hetest.CheckCounters(t, "mpc mul", mp.Cost(), m.Estimate())
		v, err := mc.Ring.Reveal(prod)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []float64{2.25, 4, 9} {
			if d := v[i] - want; d > 0.01 || d < -0.01 {
				t.Fatalf("round %d: product %d = %g, want %g", round, i, v[i], want)
			}
		}
	}
}
