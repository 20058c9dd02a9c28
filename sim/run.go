package sim

import (
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/kv"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
)

// shares is the run engine's Value: a Rows x Cols matrix (row-major)
// additively shared modulo t, c the client's share and s the server's.
type shares struct {
	rows, cols, pos int
	scale           int // fractional bits beyond f: an untruncated product's (planner.linearScale)
	c, s            []uint64
}

func (x *shares) Rows() int { return x.rows }
func (x *shares) Cols() int { return x.cols }
func (x *shares) Pos() int  { return x.pos }

func (x *shares) exec() exec.Shared { return exec.Shared{C: x.c, S: x.s} }

func (r *Runner) pair(c, s []uint64) mpc.Pair {
	return mpc.Pair{{Mod: r.q.t, V: c}, {Mod: r.q.t, V: s}}
}

// RunOptions configures the run engine.
type RunOptions struct {
	Model   *model.Model
	Preset  params.Preset
	Profile *cost.Profile // nil: the preset's embedded profile
	Network net.Network   // prices the communication (the transport is in-process)
	// Strategy, PromptTokens and Gen say which generation the engine will
	// run: the session's rotation keys are generated for exactly the
	// linear layers it needs.
	Strategy     Strategy
	PromptTokens int
	Gen          int
	// Cache configures the encrypted KV cache (Cryptogen).
	Cache CacheOptions
	// ServerCores are the goroutines of the server's kernels (0: one; see
	// exec.Session.SetServerCores). With more than one, the compute
	// seconds recorded are wall-clock seconds (the critical path) rather
	// than the process's CPU seconds, which sum the cores' work.
	ServerCores int
	// ClientCores are the goroutines of the client's encryptions and
	// decryptions (0: one; exec.Session.SetClientCores); with more than
	// one the compute seconds are wall-clock seconds, as for ServerCores.
	ClientCores int
	// Nonlinear is the method of the non-linear two-party protocols (see
	// EstimateOptions).
	Nonlinear mpc.Nonlinear
	// MaxSessionTokens, if not zero, declares a session that may go on
	// until it holds that many tokens (see EstimateOptions).
	MaxSessionTokens int
	// Draft is the client's public draft model and Gamma the tokens it
	// proposes per step, for the Speculative strategy.
	Draft *model.Model
	Gamma int
	// PassRows lists the sizes, in tokens, of passes over the
	// feature-major cache the caller makes beyond the strategy's (a pass
	// of several tokens at a position p > 0, Engine.Attention): the run
	// engine prepares their linear layers' keys.
	PassRows []int
	// Sampler chooses each token (the zero value: greedy). With a
	// temperature, the server adds the Gumbel noise of Sampler.Noise to
	// its share of the logits before the argmax, which reveals the
	// sampled token to the client only (see the package documentation).
	Sampler model.Sampler
	// RevealLogits, if not nil, is a TEST-ONLY reveal of the logits to the
	// client: before each argmax the engine opens the shared logits and
	// passes them, decoded, to it. It is not part of the protocol and not
	// recorded in the costs.
	RevealLogits func(logits []float64)
	// Public, if not nil, is the public prefix the prompt starts with:
	// its keys and values, as the server computed them (ComputePublicKV)
	// or read them from the prefix store. PromptTokens includes it.
	Public *PublicKV
	// OnProgress, if not nil, is called as the run goes: before the key
	// exchange, and as each pass (the prefill, a decode step) reaches the
	// attention of each layer. It is for a progress display and changes
	// nothing else.
	OnProgress func(Progress)
}

