package kv

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/internal/hetest"
)

// TestFeatureCache: a feature-major cache filled by a prompt's switch and
// token appends serves the feature kernels exact scores and outputs at
// the contexts the kernels issue names (1, 7, B-1, B, B+1 and 200, B the
// tokens of a group), and the switch's and appends' counters and the
// memory recorded are their estimates. From a one-token prompt, appends
// to B+1 tokens (and 200); from a prompt of two groups and a token, two
// appends. Shapes: stories260K's attention on two layers (grouped-query,
// 8 heads over 4 of 8), smallShape (4 over 2 of 16) and multi-query
// attention (4 heads over 1 of 16), with the most classes the slots allow
// and with one class (the most diagonals).
func TestFeatureCache(t *testing.T) {
	preset := hetest.Presets()[0]
	pl := planner(t, preset)
	stories2 := storiesShape
	stories2.layers = 2
	mqa := shape{layers: 1, heads: 4, kvHeads: 1, headDim: 16}
	for _, sh := range []shape{stories2, smallShape, mqa} {
		top := exec.MaxFeatureClasses(pl.Params.MaxSlots(), sh.heads, sh.headDim)
		for _, classes := range []int{top, 1} {
			lay, err := exec.NewFeatureLayout(pl.Params.MaxSlots(), sh.heads, sh.kvHeads, sh.headDim, classes)
			if err != nil {
				t.Fatal(err)
			}
			B := lay.TokensPerCt()
			name := fmt.Sprintf("%dx%d-over-%d/%d-classes", sh.heads, sh.headDim, sh.kvHeads, classes)
			t.Run(name+"/appends", func(t *testing.T) {
				checkFeatureCache(t, pl, sh, classes, 1, max(B+1, 200), []int{1, 7, B - 1, B, B + 1, 200})
			})
			t.Run(name+"/two-groups-prompt", func(t *testing.T) {
				checkFeatureCache(t, pl, sh, classes, 2*B+1, 2*B+3, []int{2*B + 1, 2*B + 2, 2*B + 3})
			})
			t.Run(name+"/public-prefix", func(t *testing.T) {
				checkFeatureCache(t, pl, sh, classes, -(B + 3), 2*B+2, []int{B + 4, 2 * B, 2*B + 1})
			})
			t.Run(name+"/public-groups", func(t *testing.T) {
				checkFeatureCache(t, pl, sh, classes, -(2 * B), 2*B+1, []int{2 * B})
			})
		}
	}
}

