package sim

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/kv"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/params"
)

// planner builds the primitives of a forward pass for a model shape, a
// preset and a profile, memoized by shape: both engines take their
// primitives from it, so that what the run engine runs is exactly what the
// estimate engine prices. A planner is not safe for concurrent use.
type planner struct {
	// twoParty is the session's memo of two-party step estimates
	// (protocol.twoParty).
	twoParty map[unaryKey]cost.Cost
	// shared is the protocol's memo (protocol.memo): the linear layers are
	// planned there.
	shared *protocolMemo
	cfg    model.Config
	preset params.Preset
	params bgv.Parameters
	prof   *cost.Profile
	mpc    mpc.Config
	strat  Strategy
	// roundSeconds is the profile's price of one round's own CPU work
	// (cost.OpRound; zero without it), added per round by the estimate
	// engine.
	roundSeconds float64
	// keepsCache: the strategy keeps the encrypted KV cache (kv, the
	// decode kernels, the prefill's switch into it are planned).
	keepsCache bool
	// topK, if not zero, is the sampler's top-k filter before the token's
	// argmax (sessionDecl.topK).
	topK int
	// temperature, if not zero, is the speculative sampling's: the accept
	// step is mpc.AcceptSampled's (sessionDecl.temperature).
	temperature float64
	// he plans every HE primitive: the preset's parameters and profile,
	// and the statistical security each returned ciphertext is flooded
	// for (the session's budget, see planSession).
	he exec.Planner

	// The decode attention kernels (Cryptogen) are the cache's own
	// (kv.Config.Kernels): planned once for the longest context provisioned
	// and for the noise the cache's ciphertexts reach over their whole life
	// (appends, refreshes, the layout switch), so that their flooding
	// covers what they read; copied with the actual context for each use.
	scores *exec.DecodeScores
	values *exec.DecodeValues
	// kv is the encrypted KV cache's configuration (Cryptogen only).
	kv kv.Config
	// layout is the cache's decode layout; with FeatureLayout the decode
	// kernels are fscores and fvalues (planned for a fresh cache at the
	// longest context provisioned) over the cache of feature, and scores,
	// values and kv are unset.
	layout  CacheLayout
	fscores *exec.FeatureScores
	fvalues *exec.FeatureValues
	feature kv.FeatureConfig
	// featureAppend is feature.EstimateAppend() riding the scores
	// kernel's upload (appendRides), the same for every layer and token.
	featureAppend cost.Cost

	prefills map[int]*prefillPlan
	linSteps map[[2]int]*linearStep // by weight and rows
	costs    map[costKey]cost.Cost
	// stepCosts are the memoized estimates of the attention steps.
	stepCosts map[costKey][]kindCost

	embedWidth int // vocabulary slice of the embedding (0: not yet found)
}

// costKey identifies a memoized Estimate: a step and up to three sizes.
type costKey struct {
	step    memoStep
	a, b, c int
}

// memoStep names the memoized estimates.
type memoStep uint8

const (
	memoSource memoStep = iota + 1
	memoEmbed
	memoLinear
	memoPrefill
	memoDecode
	memoNorm
	memoActivation
	memoMul
	memoArgmax
	memoAccept
	memoPass
	memoGated
)

// newPlanner plans for a model shape, a resolved protocol, a strategy and
// its cache, provisioned for contexts of up to maxContext tokens (the decode
// kernels' levels and the cache are planned for it; 0 or more than the
// model's context: the model's context), flooding every ciphertext
// returned to the client for floodBits bits of statistical security (0:
// the preset's κ).
func newPlanner(cfg model.Config, pr protocol, strat Strategy, co CacheOptions, maxContext, floodBits int) (*planner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if maxContext <= 0 || maxContext > cfg.SeqLen {
		maxContext = cfg.SeqLen
	}
	if strat == "" {
		strat = Cryptogen
	}
	def, err := strat.def()
	if err != nil {
		return nil, err
	}
	he, err := pr.flooding(floodBits)
	if err != nil {
		return nil, err
	}
	preset, bp, prof, mc := pr.preset, pr.params, pr.prof, pr.mpc
	p := &planner{cfg: cfg, preset: preset, params: bp, prof: prof, mpc: mc, strat: strat, he: he, twoParty: pr.twoParty,
		shared: pr.memo, prefills: map[int]*prefillPlan{}, linSteps: map[[2]int]*linearStep{}, costs: map[costKey]cost.Cost{}, stepCosts: map[costKey][]kindCost{}}
	p.roundSeconds = prof.RoundSeconds()
	p.keepsCache = def.keepsCache()
	if p.keepsCache {
		if err := co.check(); err != nil {
			return nil, err
		}
		p.layout = co.Layout
	}
	if p.keepsCache && co.Layout == FeatureLayout {
		if err := p.planFeature(maxContext); err != nil {
			return nil, err
		}
	} else if p.keepsCache {
		pol := co.Policy()
		p.kv, err = kv.NewConfig(kv.Config{Preset: preset.Name, Planner: he, Layers: cfg.NumLayers,
			Heads: cfg.NumHeads, KVHeads: cfg.NumKVHeads, HeadDim: headsOf(cfg).stride, MaxContext: maxContext,
			Method: co.Append, Policy: pol})
		if err != nil {
			return nil, fmt.Errorf("sim: the KV cache of %s at %s (%s appends, refresh %s): %w", cfg.Name, preset.Name, co.Append, pol, err)
		}
		if p.scores, p.values, err = p.kv.Kernels(maxContext); err != nil {
			return nil, fmt.Errorf("sim: %s at %s: %w", cfg.Name, preset.Name, err)
		}
	}
	return p, nil
}

