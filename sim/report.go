package sim

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
)

// Report is the result of a generation, run or estimated. Its JSON form is
// what cgsim run, estimate and validate print with --format json:
// "prompt_token_count", "prompt_tokens", "prompt", "tokens" and "text"
// (the last four absent from estimates), "prefill" (a cost.Cost), "decode"
// (one cost.Cost per decode step: entry i produced generated token i+1,
// token 0 comes out of the prefill), "total", "by_kind" (the same phases
// per Kind of primitive) and the configuration.
type Report struct {
	Model    string   `json:"model"`
	Strategy Strategy `json:"strategy"`
	Params   string   `json:"params"`
	Network  string   `json:"network"`
	Mode     string   `json:"mode"` // "run" or "estimate"
	// Cache is the KV cache's append method and refresh policy
	// (Cryptogen), e.g. "client-encrypt, never".
	Cache string `json:"cache,omitempty"`
	// Nonlinear is the method of the non-linear two-party protocols:
	// "iterative" or "lut".
	Nonlinear string `json:"nonlinear"`
	// Temperature and Seed are a run's sampler (omitted when greedy: a
	// temperature of 0); an estimate's Temperature is a speculative
	// session's sampling.
	Temperature float64 `json:"temperature,omitempty"`
	Seed        *uint64 `json:"seed,omitempty"`
	// TopK is the sampler's top-k filter (omitted when none).
	TopK int `json:"top_k,omitempty"`
	// Gamma, Proposed and Accepted are a speculative session's draft
	// length and each verification pass's proposals and accepted ones
	// (a step with no room for a proposal, the last, has no pass);
	// Acceptance is accepted / (accepted + rejected proposals), the rate
	// EstimateOptions.Acceptance takes (omitted otherwise).
	Gamma      int     `json:"gamma,omitempty"`
	Proposed   []int   `json:"proposed,omitempty"`
	Accepted   []int   `json:"accepted,omitempty"`
	Acceptance float64 `json:"acceptance,omitempty"`
	// PromptTokens is the prompt's length in tokens (BOS included), Prompt
	// its ids (a run's; an estimate has none) and PromptText its text (set
	// by the caller that has the tokenizer).
	PromptTokens int         `json:"prompt_token_count"`
	Prompt       []int       `json:"prompt_tokens,omitempty"`
	PromptText   string      `json:"prompt,omitempty"`
	Generated    int         `json:"generated"`
	Tokens       []int       `json:"tokens,omitempty"`
	Text         string      `json:"text,omitempty"`
	Prefill      cost.Cost   `json:"prefill"`
	Decode       []cost.Cost `json:"decode"`
	Total        cost.Cost   `json:"total"`
	// PerKind is Prefill and Decode per Kind (kinds that cost nothing
	// left out).
	PerKind PerKind `json:"by_kind"`
	// Setup is the one-off key exchange of a run (public and evaluation
	// keys), not part of Total.
	Setup *cost.Cost `json:"setup,omitempty"`
	// Weights is what the server encodes once at setup (estimated, or
	// measured by a run), not part of Total.
	Weights EncodedWeights `json:"encoded_weights"`
	// Public is the public prefix's setup (nil without one), not part of
	// Total: the prefix's tokens are the first PromptTokens, sent to the
	// server in the clear.
	Public *PublicSetup `json:"public_prefix,omitempty"`
	// Security is the session's statistical security budget and
	// StatSecurityBits the statistical security of this transcript:
	// Security.Bits of the ciphertexts it returned to the client (at least
	// Security.Kappa).
	Security         Security `json:"session_security"`
	StatSecurityBits float64  `json:"statistical_security_bits"`
	// MaxLogitDiff is the largest |logit - reference logit| of a run with
	// the test-only logit reveal (cgsim run --reveal-logits).
	MaxLogitDiff *float64 `json:"max_logit_diff,omitempty"`
	// Breakdown is the cost of every phase per Kind.
	Breakdown []PhaseCost `json:"-"`
}

// PerKind is the JSON form of a breakdown: the prefill's and each decode
// step's cost per Kind, parallel to Report.Prefill and Report.Decode.
type PerKind struct {
	Prefill map[Kind]cost.Cost   `json:"prefill"`
	Decode  []map[Kind]cost.Cost `json:"decode"`
}

