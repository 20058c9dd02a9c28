package exec

import (
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
)

// TestReencrypt re-encrypts two ciphertexts into two groups at different
// levels with a public map and scales (one group reverses the second
// ciphertext and multiplies it by 3, the other keeps the first and half of
// the second, zero elsewhere): the outputs decrypt to the relaid values,
// and the Run's counters equal the Estimate's, one round in all.
func TestReencrypt(t *testing.T) {
	for _, name := range hetest.Presets() {
		t.Run(name, func(t *testing.T) {
			e := hetest.ForTest(t, name)
			p := e.Params
			sess, err := NewSession(p)
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			N, tm := p.MaxSlots(), p.PlaintextModulus()
			x := hetest.RandVec(tm, 2*N)
			cts, err := NewC2S(p, e.Profile, 2*N).Run(sess, cost.NewTally(e.Profile), share(t, x, tm))
			if err != nil {
				t.Fatal(err)
			}
			ret, err := NewH2S(p, e.Profile, 2*N, p.MaxLevel(), NewNoiseModel(p).FreshSK())
			if err != nil {
				t.Fatal(err)
			}
			rev := ReencryptGroup{Level: p.MaxLevel(), Cts: 1, Map: make([]int, N), Scale: []uint64{3}}
			for j := range rev.Map {
				rev.Map[j] = 2*N - 1 - j
			}
			keep := ReencryptGroup{Level: max(0, p.MaxLevel()-1), Cts: 2, Map: make([]int, 2*N), Scale: []uint64{1, 1}}
			for j := range keep.Map {
				keep.Map[j] = j
				if j >= N+N/2 {
					keep.Map[j] = -1
				}
			}
			re := Reencrypt{Return: ret, Groups: []ReencryptGroup{rev, keep}}
			tally := cost.NewTally(e.Profile)
			out, err := re.Run(sess, tally, cts)
			if err != nil {
				t.Fatal(err)
			}
			hetest.CheckCounters(t, "re-encryption", tally.Cost(), re.Estimate())
			if got := tally.Cost().Rounds; got != 1 {
				t.Errorf("%d rounds, want 1", got)
			}
			for gi, g := range re.Groups {
				if len(out[gi]) != g.Cts {
					t.Fatalf("group %d: %d ciphertexts, want %d", gi, len(out[gi]), g.Cts)
				}
				for _, ct := range out[gi] {
					if ct.Level() != g.Level {
						t.Fatalf("group %d: output at level %d, want %d", gi, ct.Level(), g.Level)
					}
				}
				back, err := NewH2S(p, e.Profile, g.Cts*N, g.Level, NewNoiseModel(p).FreshSK())
				if err != nil {
					t.Fatal(err)
				}
				y, err := back.Run(sess, cost.NewTally(e.Profile), out[gi])
				if err != nil {
					t.Fatal(err)
				}
				got := y.Reveal(tm)
				for j, m := range g.Map {
					var want uint64
					if m >= 0 {
						want = mulModT(x[m], g.Scale[j/N], tm)
					}
					if got[j] != want {
						t.Fatalf("group %d slot %d: %d, want %d", gi, j, got[j], want)
					}
				}
			}
			// A map entry outside the returned vector is an error before
			// anything is sent.
			bad := Reencrypt{Return: ret, Groups: []ReencryptGroup{{Level: 0, Cts: 1, Map: make([]int, N), Scale: []uint64{1}}}}
			bad.Groups[0].Map[5] = 2 * N
			if _, err := bad.Run(sess, cost.NewTally(e.Profile), cts); err == nil {
				t.Fatal("a map entry beyond the vector was accepted")
			}
		})
	}
}
