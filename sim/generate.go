package sim

import (
	"fmt"
	"slices"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/model"
)

// Step is what Generate reports after each phase: the tokens it produced
// (one, but a speculative step's; 0 for an estimate), the last of them as
// Token, and the phase's cost.
type Step struct {
	Phase  Phase
	Token  int
	Tokens []int
	Cost   cost.Cost
}

// Generate is the generation loop, written once for every engine and
// strategy: a prefill over the prompt that produces the first token, then
// decode steps, each feeding back the last token and producing the next
// (greedy, or sampled by the run engine's sampler) until there are n. The
// strategy says what a decode step runs: with Cryptogen one token against
// the cache; with Recompute the engine is Reset and the whole prefix
// (prompt and tokens generated so far) is processed again; with
// Speculative a pass over the cache verifies the draft's proposals and
// the step makes the accepted ones and one more.
//
// cfg is the shape the engine was built for; prompt is the full token
// sequence (for llama models starting with BOS). onStep, if not nil, is
// called after every phase. Generate returns the n generated tokens.
//
// It is an error if the prompt is empty, n < 1, or the prompt and the fed
// back tokens need more than cfg.SeqLen positions (len(prompt)+n-1).
func Generate(e Engine, cfg model.Config, strat Strategy, prompt []int, n int, onStep func(Step)) ([]int, error) {
	if err := checkGeneration(cfg, strat, prompt, n); err != nil {
		return nil, err
	}
	def, err := strat.def()
	if err != nil {
		return nil, err
	}
	report := func(ph Phase, toks []int) {
		if onStep == nil {
			return
		}
		bd := e.Breakdown()
		onStep(Step{Phase: ph, Token: toks[len(toks)-1], Tokens: toks, Cost: bd[len(bd)-1].Total()})
	}
	pub := e.Public()
	if pub >= len(prompt) {
		return nil, fmt.Errorf("sim: a public prefix of %d tokens and a prompt of %d: the private part needs at least one token", pub, len(prompt))
	}
	if k, ok := e.(prefixKeeper); ok && !slices.Equal(k.publicTokens(), prompt[:pub]) {
		return nil, fmt.Errorf("sim: the cache holds a public prefix of other tokens than the prompt's first %d", pub)
	}
	ph := Phase{Kind: Prefill}
	e.Begin(ph)
	tok, err := Forward(e, cfg, prompt[pub:], pub) // with a public prefix, a pass over the cache
	if err != nil {
		return nil, fmt.Errorf("sim: prefill: %w", err)
	}
	out := []int{tok}
	report(ph, out)
	for step := 0; len(out) < n; step++ {
		ph = Phase{Kind: Decode, Step: step}
		e.Begin(ph)
		toks, err := def.decode(e, cfg, prompt, out, n-len(out))
		if err != nil {
			return out, fmt.Errorf("sim: %v: %w", ph, err)
		}
		if len(toks) == 0 || len(toks) > n-len(out) {
			return out, fmt.Errorf("sim: internal error: %v made %d tokens, %d left", ph, len(toks), n-len(out))
		}
		out = append(out, toks...)
		report(ph, toks)
	}
	return out, nil
}

// prefixKeeper is an engine that knows the tokens of its public prefix
// (the run engine: its keys and values are theirs).
type prefixKeeper interface{ publicTokens() []int }

// Forward runs the model on tokens at positions pos, pos+1, ... (the
// engine's cache must hold exactly pos tokens) and returns the greedy
// choice after the last one. It is the protocol of the package
// documentation, for both architectures.
func Forward(e Engine, cfg model.Config, tokens []int, pos int) (int, error) {
	logits, err := forwardLogits(e, cfg, tokens, pos, true)
	if err != nil {
		return 0, err
	}
	return e.Argmax(logits)
}

// forwardLogits runs the model on tokens at positions pos, pos+1, ... and
// returns the logits after the last one (last) or after each of them.
func forwardLogits(e Engine, cfg model.Config, tokens []int, pos int, last bool) (Value, error) {
	x, err := e.Embed(tokens, pos)
	if err != nil {
		return nil, err
	}
	for l := range cfg.NumLayers {
		if x, err = block(e, cfg, l, x); err != nil {
			return nil, fmt.Errorf("layer %d: %w", l, err)
		}
	}
	if last {
		if x, err = e.Last(x); err != nil {
			return nil, err
		}
	}
	if x, err = e.Norm(x); err != nil {
		return nil, err
	}
	return e.Linear(Weight{Layer: -1, Mat: MatClassifier}, x)
}

// block is one Transformer block.
func block(e Engine, cfg model.Config, l int, x Value) (Value, error) {
	h, err := e.Norm(x)
	if err != nil {
		return nil, err
	}
	qkv, err := e.Linear(Weight{Layer: l, Mat: MatQKV}, h)
	if err != nil {
		return nil, err
	}
	hs := headsOf(cfg)
	parts, err := e.Split(qkv, hs.q, hs.kv, hs.kv)
	if err != nil {
		return nil, err
	}
	a, err := e.Attention(l, parts[0], parts[1], parts[2])
	if err != nil {
		return nil, err
	}
	o, err := e.Linear(Weight{Layer: l, Mat: MatOut}, a)
	if err != nil {
		return nil, err
	}
	if x, err = e.Add(x, o); err != nil {
		return nil, err
	}
	if h, err = e.Norm(x); err != nil {
		return nil, err
	}
	up, err := e.Linear(Weight{Layer: l, Mat: MatUp}, h)
	if err != nil {
		return nil, err
	}
	var act Value
	if cfg.Arch == model.ArchLlama {
		gu, err := e.Split(up, cfg.HiddenDim, cfg.HiddenDim)
		if err != nil {
			return nil, err
		}
		if act, err = e.Gated(gu[0], gu[1]); err != nil {
			return nil, err
		}
	} else if act, err = e.Activation(up); err != nil {
		return nil, err
	}
	d, err := e.Linear(Weight{Layer: l, Mat: MatDown}, act)
	if err != nil {
		return nil, err
	}
	return e.Add(x, d)
}

// checkGeneration is the argument check of Generate.
func checkGeneration(cfg model.Config, strat Strategy, prompt []int, n int) error {
	return checkSizes(cfg, strat, len(prompt), n)
}

// checkSizes is checkGeneration for a prompt of the given length. It never
// overflows, whatever the sizes, so callers check sizes before allocating.
func checkSizes(cfg model.Config, strat Strategy, prompt, n int) error {
	switch {
	case prompt < 1:
		return fmt.Errorf("sim: empty prompt (start it with BOS for llama models)")
	case n < 1:
		return fmt.Errorf("sim: %d tokens to generate, want at least 1", n)
	case n > cfg.SeqLen || prompt > cfg.SeqLen-n+1:
		return fmt.Errorf("sim: a prompt of %d tokens and %d generated need more than the %d positions of the context of %s",
			prompt, n, cfg.SeqLen, cfg.Name)
	}
	_, err := strat.def()
	return err
}