// planFeature plans the feature-major decode kernels for contexts of up
// to maxContext tokens, with as many classes as the slots allow (the
// fewest diagonals: the fewest products and rotations per token), and
// their cache.
func (p *planner) planFeature(maxContext int) error {
	c := p.cfg
	sh := exec.AttentionShape{Heads: c.NumHeads, KVHeads: c.NumKVHeads, HeadDim: headsOf(c).stride, Context: maxContext}
	classes := exec.MaxFeatureClasses(p.params.MaxSlots(), sh.Heads, sh.HeadDim)
	if classes == 0 {
		return fmt.Errorf("sim: the feature-major cache of %s at %s: a slot row of %d holds fewer than the %d positions of %d heads (in %d lanes) it needs; use the token layout or a larger ring",
			c.Name, p.preset.Name, p.params.MaxSlots()/2, sh.HeadDim, sh.Heads, 1<<bits.Len(uint(sh.Heads-1)))
	}
	var err error
	if p.fscores, err = p.he.FeatureScores(sh, classes); err == nil {
		p.fvalues, err = p.he.FeatureValues(sh, classes)
	}
	if err == nil {
		p.feature, err = kv.NewFeatureConfig(c.NumLayers, p.fscores, p.fvalues)
	}
	if err == nil {
		p.featureAppend = appendRides(p.feature.EstimateAppend())
	}
	if err != nil {
		return fmt.Errorf("sim: the feature-major cache of %s at %s: %w", c.Name, p.preset.Name, err)
	}
	return nil
}

// linear is the HE linear layer out x in over rows tokens: the decode
// encoding for one token, the prefill encoding for more; its packing is
// chosen for weights encoded once if once (see encodedWeights).
func (p *planner) linear(out, in, rows int, once bool) (*exec.Linear, error) {
	enc := exec.Decode
	if rows > 1 {
		enc = exec.Prefill
	}
	return p.shared.linear(p.he, out, in, rows, enc, once)
}

// encodedOnce is whether the server encodes the weights of m over rows
// tokens once at setup: every one-token layer whose weights do not carry
// the token's position.
func (p *planner) encodedOnce(m Mat, rows int) bool { return rows == 1 && !p.ropeFolded(m) }

// matShape is the shape (out, in) of a weight as the protocol uses it.
func (p *planner) matShape(m Mat) (out, in int) {
	c, hs := p.cfg, headsOf(p.cfg)
	switch m {
	case MatQKV:
		return hs.q + 2*hs.kv, c.Dim
	case MatOut:
		return c.Dim, hs.q
	case MatUp:
		if c.Arch == model.ArchLlama {
			return 2 * c.HiddenDim, c.Dim
		}
		return c.HiddenDim, c.Dim
	case MatDown:
		return c.Dim, c.HiddenDim
	case MatClassifier:
		return c.VocabSize, c.Dim
	}
	return 0, 0
}

// memo returns the memoized cost of key, computing it with f once.
func (p *planner) memo(k costKey, f func() cost.Cost) cost.Cost {
	if c, ok := p.costs[k]; ok {
		return c
	}
	c := f()
	p.costs[k] = c
	return c
}

// Attention.
//
// Prefill (m new tokens at position 0: the prompt, and every step of
// Recompute) runs the matrix-matrix kernels exec.PrefillScores and
// exec.PrefillValues on the m keys and values, uploaded by the client in
// the prefill layout. With Cryptogen the layer's cache is then built by kv
// (FeatureCache.Switch; Cache.Switch for the token layout). Decode (one
// new token at position p > 0, Cryptogen) appends the token to the kv
// cache and runs exec.FeatureScores and exec.FeatureValues (with the
// token layout, the matrix-vector kernels exec.DecodeScores and
// exec.DecodeValues) over the p+1 cached tokens.

