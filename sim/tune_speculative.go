package sim

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
)

// SpeculativePoint is the estimated generation with one draft length on
// one network: gamma 0 is plain decoding over the cache (Cryptogen).
type SpeculativePoint struct {
	Network string `json:"network"`
	Gamma   int    `json:"gamma"`
	// Decode is the decode steps' total; PerToken its seconds and rounds
	// over the tokens they made (Gen - 1).
	Decode         cost.Cost `json:"decode"`
	Steps          int       `json:"decode_steps"`
	SecondsPerTok  float64   `json:"seconds_per_token"`
	RoundsPerToken float64   `json:"rounds_per_token"`
	// Speedup is the plain decoding's seconds per token over this one's.
	Speedup float64 `json:"speedup"`
	// Best marks the draft length of least seconds on its network.
	Best bool `json:"best"`
}

// SpeculativeReport is the result of TuneSpeculative.
type SpeculativeReport struct {
	Model      string  `json:"model"`
	Params     string  `json:"params"`
	Prompt     int     `json:"prompt_token_count"`
	Gen        int     `json:"generated"`
	Acceptance float64 `json:"acceptance"`
	// Temperature is the speculative sampling's (omitted when greedy);
	// plain decoding samples at the cost of a greedy choice.
	Temperature float64            `json:"temperature,omitempty"`
	Points      []SpeculativePoint `json:"points"`
}

// TuneSpeculative estimates the decoding of opts (Gen >= 2) plainly and
// speculatively with each draft length of gammas at opts.Acceptance (and
// opts.Temperature), on
// each network of nets (opts.Network when nets is empty), and marks the
// fastest per network. onPoint, if not nil, is called after each
// estimate.
func TuneSpeculative(opts EstimateOptions, gammas []int, nets []net.Network, onPoint func()) (*SpeculativeReport, error) {
	if opts.Gen < 2 {
		return nil, fmt.Errorf("sim: tune speculative: %d tokens: want at least 2 (a decode step)", opts.Gen)
	}
	if len(nets) == 0 {
		nets = []net.Network{opts.Network}
	}
	rep := &SpeculativeReport{Model: opts.Model.Name, Params: opts.Preset.Name, Prompt: opts.Prompt, Gen: opts.Gen, Acceptance: opts.Acceptance,
		Temperature: opts.Temperature}
	tokens := float64(opts.Gen - 1)
	for _, nw := range nets {
		first := len(rep.Points)
		for _, g := range append([]int{0}, gammas...) {
			o := opts
			o.Network, o.OnStep, o.Strategy, o.Gamma, o.Temperature = nw, nil, Cryptogen, 0, 0
			if g > 0 {
				o.Strategy, o.Gamma, o.Temperature = Speculative, g, opts.Temperature
			}
			r, err := Estimate(o)
			if err != nil {
				return nil, fmt.Errorf("sim: tune speculative: gamma %d on %s: %w", g, nw.Name, err)
			}
			d := cost.Sum(r.Decode...)
			pt := SpeculativePoint{Network: nw.Name, Gamma: g, Decode: d, Steps: len(r.Decode),
				SecondsPerTok: d.Seconds() / tokens, RoundsPerToken: float64(d.Rounds) / tokens}
			pt.Speedup = rep.speedup(first, pt.SecondsPerTok)
			rep.Points = append(rep.Points, pt)
			if onPoint != nil {
				onPoint()
			}
		}
		best := first
		for i := first; i < len(rep.Points); i++ {
			if rep.Points[i].SecondsPerTok < rep.Points[best].SecondsPerTok {
				best = i
			}
		}
		rep.Points[best].Best = true
	}
	return rep, nil
}

// speedup is the plain point's seconds a token (at index first) over s
// (1 for the plain point itself).
func (r *SpeculativeReport) speedup(first int, s float64) float64 {
	if first >= len(r.Points) || s == 0 {
		return 1
	}
	return r.Points[first].SecondsPerTok / s
}
