package sim

import (
	"flag"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/kv"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
)

// sessionLong adds the long audits of TestSessionFlooding: stories260K at
// bgv-n14 up to 512 tokens (client and homomorphic appends) and a
// GPT-2-shaped model at 1024 tokens. They take tens of minutes, so CI runs
// the short ones only (the README says how to run these):
//
//	go test ./sim -run TestSessionFlooding -session-long -timeout 6h -v
var sessionLong = flag.Bool("session-long", false, "also run the long whole-session flooding audits (tens of minutes)")

// audit is one whole secure generation whose returned ciphertexts are
// inspected.
type audit struct {
	name   string
	model  func(t *testing.T) *model.Model
	preset string
	strat  Strategy
	cache  CacheOptions
	prompt int // tokens, BOS first
	gen    int
	long   bool
}

// auditResult is what the inspection of one session found.
type auditResult struct {
	mu        sync.Mutex
	returned  int64
	minMargin float64 // smallest plan payload - measured payload, bits
	worst     exec.ReturnPlan
	errs      []string
}

// TestSessionFlooding runs whole secure generations and inspects, with the
// client's key, every ciphertext the server returns (exec's audit seam,
// before the mask and the flooding): its payload must be within the bound
// that call's flooding was sized for, and every call must flood for the
// session's budget (Security.FloodBits). The number of ciphertexts
// inspected must be what the report counts (its decryptions) and the
// report's statistical security at least κ. The smallest margin of each
// session is logged. A kernel planned for less noise than it reads (such
// as a decode kernel planned for a fresh cache over an appended one) fails
// here, whatever its unit tests say.
func TestSessionFlooding(t *testing.T) {
	stories := func(t *testing.T) *model.Model { return loadStories(t) }
	random := func(cfg model.Config) func(t *testing.T) *model.Model {
		return func(*testing.T) *model.Model { return model.NewRandom(cfg, 11) }
	}
	// A GPT-2 block structure and GPT-2's attention (12 heads of 64) with
	// one layer and a small vocabulary; and a grouped-query llama.
	gpt2 := model.Config{Name: "gpt2-shaped", Arch: model.ArchGPT2, Dim: 768, HiddenDim: 3072, NumLayers: 1, NumHeads: 12, NumKVHeads: 12,
		VocabSize: 64, SeqLen: 1024, SharedClassifier: true, NormEps: 1e-5}
	gpt2Small := gpt2
	gpt2Small.Name, gpt2Small.Dim, gpt2Small.HiddenDim, gpt2Small.NumHeads, gpt2Small.NumKVHeads = "gpt2-small-heads", 64, 128, 4, 4
	llama := model.Config{Name: "llama-gqa", Arch: model.ArchLlama, Dim: 64, HiddenDim: 96, NumLayers: 2, NumHeads: 8, NumKVHeads: 2,
		VocabSize: 64, SeqLen: 256, NormEps: 1e-5, RopeTheta: 10000}
	client, hom := CacheOptions{Layout: TokenLayout, Append: kv.ClientEncrypt}, CacheOptions{Layout: TokenLayout, Append: kv.Homomorphic}
	cases := []audit{
		// bgv-test-insecure holds 64 stories260K tokens per cache
		// ciphertext: 129 positions fill two of them by 64 client
		// appends each, the most a ciphertext sums at this preset.
		{"stories260K/client/never", stories, "bgv-test-insecure", Cryptogen, client, 1, 129, false},
		{"stories260K/homomorphic/lazy0", stories, "bgv-test-insecure", Cryptogen, hom, 60, 12, false},
		{"stories260K/homomorphic/lazy30", stories, "bgv-test-insecure", Cryptogen, CacheOptions{Layout: TokenLayout, Append: kv.Homomorphic, Refresh: kv.Lazy{Tau: 30}}, 60, 12, false},
		{"stories260K/homomorphic/eager", stories, "bgv-test-insecure", Cryptogen, CacheOptions{Layout: TokenLayout, Append: kv.Homomorphic, Refresh: kv.Eager{}}, 60, 8, false},
		{"stories260K/client/lazy20", stories, "bgv-test-insecure", Cryptogen, CacheOptions{Layout: TokenLayout, Append: kv.ClientEncrypt, Refresh: kv.Lazy{Tau: 20}}, 60, 8, false},
		{"stories260K/recompute", stories, "bgv-test-insecure", Recompute, client, 20, 3, false},
		{"stories260K/client/never", stories, "bgv-n13", Cryptogen, client, 8, 6, false},
		{"stories260K/client/never", stories, "bgv-n14", Cryptogen, client, 8, 4, false},
		{"stories260K/homomorphic/lazy0", stories, "bgv-n14", Cryptogen, hom, 8, 4, false},
		{"gpt2-small-heads/client/never", random(gpt2Small), "bgv-test-insecure", Cryptogen, client, 40, 24, false},
		{"gpt2-small-heads/homomorphic/lazy0", random(gpt2Small), "bgv-test-insecure", Cryptogen, hom, 40, 8, false},
		{"llama-gqa/client/never", random(llama), "bgv-test-insecure", Cryptogen, client, 30, 40, false},
		{"llama-gqa/recompute", random(llama), "bgv-test-insecure", Recompute, client, 30, 3, false},
		// The feature-major cache (the default): fresh ciphertexts only,
		// across groups (32 stories260K tokens per group at this preset),
		// wider heads, grouped-query attention, and the secure preset.
		{"stories260K/feature", stories, "bgv-test-insecure", Cryptogen, CacheOptions{}, 1, 70, false},
		{"gpt2-small-heads/feature", random(gpt2Small), "bgv-test-insecure", Cryptogen, CacheOptions{}, 40, 24, false},
		{"llama-gqa/feature", random(llama), "bgv-test-insecure", Cryptogen, CacheOptions{}, 30, 40, false},
		{"stories260K/feature", stories, "bgv-n14", Cryptogen, CacheOptions{}, 8, 4, false},
		// The long audits: contexts up to 512 (the measurement,
		// rerun) and GPT-2's attention at 1024, most telling first.
		{"stories260K/client/never", stories, "bgv-n14", Cryptogen, client, 1, 511, true},
		{"stories260K/homomorphic/lazy0", stories, "bgv-test-insecure", Cryptogen, hom, 256, 256, true},
		{"gpt2-shaped/client/never", random(gpt2), "bgv-test-insecure", Cryptogen, client, 1000, 24, true},
		// GPT-2's attention up to 1024 tokens the other way: a shorter
		// prefill and 624 client appends into the cache.
		{"gpt2-shaped/client/never", random(gpt2), "bgv-test-insecure", Cryptogen, client, 400, 624, true},
		{"stories260K/homomorphic/lazy0", stories, "bgv-n14", Cryptogen, hom, 256, 256, true},
		{"stories260K/client/never", stories, "bgv-test-insecure", Cryptogen, client, 1, 511, true},
		{"stories260K/feature", stories, "bgv-n14", Cryptogen, CacheOptions{}, 1, 511, true},
	}
	for _, c := range cases {
		if c.long && !*sessionLong || testing.Short() && c.preset == "bgv-n14" {
			continue // see sessionLong; -short drops log N 14 and above, as everywhere
		}
		t.Run(fmt.Sprintf("%s/%s/%d+%d", c.preset, c.name, c.prompt, c.gen), func(t *testing.T) { runAudit(t, c) })
	}
}

