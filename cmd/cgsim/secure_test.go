package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/model"
)

// report is the part of the report JSON the tests read.
type report struct {
	Tokens       []int             `json:"tokens"`
	Text         string            `json:"text"`
	Prefill      map[string]any    `json:"prefill"`
	Decode       []map[string]any  `json:"decode"`
	Total        map[string]any    `json:"total"`
	MaxLogitDiff *float64          `json:"max_logit_diff"`
	Extra        map[string]string `json:"-"`
}

func TestEstimateDefault(t *testing.T) {
	out, _, err := cgsim("estimate", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	// The built-in default: 128 generated tokens, the first from the
	// prefill, hence 127 decode steps; an estimate has no tokens.
	if len(r.Decode) != 127 || r.Tokens != nil || r.Text != "" {
		t.Errorf("%d decode steps, tokens %v, text %q", len(r.Decode), r.Tokens, r.Text)
	}
	for _, f := range []string{"ct_pt_mul", "rotations", "bytes_c2s", "rounds", "seconds", "peak_memory_bytes"} {
		if _, ok := r.Total[f]; !ok {
			t.Errorf("total has no %q", f)
		}
	}
	if s, _ := r.Total["offline_seconds"].(float64); !(s > 0) {
		t.Errorf("offline_seconds %v, want the dealer's time priced", r.Total["offline_seconds"])
	}
	if !strings.Contains(out, `"model": "gpt2"`) || !strings.Contains(out, `"network": "wan"`) || !strings.Contains(out, `"strategy": "cryptogen"`) {
		t.Errorf("not the built-in default:\n%.400s", out)
	}
}

func TestEstimateTableAndCSV(t *testing.T) {
	out, _, err := cgsim("estimate", "--model", "llama3-8b", "--prompt", "64", "--gen", "4", "--strategy", "recompute", "--net", "lan")
	if err != nil || !strings.Contains(out, "decode mean") || !strings.Contains(out, "attention") {
		t.Errorf("table: %v\n%s", err, out)
	}
	out, _, err = cgsim("estimate", "--model", storiesModel, "--prompt", "8", "--gen", "3", "--format", "csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// header, prefill, 2 decode steps, total
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "phase,context,ct_pt_mul") {
		t.Errorf("csv:\n%s", out)
	}
}

// TestRunSecure is a short secure run at the insecure test preset with the
// reference check.
func TestRunSecure(t *testing.T) {
	out, _, err := cgsim("run", "--model", storiesModel, "--tokenizer", storiesTok, "--gen", "3", "--params", "bgv-test-insecure", "--allow-insecure",
		"--net", "lan", "--reveal-logits", "--quiet", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	want := []int{403, 407, 261} // llama2.c's greedy tokens from BOS
	for i, id := range want {
		if i >= len(r.Tokens) || r.Tokens[i] != id {
			t.Fatalf("tokens %v, want %v", r.Tokens, want)
		}
	}
	if r.MaxLogitDiff == nil || *r.MaxLogitDiff > 0.05 || len(r.Decode) != 2 || !strings.HasPrefix(r.Text, "Once upon a") {
		t.Errorf("report: %+v", r)
	}
	out, _, err = cgsim("run", "--model", storiesModel, "--tokenizer", storiesTok, "--gen", "2", "--params", "bgv-test-insecure", "--allow-insecure", "--prompt", "Once upon")
	if err != nil || !strings.Contains(out, "Once upon a time") || !strings.Contains(out, "decode 0") {
		t.Errorf("table: %v\n%s", err, out)
	}
}

// TestRunSpeculativeCLI: run --strategy speculative with the model as its
// own draft makes the greedy tokens with every proposal accepted, prints
// each step's tokens, and reports gamma and the accepted counts; the
// estimate needs an acceptance and prices fewer steps than tokens.
func TestRunSpeculativeCLI(t *testing.T) {
	args := []string{"run", "--model", storiesModel, "--tokenizer", storiesTok, "--gen", "7", "--params", "bgv-test-insecure", "--allow-insecure",
		"--net", "lan", "--prompt", "Once upon a time", "--strategy", "speculative", "--draft", storiesModel, "--gamma", "3", "--quiet"}
	out, _, err := cgsim(append(args, "--format", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Tokens   []int `json:"tokens"`
		Gamma    int   `json:"gamma"`
		Accepted []int `json:"accepted"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	plain, _, err := cgsim("run", "--plaintext", "--model", storiesModel, "--tokenizer", storiesTok, "--gen", "7", "--prompt", "Once upon a time", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Tokens []int `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(plain), &p); err != nil {
		t.Fatal(err)
	}
	// 7 tokens: the prefill's, a pass of 3 accepted + 1, one of 1 + 1.
	if !slices.Equal(r.Tokens, p.Tokens) || r.Gamma != 3 || !slices.Equal(r.Accepted, []int{3, 1}) {
		t.Errorf("tokens %v (greedy %v), gamma %d, accepted %v", r.Tokens, p.Tokens, r.Gamma, r.Accepted)
	}
	table, _, err := cgsim(args...)
	if err != nil || !strings.Contains(table, "decode 0") || strings.Contains(table, "decode 2") {
		t.Errorf("table (two decode steps): %v\n%s", err, table)
	}
	est, _, err := cgsim("estimate", "--model", "stories260K", "--prompt", "5", "--gen", "7", "--net", "lan", "--strategy", "speculative",
		"--gamma", "3", "--acceptance", "1", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Decode   []json.RawMessage `json:"decode"`
		Accepted []int             `json:"accepted"`
	}
	if err := json.Unmarshal([]byte(est), &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Decode) != 2 || !slices.Equal(e.Accepted, []int{3, 1}) {
		t.Errorf("estimate at acceptance 1: %d decode steps, accepted %v", len(e.Decode), e.Accepted)
	}
}

// TestEstimateProfileWithoutDealer: a profile file written before the
// dealer's operations existed still estimates, with offline_seconds that
// leave the dealer out (the server's pads alone, below the built-in
// profile's) and one warning on stderr; the built-in profile prices them,
// silently.
func TestEstimateProfileWithoutDealer(t *testing.T) {
	old, err := cost.Default("bgv-n13")
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range cost.OfflineOps() {
		delete(old.Seconds, op)
	}
	path := filepath.Join(t.TempDir(), "old.json")
	if err := cost.SaveProfile(path, old); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		priced bool // the dealer's offline seconds, and no warning
	}{
		{"built-in", nil, true},
		{"old file", []string{"--profile", path}, false},
	}
	offline := map[string]float64{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"estimate", "--model", "stories260K", "--params", "bgv-n13", "--prompt", "4", "--gen", "1",
				"--net", "lan", "--format", "json"}, tt.args...)
			out, errOut, err := cgsim(args...)
			if err != nil {
				t.Fatal(err)
			}
			var r report
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			s, _ := r.Total["offline_seconds"].(float64)
			if s <= 0 {
				t.Errorf("offline_seconds %v: the pads have none", s)
			}
			offline[tt.name] = s
			wantWarnings := 1
			if tt.priced {
				wantWarnings = 0
			}
			if warned := strings.Count(errOut, "warning:"); warned != wantWarnings {
				t.Errorf("%d warnings on stderr, want %d:\n%s", warned, wantWarnings, errOut)
			} else if !tt.priced && !strings.Contains(errOut, string(cost.OpDealCompare)) {
				t.Errorf("the warning does not name the missing operations: %s", errOut)
			}
		})
	}
	if offline["old file"] >= offline["built-in"] {
		t.Errorf("offline seconds %v: the old file's priced the dealer", offline)
	}
}

