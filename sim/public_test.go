package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
)

// TestRunPublicPrefix: stories260K with a public prefix of 100 tokens (its
// keys and values computed in plaintext and loaded into the cache) and a
// private prompt of 5 generates, token for token, what the plaintext
// reference generates from the concatenated prompt, with logits within
// 0.05, and its counters are the estimate's, phase by phase and kind by
// kind, the prefix's setup included. The private prompt is a pass over
// the cache: no prefill kernel runs, and the groups the prefix fills
// make no cache product.
func TestRunPublicPrefix(t *testing.T) {
	m := loadStories(t)
	const public, gen = 100, 16
	prompt := make([]int, public+5)
	ref, err := model.Generate(m, []int{1}, len(prompt)-1) // a prompt the model finds likely
	if err != nil {
		t.Fatal(err)
	}
	prompt[0] = 1
	copy(prompt[1:], ref)
	if testing.Short() {
		// the same path over a short prefix and generation
		prompt = prompt[:40]
	}
	pub := min(public, len(prompt)-5)
	ng := gen
	if testing.Short() {
		ng = 3
	}
	p := preset(t, "bgv-test-insecure")
	pkv, err := ComputePublicKV(m, p, prompt[:pub])
	if err != nil {
		t.Fatal(err)
	}
	want, err := model.Generate(m, prompt, ng)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(RunOptions{Model: m, Preset: p, Network: net.LAN, Strategy: Cryptogen, Gen: ng, Public: pkv}, prompt, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("public %d + private %d: tokens %v, max |logit - reference| %.4f", pub, len(prompt)-pub, rep.Tokens, *rep.MaxLogitDiff)
	for i := range want {
		if rep.Tokens[i] != want[i] {
			t.Errorf("token %d: %d, reference %d", i, rep.Tokens[i], want[i])
		}
	}
	if *rep.MaxLogitDiff > 0.05 {
		t.Errorf("max logit difference %.4f > 0.05", *rep.MaxLogitDiff)
	}
	est, err := Estimate(EstimateOptions{Model: m.Config, Preset: p, Network: net.LAN, Strategy: Cryptogen, Prompt: len(prompt), Public: pub, Gen: ng})
	if err != nil {
		t.Fatal(err)
	}
	checkPhases(t, rep.Breakdown, est.Breakdown)
	if rep.Public == nil || est.Public == nil {
		t.Fatal("no public prefix setup reported")
	}
	if d := cost.CounterDiff(rep.Public.Encode, est.Public.Encode); len(d) > 0 || rep.Public.Bytes != est.Public.Bytes || rep.Public.Tokens != pub {
		t.Errorf("public setup: run %+v, estimate %+v: %v", rep.Public, est.Public, d)
	}
	if rep.Public.Source != "computed" {
		t.Errorf("source %q", rep.Public.Source)
	}
	if rep.Prefill.CtCtMul != 0 {
		t.Errorf("the private prompt's pass made %d ct-ct products: no prefill kernel should run", rep.Prefill.CtCtMul)
	}
}

// TestPublicPrefixErrors: a prefix that covers the whole prompt, one for
// another shape, and a prefix with a strategy or layout without the
// feature-major cache are refused.
func TestPublicPrefixErrors(t *testing.T) {
	m := loadStories(t)
	p := preset(t, "bgv-test-insecure")
	prompt := []int{1, 400, 300, 200}
	pkv, err := ComputePublicKV(m, p, prompt[:3])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(RunOptions{Model: m, Preset: p, Network: net.LAN, Gen: 1, Public: pkv}, prompt[:3], false, nil); err == nil {
		t.Error("a public prefix covering the whole prompt: no error")
	}
	for _, o := range []EstimateOptions{
		{Strategy: Recompute, Prompt: 4, Public: 3, Gen: 2},
		{Strategy: Cryptogen, Cache: CacheOptions{Layout: TokenLayout}, Prompt: 4, Public: 3, Gen: 2},
		{Strategy: Cryptogen, Prompt: 4, Public: 4, Gen: 2},
		{Strategy: Cryptogen, Prompt: 4, Public: -1, Gen: 2},
	} {
		o.Model, o.Preset, o.Network = m.Config, p, net.LAN
		if _, err := Estimate(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	wrong, err := ComputePublicKV(m, p, []int{1, 400, 301})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(RunOptions{Model: m, Preset: p, Network: net.LAN, Gen: 1, Public: wrong}, prompt, false, nil); err == nil {
		t.Error("a public prefix of other tokens than the prompt's: no error")
	}
	if _, err := ComputePublicKV(m, p, nil); err == nil {
		t.Error("an empty public prefix: no error")
	}
	if _, err := ComputePublicKV(m, p, make([]int, m.Config.SeqLen)); err == nil {
		t.Error("a public prefix filling the context: no error")
	}
	other := model.NewRandom(config(t, "stories260K"), 1)
	other.Config.NumLayers = 1
	other.Weights.Layers = other.Weights.Layers[:1]
	if _, err := Run(RunOptions{Model: other, Preset: p, Network: net.LAN, Gen: 1, Public: pkv}, prompt, false, nil); err == nil {
		t.Error("a public prefix of another shape: no error")
	}
}

// TestPrefixStore: the first load of a prefix computes it and saves it,
// the second reads it ("stored") with the same keys and values; another
// prefix or another model misses; a corrupt or truncated file is
// recomputed (and said so), never used.
func TestPrefixStore(t *testing.T) {
	m := loadStories(t)
	p := preset(t, "bgv-test-insecure")
	st := PrefixStore{Dir: t.TempDir()}
	prefix := []int{1, 400, 300, 200, 100}
	a, note, err := st.Load(m, p, prefix)
	if err != nil || a.Source != "computed" || note != "" {
		t.Fatalf("first load: %v, source %q, note %q", err, a.Source, note)
	}
	b, _, err := st.Load(m, p, prefix)
	if err != nil || b.Source != "stored" {
		t.Fatalf("second load: %v, source %q", err, b.Source)
	}
	for l := range a.K {
		if !slices.Equal(a.K[l], b.K[l]) || !slices.Equal(a.V[l], b.V[l]) {
			t.Fatalf("layer %d: the stored keys or values differ", l)
		}
	}
	if c, _, err := st.Load(m, p, prefix[:4]); err != nil || c.Source != "computed" {
		t.Errorf("another prefix: %v, source %q", err, c.Source)
	}
	other := model.NewRandom(m.Config, 7)
	if c, _, err := st.Load(other, p, prefix); err != nil || c.Source != "computed" || slices.Equal(c.K[0], a.K[0]) {
		t.Errorf("another model: %v, source %q", err, c.Source)
	}
	files, _ := filepath.Glob(filepath.Join(st.Dir, "*.pkv"))
	if len(files) != 3 {
		t.Fatalf("%d files, want 3", len(files))
	}
	key, _ := prefixKey(m, p, prefix)
	path := filepath.Join(st.Dir, fmt.Sprintf("%x.pkv", key))
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"flipped":   append(append([]byte(nil), good[:60]...), append([]byte{good[60] ^ 1}, good[61:]...)...),
		"truncated": good[:len(good)/2],
		"empty":     nil,
	} {
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		c, note, err := st.Load(m, p, prefix)
		if err != nil || c.Source != "computed" || !strings.Contains(note, "recomputed") || !slices.Equal(c.K[0], a.K[0]) {
			t.Errorf("%s file: %v, source %q, note %q", name, err, c.Source, note)
		}
	}
}

// TestSpeculativePublicPrefix: speculative decoding after a public prefix
// of 70 tokens (a whole group at the test preset and part of the next)
// generates the greedy tokens of the concatenated prompt, accepts what the
// plaintext speculative reference accepts, and its estimate replaying the
// accepted counts has the run's counters.
func TestSpeculativePublicPrefix(t *testing.T) {
	m := loadStories(t)
	q4, err := model.Derive(m, model.DraftOptions{Bits: 4})
	if err != nil {
		t.Fatal(err)
	}
	body, err := model.Generate(m, []int{1}, 73)
	if err != nil {
		t.Fatal(err)
	}
	prompt := append([]int{1}, body...)
	const public, gen, gamma = 70, 8, 3
	p := preset(t, "bgv-test-insecure")
	pkv, err := ComputePublicKV(m, p, prompt[:public])
	if err != nil {
		t.Fatal(err)
	}
	want, ref, err := model.GenerateSpeculative(m, q4, prompt, gen, gamma, model.Sampler{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(RunOptions{Model: m, Preset: p, Network: net.LAN, Strategy: Speculative, Gen: gen, Draft: q4, Gamma: gamma, Public: pkv}, prompt, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Tokens, want) || !slices.Equal(rep.Accepted, ref.PerPass) {
		t.Errorf("tokens %v accepted %v; reference %v accepted %v", rep.Tokens, rep.Accepted, want, ref.PerPass)
	}
	est, err := Estimate(EstimateOptions{Model: m.Config, Preset: p, Network: net.LAN, Strategy: Speculative, Prompt: len(prompt), Public: public,
		Gen: gen, Gamma: gamma, Accepted: rep.Accepted})
	if err != nil {
		t.Fatal(err)
	}
	checkPhases(t, rep.Breakdown, est.Breakdown)
}

// TestPublicPrefixOneToken: a private part of one token and one generated
// token (the private pass is a one-token pass over the cache, whose
// weights the server encodes at setup): the reference's token, and Run ==
// Estimate, the encoded weights included.
func TestPublicPrefixOneToken(t *testing.T) {
	m := loadStories(t)
	p := preset(t, "bgv-test-insecure")
	prompt := []int{1, 403, 407, 261, 378, 432}
	pkv, err := ComputePublicKV(m, p, prompt[:5])
	if err != nil {
		t.Fatal(err)
	}
	for _, gen := range []int{1, 2} {
		want, err := model.Generate(m, prompt, gen)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Run(RunOptions{Model: m, Preset: p, Network: net.LAN, Gen: gen, Public: pkv}, prompt, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rep.Tokens, want) {
			t.Errorf("gen %d: tokens %v, reference %v", gen, rep.Tokens, want)
		}
		est, err := Estimate(EstimateOptions{Model: m.Config, Preset: p, Network: net.LAN, Prompt: len(prompt), Public: 5, Gen: gen})
		if err != nil {
			t.Fatal(err)
		}
		checkPhases(t, rep.Breakdown, est.Breakdown)
		if rw, ew := rep.Weights, est.Weights; len(cost.CounterDiff(rw.Cost, ew.Cost)) > 0 || rw.Layers != ew.Layers || rw.Layers == 0 {
			t.Errorf("gen %d: encoded weights: run %d layers, estimate %d", gen, rw.Layers, ew.Layers)
		}
	}
}