func runAudit(t *testing.T, c audit) {
	m := c.model(t)
	prompt := make([]int, c.prompt)
	for i := range prompt {
		prompt[i] = (7*i + 3) % m.Config.VocabSize
	}
	prompt[0] = 1
	r, err := NewRunner(RunOptions{Model: m, Preset: preset(t, c.preset), Network: net.LAN, Strategy: c.strat, Cache: c.cache,
		PromptTokens: c.prompt, Gen: c.gen})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res := &auditResult{minMargin: math.Inf(1)}
	r.he.InspectReturns(func(cts []*rlwe.Ciphertext, plan exec.ReturnPlan) {
		margins := make([]float64, len(cts))
		for i, ct := range cts {
			margins[i] = plan.Payload - r.client.PayloadBits(ct)
		}
		res.mu.Lock()
		defer res.mu.Unlock()
		if plan.StatSecurity != r.security.FloodBits && len(res.errs) < 5 {
			res.errs = append(res.errs, fmt.Sprintf("a return at level %d flooded for %d bits, the session's budget is %d", plan.Level, plan.StatSecurity, r.security.FloodBits))
		}
		for _, mg := range margins {
			res.returned++
			if mg < res.minMargin {
				res.minMargin, res.worst = mg, plan
			}
			if mg < 0 && len(res.errs) < 5 {
				res.errs = append(res.errs, fmt.Sprintf("a returned ciphertext's payload is %.2f bits above its plan (%+v)", -mg, plan))
			}
		}
	})
	if _, err := Generate(r, m.Config, c.strat, prompt, c.gen, nil); err != nil {
		t.Fatal(err)
	}
	rep := &Report{}
	rep.Summarize(r.Breakdown())
	if err := rep.secure(r.security); err != nil {
		t.Error(err)
	}
	for _, e := range res.errs {
		t.Error(e)
	}
	if res.returned != rep.Total.Decryptions {
		t.Errorf("%d ciphertexts inspected, the report counts %d decryptions", res.returned, rep.Total.Decryptions)
	}
	t.Logf("%d ciphertexts returned, each flooded for %d bits (κ = %d, budget %d ciphertexts): the session keeps %.1f bits; smallest margin %.1f bits (payload bound %.1f at level %d, sent at %d)",
		res.returned, r.security.FloodBits, r.security.Kappa, r.security.Ciphertexts, rep.StatSecurityBits,
		res.minMargin, res.worst.Payload, res.worst.Level, res.worst.SendLevel)
}