// prefillPlan is the attention of a prompt of m tokens.
type prefillPlan struct {
	m      int
	scores *exec.PrefillScores
	values *exec.PrefillValues
	// upload is the client's encryption of its shares of the keys and
	// values in the prefill layout at the kernels' levels: one C2S when
	// the levels agree (keys then values), else two.
	upload []exec.C2S
	// Cryptogen: the layout switch. The client encrypts its shares of the
	// keys and values in kv's switch layout at switchLevel (switchUp),
	// and kv.Cache.Switch moves them to the decode layout.
	kvLayout    kv.SwitchLayout
	switchUp    exec.C2S
	switchLevel int
	switchBits  float64
	switchCost  cost.Cost // kv's estimate of the switch, all layers
}

func (p *planner) prefill(m int) (*prefillPlan, error) {
	if pp, ok := p.prefills[m]; ok {
		return pp, nil
	}
	c := p.cfg
	sh := exec.AttentionShape{Heads: c.NumHeads, KVHeads: c.NumKVHeads, HeadDim: headsOf(c).stride, Context: m}
	sc, err := p.he.PrefillScores(sh)
	if err != nil {
		return nil, fmt.Errorf("sim: prefill attention of %d tokens at %s: %w", m, p.preset.Name, err)
	}
	vk, err := p.he.PrefillValues(sh)
	if err != nil {
		return nil, fmt.Errorf("sim: prefill attention of %d tokens at %s: %w", m, p.preset.Name, err)
	}
	pp := &prefillPlan{m: m, scores: sc, values: vk}
	slots, cc := p.params.MaxSlots(), p.he.ClientCores
	if sc.Level == vk.Level {
		pp.upload = []exec.C2S{{Params: p.params, Profile: p.prof, Len: 2 * sc.Layout.Cts() * slots, Level: sc.Level, ClientCores: cc}}
	} else {
		pp.upload = []exec.C2S{
			{Params: p.params, Profile: p.prof, Len: sc.Layout.Cts() * slots, Level: sc.Level, ClientCores: cc},
			{Params: p.params, Profile: p.prof, Len: vk.Layout.Cts() * slots, Level: vk.Level, ClientCores: cc},
		}
	}
	if p.keepsCache && p.layout == TokenLayout {
		sw, err := p.switchFor(m)
		if err != nil {
			return nil, err
		}
		pp.kvLayout, pp.switchLevel, pp.switchBits, pp.switchCost = sw.layout, sw.level, sw.bits, sw.cost
		pp.switchUp = exec.C2S{Params: p.params, Profile: p.prof, Len: 2 * sw.layout.Cts() * slots, Level: sw.level, ClientCores: cc}
	}
	p.prefills[m] = pp
	return pp, nil
}

// switchPlan is the layout switch of m prefill tokens (all layers).
type switchPlan struct {
	layout kv.SwitchLayout
	level  int
	bits   float64
	cost   cost.Cost
}

// switchFor plans the switch of m prefill tokens: the client's
// encryptions in kv's switch layout are made at the lowest level whose
// switch (masking, flooding) fits, the smallest ciphertexts to upload and
// to send back.
func (p *planner) switchFor(m int) (switchPlan, error) {
	lay, err := kv.NewSwitchLayout(p.params.MaxSlots(), m, headsOf(p.cfg).kv)
	if err != nil {
		return switchPlan{}, err
	}
	var last error
	for lvl := 0; lvl <= p.params.MaxLevel(); lvl++ {
		bits := p.kv.Model().Payload(kv.NoiseState{Level: lvl, Msgs: 2, Fresh: 1, Extra: math.Inf(-1)})
		c, _, err := p.kv.EstimateSwitch(m, lvl, bits)
		if err == nil {
			return switchPlan{layout: lay, level: lvl, bits: bits, cost: c}, nil
		}
		last = err
	}
	return switchPlan{}, fmt.Errorf("sim: switching %d prefill tokens to the decode layout at %s: %w", m, p.preset.Name, last)
}

func (p *planner) scoresKernel(ctx int) *exec.DecodeScores {
	k := *p.scores
	k.Shape.Context = ctx
	return &k
}

func (p *planner) valuesKernel(ctx int) *exec.DecodeValues {
	k := *p.values
	k.Shape.Context = ctx
	return &k
}

// visible is the number of (query, key) pairs of rows queries at the last
// rows positions of ctx tokens that the causal mask lets through, per head.
func visible(rows, ctx int) int {
	p0 := ctx - rows
	return rows*p0 + rows*(rows+1)/2
}

// Estimates of the engine operations: each step's Estimate, memoized.