// Summarize fills Prefill, Decode, Total and PerKind from a breakdown.
func (r *Report) Summarize(bd []PhaseCost) {
	r.Breakdown = bd
	r.Decode = []cost.Cost{}
	r.Prefill, r.Total = cost.Cost{}, cost.Cost{}
	r.PerKind = PerKind{Prefill: map[Kind]cost.Cost{}, Decode: []map[Kind]cost.Cost{}}
	for _, ph := range bd {
		c := ph.Total()
		kinds := r.PerKind.Prefill
		if ph.Phase.Kind == Prefill {
			r.Prefill = r.Prefill.Add(c)
		} else {
			r.Decode = append(r.Decode, c)
			kinds = map[Kind]cost.Cost{}
			r.PerKind.Decode = append(r.PerKind.Decode, kinds)
		}
		for k, kc := range ph.Kinds {
			if kc != (cost.Cost{}) {
				kinds[k] = kinds[k].Add(kc)
			}
		}
		r.Total = r.Total.Add(c)
	}
}

// ByKind sums the breakdown over phases of the given kinds of phase
// (Prefill, Decode or both), per Kind.
func (r *Report) ByKind(phases ...PhaseKind) map[Kind]cost.Cost {
	out := map[Kind]cost.Cost{}
	for _, ph := range r.Breakdown {
		for _, pk := range phases {
			if ph.Phase.Kind == pk {
				for k, c := range ph.Kinds {
					out[k] = out[k].Add(c)
				}
			}
		}
	}
	return out
}

// MeanDecode is the mean cost of a decode step (zero without one).
func (r *Report) MeanDecode() cost.Cost {
	if len(r.Decode) == 0 {
		return cost.Cost{}
	}
	var s cost.Cost
	for _, c := range r.Decode {
		s = s.Add(c)
	}
	n := float64(len(r.Decode))
	s.ComputeSeconds /= n
	s.NetworkSeconds /= n
	s.OfflineSeconds /= n
	s.WallSeconds /= n
	for _, f := range []*int64{&s.CtPtMul, &s.CtCtMul, &s.Rotations, &s.Rescales, &s.Adds, &s.Encodes, &s.Encryptions,
		&s.Decryptions, &s.Serializations, &s.Refreshes, &s.Bootstraps, &s.ShareOps, &s.DCFLevels, &s.LUTEntries, &s.SeedCoeffs, &s.Triples, &s.BytesC2S, &s.BytesS2C,
		&s.Rounds, &s.OfflineBytes} {
		*f /= int64(len(r.Decode))
	}
	return s
}

// EstimateOptions configures Estimate.
type EstimateOptions struct {
	Model    model.Config
	Preset   params.Preset
	Profile  *cost.Profile // nil: the preset's embedded profile
	Network  net.Network
	Strategy Strategy
	Prompt   int // prompt tokens, a public prefix included
	Gen      int // generated tokens
	// Public is the tokens of a public prefix the prompt starts with (0:
	// none; at most Prompt - 1): sent in the clear, its keys and values
	// computed by the server in plaintext, it is not prefilled; the
	// private part's prefill is a pass over the cache that starts with it
	// (the Cryptogen and Speculative strategies, feature-major cache).
	Public int
	// Cache configures the encrypted KV cache (Cryptogen).
	Cache CacheOptions
	// ServerCores are the server's cores its kernels run on (0: one): the
	// parallel sections of the HE primitives are priced for them (see
	// exec.Planner.Cores); the counters do not change.
	ServerCores int
	// ClientCores are the client's cores (0: one): it prepares and
	// decrypts a flight's ciphertexts on them (exec.Planner.ClientCores).
	ClientCores int
	// Nonlinear is the method of the non-linear two-party protocols
	// (mpc.Iterative, the zero value, or mpc.LUT).
	Nonlinear mpc.Nonlinear
	// MaxSessionTokens, if not zero, declares a session that may go on
	// until it holds that many tokens (prompt and generated, at least
	// Prompt + Gen): the flooding is sized for the ciphertexts such a
	// session returns (see Security), and the cache provisioned for it.
	MaxSessionTokens int
	// Gamma is the draft tokens a Speculative step proposes, Acceptance
	// the probability that the model accepts each of them when the ones
	// before it were (specModel draws the passes' counts from it).
	// Accepted, if not nil, replaces that model: the accepted counts of
	// the verification passes in order, as a run reported them.
	Gamma      int
	Acceptance float64
	Accepted   []int
	// Temperature, with the Speculative strategy, is its sampling's
	// (mpc.AcceptSampled verifies the passes; 0: greedy verification).
	// Other strategies do not use it: sampling costs what a greedy choice
	// does.
	Temperature float64
	// TopK, if not zero, is a sampler's top-k filter before each token's
	// choice (model.Sampler.FilterK), priced; sampling itself costs what a
	// greedy choice does (the server's noise is a local addition).
	TopK int
	// OnStep, if not nil, is called after every phase.
	OnStep func(Step)
}

