package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cgsim/cgsim/calibrate"
	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/params"
)

// dataDir is the shared data seen from this package's directory.
const dataDir = "../../../shared/data"

var (
	storiesModel = filepath.Join(dataDir, "stories260K/stories260K.bin")
	storiesTok   = filepath.Join(dataDir, "stories260K/tok512.bin")
)

// TestMain compares profiles with the machine the built-in profiles record,
// wherever the tests run, so that no test's output carries the warning a
// command prints on another machine (TestProfileAuto checks that warning
// with a profile of a machine of its own).
func TestMain(m *testing.M) {
	if prof, err := cost.Default(params.DefaultBGV); err == nil {
		ref := prof.MachineOf()
		thisMachine = func() cost.Machine { return ref }
	}
	os.Exit(m.Run())
}

// cgsim runs the CLI in-process and returns stdout, stderr and the error
// main would print.
func cgsim(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(append([]string{"cgsim"}, args...), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestRunPlaintextJSON(t *testing.T) {
	out, _, err := cgsim("run", "--plaintext", "--model", storiesModel, "--tokenizer", storiesTok, "--gen", "20", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Tokens       []int  `json:"tokens"`
		Text         string `json:"text"`
		PromptTokens []int  `json:"prompt_tokens"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	// llama2.c's documented greedy output from BOS.
	want := []int{403, 407, 261, 378, 432}
	if len(res.Tokens) != 20 {
		t.Fatalf("%d tokens, want 20", len(res.Tokens))
	}
	for i, id := range want {
		if res.Tokens[i] != id {
			t.Errorf("token %d = %d, want %d", i, res.Tokens[i], id)
		}
	}
	if !strings.HasPrefix(res.Text, "Once upon a time, there was a little girl named Lily.") {
		t.Errorf("text = %q", res.Text)
	}
	if len(res.PromptTokens) != 1 || res.PromptTokens[0] != 1 {
		t.Errorf("prompt tokens = %v, want [1] (BOS)", res.PromptTokens)
	}
}

// TestRunPublicPrefix: a secure run with a public prefix generates what
// the plaintext reference generates from the concatenated prompt, says
// the prefix is public, computes its keys and values once and reads them
// from the store the second time.
func TestRunPublicPrefix(t *testing.T) {
	store := t.TempDir()
	prefix, prompt := "Once upon a time, there was a little girl named Lily. She loved to play outside.", " One day, she"
	args := []string{"run", "--model", storiesModel, "--tokenizer", storiesTok, "--params", "bgv-test-insecure", "--allow-insecure",
		"--public-prefix", prefix, "--prompt", prompt, "--gen", "3", "--prefix-store", store, "--net", "lan", "--quiet"}
	var want struct {
		Tokens []int `json:"tokens"`
	}
	plain, _, err := cgsim("run", "--plaintext", "--model", storiesModel, "--tokenizer", storiesTok, "--public-prefix", prefix, "--prompt", prompt, "--gen", "3", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(plain), &want); err != nil {
		t.Fatal(err)
	}
	for i, source := range []string{"computed", "stored"} {
		out, _, err := cgsim(append(args, "--format", "json")...)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Tokens []int `json:"tokens"`
			Public struct {
				Tokens int    `json:"tokens"`
				Source string `json:"source"`
			} `json:"public_prefix"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("output is not JSON: %v", err)
		}
		if !slices.Equal(got.Tokens, want.Tokens) || got.Public.Source != source || got.Public.Tokens < 10 {
			t.Errorf("run %d: tokens %v (reference %v), public prefix %+v, want source %s", i, got.Tokens, want.Tokens, got.Public, source)
		}
	}
	out, _, err := cgsim(args...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "public prefix: the server sees them in the clear") {
		t.Errorf("the table does not say the prefix is public:\n%s", out)
	}
}

// TestRunPlaintextSampled: --temperature with --seed reproduces its tokens,
// reports both, and a random seed, reported, reproduces them too.
func TestRunPlaintextSampled(t *testing.T) {
	type result struct {
		Tokens      []int   `json:"tokens"`
		Temperature float64 `json:"temperature"`
		Seed        *uint64 `json:"seed"`
	}
	sampled := func(extra ...string) result {
		t.Helper()
		args := append([]string{"run", "--plaintext", "--model", storiesModel, "--tokenizer", storiesTok, "--prompt", "Once upon a time",
			"--gen", "12", "--temperature", "1.5", "--format", "json"}, extra...)
		out, _, err := cgsim(args...)
		if err != nil {
			t.Fatal(err)
		}
		var res result
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		if res.Temperature != 1.5 || res.Seed == nil {
			t.Fatalf("temperature %v, seed %v", res.Temperature, res.Seed)
		}
		return res
	}
	a, b := sampled("--seed", "28"), sampled("--seed", "28")
	if !slices.Equal(a.Tokens, b.Tokens) || *a.Seed != 28 {
		t.Errorf("seed 28 twice: %v and %v (seed %d)", a.Tokens, b.Tokens, *a.Seed)
	}
	r := sampled()
	if again := sampled("--seed", strconv.FormatUint(*r.Seed, 10)); !slices.Equal(r.Tokens, again.Tokens) {
		t.Errorf("the reported random seed %d gave %v, then %v", *r.Seed, r.Tokens, again.Tokens)
	}
}

// TestDraftCommands: a derived draft is written and read back by
// draft-stats; the model as its own draft has every proposal accepted; a
// text file's lines are prompts.
func TestDraftCommands(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "q4.bin")
	if _, _, err := cgsim("draft", "--model", storiesModel, "--bits", "4", "--out", out); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "t.txt")
	if err := os.WriteFile(text, []byte("Once upon a time\n\nThe cat sat on the mat.\nA dog ran.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	type stats struct {
		Prompts int `json:"prompts"`
		Rows    []struct {
			Gamma      int     `json:"gamma"`
			Acceptance float64 `json:"acceptance"`
		} `json:"gammas"`
	}
	read := func(args ...string) stats {
		t.Helper()
		o, _, err := cgsim(append([]string{"draft-stats", "--model", storiesModel, "--tokenizer", storiesTok, "--gen", "16", "--format", "json"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var s stats
		if err := json.Unmarshal([]byte(o), &s); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, o)
		}
		return s
	}
	self := read("--draft", storiesModel, "--gamma", "3")
	if len(self.Rows) != 1 || self.Rows[0].Acceptance != 1 {
		t.Errorf("the model as its own draft: %+v", self)
	}
	q := read("--draft", out, "--text", text)
	if q.Prompts != 3 || len(q.Rows) != 4 {
		t.Fatalf("%+v", q)
	}
	for _, r := range q.Rows {
		if !(r.Acceptance > 0 && r.Acceptance <= 1) {
			t.Errorf("gamma %d: acceptance %v", r.Gamma, r.Acceptance)
		}
	}
}

func TestRunPlaintextPromptTable(t *testing.T) {
	out, _, err := cgsim("run", "--plaintext", "--model", storiesModel, "--tokenizer", storiesTok,
		"--prompt", "Once upon a time", "--gen", "8")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "Once upon a time") || !strings.Contains(out, "8 generated") {
		t.Errorf("table output:\n%s", out)
	}
}

