package main

import (
	"math"
	"strings"
	"testing"

	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/sim"
)

// FuzzBudgets checks plan's budget parsers: no input panics, and what they
// accept is within the documented range.
func FuzzBudgets(f *testing.F) {
	for _, s := range []string{"", "90s", "2m", "1.5", "1e308", "-1s", "NaN", "Inf", "16GB", "512MiB", "9e18", "1.5.5GB", ".GB", "10 kib"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := parseSeconds(s); err == nil && !(v >= 0 && v <= maxLatencyBudget) {
			t.Fatalf("--latency-budget %q = %v", s, v)
		}
		if v, err := parseBytes(s); err == nil && (v < 0 || v > math.MaxInt64/2) {
			t.Fatalf("--memory-budget %q = %v", s, v)
		}
	})
}

// FuzzTaus checks tune refresh's --taus parser.
func FuzzTaus(f *testing.F) {
	for _, s := range []string{"", "0,8,16", " 4 , 5", "-1", "NaN", "1e7", ",", strings.Repeat("1,", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		taus, err := parseTaus(s)
		if err != nil {
			return
		}
		if len(taus) > maxTaus {
			t.Fatalf("%d thresholds", len(taus))
		}
		for _, v := range taus {
			if !(v >= 0 && v <= 1e6) {
				t.Fatalf("--taus %q gives %v", s, v)
			}
		}
	})
}

// FuzzProtocolFlags checks the parsers of --strategy, --append, --refresh
// and --refresh-threshold: no input panics, and an accepted policy names
// itself (its String is what the outputs print).
func FuzzProtocolFlags(f *testing.F) {
	f.Add("cryptogen", "client", "lazy", 8.0)
	f.Add("recompute", "homomorphic", "", -1.0)
	f.Add("FHE", "hom", "eager", math.NaN())
	f.Add("", "", "never", math.Inf(1))
	f.Add("lut", "client", "never", 0.0)
	f.Fuzz(func(t *testing.T, strategy, appendMethod, refresh string, tau float64) {
		_, _ = sim.ParseStrategy(strategy)
		if nl, err := mpc.ParseNonlinear(strategy); err == nil && nl.String() != strategy {
			t.Fatalf("--nonlinear %q parsed as %v", strategy, nl)
		}
		m, err := sim.ParseAppend(appendMethod)
		if err != nil {
			return
		}
		pol, err := sim.ParseRefresh(refresh, tau)
		if err != nil {
			return
		}
		if s := (sim.CacheOptions{Layout: sim.TokenLayout, Append: m, Refresh: pol}).String(); s == "" {
			t.Fatal("an accepted cache policy without a name")
		}
	})
}
