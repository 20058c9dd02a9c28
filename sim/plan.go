package sim

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/model"
)

// DecodeStep estimates one decode step at a context of ctx tokens: the
// step that reads ctx tokens (the prompt and the tokens generated so far)
// and produces the next one. With Cryptogen the new token is appended to a
// cache holding ctx-1 tokens, in the state the prefill's layout switch
// leaves it (exact for client appends, whose cost and memory do not depend
// on the cache's history; with homomorphic appends the refresh rounds of
// one step depend on it, see TuneRefresh for whole generations); with
// Recompute the whole prefix of ctx tokens is run again.
//
// It is the last step of the estimate of a session of a prompt of ctx-1
// tokens and one decode step: the cache and the decode kernels are
// provisioned for ctx tokens and every returned ciphertext is flooded for
// that session's budget (see Security), as a run of it would be. If ctx
// exceeds the model's context, the shape is costed as if the model had
// been trained for ctx positions. opts.Prompt, Gen, MaxSessionTokens and
// OnStep are not used.
//
// With the Speculative strategy the step is a verification pass of
// opts.Gamma proposals (gamma + 1 tokens, the first at a context of ctx;
// its cost does not depend on how many are accepted), at opts.Temperature;
// SpecYield is the tokens such a pass yields on average.
func DecodeStep(opts EstimateOptions, ctx int) (cost.Cost, error) {
	return decodeStep(opts, ctx, nil)
}

// SpecYield is the tokens a speculative pass of gamma proposals yields on
// average when each is accepted with probability a while the ones before
// it were (specModel's model): 1 + a + a² + ... + a^gamma.
func SpecYield(gamma int, a float64) float64 {
	y, term := 1.0, 1.0
	for range gamma {
		term *= a
		y += term
	}
	return y
}

// decodeStep is DecodeStep with the session's protocol shared (see
// sessionDecl.shared; nil: its own).
func decodeStep(opts EstimateOptions, ctx int, shared *protocol) (cost.Cost, error) {
	if ctx < 2 {
		return cost.Cost{}, fmt.Errorf("sim: a decode step at a context of %d tokens, want at least 2", ctx)
	}
	if opts.Strategy == "" {
		opts.Strategy = Cryptogen
	}
	if need := ctx + max(opts.Gamma, 0); opts.Model.SeqLen < need && opts.Strategy == Speculative {
		opts.Model.SeqLen = need // the pass's last proposal is at ctx + gamma
	} else if opts.Model.SeqLen < ctx {
		opts.Model.SeqLen = ctx
	}
	// A session of a prompt of ctx-1 tokens and one decode step, provisioned
	// for exactly this context: its estimate ends with the step. A
	// speculative one generates gamma + 2 tokens (the prefill's and a pass
	// that accepts every proposal), sized, as every speculative session,
	// for passes that accept none.
	if opts.Public < 0 || opts.Public >= ctx-1 {
		return cost.Cost{}, fmt.Errorf("sim: a decode step at a context of %d tokens after a public prefix of %d: the prompt before it needs a private token", ctx, opts.Public)
	}
	d := sessionDecl{model: opts.Model, preset: opts.Preset, prof: opts.Profile, strat: opts.Strategy, cache: opts.Cache,
		prompt: ctx - 1, public: opts.Public, gen: 2, cores: opts.ServerCores, clientCores: opts.ClientCores, nonlinear: opts.Nonlinear, shared: shared}
	if opts.Strategy == Speculative {
		if err := checkSpeculative(opts.Strategy, opts.Cache, opts.Gamma); err != nil {
			return cost.Cost{}, err
		}
		d.gen, d.gamma, d.temperature = opts.Gamma+2, opts.Gamma, opts.Temperature
	}
	p, e, _, err := planSession(d, opts.Network)
	if err != nil {
		return cost.Cost{}, err
	}
	if opts.Strategy == Speculative {
		e = newEstimator(p, opts.Network, specModel{gamma: opts.Gamma, accepted: []int{opts.Gamma}})
		if _, err := Generate(e, opts.Model, opts.Strategy, make([]int, d.prompt), d.gen, nil); err != nil {
			return cost.Cost{}, err
		}
	}
	bd := e.Breakdown()
	return bd[len(bd)-1].Total(), nil
}

// PlanOptions configures Plan.
type PlanOptions struct {
	// EstimateOptions gives the model, preset, profile, network and cache,
	// and for the Speculative strategy Gamma, Acceptance and Temperature
	// (Strategy, Prompt, Gen, Accepted and OnStep are not used).
	EstimateOptions
	// Strategies are the strategies to cost (default: DefaultStrategies()).
	Strategies []Strategy
	// Contexts are the context lengths to cost (default PlanContexts(128,
	// 32768)).
	Contexts []int
	// LatencyBudget (seconds per token) and MemoryBudget (bytes of KV
	// cache) bound the contexts that fit; zero means no bound.
	LatencyBudget float64
	MemoryBudget  int64
	// OnPoint, if not nil, is called after each context is costed (from
	// several goroutines, one call at a time).
	OnPoint func()
}

