package kv

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
)

// safeCombos are the (method, policy) pairs that are supposed to be safe
// for any context at the insecure test preset and bgv-n14. Never with
// Homomorphic is not: it is rejected (TestUnsafePolicyRejected).
var safeCombos = []struct {
	m   Method
	pol Policy
}{
	{ClientEncrypt, Never{}},
	{ClientEncrypt, Lazy{Tau: 0}},
	{ClientEncrypt, Eager{}},
	{Homomorphic, Eager{}},
	{Homomorphic, Lazy{Tau: 0}},
	{Homomorphic, Lazy{Tau: 44}}, // between the budget after one append (40.9 at n14, 46.9 at n11) and a fresh one: refresh after every append at n14, every other at n11
}

// TestAppendDecrypts appends 512 tokens (64 with -short) for every safe
// method and policy, checks at several context lengths that the cache
// decrypts to exactly what was appended (keys and values, slots outside
// the tokens zero), and that Run's counters equal Estimate's over each
// stretch of appends.
func TestAppendDecrypts(t *testing.T) {
	total, checks := 512, []int{1, 7, 64, 200, 512}
	if testing.Short() {
		total, checks = 64, []int{1, 7, 64}
	}
	for _, sc := range safeCombos {
		t.Run(fmt.Sprintf("bgv-test-insecure/%s/%s", sc.m, sc.pol), func(t *testing.T) {
			cfg := newConfig(t, "bgv-test-insecure", smallShape, total, sc.m, sc.pol)
			s := newSession(t, cfg)
			defer s.Close()
			c, err := NewCache(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var pk plainKV
			start := time.Now()
			prev := 0
			for _, n := range checks {
				tally := cost.NewTally(cfg.Profile)
				appendTokens(t, s, tally, c, n-prev, &pk)
				est, err := cfg.Estimate(prev, n)
				if err != nil {
					t.Fatal(err)
				}
				hetest.CheckCounters(t, fmt.Sprintf("tokens %d..%d", prev, n), tally.Cost(), est)
				prev = n
				for kind := 0; kind < 2; kind++ {
					want := pk.k
					if kind == kindV {
						want = pk.v
					}
					if got := reveal(t, s, c, 0, kind); !slices.Equal(got, want) {
						t.Fatalf("after %d tokens the %s cache decrypts wrong", n, kindName(kind))
					}
				}
			}
			nref, _, _ := cfg.Refreshes(total)
			t.Logf("%d appends, %d refreshes, %v", total, nref, time.Since(start))
		})
	}
}

// TestUnsafePolicyRejected: a policy that would let a ciphertext fall
// below what the next product needs is an error at configuration time,
// and the runtime guard stops the operation before it runs.
func TestUnsafePolicyRejected(t *testing.T) {
	base := Config{Preset: "bgv-test-insecure", Planner: planner(t, "bgv-test-insecure"), Layers: 1, Heads: 4, KVHeads: 2, HeadDim: 16, MaxContext: 64}
	for _, tc := range []struct {
		name string
		m    Method
		pol  Policy
	}{
		{"homomorphic/never", Homomorphic, Never{}},
		{"lazy/negative-tau", Homomorphic, Lazy{Tau: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			cfg.Method, cfg.Policy = tc.m, tc.pol
			if _, err := NewConfig(cfg); !errors.Is(err, ErrBudget) {
				t.Fatalf("NewConfig: %v, want ErrBudget", err)
			}
		})
	}
	// Homomorphic/Never is fine for two tokens (one level each from the
	// top, 5, down to the kernel's 3) but not for three.
	cfg := base
	cfg.Method, cfg.Policy, cfg.MaxContext = Homomorphic, Never{}, 2
	ok, err := NewConfig(cfg)
	if err != nil {
		t.Fatalf("two homomorphic appends without refresh: %v", err)
	}
	// The runtime guard: the same cache, forced past its configuration.
	ok.MaxContext = 3
	c, err := NewCache(ok)
	if err != nil {
		t.Fatal(err)
	}
	s := newSession(t, ok)
	defer s.Close()
	var pk plainKV
	appendTokens(t, s, cost.NewTally(ok.Profile), c, 2, &pk)
	tm := ok.Params.PlaintextModulus()
	k, v := share(t, hetest.RandVec(tm, ok.KVDim()), tm), share(t, hetest.RandVec(tm, ok.KVDim()), tm)
	src, err := NewSource(s, hetest.NopTally(), ok, k, v)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AppendSource(s, hetest.NopTally(), 0, src); !errors.Is(err, ErrBudget) {
		t.Fatalf("third append: %v, want ErrBudget", err)
	}
	if c.Len() != 2 {
		t.Fatalf("the failed append changed the cache: %d tokens", c.Len())
	}
	for kind := 0; kind < 2; kind++ {
		want := pk.k
		if kind == kindV {
			want = pk.v
		}
		if !slices.Equal(reveal(t, s, c, 0, kind), want) {
			t.Fatalf("%s cache wrong after the refused append", kindName(kind))
		}
	}
}