// TestValidate: on a WAN the network dominates and its seconds are the
// same on both sides, so the totals agree within the tolerance whatever
// the machine's load; the counters must be equal, for greedy decoding and
// for a sampled speculative run (the model as its own draft); a draft
// without the strategy, the strategy without a draft and a sampled sweep
// are refused.
func TestValidate(t *testing.T) {
	out, _, err := cgsim("validate", "--model", storiesModel, "--tokenizer", storiesTok, "--gen", "2", "--params", "bgv-test-insecure", "--allow-insecure",
		"--net", "wan", "--quiet")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "equal") || strings.Contains(out, "vs") || !strings.Contains(out, "offline") {
		t.Errorf("table:\n%s", out)
	}
	// A speculative run sampled at a temperature: its estimate replays the
	// run's accepted counts at that temperature, so the counters agree.
	out, _, err = cgsim("validate", "--model", storiesModel, "--tokenizer", storiesTok, "--gen", "6", "--params", "bgv-test-insecure", "--allow-insecure",
		"--net", "wan", "--quiet", "--strategy", "speculative", "--draft", storiesModel, "--gamma", "2", "--temperature", "1.3", "--seed", "3", "--nonlinear", "lut")
	if err != nil || !strings.Contains(out, "sampled at temperature 1.3") {
		t.Fatalf("speculative sampled: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"--draft", storiesModel}, {"--strategy", "speculative"}, {"--sweep", "6,9", "--temperature", "1"}} {
		if _, _, err := cgsim(append([]string{"validate", "--model", storiesModel, "--tokenizer", storiesTok, "--params", "bgv-test-insecure", "--allow-insecure"}, args...)...); err == nil {
			t.Errorf("validate %v accepted", args)
		}
	}
}