// speculative records a speculative session's passes.
func (r *Report) speculative(gamma int, proposed, accepted []int) {
	r.Gamma, r.Proposed, r.Accepted = gamma, proposed, accepted
	var st model.SpecStats
	for i, a := range accepted {
		st.Add(proposed[i], a)
	}
	r.Acceptance = st.Acceptance()
}

// specModel is the acceptance model of opts (Gamma, Acceptance,
// Accepted).
func (opts EstimateOptions) specModel() specModel {
	return specModel{gamma: opts.Gamma, rate: opts.Acceptance, accepted: opts.Accepted}
}

// Estimate costs a generation of opts.Gen tokens after a prompt of
// opts.Prompt tokens with the estimate engine.
func Estimate(opts EstimateOptions) (*Report, error) {
	if opts.Prompt < 1 {
		return nil, fmt.Errorf("sim: a prompt of %d tokens, want at least 1", opts.Prompt)
	}
	if opts.Strategy == "" {
		opts.Strategy = Cryptogen
	}
	if err := checkSizes(opts.Model, opts.Strategy, opts.Prompt, opts.Gen); err != nil {
		return nil, err
	}
	if err := checkSpeculative(opts.Strategy, opts.Cache, opts.Gamma); err != nil {
		return nil, err
	}
	if opts.Strategy == Speculative && opts.Accepted == nil && !(opts.Acceptance >= 0 && opts.Acceptance <= 1) {
		return nil, fmt.Errorf("sim: acceptance %v: want a probability from 0 to 1", opts.Acceptance)
	}
	if opts.Strategy == Speculative && opts.TopK != 0 {
		return nil, fmt.Errorf("sim: the speculative strategy has no top-k filter")
	}
	if err := (model.Sampler{Temperature: opts.Temperature}).Validate(); err != nil {
		return nil, err
	}
	if opts.Public < 0 || opts.Public >= opts.Prompt {
		return nil, fmt.Errorf("sim: a public prefix of %d tokens in a prompt of %d: want 0 to %d (the private part needs a token)", opts.Public, opts.Prompt, opts.Prompt-1)
	}
	asked := sessionDecl{model: opts.Model, preset: opts.Preset, prof: opts.Profile, strat: opts.Strategy, cache: opts.Cache,
		prompt: opts.Prompt, public: opts.Public, gen: opts.Gen, cores: opts.ServerCores, clientCores: opts.ClientCores, nonlinear: opts.Nonlinear,
		topK: opts.TopK, gamma: opts.Gamma, temperature: opts.Temperature}
	decl, err := declare(asked, opts.MaxSessionTokens)
	if err != nil {
		return nil, err
	}
	p, e, sec, err := planSession(decl, opts.Network)
	if err != nil {
		return nil, err
	}
	// The estimate of the declared session is this one unless a longer
	// session was declared, the caller follows the steps or a speculative
	// session accepts some proposals (the budget is sized for none).
	if decl.gen != asked.gen || opts.OnStep != nil || opts.Strategy == Speculative {
		e = newEstimator(p, opts.Network, opts.specModel())
		if _, err := Generate(e, opts.Model, opts.Strategy, make([]int, opts.Prompt), opts.Gen, opts.OnStep); err != nil {
			return nil, err
		}
	}
	r := &Report{Model: opts.Model.Name, Strategy: opts.Strategy, Params: opts.Preset.Name, Network: opts.Network.Name,
		Mode: "estimate", PromptTokens: opts.Prompt, Generated: opts.Gen, Nonlinear: opts.Nonlinear.String(), TopK: opts.TopK}
	if opts.Strategy.KeepsCache() {
		r.Cache = opts.Cache.String()
	}
	if opts.Strategy == Speculative {
		if err := e.spec.done(); err != nil {
			return nil, err
		}
		r.speculative(opts.Gamma, e.spec.proposed, e.spec.made)
		r.Temperature = opts.Temperature
	}
	r.Summarize(e.Breakdown())
	def, err := opts.Strategy.def()
	if err != nil {
		return nil, err
	}
	ws, err := p.encodedWeights(oneTokenPasses(def, opts.Prompt, opts.Public, opts.Gen, opts.Gamma))
	if err != nil {
		return nil, err
	}
	r.Weights = estimateWeights(ws, opts.Network)
	r.Public = p.publicSetup()
	return r, r.secure(sec)
}

// secure records the session's security budget and the statistical
// security of the transcript summarized in r; it is an error if the
// transcript returned more ciphertexts than the budget.
func (r *Report) secure(sec Security) error {
	r.Security = sec
	r.StatSecurityBits = sec.Bits(r.Total.Decryptions)
	return sec.Check(r.Total.Decryptions)
}