// checkFeatureCache switches a prompt of prompt tokens into a cache
// planned for total (or, with prompt < 0, loads a public prefix of
// -prompt tokens), appends tokens up to total, runs both kernels at the
// contexts of at (and at the end) and checks every count.
func checkFeatureCache(t *testing.T, pl exec.Planner, sh shape, classes, prompt, total int, at []int) {
	cfg, sc, vk := featureConfig(t, pl, sh, classes, total)
	public := max(0, -prompt)
	prompt = max(prompt, public)
	var err error
	if cfg, err = cfg.WithPublic(public); err != nil {
		t.Fatal(err)
	}
	s, c := featureSession(t, cfg, sc, vk)
	defer s.Close()
	tm := cfg.Params.PlaintextModulus()
	kv := cfg.KVDim()
	K, V := hetest.RandVec(tm, total*kv), hetest.RandVec(tm, total*kv)
	if public > 0 {
		if err := c.AppendRows(s, hetest.NopTally(), 0, share(t, K[:kv], tm), share(t, V[:kv], tm)); err == nil {
			t.Error("an append before the public prefix: no error")
		}
	}
	for layer := 0; layer < sh.layers && public > 0; layer++ {
		tally := cost.NewTally(cfg.Profile)
		if err := c.LoadPublic(s, tally, layer, sc, vk, K[:public*kv], V[:public*kv]); err != nil {
			t.Fatal(err)
		}
		want := sc.PublicCost(public).Add(vk.PublicCost(public)).Add(cfg.Boundary(layer, 0, public))
		hetest.CheckCounters(t, "public prefix", tally.Cost(), want)
	}
	if public > 0 {
		if err := c.Switch(s, hetest.NopTally(), 0, share(t, K[:kv], tm), share(t, V[:kv], tm)); err == nil {
			t.Error("a switch into a cache with a public prefix: no error")
		}
		if err := c.Truncate(public - 1); err == nil {
			t.Error("a truncation into the public prefix: no error")
		}
		if err := c.LoadPublic(s, hetest.NopTally(), 0, sc, vk, K[:public*kv], V[:public*kv]); err == nil {
			t.Error("a public prefix loaded twice: no error")
		}
	}
	for layer := 0; layer < sh.layers && public == 0; layer++ {
		tally := cost.NewTally(cfg.Profile)
		if err := c.Switch(s, tally, layer, share(t, K[:prompt*kv], tm), share(t, V[:prompt*kv], tm)); err != nil {
			t.Fatal(err)
		}
		hetest.CheckCounters(t, "switch", tally.Cost(), cfg.EstimateSwitch(prompt).Add(cfg.Boundary(layer, 0, prompt)))
	}
	for p := prompt; ; p++ {
		// A public prefix that fills part of a group is always followed by
		// a private token before a kernel reads it (the run's pass).
		for layer := 0; layer < sh.layers && (p == total || slices.Contains(at, p)); layer++ {
			checkKernelsOver(t, s, c, sc, vk, sh, plainKV{k: K, v: V}, layer, p, public)
		}
		if p == total {
			break
		}
		for layer := 0; layer < sh.layers; layer++ {
			tally := cost.NewTally(cfg.Profile)
			if err := c.Append(s, tally, layer, share(t, K[p*kv:(p+1)*kv], tm), share(t, V[p*kv:(p+1)*kv], tm)); err != nil {
				t.Fatal(err)
			}
			hetest.CheckCounters(t, fmt.Sprintf("append of token %d", p), tally.Cost(), cfg.EstimateAppend().Add(cfg.Boundary(layer, p, p+1)))
		}
	}
	if err := c.Append(s, hetest.NopTally(), 0, share(t, K[:kv], tm), share(t, V[:kv], tm)); err == nil {
		t.Error("an append past the context planned for: no error")
	}
	if err := c.Append(s, hetest.NopTally(), 0, share(t, K[:kv-1], tm), share(t, V[:kv], tm)); err == nil {
		t.Error("an append of a short key: no error")
	}
	if err := c.Switch(s, hetest.NopTally(), 0, share(t, K[:kv], tm), share(t, V[:kv], tm)); err == nil {
		t.Error("a switch into a filled layer: no error")
	}
}

// checkKernelsOver runs both feature kernels over layer's cache at a
// context of p tokens (the first public of them a public prefix) for a
// random query and random weights, and checks their results against the
// plaintext keys and values pk.
func checkKernelsOver(t *testing.T, s *exec.Session, c *FeatureCache, sc *exec.FeatureScores, vk *exec.FeatureValues, sh shape, pk plainKV, layer, p, public int) {
	t.Helper()
	tm := c.Config().Params.PlaintextModulus()
	keys, err := c.KernelInputs(layer, 0)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := c.KernelInputs(layer, 1)
	if err != nil {
		t.Fatal(err)
	}
	scp, err := sc.WithContext(p)
	if err == nil {
		scp, err = scp.WithPublic(public)
	}
	vkp, verr := vk.WithContext(p)
	if verr == nil {
		vkp, verr = vkp.WithPublic(public)
	}
	if err != nil || verr != nil {
		t.Fatal(err, verr)
	}
	q, w := hetest.RandVec(tm, sh.heads*sh.headDim), hetest.RandVec(tm, sh.heads*p)
	scores, err := scp.Run(s, hetest.NopTally(), keys.Cts, keys.Public, keys.C, keys.S, share(t, q, tm))
	if err != nil {
		t.Fatal(err)
	}
	out, err := vkp.Run(s, hetest.NopTally(), vals.Cts, vals.Public, vals.C, vals.S, share(t, w, tm))
	if err != nil {
		t.Fatal(err)
	}
	checkAttentionOf(t, sh, tm, pk, p, q, w, scores.Reveal(tm), out.Reveal(tm))
}