// PlanPoint is one context of a plan: a decode step of each strategy. Its
// JSON form is keyed by strategy name: {"context": 128, "cryptogen":
// Cost, "recompute": Cost, "recompute_error": "..."}.
type PlanPoint struct {
	Context int
	// Costs are each strategy's step: a decode step, or a speculative
	// pass, which yields Yield[s] tokens on average (its Seconds are per
	// token).
	Costs map[Strategy]cost.Cost
	Yield map[Strategy]float64
	// Errors say why a strategy could not be costed at this context (its
	// noise does not fit the preset); its cost is then zero.
	Errors map[Strategy]string
}

// Seconds is a strategy's seconds per token: its step's over the tokens
// the step yields.
func (p PlanPoint) Seconds(s Strategy) float64 {
	if y := p.Yield[s]; y > 0 {
		return p.Costs[s].Seconds() / y
	}
	return p.Costs[s].Seconds()
}

// MarshalJSON writes the point keyed by strategy name.
func (p PlanPoint) MarshalJSON() ([]byte, error) {
	m := map[string]any{"context": p.Context}
	for s, c := range p.Costs {
		m[string(s)] = c
	}
	for s, y := range p.Yield {
		m[string(s)+"_tokens_per_step"] = y
	}
	for s, e := range p.Errors {
		m[string(s)+"_error"] = e
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads the form of MarshalJSON.
func (p *PlanPoint) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*p = PlanPoint{Costs: map[Strategy]cost.Cost{}, Yield: map[Strategy]float64{}, Errors: map[Strategy]string{}}
	for k, v := range m {
		var err error
		switch {
		case k == "context":
			err = json.Unmarshal(v, &p.Context)
		case strings.HasSuffix(k, "_error"):
			var e string
			err = json.Unmarshal(v, &e)
			p.Errors[Strategy(strings.TrimSuffix(k, "_error"))] = e
		case strings.HasSuffix(k, "_tokens_per_step"):
			var y float64
			err = json.Unmarshal(v, &y)
			p.Yield[Strategy(strings.TrimSuffix(k, "_tokens_per_step"))] = y
		default:
			var c cost.Cost
			err = json.Unmarshal(v, &c)
			p.Costs[Strategy(k)] = c
		}
		if err != nil {
			return fmt.Errorf("sim: plan point %s: %w", k, err)
		}
	}
	return nil
}

// Ratio is the per-token latency of b over a's (0 if either is missing).
func (p PlanPoint) Ratio(a, b Strategy) float64 {
	_, okA := p.Costs[a]
	_, okB := p.Costs[b]
	if !okA || !okB || p.Errors[a] != "" || p.Errors[b] != "" || p.Seconds(a) == 0 {
		return 0
	}
	return p.Seconds(b) / p.Seconds(a)
}

// Fits reports whether a strategy's step at this point is within the
// budgets (its seconds per token, its peak memory). A strategy without a
// cache has none: its memory is zero.
func (p PlanPoint) Fits(s Strategy, latency float64, memory int64) bool {
	c, ok := p.Costs[s]
	return ok && p.Errors[s] == "" && (latency <= 0 || p.Seconds(s) <= latency) && (memory <= 0 || c.PeakMemoryBytes <= memory)
}

// PlanReport is the result of Plan.
type PlanReport struct {
	Model      string     `json:"model"`
	Strategies []Strategy `json:"strategies"`
	Params     string     `json:"params"`
	Network    string     `json:"network"`
	Cache      string     `json:"cache"`
	Nonlinear  string     `json:"nonlinear"` // the non-linear protocols' method
	// Gamma, Acceptance and Temperature are the speculative strategy's
	// (omitted without it).
	Gamma       int     `json:"gamma,omitempty"`
	Acceptance  float64 `json:"acceptance,omitempty"`
	Temperature float64 `json:"temperature,omitempty"`
	// Public is the public prefix every context starts with (0: none).
	Public        int         `json:"public_prefix_tokens,omitempty"`
	LatencyBudget float64     `json:"latency_budget_seconds,omitempty"`
	MemoryBudget  int64       `json:"memory_budget_bytes,omitempty"`
	Points        []PlanPoint `json:"points"`
	// Longest is, per strategy, the longest context of the sweep such
	// that it and every shorter one fit the budgets (0: none fits).
	Longest map[Strategy]int `json:"longest_context"`
}

// PlanContexts returns from, 1.5·from, 2·from, 3·from, 4·from, ... up to
// to (powers of two and the midpoints between them when from is one).
func PlanContexts(from, to int) []int {
	var out []int
	for c := from; c <= to; c *= 2 {
		out = append(out, c)
		if mid := c + c/2; mid < 2*c && mid <= to && c >= 2 {
			out = append(out, mid)
		}
	}
	return out
}

// Plan costs a decode step of each strategy at each context (see
// DecodeStep) and finds, per strategy, the longest context within the
// budgets. Contexts are costed concurrently, one per processor, their
// sessions sharing one protocol (the preset, profile and cores are the
// same) and so its memo: a linear layer or a two-party protocol of the
// same shape is planned and estimated once for the whole sweep.
func Plan(opts PlanOptions) (*PlanReport, error) {
	ctxs := opts.Contexts
	if len(ctxs) == 0 {
		ctxs = PlanContexts(128, 32768)
	}
	for i, c := range ctxs {
		if c < 2 || (i > 0 && c <= ctxs[i-1]) {
			return nil, fmt.Errorf("sim: plan contexts %v: want increasing lengths of at least 2", ctxs)
		}
	}
	strats := opts.Strategies
	if len(strats) == 0 {
		strats = DefaultStrategies()
	}
	for _, st := range strats {
		if _, err := st.def(); err != nil {
			return nil, err
		}
		if st == Speculative {
			if err := checkSpeculative(st, opts.Cache, opts.Gamma); err != nil {
				return nil, fmt.Errorf("sim: plan: %s", strings.TrimPrefix(err.Error(), "sim: "))
			}
			if a := opts.Acceptance; !(a >= 0 && a <= 1) {
				return nil, fmt.Errorf("sim: plan: the speculative strategy's acceptance %v: want a probability from 0 to 1", a)
			}
			if err := (model.Sampler{Temperature: opts.Temperature}).Validate(); err != nil {
				return nil, fmt.Errorf("sim: plan: %w", err)
			}
			if pr, err := resolveProtocol(opts.Preset, opts.Profile, opts.ServerCores, opts.ClientCores, opts.Network, opts.Nonlinear); err == nil {
				if err := samplingFits(pr.mpc, opts.Model, opts.Preset.Name, opts.Temperature); err != nil {
					return nil, fmt.Errorf("sim: plan: %s", strings.TrimPrefix(err.Error(), "sim: "))
				}
			}
		}
	}
	rep := &PlanReport{Model: opts.Model.Name, Strategies: strats, Params: opts.Preset.Name, Network: opts.Network.Name, Cache: opts.Cache.String(), Nonlinear: opts.Nonlinear.String(), Public: opts.Public,
		LatencyBudget: opts.LatencyBudget, MemoryBudget: opts.MemoryBudget, Points: make([]PlanPoint, len(ctxs)),
		Longest: map[Strategy]int{}}
	if slices.Contains(strats, Speculative) {
		rep.Gamma, rep.Acceptance, rep.Temperature = opts.Gamma, opts.Acceptance, opts.Temperature
	}
	// A preset or profile that cannot be resolved is left to each step to
	// report.
	var shared *protocol
	if pr, err := resolveProtocol(opts.Preset, opts.Profile, opts.ServerCores, opts.ClientCores, opts.Network, opts.Nonlinear); err == nil {
		shared = &pr
	}
	// The longest contexts first: they take the longest.
	jobs := make(chan int, len(ctxs))
	for i := len(ctxs) - 1; i >= 0; i-- {
		jobs <- i
	}
	close(jobs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range min(runtime.GOMAXPROCS(0), len(ctxs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				pt := PlanPoint{Context: ctxs[i], Costs: map[Strategy]cost.Cost{}, Yield: map[Strategy]float64{}, Errors: map[Strategy]string{}}
				for _, s := range strats {
					o := opts.EstimateOptions
					o.Strategy = s
					c, err := decodeStep(o, ctxs[i], shared)
					pt.Costs[s] = c
					if err != nil {
						pt.Errors[s] = err.Error()
					}
					if s == Speculative {
						pt.Yield[s] = SpecYield(o.Gamma, o.Acceptance)
					}
				}
				mu.Lock()
				rep.Points[i] = pt
				if len(pt.Errors) == len(strats) && firstErr == nil && i == 0 {
					firstErr = fmt.Errorf("sim: plan at %d tokens: %s", pt.Context, strings.TrimPrefix(pt.Errors[strats[0]], "sim: "))
				}
				if opts.OnPoint != nil {
					opts.OnPoint()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	for _, s := range strats {
		for _, pt := range rep.Points {
			if !pt.Fits(s, opts.LatencyBudget, opts.MemoryBudget) {
				break
			}
			rep.Longest[s] = pt.Context
		}
	}
	return rep, nil
}