// TestErrors checks that bad input gives a clear error, never a panic and
// never a silent default.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	model, err := os.ReadFile(storiesModel)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.bin")
	os.WriteFile(truncated, model[:1000], 0o644)
	tok, _ := os.ReadFile(storiesTok)
	badTok := filepath.Join(dir, "tok.bin")
	os.WriteFile(badTok, tok[:100], 0o644)
	long := strings.Repeat("and then the cat sat on the mat ", 200) // far beyond 512 tokens

	tests := []struct {
		name string
		args []string
		want string // a piece of the error message
	}{
		{"missing model", []string{"run", "--plaintext", "--model", filepath.Join(dir, "none.bin")}, "no such file"},
		{"truncated model", []string{"run", "--plaintext", "--model", truncated, "--tokenizer", storiesTok}, "truncated"},
		{"truncated tokenizer", []string{"run", "--plaintext", "--model", storiesModel, "--tokenizer", badTok}, "tok.bin"},
		{"prompt too long", []string{"run", "--plaintext", "--model", storiesModel, "--tokenizer", storiesTok, "--prompt", long}, "context"},
		{"generation too long", []string{"run", "--plaintext", "--model", storiesModel, "--tokenizer", storiesTok, "--gen", "600"}, "context"},
		{"zero gen", []string{"run", "--plaintext", "--gen", "0"}, "--gen"},
		{"zero server cores", []string{"estimate", "--server-cores", "0"}, "--server-cores"},
		{"zero client cores", []string{"estimate", "--client-cores", "0"}, "--client-cores"},
		{"huge client cores", []string{"plan", "--client-cores", "100000"}, "--client-cores"},
		{"bad format", []string{"run", "--plaintext", "--format", "xml"}, "--format"},
		{"unknown flag", []string{"run", "--plaintxt"}, "plaintxt"},
		{"stray argument", []string{"run", "plaintext"}, "unexpected argument"},
		{"unknown strategy", []string{"run", "--strategy", "fhe"}, "fhe"},
		{"estimate context too long", []string{"estimate", "--prompt", "1000", "--gen", "100"}, "context"},
		{"estimate unknown model", []string{"estimate", "--model", "gpt5"}, "gpt5"},
		{"estimate bad network", []string{"estimate", "--net", "fast"}, "fast"},
		{"estimate csv format for run", []string{"run", "--format", "csv"}, "--format"},
		{"validate negative tolerance", []string{"validate", "--tolerance", "-1"}, "tolerance"},
		{"unknown preset", []string{"calibrate", "--params", "bgv-n99", "--out", filepath.Join(dir, "p.json")}, "bgv-n99"},
		{"calibrate without out", []string{"calibrate", "--params", "bgv-test-insecure"}, "out"},
		{"unwritable out", []string{"calibrate", "--params", "bgv-test-insecure", "--out", filepath.Join(dir, "no/such/dir/p.json")}, "cannot write"},
		{"unknown command", []string{"fly"}, "fly"},
		{"insecure preset without the flag", []string{"estimate", "--params", "bgv-test-insecure"}, "--allow-insecure"},
		{"insecure run without the flag", []string{"run", "--params", "bgv-test-insecure"}, "--allow-insecure"},
		{"insecure validate without the flag", []string{"validate", "--params", "bgv-test-insecure"}, "--allow-insecure"},
		{"unknown append", []string{"estimate", "--append", "magic"}, "magic"},
		{"unknown refresh", []string{"estimate", "--refresh", "sometimes"}, "sometimes"},
		{"negative threshold", []string{"estimate", "--refresh-threshold", "-3"}, "refresh-threshold"},
		{"threshold with eager", []string{"estimate", "--refresh", "eager", "--refresh-threshold", "3"}, "eager"},
		{"homomorphic at n13", []string{"estimate", "--params", "bgv-n13", "--append", "homomorphic", "--prompt", "8", "--gen", "2"}, "homomorphic"},
		{"unknown layout", []string{"estimate", "--layout", "diagonal"}, "--layout"},
		{"unknown non-linear method", []string{"estimate", "--nonlinear", "spline"}, "--nonlinear"},
		{"feature layout with an append method", []string{"estimate", "--layout", "feature", "--append", "client"}, "token layout"},
		{"feature layout with a refresh policy", []string{"estimate", "--layout", "feature", "--refresh-threshold", "8"}, "token layout"},
		{"tune takes no layout", []string{"tune", "refresh", "--layout", "token"}, "layout"},
		{"heads too wide for the feature layout", []string{"estimate", "--model", "llama3-8b", "--params", "bgv-test-insecure", "--allow-insecure", "--prompt", "8", "--gen", "2"}, "token layout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cgsim(tt.args...)
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestCalibrateWritesProfile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "p.json")
	// Two repetitions on the insecure test preset: a smoke test of the command.
	if _, _, err := cgsim("calibrate", "--params", "bgv-test-insecure", "--out", out, "--reps", "2", "--quiet"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(b, []byte(`"ct_pt_mul"`)) {
		t.Errorf("profile file: %v\n%s", err, b)
	}
}

func TestListings(t *testing.T) {
	out, _, err := cgsim("presets")
	if err != nil || !strings.Contains(out, "bgv-n13") || !strings.Contains(out, "INSECURE") {
		t.Errorf("presets: %v\n%s", err, out)
	}
	if strings.Contains(out, "FAILS") {
		t.Errorf("a preset fails its security check:\n%s", out)
	}
	out, _, err = cgsim("models")
	if err != nil || !strings.Contains(out, "llama3-8b") || !strings.Contains(out, "stories260K") {
		t.Errorf("models: %v\n%s", err, out)
	}
}

// TestEmbeddedProfilesMatchPresets checks that the embedded profiles
// describe the presets they are named after, and that the default preset
// has one, so that estimates work out of the box, and that each was
// measured by the current calibration (of the code it prices).
func TestEmbeddedProfilesMatchPresets(t *testing.T) {
	for _, name := range cost.DefaultNames() {
		prof, err := cost.Default(name)
		if err != nil {
			t.Fatal(err)
		}
		preset, err := params.ByName(name)
		if err != nil {
			t.Errorf("profile %s has no preset: %v", name, err)
			continue
		}
		if why := stale(prof); why != "" {
			t.Errorf("profile %s %s: run cgsim calibrate again", name, why)
		}
		if prof.LogN != preset.LogN || prof.MaxLevel != preset.MaxLevel() || prof.Scheme != preset.Scheme.String() {
			t.Errorf("profile %s: log N %d, max level %d, %s; preset: %d, %d, %s", name,
				prof.LogN, prof.MaxLevel, prof.Scheme, preset.LogN, preset.MaxLevel(), preset.Scheme)
		}
	}
	if _, err := cost.Default(params.DefaultBGV); err != nil {
		t.Errorf("default preset %s has no embedded profile: %v", params.DefaultBGV, err)
	}
}

// TestProfileAuto: --profile auto calibrates the preset once into the
// user's cache directory (saying so on stderr), and reuses it after; the
// profile records this machine, so no warning follows. A profile file
// from another machine draws a one-line warning.
func TestProfileAuto(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	args := []string{"estimate", "--model", "stories260K", "--params", "bgv-test-insecure", "--allow-insecure", "--profile", "auto",
		"--prompt", "4", "--gen", "2", "--format", "json"}
	for i, want := range []bool{true, false} {
		out, stderr, err := cgsim(args...)
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, stderr)
		}
		if got := strings.Contains(stderr, "--profile auto: calibrating bgv-test-insecure"); got != want {
			t.Errorf("run %d: calibrated %v, want %v (stderr %q)", i, got, want, stderr)
		}
		if strings.Contains(stderr, "warning") {
			t.Errorf("run %d: %q", i, stderr)
		}
		if !strings.Contains(out, `"decode"`) {
			t.Errorf("run %d: no estimate:\n%s", i, out)
		}
	}
	files, _ := filepath.Glob(filepath.Join(cache, "cgsim", "profiles", "bgv-test-insecure-*.json"))
	if len(files) != 1 {
		t.Fatalf("profiles kept: %v", files)
	}
	prof, err := cost.LoadProfile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	// A profile from an older calibration (of code that has changed
	// since) is measured again.
	if prof.Calibration != calibrate.Version {
		t.Errorf("auto profile of calibration %d, want %d", prof.Calibration, calibrate.Version)
	}
	stale := *prof
	stale.Calibration = calibrate.Version - 1
	if err := cost.SaveProfile(files[0], &stale); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := cgsim(args...); err != nil || !strings.Contains(stderr, "--profile auto: calibrating bgv-test-insecure") {
		t.Errorf("a stale auto profile was reused (%v): %q", err, stderr)
	}
	prof.CPU, prof.Cores = "Another CPU", prof.Cores+1
	other := filepath.Join(t.TempDir(), "other.json")
	if err := cost.SaveProfile(other, prof); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := cgsim("estimate", "--model", "stories260K", "--params", "bgv-test-insecure", "--allow-insecure", "--profile", other,
		"--prompt", "4", "--gen", "2", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "warning: profile "+other+" was measured on Another CPU") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q", stderr)
	}
	// A profile file of an older calibration draws a warning of its own.
	if err := cost.SaveProfile(other, &stale); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = cgsim("estimate", "--model", "stories260K", "--params", "bgv-test-insecure", "--allow-insecure", "--profile", other,
		"--prompt", "4", "--gen", "2", "--format", "json")
	if want := fmt.Sprintf("warning: profile %s was made by calibration version %d, this cgsim's is %d", other, calibrate.Version-1, calibrate.Version); err != nil ||
		!strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("an old calibration's profile (%v): stderr %q", err, stderr)
	}
	// So does one of this version made before it priced the lookups.
	noLUT := stale // this machine's
	noLUT.Calibration = calibrate.Version
	noLUT.Seconds = maps.Clone(stale.Seconds)
	delete(noLUT.Seconds, cost.OpLUT)
	delete(noLUT.Seconds, cost.OpDealLookup)
	if err := cost.SaveProfile(other, &noLUT); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = cgsim("estimate", "--model", "stories260K", "--params", "bgv-test-insecure", "--allow-insecure", "--profile", other,
		"--prompt", "4", "--gen", "2", "--format", "json")
	if want := "was made before calibrate priced the lookup tables"; err != nil || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("a profile without the lookups' prices (%v): stderr %q", err, stderr)
	}
}

