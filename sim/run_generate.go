package sim

import (
	"fmt"
	"math"

	"github.com/cgsim/cgsim/model"
)

// Run generates opts.Gen tokens after prompt with the run engine and
// reports the tokens and the costs. With check, it also runs the plaintext
// reference (model.Forward) on the same tokens and reports the largest
// |logit - reference logit| over every step, through the TEST-ONLY logit
// reveal of RunOptions.RevealLogits.
func Run(opts RunOptions, prompt []int, check bool, onStep func(Step)) (*Report, error) {
	opts.PromptTokens = len(prompt)
	if opts.Strategy == "" {
		opts.Strategy = Cryptogen
	}
	if opts.Model == nil {
		return nil, fmt.Errorf("sim: run: no model")
	}
	c := opts.Model.Config
	if err := checkGeneration(c, opts.Strategy, prompt, opts.Gen); err != nil {
		return nil, err
	}
	var revealed [][]float64
	if check {
		opts.RevealLogits = func(l []float64) { revealed = append(revealed, l) }
	}
	r, err := NewRunner(opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	toks, err := Generate(r, c, opts.Strategy, prompt, opts.Gen, onStep)
	if err != nil {
		return nil, err
	}
	rep := &Report{Model: c.Name, Strategy: opts.Strategy, Params: opts.Preset.Name, Network: opts.Network.Name,
		Mode: "run", PromptTokens: len(prompt), Prompt: append([]int(nil), prompt...), Generated: opts.Gen, Tokens: toks,
		Nonlinear: opts.Nonlinear.String()}
	if !opts.Sampler.Greedy() {
		seed := opts.Sampler.Seed
		rep.Temperature, rep.Seed, rep.TopK = opts.Sampler.Temperature, &seed, opts.Sampler.FilterK()
	}
	if opts.Strategy.KeepsCache() {
		rep.Cache = opts.Cache.String()
	}
	if opts.Strategy == Speculative {
		rep.speculative(opts.Gamma, r.proposed, r.accepted)
	}
	setup := r.Setup()
	rep.Setup = &setup
	rep.Weights = r.Weights()
	rep.Public = r.public
	rep.Summarize(r.Breakdown())
	if err := rep.secure(r.security); err != nil {
		return nil, err
	}
	if check {
		d, err := maxLogitDiff(opts.Model, prompt, toks, revealed)
		if err != nil {
			return nil, err
		}
		rep.MaxLogitDiff = &d
	}
	return rep, nil
}

// maxLogitDiff compares the revealed logits of each step with the
// reference forward pass fed the same tokens.
func maxLogitDiff(m *model.Model, prompt, toks []int, revealed [][]float64) (float64, error) {
	if len(revealed) != len(toks) {
		return 0, fmt.Errorf("sim: %d logit reveals for %d tokens", len(revealed), len(toks))
	}
	st := m.NewState()
	var ref []float64
	var err error
	for _, t := range prompt {
		if ref, err = m.Forward(st, t); err != nil {
			return 0, err
		}
	}
	worst := 0.0
	for i, got := range revealed {
		for j := range got {
			worst = math.Max(worst, math.Abs(got[j]-ref[j]))
		}
		if i+1 < len(toks) {
			if ref, err = m.Forward(st, toks[i]); err != nil {
				return 0, err
			}
		}
	}
	return worst, nil
}