// TestRevealLogitsTolerance: a stories260K copy whose layer-0 attention
// norm gains are 20000 drives the secure arithmetic out of the fixed
// point's range; run --reveal-logits then exits non-zero, naming
// --logit-tolerance, where it used to report the difference and exit 0.
func TestRevealLogitsTolerance(t *testing.T) {
	m, err := model.LoadLlama2C(storiesModel)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Weights.Layers[0].AttnNorm {
		m.Weights.Layers[0].AttnNorm[i] = 20000
	}
	path := filepath.Join(t.TempDir(), "overflow.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := model.WriteLlama2C(f, m); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err = cgsim("run", "--model", path, "--tokenizer", storiesTok, "--prompt", "Once upon a time", "--gen", "2",
		"--params", "bgv-test-insecure", "--allow-insecure", "--net", "lan", "--reveal-logits", "--quiet", "--format", "json")
	if err == nil || !strings.Contains(err.Error(), "--logit-tolerance") {
		t.Errorf("error %v, want one naming --logit-tolerance", err)
	}
}

// TestRunSpeculativeSampledCLI: a secure speculative run at a temperature
// draws the tokens, and accepts the proposals, of its plaintext reference
// (run --plaintext --draft) with the same seed; the estimate replays its
// accepted counts at that temperature; --temperature on estimate is for
// the speculative strategy only. The prompt, seed and 4-bit draft are
// those of sim's TestRunSpeculativeSampled, whose decisions it checks lie
// far from their boundaries.
func TestRunSpeculativeSampledCLI(t *testing.T) {
	draft := filepath.Join(t.TempDir(), "q4.bin")
	if _, _, err := cgsim("draft", "--model", storiesModel, "--out", draft); err != nil {
		t.Fatal(err)
	}
	type result struct {
		Tokens      []int   `json:"tokens"`
		Accepted    []int   `json:"accepted"`
		Temperature float64 `json:"temperature"`
	}
	common := []string{"--model", storiesModel, "--tokenizer", storiesTok, "--gen", "12", "--prompt", "Once upon a", "--draft", draft, "--gamma", "3",
		"--temperature", "1.2", "--seed", "11", "--format", "json"}
	get := func(args ...string) result {
		t.Helper()
		out, _, err := cgsim(append(args, common...)...)
		if err != nil {
			t.Fatal(err)
		}
		var r result
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		return r
	}
	ref := get("run", "--plaintext")
	sec := get("run", "--params", "bgv-test-insecure", "--allow-insecure", "--net", "lan", "--strategy", "speculative", "--nonlinear", "lut", "--quiet")
	if !slices.Equal(sec.Tokens, ref.Tokens) || !slices.Equal(sec.Accepted, ref.Accepted) || sec.Temperature != 1.2 {
		t.Errorf("secure tokens %v accepted %v; the reference's %v, %v", sec.Tokens, sec.Accepted, ref.Tokens, ref.Accepted)
	}
	if !slices.ContainsFunc(ref.Accepted, func(a int) bool { return a == 0 }) {
		t.Errorf("no pass rejected its first proposal: %v", ref.Accepted)
	}
	var counts []string
	for _, a := range sec.Accepted {
		counts = append(counts, strconv.Itoa(a))
	}
	out, _, err := cgsim("estimate", "--model", "stories260K", "--prompt", "4", "--gen", "12", "--net", "lan", "--strategy", "speculative",
		"--gamma", "3", "--accepted", strings.Join(counts, ","), "--temperature", "1.2", "--nonlinear", "lut")
	if err != nil || !strings.Contains(out, "speculative (sampled at temperature 1.2)") {
		t.Errorf("estimate: %v\n%s", err, out)
	}
	if _, _, err := cgsim("estimate", "--model", "stories260K", "--prompt", "4", "--gen", "12", "--temperature", "1.2"); err == nil {
		t.Error("estimate --temperature without the speculative strategy accepted")
	}
}
