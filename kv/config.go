package kv

import (
	"errors"
	"fmt"
	"math"

	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
)

// Method is how a new token's key and value enter the cache.
type Method int

const (
	// ClientEncrypt: the client encrypts its share of the token at the
	// token's slot offset (zeros elsewhere) at the cache ciphertext's level;
	// the server adds it to the cache ciphertext. One ciphertext up per
	// cache (K and V) per layer, no homomorphic product, almost no noise.
	ClientEncrypt Method = iota
	// Homomorphic: the server already holds an encryption of the token
	// (a Source) and concatenates it: a 0/1 selection mask (a ct-pt
	// product) keeps the token's block, the sum with the cache ciphertext
	// is rescaled. Each such append costs the cache ciphertext one level
	// and resets its noise to about T + n/2 bits.
	Homomorphic
)

func (m Method) String() string {
	switch m {
	case ClientEncrypt:
		return "client-encrypt"
	case Homomorphic:
		return "homomorphic"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// Policy decides which cache ciphertexts are refreshed (sent masked and
// flooded to the client, re-encrypted fresh at the top of their budget).
// The implementations are Eager, Lazy and Never.
type Policy interface {
	// String names the policy ("eager", "lazy(tau=8)", "never").
	String() string
	// Check is the policy's validation (the only one: callers building a
	// policy from flags call it): a lazy threshold must be a finite
	// number of bits >= 0.
	Check() error
	// Due decides, for a ciphertext just touched by an append of method m,
	// whether the layer's refresh round refreshes it; budget returns the
	// ciphertext's remaining budget in bits (Config.Budget), computed only
	// if the policy needs it.
	Due(m Method, budget func() float64) bool
}

// Eager refreshes every ciphertext touched by a homomorphic append right
// after it (in the layer's refresh round).
type Eager struct{}

// Lazy refreshes a ciphertext when its remaining budget, in bits, falls
// below Tau (see Config.Budget for what the budget is). Tau must be >= 0.
type Lazy struct{ Tau float64 }

// Never never refreshes; a Config with Never is valid only if the model
// proves that no refresh is needed up to MaxContext.
type Never struct{}

func (Eager) String() string  { return "eager" }
func (l Lazy) String() string { return fmt.Sprintf("lazy(tau=%g)", l.Tau) }
func (Never) String() string  { return "never" }

func (Eager) Check() error { return nil }
func (Never) Check() error { return nil }

// Check: Tau must be a finite number of bits, at least 0 (a negative
// threshold lets the budget go below what the next product needs).
func (l Lazy) Check() error {
	if !(l.Tau >= 0) || math.IsInf(l.Tau, 0) {
		return fmt.Errorf("kv: lazy threshold %g: want a finite number of bits >= 0: %w", l.Tau, ErrBudget)
	}
	return nil
}

// Due: a ciphertext touched by a homomorphic append (a client append
// costs no level and leaves the ciphertext fresh enough).
func (Eager) Due(m Method, _ func() float64) bool { return m == Homomorphic }

// Due: a ciphertext whose budget fell below Tau.
func (l Lazy) Due(_ Method, budget func() float64) bool { return budget() < l.Tau }

// Due: never.
func (Never) Due(Method, func() float64) bool { return false }

// ErrBudget is returned (wrapped) when an operation would leave a cache
// ciphertext unable to serve the next attention product: an unsafe policy
// is stopped before it produces a wrong decryption.
var ErrBudget = errors.New("kv: noise budget exhausted")

// Config is the shape of an encrypted KV cache: the model's attention
// dimensions, the HE parameters, how tokens are appended and when
// ciphertexts are refreshed. Build it with NewConfig, which checks it.
type Config struct {
	Preset string // params preset name (recorded in saved files)
	// Planner is the protocol context the cache is planned in: the
	// preset's parameters, the profile that prices its operations and the
	// statistical security each ciphertext the cache returns to the client
	// (refreshes, the layout switch) and each decode kernel over it is
	// flooded for (a session sets it to κ plus log2 of the ciphertexts it
	// returns, see package sim's session budget). Build it once, at the
	// edge (exec.PlannerFor); kv never looks a preset up by name.
	Planner exec.Planner
	// Params and Profile are Planner's, set by NewConfig.
	Params  bgv.Parameters
	Profile *cost.Profile

	Layers  int
	Heads   int // query heads (grouped-query attention when > KVHeads)
	KVHeads int
	HeadDim int

	// MaxContext is the longest context the cache must serve; the value
	// kernel sums over the context, so it enters the noise budget.
	MaxContext int

	Method Method
	Policy Policy

	// SourceLevel and SourceBits describe the ciphertexts a Homomorphic
	// append consumes (level and payload bound); NewConfig sets them to a
	// fresh client encryption at the top level.
	SourceLevel int
	SourceBits  float64

	// KeyBytes is the size of the evaluation keys the server holds
	// (see KeyBytes); it is counted in PeakMemoryBytes.
	KeyBytes int64

	// Derived by NewConfig.
	//
	// CacheBits bounds the payload of every cache ciphertext at the kernel
	// levels over the whole life of the cache up to MaxContext (appends,
	// refreshes, a prefill switch): the decode kernels are planned for it
	// (exec.AttentionShape.CacheBits), so that their flooding covers the
	// cache's real noise.
	// CacheBits[kind] is that bound for the keys (kind 0) and the values
	// (kind 1).
	CacheBits    [2]float64
	Layout       exec.CacheLayout
	KernelLevel  [2]int // level of the K (scores) and V (values) kernels
	HomeLevel    [2]int // level of fresh cache ciphertexts of each kind
	model        Model
	sumTerms     [2]int
	freshBudget  [2]float64
	validatedFor int
	scores       *exec.DecodeScores // planned at MaxContext for CacheBits
	values       *exec.DecodeValues
}

// kinds of cache.
const (
	kindK = 0
	kindV = 1
)

// NewConfig checks cfg (Planner, shapes, Method, Policy; Params, Profile,
// SourceLevel and SourceBits are filled in if zero), plans the levels
// with the exec kernels, and simulates the cache up to MaxContext: a
// policy that would let a ciphertext fall below what the next product
// needs is an error here, at configuration time.
func NewConfig(cfg Config) (Config, error) {
	if err := cfg.Planner.Check(); err != nil {
		return Config{}, fmt.Errorf("kv: config: %w", err)
	}
	cfg.Params, cfg.Profile = cfg.Planner.Params, cfg.Planner.Profile
	if cfg.Heads == 0 {
		cfg.Heads = cfg.KVHeads
	}
	if cfg.Layers < 1 || cfg.MaxContext < 1 {
		return Config{}, fmt.Errorf("kv: %d layers, max context %d: both must be positive", cfg.Layers, cfg.MaxContext)
	}
	if cfg.Policy == nil {
		return Config{}, fmt.Errorf("kv: config without a refresh policy")
	}
	if err := cfg.Policy.Check(); err != nil {
		return Config{}, err
	}
	if cfg.Method != ClientEncrypt && cfg.Method != Homomorphic {
		return Config{}, fmt.Errorf("kv: unknown append method %d", cfg.Method)
	}
	p := cfg.Params
	pln := cfg.Planner
	cfg.model = Model{nm: pln.NoiseModel()}
	if cfg.SourceBits == 0 {
		cfg.SourceLevel = p.MaxLevel()
		cfg.SourceBits = cfg.model.Payload(freshState(0, 0))
	}
	if cfg.SourceLevel < 0 || cfg.SourceLevel > p.MaxLevel() || !(cfg.SourceBits > 0) || math.IsInf(cfg.SourceBits, 0) {
		return Config{}, fmt.Errorf("kv: source level %d (payload %v bits) out of range", cfg.SourceLevel, cfg.SourceBits)
	}
	// The kernels must be planned (level, flooding) for the noise of the
	// cache they read, and that noise depends on the kernels' levels (the
	// home level of client appends, the rescales of homomorphic ones):
	// plan for a bound, follow the trajectory, and plan again for what it
	// reaches until the plan covers it (the bound only grows, the levels
	// only rise, so this ends).
	var bits [2]float64
	for iter := 0; ; iter++ {
		if err := cfg.planKernels(pln, bits); err != nil {
			if iter > 0 {
				return Config{}, fmt.Errorf("kv: %s with %s appends and refresh %s: the cache's key and value ciphertexts reach %.1f bits of payload, more than the decode kernels can flood for %d bits of statistical security: %w (%v; a lazy refresh policy bounds the cache's noise)",
					cfg.Preset, cfg.Method, cfg.Policy, bits, pln.NoiseModel().StatSecurity(), ErrBudget, err)
			}
			return Config{}, err
		}
		b, err := cfg.cacheBound()
		if err != nil {
			return Config{}, err
		}
		if b[0] <= bits[0] && b[1] <= bits[1] {
			break
		}
		if iter > p.MaxLevel()+4 {
			return Config{}, fmt.Errorf("kv: internal error: planning the kernels for the cache's noise did not converge (%v bits planned, %v reached)", bits, b)
		}
		for i := range bits {
			bits[i] = math.Max(bits[i], b[i])
		}
	}
	// Any unsafe step of the cache's life is an error now. Every
	// ciphertext lives the life of the first (see cacheBound), so one
	// ciphertext's life from an empty cache is the whole trajectory's.
	if _, err := cfg.Estimate(0, cfg.lifeEnd()); err != nil {
		return Config{}, err
	}
	cfg.validatedFor = cfg.MaxContext
	return cfg, nil
}

// planKernels plans the decode kernels at MaxContext for a cache whose
// ciphertexts carry at most bits of payload at the kernel levels, and
// derives the levels and budgets from them.
func (cfg *Config) planKernels(pln exec.Planner, bits [2]float64) error {
	p := cfg.Params
	cfg.CacheBits = bits
	sc, err := pln.DecodeScores(cfg.KernelShape(kindK, cfg.MaxContext))
	if err != nil {
		return fmt.Errorf("kv: %w", err)
	}
	vk, err := pln.DecodeValues(cfg.KernelShape(kindV, cfg.MaxContext))
	if err != nil {
		return fmt.Errorf("kv: %w", err)
	}
	cfg.scores, cfg.values = sc, vk
	cfg.Layout = sc.Layout
	cfg.KernelLevel = [2]int{sc.Level, vk.Level}
	// The value kernel's output sums C·B products (every token block of
	// every cache ciphertext), not MaxContext.
	cfg.sumTerms = [2]int{sc.Terms(), vk.Terms()}
	for k := range cfg.HomeLevel {
		if cfg.Method == ClientEncrypt {
			cfg.HomeLevel[k] = cfg.KernelLevel[k]
		} else {
			cfg.HomeLevel[k] = p.MaxLevel()
		}
		cfg.freshBudget[k] = cfg.model.KernelSlack(refreshedState(cfg.HomeLevel[k]), cfg.KernelLevel[k], cfg.sumTerms[k])
	}
	if cfg.Method == Homomorphic {
		for k := range cfg.HomeLevel {
			if cfg.SourceLevel <= cfg.KernelLevel[k] {
				return fmt.Errorf("kv: %s: a homomorphic append at level %d would leave the cache below the kernel level %d: %w (this preset has no room for homomorphic appends; append with the client's encryption instead)",
					cfg.Preset, cfg.SourceLevel, cfg.KernelLevel[k], ErrBudget)
			}
		}
	}
	return nil
}

// cacheBound is the largest payload, at the kernel levels, of any cache
// ciphertext after any step of the cache's life up to MaxContext: appends
// from an empty cache, and appends after a prefill switch (the worst
// switch leaves one token in a refreshed open ciphertext, which then takes
// B-1 appends). It follows the policy's refreshes but not its safety
// checks (NewConfig makes those after planning).
//
// A step (an append and its refresh round) changes only the ciphertext it
// appends to, and what it does depends only on that ciphertext's state and
// token count (nextAppend, dueRefresh and checkSafe consider the touched
// ciphertext only; a new ciphertext always starts empty). So every
// ciphertext lives the life of the first one from an empty cache (the
// last one a prefix of it), and the maxima over the whole trajectory are
// those over the first ciphertext's life from each start: after the
// starting ledger is noted whole, each step up to lifeEnd notes the one
// ciphertext it touched. TestCacheBoundLinear checks this against the
// quadratic reference that notes every ciphertext after every step up to
// MaxContext.
func (cfg Config) cacheBound() (bits [2]float64, err error) {
	note := func(k int, s NoiseState) {
		bits[k] = math.Max(bits[k], cfg.model.downTo(s, cfg.KernelLevel[k]))
	}
	var switched ledger
	for k := 0; k < 2; k++ {
		switched.states[k] = []NoiseState{refreshedState(cfg.HomeLevel[k])}
	}
	switched.tokens = 1
	for _, l := range []*ledger{{}, &switched} {
		for k := range l.states {
			for _, s := range l.states[k] {
				note(k, s)
			}
		}
		for l.tokens < cfg.lifeEnd() {
			ap, err := cfg.nextAppend(l)
			if err != nil {
				return bits, err
			}
			cfg.applyAppend(l, ap)
			rr, err := cfg.dueRefresh(l, ap.ct)
			if err != nil {
				return bits, err
			}
			cfg.applyRefresh(l, rr)
			for k := range l.states {
				note(k, l.states[k][ap.ct])
			}
		}
	}
	return bits, nil
}

// lifeEnd is the number of tokens after which the first cache ciphertext
// is full (or the cache is, if it holds fewer than one ciphertext's).
func (cfg Config) lifeEnd() int { return min(cfg.MaxContext, cfg.Layout.TokensPerCt) }

// Kernels are the decode attention kernels over this cache at a context of
// ctx <= MaxContext tokens: planned once at MaxContext for the cache's
// noise (Shape, CacheBits), so that their levels are KernelLevel at every
// context. Use these (or exec kernels planned for Shape(MaxContext)) over
// the cache: kernels planned for fresh ciphertexts flood too little.
func (c Config) Kernels(ctx int) (*exec.DecodeScores, *exec.DecodeValues, error) {
	if c.scores == nil {
		return nil, nil, fmt.Errorf("kv: the config was not checked by NewConfig")
	}
	sc, err := c.scores.WithContext(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("kv: %w", err)
	}
	vk, err := c.values.WithContext(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("kv: %w", err)
	}
	return sc, vk, nil
}

// refreshedState is a refreshed ciphertext: a fresh client encryption plus
// the server's mask added as a plaintext.
func refreshedState(level int) NoiseState { return freshState(level, 1) }

// Model is the noise model of the configuration.
func (c Config) Model() Model { return c.model }

// Shape is the attention shape of one layer at a context length: the
// dimensions only, for fresh ciphertexts (CacheBits 0). Kernels over the
// cache must be planned for its noise: use Kernels, or KernelShape.
func (c Config) Shape(context int) exec.AttentionShape {
	return exec.AttentionShape{Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: c.HeadDim, Context: context}
}

// KernelShape is the attention shape of the kernel that reads the cache of
// a kind (0: keys, for exec.DecodeScores; 1: values, exec.DecodeValues)
// at a context: Shape with the cache's noise bound (CacheBits[kind]).
// Kernels planned for KernelShape(kind, MaxContext) are
// the cache's (Kernels).
func (c Config) KernelShape(kind, context int) exec.AttentionShape {
	sh := c.Shape(context)
	if kind == kindK || kind == kindV {
		sh.CacheBits = c.CacheBits[kind]
	}
	return sh
}

// KVDim is KVHeads·HeadDim.
func (c Config) KVDim() int { return c.KVHeads * c.HeadDim }

// CiphertextBytes is the size of one marshalled degree-1 ciphertext at a
// level: what the cache holds in memory and on disk, and what the server
// sends (the client's uploads are seeded, exec.SeededCiphertextSize).
func CiphertextBytes(p bgv.Parameters, level int) int64 {
	return exec.CiphertextSize(p.LogN(), 1, level)
}

// KeyBytes is the marshalled size of a relinearization key plus galois
// Galois keys for p: each is a gadget ciphertext of
// BaseRNSDecompositionVectorSize rows of two polynomials over Q·P.
func KeyBytes(p bgv.Parameters, galois int) int64 {
	rows := int64(p.BaseRNSDecompositionVectorSize(p.MaxLevelQ(), p.MaxLevelP()))
	polyQP := 2 * (8 + int64(p.QPCount())*(8+8*int64(p.N())))
	return int64(1+galois) * rows * polyQP
}

// ShareBytesPerToken is the server's plaintext share of one token, K and
// V, all layers, as uint64 words.
func (c Config) ShareBytesPerToken() int64 { return int64(2*c.Layers*c.KVDim()) * 8 }

// BytesPerToken is the asymptotic memory of the cache per token: the
// ciphertexts at their home level, B tokens per ciphertext, K and V, all
// layers, plus the server's shares. (Homomorphic appends leave
// ciphertexts at lower levels, hence smaller; this is an upper bound.)
func (c Config) BytesPerToken() float64 {
	ct := 0.0
	for k := 0; k < 2; k++ {
		ct += float64(CiphertextBytes(c.Params, c.HomeLevel[k])) / float64(c.Layout.TokensPerCt)
	}
	return float64(c.Layers)*ct + float64(c.ShareBytesPerToken())
}

// PlaintextBytesPerToken is the K/V cache of a plaintext fp16 inference:
// 2·layers·KVDim·2 bytes.
func (c Config) PlaintextBytesPerToken() int64 { return int64(2 * c.Layers * c.KVDim() * 2) }

// Budget is the remaining budget, in bits, of a cache ciphertext of kind
// (0 = keys, 1 = values) in state s that holds tokens of the B it can:
// the kernel slack (Model.KernelSlack) that it will have after the next
// append into it if it still has room (-Inf if a homomorphic append has no
// level left), or that it has now if it is full. Lazy{Tau} refreshes when
// this falls below Tau; it is >= 0 for every ciphertext after every step
// of a valid configuration.
func (c Config) Budget(kind int, s NoiseState, tokens int) float64 {
	if tokens < c.Layout.TokensPerCt {
		next, _, err := c.appendState(kind, s, tokens == 0)
		if err != nil {
			return math.Inf(-1)
		}
		s = next
	}
	return c.model.KernelSlack(s, c.KernelLevel[kind], c.sumTerms[kind])
}

// appendState is the state after appending one token into a ciphertext in
// state s (empty: a new ciphertext), and the level of the source after its
// rescales (Homomorphic).
func (c Config) appendState(kind int, s NoiseState, empty bool) (NoiseState, int, error) {
	m := c.model
	if c.Method == ClientEncrypt {
		f := freshState(c.HomeLevel[kind], 0)
		if empty {
			return f, 0, nil
		}
		return add(s, f), 0, nil
	}
	level := s.Level
	if empty {
		level = c.SourceLevel
	}
	if level <= c.KernelLevel[kind] || level > c.SourceLevel {
		return NoiseState{}, 0, fmt.Errorf("kv: a homomorphic append into a ciphertext at level %d needs a source at or above it and leaves level %d, below the kernel level %d: %w",
			level, level-1, c.KernelLevel[kind], ErrBudget)
	}
	src := c.SourceBits
	for l := c.SourceLevel; l > level; l-- {
		src = m.Rescale(src, l)
	}
	masked := NoiseState{Level: level, Extra: m.MulPlain(src)}
	sum := masked
	if !empty {
		sum = add(s, masked)
	}
	return NoiseState{Level: level - 1, Extra: m.Rescale(m.Payload(sum), level)}, level, nil
}