func (p *planner) estEmbed(rows int) (cost.Cost, error) {
	st, err := p.embedStep(rows)
	if err != nil {
		return cost.Cost{}, err
	}
	return p.memo(costKey{memoEmbed, rows, 0, 0}, st.Estimate), nil
}

// embedChunk is the lookup in the vocabulary rows lo .. hi-1 of the table.
type embedChunk struct {
	lo, hi int
	lin    *exec.Linear
}

// embedChunks splits the lookup Dim x Vocab into linear layers over
// vocabulary slices narrow enough for the preset's noise budget (the
// whole vocabulary when it fits); the parties add the slices' shares.
func (p *planner) embedChunks(rows int) ([]embedChunk, error) {
	v := p.cfg.VocabSize
	start := v
	if p.embedWidth > 0 {
		start = p.embedWidth
	}
	for width := start; ; width = (width + 1) / 2 {
		var chunks []embedChunk
		var err error
		for lo := 0; lo < v && err == nil; lo += width {
			hi := min(lo+width, v)
			var l *exec.Linear
			if l, err = p.linear(p.cfg.Dim, hi-lo, rows, rows == 1); err == nil {
				chunks = append(chunks, embedChunk{lo, hi, l})
			}
		}
		if err == nil {
			p.embedWidth = width
			return chunks, nil
		}
		if width == 1 {
			return nil, fmt.Errorf("sim: embedding of %s at %s: %w", p.cfg.Name, p.preset.Name, err)
		}
	}
}

func (p *planner) estLinear(m Mat, rows int) (cost.Cost, error) {
	st, err := p.linearStep(m, rows)
	if err != nil {
		return cost.Cost{}, err
	}
	return p.memo(costKey{memoLinear, int(m), rows, 0}, st.Estimate), nil
}

// estPrefill is the prefill attention step's estimate, per kind, and the
// switch of every layer's cache (Cryptogen; recorded once).
func (p *planner) estPrefill(m int) (parts []kindCost, switchAll cost.Cost, err error) {
	st, err := p.prefillAttnStep(m)
	if err != nil {
		return nil, cost.Cost{}, err
	}
	if c, ok := p.stepCosts[costKey{memoPrefill, m, 0, 0}]; ok {
		return c, st.pp.switchCost, nil
	}
	parts = st.Estimate()
	p.stepCosts[costKey{memoPrefill, m, 0, 0}] = parts
	return parts, st.pp.switchCost, nil
}

// estDecode is the decode attention step's estimate over ctx cached
// tokens, per kind.
func (p *planner) estPass(m, end int) ([]kindCost, error) {
	if c, ok := p.stepCosts[costKey{memoPass, m, end, 0}]; ok {
		return c, nil
	}
	st, err := p.passAttnStep(m, end)
	if err != nil {
		return nil, err
	}
	parts := st.Estimate()
	p.stepCosts[costKey{memoPass, m, end, 0}] = parts
	return parts, nil
}

func (p *planner) estDecode(ctx int) ([]kindCost, error) {
	if c, ok := p.stepCosts[costKey{memoDecode, ctx, 0, 0}]; ok {
		return c, nil
	}
	st, err := p.decodeAttnStep(ctx)
	if err != nil {
		return nil, err
	}
	parts := st.Estimate()
	p.stepCosts[costKey{memoDecode, ctx, 0, 0}] = parts
	return parts, nil
}

func (p *planner) estNorm(rows, scale int) cost.Cost {
	return p.memo(costKey{memoNorm, rows, scale, 0}, func() cost.Cost { return p.normStep(rows, scale).Estimate() })
}

func (p *planner) estActivation(n, scale int) cost.Cost {
	return p.memo(costKey{memoActivation, n, scale, 0}, func() cost.Cost { return p.activationStep(n, scale).Estimate() })
}

func (p *planner) estMul(n, scale int) cost.Cost {
	return p.memo(costKey{memoMul, n, scale, 0}, func() cost.Cost { return p.mulStep(n, scale).Estimate() })
}

func (p *planner) estGated(n, scale int) cost.Cost {
	return p.memo(costKey{memoGated, n, scale, 0}, func() cost.Cost { return p.gatedStep(n, scale).Estimate() })
}

func (p *planner) estAccept(rows, n, scale int) cost.Cost {
	return p.memo(costKey{memoAccept, rows, n, scale}, func() cost.Cost { return p.acceptStep(rows, n, scale).Estimate() })
}

func (p *planner) estArgmax(n, scale int) cost.Cost {
	return p.memo(costKey{memoArgmax, n, scale, p.topK}, func() cost.Cost { return p.argmaxStep(n, scale).Estimate() })
}