// TestValidateSweep: validate --sweep measures one decode step per context
// and strategy (cryptogen's the median of five), per kind, with equal
// counters, and writes its CSV and PNG;
// the error summary has a row per kind and the total. (No timing is
// asserted: the tolerance is wide open.)
func TestValidateSweep(t *testing.T) {
	dir := t.TempDir()
	csvPath, pngPath := filepath.Join(dir, "sweep.csv"), filepath.Join(dir, "sweep.png")
	out, stderr, err := cgsim("validate", "--model", storiesModel, "--tokenizer", storiesTok, "--sweep", "6,9",
		"--params", "bgv-test-insecure", "--allow-insecure", "--net", "lan", "--tolerance", "1e9", "--quiet",
		"--csv", csvPath, "--png", pngPath, "--format", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var res struct {
		Points []struct {
			Context  int    `json:"context"`
			Strategy string `json:"strategy"`
			Kind     string `json:"kind"`
			Diffs    []any  `json:"counter_differences"`
		} `json:"points"`
		Errors []struct {
			Kind   string `json:"kind"`
			Points int    `json:"points"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	totals := map[string]int{}
	for _, p := range res.Points {
		if len(p.Diffs) != 0 {
			t.Errorf("%+v: counters differ", p)
		}
		if p.Kind == "total" {
			totals[fmt.Sprintf("%s/%d", p.Strategy, p.Context)]++
		}
	}
	if len(totals) != 4 {
		t.Errorf("steps measured: %v, want both strategies at 6 and 9", totals)
	}
	if n := len(res.Errors); n < 5 || res.Errors[n-1].Kind != "total" || res.Errors[n-1].Points != 4 {
		t.Errorf("error summary %+v", res.Errors)
	}
	for _, f := range []string{csvPath, pngPath} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, _, err := cgsim("validate", "--model", storiesModel, "--tokenizer", storiesTok, "--sweep", "9,6", "--params", "bgv-test-insecure", "--allow-insecure"); err == nil ||
		!strings.Contains(err.Error(), "--sweep") {
		t.Errorf("decreasing contexts: %v", err)
	}
	// A cryptogen point is the median of 5 decode steps, those reading C-2
	// to C+2 tokens (C-4 to C at the model's last positions), after a
	// prompt of BOS at least: contexts from 6 to stories260K's 512; a
	// recompute pass reads C, from 2 to 512.
	for _, tc := range []struct{ sweep, strategies, want string }{
		{"513", "cryptogen,recompute", "from 6 to 512"},
		{"5", "cryptogen", "from 6 to 512"},
		{"513", "recompute", "from 2 to 512"},
	} {
		if _, _, err := cgsim("validate", "--model", storiesModel, "--tokenizer", storiesTok, "--sweep", tc.sweep, "--strategies", tc.strategies,
			"--params", "bgv-test-insecure", "--allow-insecure"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--sweep %s --strategies %s: %v, want %q", tc.sweep, tc.strategies, err, tc.want)
		}
	}
}

// TestBuiltinProfileWarns: on another machine than the built-in profiles'
// reference one, estimate and a secure run warn once each that the
// built-in profile was measured elsewhere (run reads its protocol flags
// once).
func TestBuiltinProfileWarns(t *testing.T) {
	saved := thisMachine
	defer func() { thisMachine = saved }()
	thisMachine = func() cost.Machine { return cost.Machine{CPU: "Another CPU", Cores: 64, GoVersion: "go1"} }
	const warning = "warning: the built-in profile of bgv-test-insecure was measured on"
	for _, args := range [][]string{
		{"estimate", "--model", "stories260K", "--params", "bgv-test-insecure", "--allow-insecure", "--prompt", "4", "--gen", "2", "--format", "json"},
		{"run", "--model", storiesModel, "--tokenizer", storiesTok, "--prompt", "Once", "--gen", "1", "--params", "bgv-test-insecure",
			"--allow-insecure", "--net", "lan", "--quiet", "--format", "json"},
	} {
		_, stderr, err := cgsim(args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", args[0], err, stderr)
		}
		if n := strings.Count(stderr, warning); n != 1 {
			t.Errorf("%s: %d warnings, want 1: %q", args[0], n, stderr)
		}
	}
}