// Runner is the run engine: its values are real additive shares modulo
// the preset's plaintext prime, its linear layers and attention kernels
// run on lattigo ciphertexts between an exec.Client and an exec.Server,
// its non-linear layers are the two-party protocols of package mpc with a
// trusted dealer, and every byte between the parties is metered. It
// records, per phase and kind, the counters of the primitives it runs and
// the measured wall time as compute seconds (network seconds are priced on
// Options.Network). A Runner is not safe for concurrent use; Close it.
type Runner struct {
	recorder
	plan *planner
	net  net.Network
	m    *model.Model
	q    fixed
	he   *exec.Session
	// client is the client's party, which the runner, the harness that
	// plays both parties, made; the steps and the cache are given the
	// session, which does not hand it out.
	client *exec.Client
	mp     *mpc.Session
	w      map[Weight]folded
	wq     map[Weight]exec.Matrix // quantized, for every weight but the llama QKV in decode
	embT   []exec.Matrix          // E^T slices, as the planner's embedding chunks
	// lw and embW are the one-token weights and embedding slices the
	// server encoded at setup (see encodedWeights); weights what that
	// cost.
	lw      map[Weight]*exec.LinearWeights
	embW    []*exec.LinearWeights
	weights EncodedWeights
	cache   *kv.Cache        // Cryptogen: the encrypted KV cache
	fcache  *kv.FeatureCache // Cryptogen with the feature layout: the encrypted KV cache
	ctx     []int            // tokens per layer (cached, or processed by the current pass)
	reveal  func([]float64)
	// sampler is RunOptions.Sampler, picks the tokens chosen so far (the
	// step of the next one's noise); its top-k filter is the planner's.
	sampler model.Sampler
	picks   int
	// draft, gamma are RunOptions.Draft and Gamma; dstate the draft's
	// cache, fed dfed; draw the sampled pass's coins; accepted the counts
	// of the speculative steps.
	draft    *model.Model
	gamma    int
	dstate   *model.State
	dfed     []int
	draw     specDraw
	proposed []int
	accepted []int
	// onProgress is RunOptions.OnProgress.
	onProgress func(Progress)
	setup      cost.Cost
	// public is the public prefix's setup, measured (nil: none), and
	// pubTokens its tokens.
	public    *PublicSetup
	pubTokens []int
	// security is the session's budget: every returned ciphertext is
	// flooded for security.FloodBits.
	security Security
	// wallClock: the compute seconds are wall-clock (RunOptions.ServerCores,
	// ClientCores).
	wallClock bool
}

var _ Engine = (*Runner)(nil)

