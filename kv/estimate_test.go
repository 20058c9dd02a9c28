package kv

import (
	"fmt"
	"math"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/internal/hetest"
)

// TestRunEqualsEstimate: for each method, policy and threshold, the
// counters of appending 1, 7, 64 and 200 tokens from empty (refreshes
// included) equal Estimate's exactly. Thresholds: 0 (refresh only when
// the next append would fail), 44 (between the budget after one append
// and a fresh one at this preset), 100 (above a fresh ciphertext's budget:
// refresh after every append).
func TestRunEqualsEstimate(t *testing.T) {
	ctxs := []int{1, 7, 64, 200}
	if testing.Short() {
		ctxs = []int{1, 7, 64}
	}
	pols := []Policy{Eager{}, Lazy{Tau: 0}, Lazy{Tau: 44}, Lazy{Tau: 100}, Never{}}
	for _, m := range []Method{ClientEncrypt, Homomorphic} {
		for _, pol := range pols {
			if m == Homomorphic && pol == (Never{}) {
				continue
			}
			for _, n := range ctxs {
				t.Run(fmt.Sprintf("bgv-test-insecure/%s/%s/ctx=%d", m, pol, n), func(t *testing.T) {
					cfg := newConfig(t, "bgv-test-insecure", smallShape, n, m, pol)
					s := newSession(t, cfg)
					defer s.Close()
					c, err := NewCache(cfg)
					if err != nil {
						t.Fatal(err)
					}
					tally := cost.NewTally(cfg.Profile)
					var pk plainKV
					appendTokens(t, s, tally, c, n, &pk)
					est, err := cfg.Estimate(0, n)
					if err != nil {
						t.Fatal(err)
					}
					hetest.CheckCounters(t, "appends", tally.Cost(), est)
					if got := tally.Cost().PeakMemoryBytes; got != c.Memory() && m == ClientEncrypt {
						t.Errorf("peak %d, resident %d", got, c.Memory())
					}
				})
			}
		}
	}
}

// TestAppendN14 is a shorter run at the default preset, with the
// stories260K attention shape (B = 512 at N = 16384).
func TestAppendN14(t *testing.T) {
	if testing.Short() {
		t.Skip("bgv-n14: not in -short")
	}
	for _, sc := range []struct {
		m   Method
		pol Policy
		n   int
	}{{ClientEncrypt, Never{}, 24}, {Homomorphic, Lazy{Tau: 0}, 12}} {
		t.Run(fmt.Sprintf("bgv-n14/%s/%s", sc.m, sc.pol), func(t *testing.T) {
			sh := storiesShape
			sh.layers = 1
			cfg := newConfig(t, "bgv-n14", sh, 512, sc.m, sc.pol)
			s := newSession(t, cfg)
			defer s.Close()
			c, err := NewCache(cfg)
			if err != nil {
				t.Fatal(err)
			}
			tally := cost.NewTally(cfg.Profile)
			var pk plainKV
			appendTokens(t, s, tally, c, sc.n, &pk)
			est, err := cfg.Estimate(0, sc.n)
			if err != nil {
				t.Fatal(err)
			}
			hetest.CheckCounters(t, "appends", tally.Cost(), est)
			tm := cfg.Params.PlaintextModulus()
			q := hetest.RandVec(tm, cfg.Heads*cfg.HeadDim)
			w := hetest.RandVec(tm, cfg.Heads*sc.n)
			sco, out := decodeAttention(t, s, hetest.NopTally(), c, 0, q, w)
			checkAttention(t, cfg, pk, sc.n, q, w, sco, out)
		})
	}
}

// TestMemory checks KeyBytes against the bytes of a real key exchange and
// the growth of the cache against BytesPerToken.
func TestMemory(t *testing.T) {
	cfg := newConfig(t, "bgv-test-insecure", smallShape, 256, ClientEncrypt, Never{})
	sc, vk := kernels(t, cfg, cfg.MaxContext)
	s, err := exec.NewSession(cfg.Params, sc, vk)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kb := KeyBytes(cfg.Params, s.GaloisKeys)
	// The setup also sends the public key (two polynomials over Q·P) and
	// frames; the keys dominate.
	if ratio := float64(kb) / float64(s.Setup.BytesC2S); ratio > 1 || ratio < 0.9 {
		t.Errorf("KeyBytes %d vs %d bytes of setup traffic", kb, s.Setup.BytesC2S)
	}
	c, err := NewCache(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var pk plainKV
	B := cfg.Layout.TokensPerCt
	appendTokens(t, s, hetest.NopTally(), c, 2*B, &pk)
	per := float64(c.Memory()) / float64(2*B)
	if math.Abs(per-cfg.BytesPerToken()) > 1e-9*per {
		t.Errorf("memory per token %.1f, BytesPerToken %.1f", per, cfg.BytesPerToken())
	}
	t.Logf("keys %d bytes (setup traffic %d), cache %.0f bytes/token vs %d plaintext fp16", kb, s.Setup.BytesC2S, per, cfg.PlaintextBytesPerToken())
}
