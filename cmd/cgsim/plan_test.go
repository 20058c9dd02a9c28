package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPlan: a small sweep (128 to 512 tokens: 128, 192, 256, 384, 512)
// in the three formats; the per-token ratio of recompute over cryptogen
// grows and the budgets bound the longest context.
func TestPlan(t *testing.T) {
	out, _, err := cgsim("plan", "--model", "gpt2", "--net", "lan", "--max-context", "512", "--quiet", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Points []struct {
			Context   int            `json:"context"`
			Cryptogen map[string]any `json:"cryptogen"`
			Recompute map[string]any `json:"recompute"`
		} `json:"points"`
		Longest map[string]int     `json:"longest_context"`
		Growth  map[string]float64 `json:"growth_exponent"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(rep.Points) != 5 || rep.Points[4].Context != 512 || rep.Longest["cryptogen"] != 512 {
		t.Fatalf("points %+v, longest %v", rep.Points, rep.Longest)
	}
	// Recompute re-runs the prefix (linear layers linear in the context,
	// attention quadratic): an exponent in (1, 2]; cryptogen's step is
	// mostly one token's linear layers: below 1 (sim.TestPlanGrowth).
	if cg, rc := rep.Growth["cryptogen"], rep.Growth["recompute"]; !(cg > 0 && cg < 1 && rc > 1 && rc <= 2) {
		t.Errorf("growth exponents %v", rep.Growth)
	}
	prev := 0.0
	for _, pt := range rep.Points {
		cg, rc := pt.Cryptogen["seconds"].(float64), pt.Recompute["seconds"].(float64)
		if r := rc / cg; r <= prev {
			t.Errorf("context %d: ratio %.2f did not grow (was %.2f)", pt.Context, r, prev)
		} else {
			prev = r
		}
		if pt.Cryptogen["peak_memory_bytes"].(float64) <= 0 {
			t.Errorf("context %d: no cache memory", pt.Context)
		}
	}
	// A latency budget between the cryptogen step at 128 and at 512
	// tokens, and a memory budget of 100 GB (no bound here).
	cg128, cg512 := rep.Points[0].Cryptogen["seconds"].(float64), rep.Points[4].Cryptogen["seconds"].(float64)
	budget := (cg128 + cg512) / 2
	out, _, err = cgsim("plan", "--model", "gpt2", "--net", "lan", "--max-context", "512", "--quiet",
		"--latency-budget", jsonNum(budget), "--memory-budget", "100GB")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "longest context within") || strings.Contains(out, "cryptogen 512 tokens") ||
		!strings.Contains(out, "recompute none of the sweep") || !strings.Contains(out, "context  cryptogen s/token") ||
		!strings.Contains(out, "growth over the sweep (seconds per token ~ context^k, least squares on log-log): cryptogen k = 0.") {
		t.Errorf("table:\n%s", out)
	}
	out, _, err = cgsim("plan", "--model", "stories260K", "--max-context", "256", "--quiet", "--format", "csv")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); err != nil || len(lines) != 4 || !strings.HasPrefix(lines[0], "context,cryptogen_seconds") {
		t.Errorf("csv: %v\n%s", err, out)
	}
}

func jsonNum(v float64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestPlanSpeculative: the speculative strategy beside plain decoding on
// the WAN at acceptance 0.9: a pass of 4 proposals yields 1 + 0.9 + ... +
// 0.9^4 tokens (reported), and its seconds per token are below plain
// decoding's at every context; sampling at a temperature costs a little
// more than greedy verification.
func TestPlanSpeculative(t *testing.T) {
	plan := func(extra ...string) []map[string]any {
		t.Helper()
		args := append([]string{"plan", "--model", "stories260K", "--net", "wan", "--nonlinear", "lut", "--min-context", "64", "--max-context", "128",
			"--strategies", "cryptogen,speculative", "--gamma", "4", "--acceptance", "0.9", "--quiet", "--format", "json"}, extra...)
		out, _, err := cgsim(args...)
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Gamma  int              `json:"gamma"`
			Points []map[string]any `json:"points"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if rep.Gamma != 4 || len(rep.Points) != 3 {
			t.Fatalf("gamma %d, %d points", rep.Gamma, len(rep.Points))
		}
		return rep.Points
	}
	secs := func(pt map[string]any, s string) float64 { return pt[s].(map[string]any)["seconds"].(float64) }
	greedy, sampled := plan(), plan("--temperature", "1")
	for i, pt := range greedy {
		y, _ := pt["speculative_tokens_per_step"].(float64)
		if want := 1 + 0.9 + 0.81 + 0.729 + 0.6561; y < want-1e-9 || y > want+1e-9 {
			t.Fatalf("tokens per step %v, want %v", y, want)
		}
		if spec, plain := secs(pt, "speculative")/y, secs(pt, "cryptogen"); !(spec < plain) {
			t.Errorf("context %v: speculative %.2f s a token, plain %.2f", pt["context"], spec, plain)
		}
		if !(secs(sampled[i], "speculative") > secs(pt, "speculative")) {
			t.Errorf("context %v: a sampled pass %.2f s, a greedy one %.2f", pt["context"], secs(sampled[i], "speculative"), secs(pt, "speculative"))
		}
	}
}

func TestPlanErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"bad latency", []string{"plan", "--latency-budget", "soon"}, "latency-budget"},
		{"bad memory", []string{"plan", "--memory-budget", "lots"}, "memory-budget"},
		{"bad contexts", []string{"plan", "--min-context", "512", "--max-context", "128"}, "context"},
		{"insecure", []string{"plan", "--params", "bgv-test-insecure"}, "--allow-insecure"},
		{"speculative without acceptance", []string{"plan", "--strategies", "cryptogen,speculative"}, "--acceptance"},
		{"acceptance above 1", []string{"plan", "--strategies", "speculative", "--acceptance", "2"}, "--acceptance"},
		{"gamma without speculative", []string{"plan", "--gamma", "2"}, "speculative"},
		{"speculative gamma 0", []string{"plan", "--strategies", "speculative", "--acceptance", "0.5", "--gamma", "0"}, "draft tokens"},
		{"speculative gamma 1000", []string{"plan", "--strategies", "speculative", "--acceptance", "0.5", "--gamma", "1000"}, "sim: plan: the speculative"},
		{"speculative tiny temperature", []string{"plan", "--strategies", "cryptogen,speculative", "--acceptance", "0.5", "--temperature", "1e-9"}, "temperature"},
		{"tune bad taus", []string{"tune", "refresh", "--taus", "1,x"}, "taus"},
		{"tune too long", []string{"tune", "refresh", "--prompt", "1000", "--gen", "100"}, "context"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cgsim(tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v does not mention %q on one line", err, tt.want)
			}
		})
	}
}

// TestTuneRefresh: stories260K, a 64-token prompt and 16 tokens at
// bgv-n14; the feature-major cache is the fastest (its kernels make no
// ct-ct product and no fold; see the README's tune section), and of the
// token-major configurations, client appends need no refresh while
// homomorphic appends with Never are rejected by the noise model.
func TestTuneRefresh(t *testing.T) {
	out, _, err := cgsim("tune", "refresh", "--model", "stories260K", "--prompt", "64", "--gen", "16", "--net", "wan", "--quiet", "--taus", "0,40,60")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "best: --layout feature") || !strings.Contains(out, "invalid") || !strings.Contains(out, "lazy(tau=40)") {
		t.Errorf("table:\n%s", out)
	}
	out, _, err = cgsim("tune", "refresh", "--model", "stories260K", "--prompt", "64", "--gen", "16", "--quiet", "--taus", "0", "--format", "json")
	var rep struct {
		Points []struct {
			Layout, Append, Refresh, Error string
			Total                          map[string]any
		} `json:"points"`
		Best int `json:"best"`
	}
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Points) != 7 {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if b := rep.Points[rep.Best]; b.Layout != "feature" || b.Total["refreshes"].(float64) != 0 {
		t.Errorf("best %+v", b)
	}
	bestToken := -1
	for i, pt := range rep.Points {
		if pt.Layout == "token" && pt.Error == "" && (bestToken < 0 || pt.Total["seconds"].(float64) < rep.Points[bestToken].Total["seconds"].(float64)) {
			bestToken = i
		}
	}
	if bestToken < 0 {
		t.Fatalf("no valid token-major configuration:\n%s", out)
	}
	if b := rep.Points[bestToken]; b.Append != "client-encrypt" || b.Total["refreshes"].(float64) != 0 {
		t.Errorf("best token-major configuration %+v", b)
	}
	for _, pt := range rep.Points {
		if pt.Append == "homomorphic" && pt.Refresh == "never" && pt.Error == "" {
			t.Errorf("homomorphic appends without refresh accepted")
		}
		if pt.Append == "homomorphic" && pt.Refresh == "eager" && (pt.Error != "" || pt.Total["refreshes"].(float64) == 0) {
			t.Errorf("homomorphic eager: %+v", pt)
		}
	}
	out, _, err = cgsim("tune", "refresh", "--model", "stories260K", "--prompt", "8", "--gen", "2", "--quiet", "--taus", "0", "--format", "csv")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); err != nil || len(lines) != 8 || !strings.HasPrefix(lines[0], "append,refresh,valid") {
		t.Errorf("csv: %v\n%s", err, out)
	}
}

