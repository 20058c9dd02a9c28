package sim

import (
	"fmt"
	"strings"

	"github.com/cgsim/cgsim/model"
)

// Strategy names how generation reuses work between tokens: "cryptogen"
// or "recompute" (Strategies lists them). It is the strategy's JSON form
// and the value of --strategy; the registry gives its behaviour.
type Strategy string

// The strategies of the hybrid protocol.
const (
	// Cryptogen keeps the encrypted KV cache across decoding steps: each
	// step processes one token (strategy_cryptogen.go).
	Cryptogen Strategy = "cryptogen"
	// Recompute keeps nothing: each step re-runs the whole prefix with the
	// prefill encodings (the discriminative baseline, as BOLT or BumbleBee
	// would generate; strategy_recompute.go).
	Recompute Strategy = "recompute"
	// Speculative keeps the cache as Cryptogen and lets the client's
	// public draft propose tokens that one pass verifies (POST, greedy or
	// sampled; strategy_speculative.go). It needs a draft (a run) or an acceptance
	// rate (an estimate), so it is not among DefaultStrategies.
	Speculative Strategy = "speculative"
)

// strategy is what a strategy is made of: what its decode step runs on an
// engine and what it provisions. Adding a strategy is a file with a type
// implementing it and a register call in that file's init (see the
// package documentation).
type strategy interface {
	// doc is the one-line description of --strategy's help.
	doc() string
	// keepsCache reports whether the strategy keeps the encrypted KV cache
	// between steps: the planner then provisions it (kv's configuration,
	// its decode kernels, the prefill's switch into it) and the engines
	// hold one.
	keepsCache() bool
	// decode is one decode step: it feeds back out (the tokens generated
	// so far, after prompt) and returns the next tokens: one, or, for a
	// speculative step, up to left.
	decode(e Engine, cfg model.Config, prompt, out []int, left int) ([]int, error)
	// passes lists the sizes, in tokens, of the forward passes from
	// position 0 that a generation of gen tokens after a prompt of prompt
	// tokens makes (the prefill first), and those of its passes over the
	// cache (1: a decode step), gamma being the session's draft length
	// (speculative steps): the run engine prepares their primitives' keys.
	passes(prompt, gen, gamma int) (fromZero, overCache []int)
}

// registry holds the strategies in the order of registration; extra are
// those left out of DefaultStrategies.
var registry struct {
	names []Strategy
	defs  map[Strategy]strategy
	extra map[Strategy]bool
}

// register adds a strategy; it is called from the init of the strategy's
// file.
func register(name Strategy, s strategy) {
	if registry.defs == nil {
		registry.defs = map[Strategy]strategy{}
	}
	if _, dup := registry.defs[name]; dup {
		panic("sim: strategy " + string(name) + " registered twice")
	}
	registry.names = append(registry.names, name)
	registry.defs[name] = s
}

// registerExtra registers a strategy that needs more than the common
// options (Speculative: a draft or an acceptance rate): listed by
// Strategies, not by DefaultStrategies.
func registerExtra(name Strategy, s strategy) {
	register(name, s)
	if registry.extra == nil {
		registry.extra = map[Strategy]bool{}
	}
	registry.extra[name] = true
}

// Strategies lists the strategies, Cryptogen first.
func Strategies() []Strategy { return append([]Strategy(nil), registry.names...) }

// DefaultStrategies lists the strategies that plans, sweeps and
// comparisons cost by default: every one that needs no option of its own.
func DefaultStrategies() []Strategy {
	var out []Strategy
	for _, s := range registry.names {
		if !registry.extra[s] {
			out = append(out, s)
		}
	}
	return out
}

// StrategyDoc is a strategy's one-line description.
func StrategyDoc(s Strategy) string {
	if d, ok := registry.defs[s]; ok {
		return d.doc()
	}
	return ""
}

// def is the strategy's definition ("" is Cryptogen).
func (s Strategy) def() (strategy, error) {
	if s == "" {
		s = Cryptogen
	}
	d, ok := registry.defs[s]
	if !ok {
		return nil, fmt.Errorf("sim: unknown strategy %q: want %s", s, strategyList())
	}
	return d, nil
}

// KeepsCache reports whether the strategy keeps an encrypted KV cache (its
// cache options matter); false for an unknown strategy.
func (s Strategy) KeepsCache() bool {
	d, err := s.def()
	return err == nil && d.keepsCache()
}

// ParseStrategy accepts a registered strategy's name (any case).
func ParseStrategy(s string) (Strategy, error) {
	name := Strategy(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := registry.defs[name]; !ok {
		return "", fmt.Errorf("sim: unknown strategy %q: want %s", s, strategyList())
	}
	return name, nil
}

// ParseStrategies accepts a comma-separated list of strategies, each once.
func ParseStrategies(s string) ([]Strategy, error) {
	var out []Strategy
	seen := map[Strategy]bool{}
	for _, f := range strings.Split(s, ",") {
		st, err := ParseStrategy(f)
		if err != nil {
			return nil, err
		}
		if seen[st] {
			return nil, fmt.Errorf("sim: strategy %s listed twice", st)
		}
		seen[st] = true
		out = append(out, st)
	}
	return out, nil
}

func strategyList() string {
	names := make([]string, len(registry.names))
	for i, n := range registry.names {
		names[i] = string(n)
	}
	return strings.Join(names, " or ")
}
