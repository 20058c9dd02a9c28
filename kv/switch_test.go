package kv

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/internal/hetest"
)

// prefillOf has the client encrypt its shares of m tokens in the prefill
// layout at the top level: what the prefill kernels hold.
func prefillOf(t testing.TB, s *exec.Session, cfg Config, m int, pk *plainKV) *Prefill {
	t.Helper()
	p := cfg.Params
	tm := p.PlaintextModulus()
	lay, err := NewSwitchLayout(p.MaxSlots(), m, cfg.KVDim())
	if err != nil {
		t.Fatal(err)
	}
	in := &Prefill{Layout: lay, Level: p.MaxLevel(), Bits: cfg.Model().Payload(freshState(0, 1))}
	for kind := 0; kind < 2; kind++ {
		vals := hetest.RandVec(tm, m*cfg.KVDim())
		sh := share(t, vals, tm)
		var x exec.Shared
		for _, v := range lay.Vectors(sh.C) {
			x.C = append(x.C, v...)
		}
		x.S = make([]uint64, len(x.C))
		cts, err := exec.C2S{Params: p, Profile: cfg.Profile, Len: len(x.C), Level: in.Level}.Run(s, hetest.NopTally(), x)
		if err != nil {
			t.Fatal(err)
		}
		if kind == kindK {
			in.K, in.KS, pk.k = cts, sh.S, vals
		} else {
			in.V, in.VS, pk.v = cts, sh.S, vals
		}
	}
	return in
}

// TestSwitch switches prefills of several lengths into the decode layout,
// checks the decryption and Run against EstimateSwitch, then appends
// tokens and checks them against the trajectory the estimate returned.
// The lengths cover one token, a partial span, exactly one decode-layout
// ciphertext (64 tokens of 32 elements at 2048 slots), several, and 2049:
// one token more than the preset's 2048 slots, so each feature of the
// switch layout spans two ciphertexts.
func TestSwitch(t *testing.T) {
	for _, m := range []Method{ClientEncrypt, Homomorphic} {
		for _, n := range []int{1, 7, 64, 100, 2049} {
			t.Run(fmt.Sprintf("bgv-test-insecure/%s/m=%d", m, n), func(t *testing.T) {
				cfg := newConfig(t, "bgv-test-insecure", smallShape, max(128, n+5), m, Lazy{Tau: 0})
				s := newSession(t, cfg)
				defer s.Close()
				c, err := NewCache(cfg)
				if err != nil {
					t.Fatal(err)
				}
				var pk plainKV
				in := prefillOf(t, s, cfg, n, &pk)
				tally := cost.NewTally(cfg.Profile)
				if err := c.Switch(s, tally, 0, in); err != nil {
					t.Fatal(err)
				}
				est, tr, err := cfg.EstimateSwitch(n, in.Level, in.Bits)
				if err != nil {
					t.Fatal(err)
				}
				hetest.CheckCounters(t, "switch", tally.Cost(), est)
				tally = cost.NewTally(cfg.Profile)
				appendTokens(t, s, tally, c, 5, &pk)
				var want cost.Cost
				for i := 0; i < 5; i++ {
					st, err := tr.Step()
					if err != nil {
						t.Fatal(err)
					}
					want = want.Add(st)
				}
				hetest.CheckCounters(t, "appends after the switch", tally.Cost(), want)
				for kind := 0; kind < 2; kind++ {
					w := pk.k
					if kind == kindV {
						w = pk.v
					}
					if !slices.Equal(reveal(t, s, c, 0, kind), w) {
						t.Fatalf("%s cache wrong after switch and appends", kindName(kind))
					}
				}
			})
		}
	}
}