// TestTuneNonlinear: stories260K on the LAN and the WAN, both methods of
// the non-linear protocols; lookups make fewer rounds per token and more
// dealer material on each network, and are the faster online on the WAN,
// where rounds cost most; CSV has a row per network and method; --nets
// is checked.
func TestTuneNonlinear(t *testing.T) {
	out, _, err := cgsim("tune", "nonlinear", "--model", "stories260K", "--prompt", "16", "--gen", "2", "--nets", "lan,wan", "--quiet", "--format", "json")
	var rep struct {
		Points []struct {
			Network, Nonlinear string
			RawTotal           map[string]any `json:"total"`
			RawDecode          map[string]any `json:"decode_mean"`
			Best               bool
		} `json:"points"`
	}
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Points) != 4 {
		t.Fatalf("json: %v\n%s", err, out)
	}
	num := func(m map[string]any, k string) float64 { v, _ := m[k].(float64); return v }
	for i := 0; i < 4; i += 2 {
		it, lut := rep.Points[i], rep.Points[i+1]
		if it.Network != lut.Network || it.Nonlinear != "iterative" || lut.Nonlinear != "lut" || it.Best == lut.Best {
			t.Fatalf("points %d, %d: %+v %+v", i, i+1, it, lut)
		}
		if !(num(lut.RawDecode, "rounds") < num(it.RawDecode, "rounds")) || !(num(lut.RawTotal, "offline_bytes") > num(it.RawTotal, "offline_bytes")) {
			t.Errorf("%s: lut %v rounds, %v offline bytes; iterative %v, %v", it.Network, num(lut.RawDecode, "rounds"),
				num(lut.RawTotal, "offline_bytes"), num(it.RawDecode, "rounds"), num(it.RawTotal, "offline_bytes"))
		}
		if it.Network == "wan" && !lut.Best {
			t.Errorf("the iterative method is the faster on the WAN: %v against %v s", num(it.RawTotal, "seconds"), num(lut.RawTotal, "seconds"))
		}
	}
	out, _, err = cgsim("tune", "nonlinear", "--model", "stories260K", "--prompt", "8", "--gen", "2", "--net", "lan", "--quiet", "--format", "csv")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); err != nil || len(lines) != 3 || !strings.HasPrefix(lines[0], "network,nonlinear,") {
		t.Errorf("csv: %v\n%s", err, out)
	}
	if _, _, err := cgsim("tune", "nonlinear", "--model", "stories260K", "--prompt", "8", "--gen", "1", "--quiet"); err == nil || !strings.Contains(err.Error(), "--gen") {
		t.Errorf("--gen 1: %v", err)
	}
	for _, nets := range []string{"lan,moon", strings.Repeat("lan,", maxNets) + "lan"} {
		if _, _, err := cgsim("tune", "nonlinear", "--model", "stories260K", "--prompt", "8", "--gen", "2", "--nets", nets, "--quiet"); err == nil ||
			!strings.Contains(err.Error(), "--nets") {
			t.Errorf("--nets %q: %v", nets, err)
		}
	}
}