// NewRunner prepares the run engine: folds and quantizes the weights,
// plans the primitives the generation will use and creates the two
// parties (key exchange included, recorded as Setup).
func NewRunner(opts RunOptions) (*Runner, error) {
	m := opts.Model
	if m == nil {
		return nil, fmt.Errorf("sim: run: no model")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := opts.Sampler.Validate(); err != nil {
		return nil, err
	}
	if err := checkSpeculative(opts.Strategy, opts.Cache, opts.Gamma); err != nil {
		return nil, err
	}
	if opts.Strategy == Speculative {
		switch d := opts.Draft; {
		case d == nil:
			return nil, fmt.Errorf("sim: run: the speculative strategy needs a draft model")
		case d.Config.VocabSize != m.Config.VocabSize || d.Config.SeqLen < m.Config.SeqLen:
			return nil, fmt.Errorf("sim: run: the draft %s (vocabulary %d, context %d) cannot propose for %s (%d, %d)",
				d.Config.Name, d.Config.VocabSize, d.Config.SeqLen, m.Config.Name, m.Config.VocabSize, m.Config.SeqLen)
		case opts.Sampler.FilterK() > 0:
			return nil, fmt.Errorf("sim: run: speculative sampling has no top-k filter")
		case opts.RevealLogits != nil:
			return nil, fmt.Errorf("sim: run: the speculative strategy's verification reveals no logits: no logit check with it")
		}
	}
	if opts.Strategy == "" {
		opts.Strategy = Cryptogen
	}
	if opts.PromptTokens < 1 || opts.Gen < 1 {
		return nil, fmt.Errorf("sim: run: a prompt of %d tokens and %d to generate", opts.PromptTokens, opts.Gen)
	}
	pub := opts.Public.Len()
	if pub > 0 {
		if err := opts.Public.check(m.Config); err != nil {
			return nil, err
		}
		if pub >= opts.PromptTokens {
			return nil, fmt.Errorf("sim: run: a public prefix of %d tokens in a prompt of %d: the private part needs at least one token", pub, opts.PromptTokens)
		}
	}
	decl, err := declare(sessionDecl{model: m.Config, preset: opts.Preset, prof: opts.Profile, strat: opts.Strategy, cache: opts.Cache,
		prompt: opts.PromptTokens, public: pub, gen: opts.Gen, cores: opts.ServerCores, clientCores: opts.ClientCores,
		nonlinear: opts.Nonlinear, topK: opts.Sampler.FilterK(), gamma: opts.Gamma, temperature: opts.Sampler.Temperature}, opts.MaxSessionTokens)
	if err != nil {
		return nil, err
	}
	p, _, sec, err := planSession(decl, opts.Network)
	if err != nil {
		return nil, err
	}
	c := m.Config
	r := &Runner{plan: p, security: sec, net: opts.Network, m: m, q: fixed{fp: opts.Preset.FixedPoint, t: opts.Preset.FixedPoint.T},
		w: fold(m), wq: map[Weight]exec.Matrix{}, ctx: make([]int, c.NumLayers), reveal: opts.RevealLogits, onProgress: opts.OnProgress,
		sampler: opts.Sampler, draft: opts.Draft, gamma: opts.Gamma}
	if opts.Draft != nil {
		r.dstate = opts.Draft.NewState()
	}
	if r.q.t != p.params.PlaintextModulus() {
		return nil, fmt.Errorf("sim: preset %s: fixed-point modulus differs from the plaintext modulus", opts.Preset.Name)
	}
	for k, f := range r.w {
		if k.Mat == MatQKV && c.Arch == model.ArchLlama {
			continue // quantized per use: RoPE is folded in for one token
		}
		if r.wq[k], err = r.q.matrix(f.w); err != nil {
			return nil, fmt.Errorf("sim: %v of layer %d: %w", k.Mat, k.Layer, err)
		}
	}
	// The primitives of the generation, for the rotation keys.
	def, err := opts.Strategy.def()
	if err != nil {
		return nil, err
	}
	fromZero, overCache := generationPasses(def, opts.PromptTokens, pub, opts.Gen, opts.Gamma)
	if len(opts.PassRows) > 0 && !(opts.Strategy.KeepsCache() && p.layout == FeatureLayout) {
		return nil, fmt.Errorf("sim: run: passes of several tokens over the cache need the feature-major cache")
	}
	overCache = append(overCache, opts.PassRows...)
	rowsUsed := slices.Clone(fromZero)
	var prims []exec.Primitive
	if len(overCache) > 0 {
		rowsUsed = append(rowsUsed, overCache...)
		if p.layout == FeatureLayout {
			prims = append(prims, p.fscores, p.fvalues)
		} else {
			prims = append(prims, p.scores, p.values)
		}
	}
	for i, rows := range rowsUsed {
		if rows < 1 {
			return nil, fmt.Errorf("sim: run: a prompt of %d tokens", opts.PromptTokens)
		}
		if i < len(fromZero) {
			pp, err := p.prefill(rows)
			if err != nil {
				return nil, err
			}
			prims = append(prims, pp.scores, pp.values)
		}
		chunks, err := p.embedChunks(rows)
		if err != nil {
			return nil, err
		}
		for _, ch := range chunks {
			prims = append(prims, ch.lin)
		}
		for _, mat := range []Mat{MatQKV, MatOut, MatUp, MatDown} {
			out, in := p.matShape(mat)
			l, err := p.linear(out, in, rows, p.encodedOnce(mat, rows))
			if err != nil {
				return nil, err
			}
			prims = append(prims, l)
		}
	}
	out, in := p.matShape(MatClassifier)
	for _, rows := range append([]int{1}, overCache...) { // a speculative pass keeps every row's logits
		cl, err := p.linear(out, in, rows, p.encodedOnce(MatClassifier, rows))
		if err != nil {
			return nil, err
		}
		prims = append(prims, cl)
	}
	chunks, err := p.embedChunks(1)
	if err != nil {
		return nil, err
	}
	et, err := r.q.matrix(m.Weights.TokenEmbedding)
	if err != nil {
		return nil, fmt.Errorf("sim: token embedding: %w", err)
	}
	for _, ch := range chunks {
		r.embT = append(r.embT, exec.Matrix{Rows: ch.hi - ch.lo, Cols: c.Dim, Data: et.Data[ch.lo*c.Dim : ch.hi*c.Dim]}.Transpose())
	}
	// One transport for the whole run: the HE primitives (and the cache's
	// appends, refreshes and switches, which run on the same exec session)
	// and the mpc protocols take turns on one metered pipe. Every primitive
	// brackets its own traffic with the meter's Begin/Since, so the costs
	// recorded per primitive are what they were on separate pipes.
	cc, sc, meter, closePipe := net.Pipe()
	if r.onProgress != nil {
		r.onProgress(Progress{Stage: StageKeyExchange})
	}
	r.client = exec.NewClient(p.params, cc)
	if r.he, err = exec.NewSessionWithClient(p.params, r.client, sc, meter, closePipe, exec.GaloisElements(p.params, prims...)); err != nil {
		closePipe()
		return nil, err
	}
	if err := r.he.SetServerCores(max(opts.ServerCores, 1)); err != nil {
		r.he.Close()
		return nil, fmt.Errorf("sim: run: %w", err)
	}
	if err := r.he.SetClientCores(max(opts.ClientCores, 1)); err != nil {
		r.he.Close()
		return nil, fmt.Errorf("sim: run: %w", err)
	}
	r.wallClock = opts.ServerCores > 1 || opts.ClientCores > 1
	if p.keepsCache && p.layout == FeatureLayout {
		r.fcache = kv.NewFeatureCache(p.feature)
	} else if p.keepsCache {
		if r.cache, err = kv.NewCache(p.kv); err != nil {
			r.he.Close()
			return nil, err
		}
	}
	r.setup = r.he.Setup
	if err := r.loadPublic(opts.Public); err != nil {
		r.he.Close()
		return nil, err
	}
	r.mp = mpc.NewSessionConns(p.mpc, mpc.TrustedDealer{}, cc, sc, meter, closePipe)
	ws, err := p.encodedWeights(oneTokenPasses(def, opts.PromptTokens, pub, opts.Gen, opts.Gamma))
	if err == nil {
		err = r.encodeWeights(ws)
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Setup is the communication of the key exchange.
func (r *Runner) Setup() cost.Cost { return r.net.Price(r.setup) }

// Weights is what the server encoded at setup, measured.
func (r *Runner) Weights() EncodedWeights { return r.weights }

// Close ends both sessions and their common transport.
func (r *Runner) Close() {
	r.he.Close()
	r.mp.Close()
}

// OneThread lets the Go scheduler run one goroutine at a time (GOMAXPROCS
// 1) until the function it returns restores the setting. A run's compute
// seconds are the process's CPU time: with the in-process parties (and
// the dealer) on threads of their own, their work overlaps on the
// machine's cores, where it contends for the caches and the memory
// bandwidth, and idle threads spin between their messages, none of which
// two parties on two machines pay; the CPU time then reads well above
// the sum of the parties' work, which is what the estimate prices. Run
// on one thread a measured run whose parties have one core each (the
// command-line tool does, and calibrates so). It sets a process-wide
// setting: calls must nest (two that overlap otherwise leave it at one).
func OneThread() (restore func()) {
	prev := runtime.GOMAXPROCS(1)
	return func() { runtime.GOMAXPROCS(prev) }
}

// timed runs f, which records its counters into c, and records c under
// kind k with the process's CPU time as compute seconds (both parties'
// work, whatever else runs on the machine; with parallel server kernels
// the wall time, see RunOptions.ServerCores) and the wall time beside it.
// The dealer's work that a two-party protocol does inline and the
// server's pads (c.OfflineSeconds, the CPU time the mpc session and the
// server measure) are offline cost, not online compute: they are taken
// out of the compute seconds.
func (r *Runner) timed(k Kind, f func(c *cost.Cost) error) error {
	var c cost.Cost
	start, cpu := time.Now(), cost.CPUSeconds()
	err := f(&c)
	c.ComputeSeconds = max(0, cost.CPUSeconds()-cpu-c.OfflineSeconds)
	c.WallSeconds = time.Since(start).Seconds()
	if r.wallClock {
		c.ComputeSeconds = max(0, c.WallSeconds-c.OfflineSeconds)
	}
	r.record(k, r.net.Price(c))
	return err
}

// heRun runs an exec primitive with a fresh tally and adds its counters to c.
func (r *Runner) heRun(c *cost.Cost, f func(t *cost.Tally) error) error {
	t := cost.NewTally(r.plan.prof)
	err := f(t)
	*c = c.Add(t.Cost())
	return err
}

// mpcRun runs a 2PC protocol and adds what the session recorded to c.
func (r *Runner) mpcRun(c *cost.Cost, f func() error) error {
	before := r.mp.Cost()
	err := f()
	*c = c.Add(r.mp.Cost().Add(before.Scale(-1)))
	return err
}

func (r *Runner) asShares(v Value) (*shares, error) {
	x, ok := v.(*shares)
	if !ok {
		return nil, fmt.Errorf("sim: run engine given a %T value", v)
	}
	return x, nil
}

// fixed is asShares for the operations that take f fractional bits only.
func (r *Runner) fixed(op string, v Value) (*shares, error) {
	x, err := r.asShares(v)
	if err == nil {
		err = unscaled(op, x.scale)
	}
	return x, err
}

// inScaled is an error if the input of weight m has scale extra
// fractional bits where the plan gives it want.
func inScaled(m Mat, scale, want int) error {
	if scale != want {
		return fmt.Errorf("sim: internal error: %v's input with %d extra fractional bits, planned %d", m, scale, want)
	}
	return nil
}

// unscaled is an error if an operation that takes f fractional bits is
// given values with scale more (an untruncated product).
func unscaled(op string, scale int) error {
	if scale != 0 {
		return fmt.Errorf("sim: internal error: %s of untruncated values (%d extra fractional bits)", op, scale)
	}
	return nil
}

// Reset drops every layer's cache.
func (r *Runner) Reset() error {
	if r.plan.public() > 0 {
		return fmt.Errorf("sim: a reset would drop the public prefix")
	}
	clear(r.ctx)
	if r.fcache != nil {
		r.fcache = kv.NewFeatureCache(r.plan.feature)
	}
	if r.cache != nil {
		c, err := kv.NewCache(r.plan.kv)
		if err != nil {
			return err
		}
		r.cache = c
	}
	return nil
}

// Embed looks the tokens up: the client's share of the input is their
// one-hot rows, the server's is zero (and, for GPT-2, the server adds the
// position embeddings to its share of the result).
func (r *Runner) Embed(tokens []int, pos int) (Value, error) {
	c := r.m.Config
	rows := len(tokens)
	for _, t := range tokens {
		if t < 0 || t >= c.VocabSize {
			return nil, fmt.Errorf("sim: token %d outside the vocabulary of %d", t, c.VocabSize)
		}
	}
	st, err := r.plan.embedStep(rows)
	if err != nil {
		return nil, err
	}
	x, err := st.Run(r, r.embT, r.embW, tokens, c.Dim, pos)
	if err != nil {
		return nil, err
	}
	if c.Arch == model.ArchGPT2 {
		for i := range rows {
			for j, v := range r.m.Weights.PositionEmbedding.Row(pos + i) {
				e, err := r.q.enc(v, r.q.fp.FracBits)
				if err != nil {
					return nil, err
				}
				x.s[i*c.Dim+j] = r.q.add(x.s[i*c.Dim+j], e)
			}
		}
	}
	return x, nil
}

// Norm runs RMSNorm or LayerNorm on shares.
func (r *Runner) Norm(v Value) (Value, error) {
	x, err := r.asShares(v)
	if err != nil {
		return nil, err
	}
	return r.unary(r.plan.normStep(x.rows, x.scale), x)
}

// Linear runs the HE linear layer, adds the bias to the server's share,
// truncates, and for a llama QKV applies RoPE (folded into the weights
// for one token, on the shares with a second truncation for more).
func (r *Runner) Linear(w Weight, v Value) (Value, error) {
	x, err := r.asShares(v)
	if err == nil {
		err = inScaled(w.Mat, x.scale, r.plan.linearInScale(w.Mat))
	}
	if err != nil {
		return nil, err
	}
	if _, in := r.plan.matShape(w.Mat); x.cols != in {
		return nil, fmt.Errorf("sim: %v of layer %d takes %d columns, given %d", w.Mat, w.Layer, in, x.cols)
	}
	f, ok := r.w[w]
	if !ok {
		return nil, fmt.Errorf("sim: no weight %v for layer %d", w.Mat, w.Layer)
	}
	st, err := r.plan.linearStep(w.Mat, x.rows)
	if err != nil {
		return nil, err
	}
	c := r.m.Config
	var wm exec.Matrix
	if w.Mat == MatQKV && c.Arch == model.ArchLlama {
		if x.rows == 1 {
			f = ropeRows(f, c, x.pos)
		}
		if wm, err = r.q.matrix(f.w); err != nil {
			return nil, err
		}
	} else {
		wm = r.wq[w]
	}
	var bias []uint64
	for _, b := range f.bias {
		e, err := r.q.enc(b, 2*r.q.fp.FracBits+x.scale)
		if err != nil {
			return nil, err
		}
		bias = append(bias, e)
	}
	return st.Run(r, wm, r.lw[w], bias, x)
}