// TestFeatureBytesPerToken: the memory per token, all layers, is the
// growth of Memory over a whole group (a group's ciphertexts and the
// shares of its tokens), per token.
func TestFeatureBytesPerToken(t *testing.T) {
	pl := planner(t, hetest.Presets()[0])
	classes := exec.MaxFeatureClasses(pl.Params.MaxSlots(), storiesShape.heads, storiesShape.headDim)
	cfg, _, _ := featureConfig(t, pl, storiesShape, classes, 200)
	T := cfg.Layout.TokensPerCt()
	got := float64(int64(cfg.Layers)*(cfg.Memory(3*T)-cfg.Memory(2*T))) / float64(T)
	if got != cfg.BytesPerToken() {
		t.Errorf("memory grows by %v bytes per token over a group, BytesPerToken says %v", got, cfg.BytesPerToken())
	}
	if cfg.Memory(2*T+1) <= cfg.Memory(2*T) || cfg.Memory(1) <= 0 {
		t.Error("a token into a new group adds no ciphertext")
	}
}

// featureConfig plans the feature kernels of sh with classes classes for
// contexts up to maxContext, and their cache.
// featureSession is a session with the keys of kernels sc and vk and an
// empty feature-major cache of cfg.
func featureSession(t *testing.T, cfg FeatureConfig, sc *exec.FeatureScores, vk *exec.FeatureValues) (*exec.Session, *FeatureCache) {
	t.Helper()
	s, err := exec.NewSession(cfg.Params, sc, vk)
	if err != nil {
		t.Fatal(err)
	}
	return s, NewFeatureCache(cfg)
}

func featureConfig(t *testing.T, pl exec.Planner, sh shape, classes, maxContext int) (FeatureConfig, *exec.FeatureScores, *exec.FeatureValues) {
	t.Helper()
	ash := exec.AttentionShape{Heads: sh.heads, KVHeads: sh.kvHeads, HeadDim: sh.headDim, Context: maxContext}
	sc, err := pl.FeatureScores(ash, classes)
	if err != nil {
		t.Fatal(err)
	}
	vk, err := pl.FeatureValues(ash, classes)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := NewFeatureConfig(sh.layers, sc, vk)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, sc, vk
}

