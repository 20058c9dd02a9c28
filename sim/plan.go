package sim

import (
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/cgsim/cgsim/cost"
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
func DecodeStep(opts EstimateOptions, ctx int) (cost.Cost, error) {
	if ctx < 2 {
		return cost.Cost{}, fmt.Errorf("sim: a decode step at a context of %d tokens, want at least 2", ctx)
	}
	if opts.Strategy == "" {
		opts.Strategy = Cryptogen
	}
	if opts.Model.SeqLen < ctx {
		opts.Model.SeqLen = ctx
	}
	// A session of a prompt of ctx-1 tokens and one decode step, provisioned
	// for exactly this context: its estimate ends with the step.
	d := sessionDecl{model: opts.Model, preset: opts.Preset, prof: opts.Profile, strat: opts.Strategy, cache: opts.Cache,
		prompt: ctx - 1, gen: 2}
	_, e, _, err := planSession(d, opts.Network)
	if err != nil {
		return cost.Cost{}, err
	}
	bd := e.Breakdown()
	return bd[len(bd)-1].Total(), nil
}

// PlanOptions configures Plan.
type PlanOptions struct {
	// EstimateOptions gives the model, preset, profile, network and cache
	// (Strategy, Prompt, Gen and OnStep are not used).
	EstimateOptions
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

// PlanPoint is one context of a plan: a decode step of each strategy.
type PlanPoint struct {
	Context   int       `json:"context"`
	Cryptogen cost.Cost `json:"cryptogen"`
	Recompute cost.Cost `json:"recompute"`
	// Errors say why a strategy could not be costed at this context (its
	// noise does not fit the preset); its cost is then zero.
	CryptogenError string `json:"cryptogen_error,omitempty"`
	RecomputeError string `json:"recompute_error,omitempty"`
}

// Ratio is the per-token latency of Recompute over Cryptogen (0 if either
// is missing).
func (p PlanPoint) Ratio() float64 {
	if p.CryptogenError != "" || p.RecomputeError != "" || p.Cryptogen.Seconds() == 0 {
		return 0
	}
	return p.Recompute.Seconds() / p.Cryptogen.Seconds()
}

// Fits reports whether a strategy's step at this point is within the
// budgets. Recompute keeps no cache: its memory is zero.
func (p PlanPoint) Fits(s Strategy, latency float64, memory int64) bool {
	c, bad := p.Cryptogen, p.CryptogenError != ""
	if s == Recompute {
		c, bad = p.Recompute, p.RecomputeError != ""
	}
	return !bad && (latency <= 0 || c.Seconds() <= latency) && (memory <= 0 || c.PeakMemoryBytes <= memory)
}

// PlanReport is the result of Plan.
type PlanReport struct {
	Model         string      `json:"model"`
	Params        string      `json:"params"`
	Network       string      `json:"network"`
	Cache         string      `json:"cache"`
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

// Plan costs a decode step of both strategies at each context (see
// DecodeStep) and finds, per strategy, the longest context within the
// budgets. Contexts are costed concurrently, one per processor.
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
	rep := &PlanReport{Model: opts.Model.Name, Params: opts.Preset.Name, Network: opts.Network.Name, Cache: opts.Cache.String(),
		LatencyBudget: opts.LatencyBudget, MemoryBudget: opts.MemoryBudget, Points: make([]PlanPoint, len(ctxs)),
		Longest: map[Strategy]int{}}
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
				pt := PlanPoint{Context: ctxs[i]}
				for _, s := range []Strategy{Cryptogen, Recompute} {
					o := opts.EstimateOptions
					o.Strategy = s
					c, err := DecodeStep(o, ctxs[i])
					msg := ""
					if err != nil {
						msg = err.Error()
					}
					if s == Cryptogen {
						pt.Cryptogen, pt.CryptogenError = c, msg
					} else {
						pt.Recompute, pt.RecomputeError = c, msg
					}
				}
				mu.Lock()
				rep.Points[i] = pt
				if pt.CryptogenError != "" && pt.RecomputeError != "" && firstErr == nil && i == 0 {
					firstErr = fmt.Errorf("sim: plan at %d tokens: %s", pt.Context, strings.TrimPrefix(pt.CryptogenError, "sim: "))
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
	for _, s := range []Strategy{Cryptogen, Recompute} {
		for _, pt := range rep.Points {
			if !pt.Fits(s, opts.LatencyBudget, opts.MemoryBudget) {
				break
			}
			rep.Longest[s] = pt.Context
		}
	}
	return rep, nil
}
