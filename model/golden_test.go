package model

import (
	"encoding/gob"
	"flag"
	"math"
	"os"
	"slices"
	"testing"
)

// goldenPath holds the logits of the float64 reference as the hand-written
// linear algebra computed them (commit 583b0f3, before the forward pass
// moved to gonum). Regenerate it only on purpose, with
//
//	go test ./model -run TestForwardGolden -update-golden
//
// never to make a change pass: the file is what the change is compared with.
const goldenPath = "testdata/forward_golden.gob"

var updateGolden = flag.Bool("update-golden", false, "rewrite "+goldenPath+" from the current forward pass")

// goldenTol is the largest accepted difference of one logit from the golden
// file. A change of summation order (gonum's kernels add in another order
// than the hand-written 4-way dot) moves a logit of stories260K, of order
// 10, by a few units in the last place, 1e-15 to 1e-14; 1e-12 leaves room
// for that and for nothing else.
const goldenTol = 1e-12

// goldenCase is one greedy generation: the prompt, the generated tokens and
// the logits of every Forward call (prompt positions included).
type goldenCase struct {
	Name   string
	Prompt []int
	Tokens []int
	Logits [][]float64
}

// goldenModel returns the model of a golden case: stories260K, or for the
// GPT-2 path (LayerNorm, biases, learned positions) a NewRandom model whose
// weights depend only on the config and the seed.
func goldenModel(t *testing.T, name string) *Model {
	t.Helper()
	if name == "gpt2-random" {
		return NewRandom(Config{
			Name: "gpt2-random", Arch: ArchGPT2,
			Dim: 48, HiddenDim: 192, NumLayers: 2, NumHeads: 4, NumKVHeads: 4,
			VocabSize: 64, SeqLen: 40,
			SharedClassifier: true, NormEps: 1e-5,
		}, 7)
	}
	return loadStories(t)
}

// greedyLogits runs Generate's loop by hand and keeps every Forward's
// logits.
func greedyLogits(t *testing.T, m *Model, name string, prompt []int, gen int) goldenCase {
	t.Helper()
	gc := goldenCase{Name: name, Prompt: prompt}
	st := m.NewState()
	var logits []float64
	var err error
	for _, tok := range prompt {
		if logits, err = m.Forward(st, tok); err != nil {
			t.Fatal(err)
		}
		gc.Logits = append(gc.Logits, logits)
	}
	for {
		gc.Tokens = append(gc.Tokens, Argmax(logits))
		if len(gc.Tokens) == gen {
			return gc
		}
		if logits, err = m.Forward(st, gc.Tokens[len(gc.Tokens)-1]); err != nil {
			t.Fatal(err)
		}
		gc.Logits = append(gc.Logits, logits)
	}
}

// goldenCases computes the cases with the current code: stories260K from
// BOS alone (llama2.c's empty prompt) for 40 tokens and from a 10-token
// prompt for 32, and the random GPT-2 model for 24 tokens.
func goldenCases(t *testing.T) []goldenCase {
	tok := loadTok512(t)
	prompt, err := tok.Encode("Once upon a time, there was a little", true, false)
	if err != nil {
		t.Fatal(err)
	}
	stories := goldenModel(t, "stories260K")
	return []goldenCase{
		greedyLogits(t, stories, "stories260K", []int{BOS}, 40),
		greedyLogits(t, stories, "stories260K", prompt, 32),
		greedyLogits(t, goldenModel(t, "gpt2-random"), "gpt2-random", []int{3, 17, 5, 60}, 24),
	}
}

// TestForwardGolden compares the reference forward pass with the logits
// recorded in goldenPath: the same tokens, every logit within goldenTol.
func TestForwardGolden(t *testing.T) {
	got := goldenCases(t)
	if *updateGolden {
		writeGolden(t, got)
		t.Logf("wrote %s", goldenPath)
		return
	}
	f, err := os.Open(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []goldenCase
	if err := gob.NewDecoder(f).Decode(&want); err != nil {
		t.Fatalf("%s: %v", goldenPath, err)
	}
	if len(want) != len(got) {
		t.Fatalf("%s has %d cases, the test computes %d", goldenPath, len(want), len(got))
	}
	for i, w := range want {
		g := got[i]
		if w.Name != g.Name || !slices.Equal(w.Prompt, g.Prompt) {
			t.Errorf("case %d: %s prompt %v, the test computes %s prompt %v", i, w.Name, w.Prompt, g.Name, g.Prompt)
			continue
		}
		if !slices.Equal(w.Tokens, g.Tokens) {
			t.Errorf("%s prompt %v: tokens %v, golden %v", g.Name, g.Prompt, g.Tokens, w.Tokens)
		}
		if len(w.Logits) != len(g.Logits) {
			t.Errorf("%s prompt %v: %d logit vectors, golden %d", g.Name, g.Prompt, len(g.Logits), len(w.Logits))
			continue
		}
		worst, at := 0.0, [2]int{}
		for s := range w.Logits {
			if len(w.Logits[s]) != len(g.Logits[s]) {
				t.Fatalf("%s step %d: %d logits, golden %d", g.Name, s, len(g.Logits[s]), len(w.Logits[s]))
			}
			for j, v := range w.Logits[s] {
				// A NaN compares false and would hide: count it as infinite.
				d := math.Abs(g.Logits[s][j] - v)
				if math.IsNaN(d) {
					d = math.Inf(1)
				}
				if d > worst {
					worst, at = d, [2]int{s, j}
				}
			}
		}
		t.Logf("%s prompt of %d tokens: %d steps, max |logit - golden| = %.3g", g.Name, len(g.Prompt), len(g.Logits), worst)
		if worst > goldenTol {
			t.Errorf("%s prompt %v: logit %d of step %d is %v, golden %v (difference %.3g > %g)", g.Name, g.Prompt, at[1], at[0],
				g.Logits[at[0]][at[1]], w.Logits[at[0]][at[1]], worst, goldenTol)
		}
	}
}

func writeGolden(t *testing.T, cases []goldenCase) {
	t.Helper()
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := gob.NewEncoder(f).Encode(cases); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