// TestFeatureUploadsAtTwoLevels: a cache whose keys and values are read at
// different levels uploads them in two flights (no built-in model's
// kernels plan them so today); the switch's and appends' counters are
// still their estimates, and the ciphertexts sit at their kind's level.
func TestFeatureUploadsAtTwoLevels(t *testing.T) {
	pl := planner(t, hetest.Presets()[0])
	sh := smallShape
	classes := exec.MaxFeatureClasses(pl.Params.MaxSlots(), sh.heads, sh.headDim)
	cfg, sc, vk := featureConfig(t, pl, sh, classes, 40)
	if cfg.Level[kindV] == 0 {
		t.Fatalf("the values kernel is at level 0: no lower level to test")
	}
	cfg.Level[kindV]--
	if n := len(cfg.uploads(1)); n != 2 {
		t.Fatalf("%d uploads, want 2", n)
	}
	s, c := featureSession(t, cfg, sc, vk)
	defer s.Close()
	tm := cfg.Params.PlaintextModulus()
	kv := cfg.KVDim()
	tally := cost.NewTally(cfg.Profile)
	if err := c.Switch(s, tally, 0, share(t, hetest.RandVec(tm, 30*kv), tm), share(t, hetest.RandVec(tm, 30*kv), tm)); err != nil {
		t.Fatal(err)
	}
	hetest.CheckCounters(t, "switch", tally.Cost(), cfg.EstimateSwitch(30).Add(cfg.Boundary(0, 0, 30)))
	tally = cost.NewTally(cfg.Profile)
	if err := c.Append(s, tally, 0, share(t, hetest.RandVec(tm, kv), tm), share(t, hetest.RandVec(tm, kv), tm)); err != nil {
		t.Fatal(err)
	}
	hetest.CheckCounters(t, "append", tally.Cost(), cfg.EstimateAppend().Add(cfg.Boundary(0, 30, 31)))
	for kind := range 2 {
		in, err := c.KernelInputs(0, kind)
		if err != nil {
			t.Fatal(err)
		}
		cts := in.Cts
		for _, ct := range cts {
			if ct.Level() != cfg.Level[kind] {
				t.Fatalf("a %s ciphertext at level %d, want %d", kindName(kind), ct.Level(), cfg.Level[kind])
			}
		}
	}
}

// TestFeatureAppendRows: a pass's tokens appended at once (AppendRows)
// re-encrypt each group they touch once: chunks that stay in the open
// group, fill it, and span three groups, after a prompt and after a
// public prefix, leave a cache the kernels read exactly, and each append's
// counters are EstimateAppendRows' with the memory boundary.
func TestFeatureAppendRows(t *testing.T) {
	pl := planner(t, hetest.Presets()[0])
	sh := smallShape
	classes := exec.MaxFeatureClasses(pl.Params.MaxSlots(), sh.heads, sh.headDim)
	for _, public := range []int{0, 5} {
		cfg, sc, vk := featureConfig(t, pl, sh, classes, 200)
		B := cfg.Layout.TokensPerCt()
		chunks := []int{2, B - 4, 2*B + 3}
		total := 3 + 2 + B - 4 + 2*B + 3
		if total > cfg.MaxContext {
			cfg, sc, vk = featureConfig(t, pl, sh, classes, total)
		}
		var err error
		if cfg, err = cfg.WithPublic(public); err != nil {
			t.Fatal(err)
		}
		s, c := featureSession(t, cfg, sc, vk)
		tm, kv := cfg.Params.PlaintextModulus(), cfg.KVDim()
		K, V := hetest.RandVec(tm, total*kv), hetest.RandVec(tm, total*kv)
		p := 3
		for layer := range sh.layers {
			if public > 0 {
				p = public
				if err := c.LoadPublic(s, hetest.NopTally(), layer, sc, vk, K[:p*kv], V[:p*kv]); err != nil {
					t.Fatal(err)
				}
			} else if err := c.Switch(s, hetest.NopTally(), layer, share(t, K[:p*kv], tm), share(t, V[:p*kv], tm)); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range chunks {
			if p+m > total {
				m = total - p
			}
			for layer := range sh.layers {
				tally := cost.NewTally(cfg.Profile)
				if err := c.AppendRows(s, tally, layer, share(t, K[p*kv:(p+m)*kv], tm), share(t, V[p*kv:(p+m)*kv], tm)); err != nil {
					t.Fatal(err)
				}
				hetest.CheckCounters(t, fmt.Sprintf("append of %d tokens at %d", m, p), tally.Cost(), cfg.EstimateAppendRows(p, m).Add(cfg.Boundary(layer, p, p+m)))
			}
			p += m
			checkKernelsOver(t, s, c, sc, vk, sh, plainKV{k: K, v: V}, 0, p, public)
		}
		if p != total || c.Len(0) != total {
			t.Errorf("public %d: the appends reached %d tokens (the cache %d), want %d", public, p, c.Len(0), total)
		}
		s.Close()
	}
}
