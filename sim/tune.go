package sim

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/kv"
)

// DefaultTaus are the lazy-refresh thresholds TuneRefresh sweeps, in bits
// of remaining noise budget: from 0 (refresh only when the next append
// would not fit) past the budget of a fresh cache ciphertext at the
// presets (about 47 bits for keys at bgv-n14, see package kv), where
// every append is followed by a refresh.
var DefaultTaus = []float64{0, 8, 16, 24, 32, 36, 40, 44, 48, 56, 64}

// TuneOptions configures TuneRefresh.
type TuneOptions struct {
	// EstimateOptions gives the model, preset, profile, network, prompt
	// and generated tokens (Strategy and Cache are set by the sweep).
	EstimateOptions
	// Taus are the lazy thresholds to try (default DefaultTaus).
	Taus []float64
	// OnPoint, if not nil, is called after each configuration.
	OnPoint func()
}

// TunePoint is one cache configuration of the sweep: the whole
// generation's estimate, or why the configuration is invalid (kv rejects
// a policy that would let a ciphertext's noise budget run out).
type TunePoint struct {
	Layout  string    `json:"layout"` // token or feature (whose append and refresh are the client's re-encryption, never)
	Append  string    `json:"append"`
	Refresh string    `json:"refresh"`
	Total   cost.Cost `json:"total"`
	Decode  cost.Cost `json:"decode_mean"`
	Error   string    `json:"error,omitempty"`

	opts CacheOptions
}

// Options are the cache options of the point.
func (p TunePoint) Options() CacheOptions { return p.opts }

// TuneReport is the result of TuneRefresh.
type TuneReport struct {
	Model   string `json:"model"`
	Params  string `json:"params"`
	Network string `json:"network"`
	// Nonlinear is the non-linear protocols' method.
	Nonlinear string      `json:"nonlinear"`
	Prompt    int         `json:"prompt_token_count"`
	Gen       int         `json:"generated"`
	Points    []TunePoint `json:"points"`
	// Best is the index in Points of the valid configuration with the
	// lowest total seconds (the first on ties).
	Best int `json:"best"`
}

// TuneRefresh estimates the Cryptogen generation of opts with the
// feature-major cache and, for the token-major one, with each append
// method (client, homomorphic) and refresh policy (never, eager, and lazy
// at each threshold), and picks the fastest valid one.
func TuneRefresh(opts TuneOptions) (*TuneReport, error) {
	if opts.Prompt < 1 {
		return nil, fmt.Errorf("sim: a prompt of %d tokens, want at least 1", opts.Prompt)
	}
	if err := checkSizes(opts.Model, Cryptogen, opts.Prompt, opts.Gen); err != nil {
		return nil, err
	}
	taus := opts.Taus
	if len(taus) == 0 {
		taus = DefaultTaus
	}
	var cands []CacheOptions
	for _, m := range []kv.Method{kv.ClientEncrypt, kv.Homomorphic} {
		cands = append(cands, CacheOptions{Layout: TokenLayout, Append: m, Refresh: kv.Never{}}, CacheOptions{Layout: TokenLayout, Append: m, Refresh: kv.Eager{}})
		for _, tau := range taus {
			lazy := kv.Lazy{Tau: tau}
			if err := lazy.Check(); err != nil {
				return nil, fmt.Errorf("sim: %w", err)
			}
			cands = append(cands, CacheOptions{Layout: TokenLayout, Append: m, Refresh: lazy})
		}
	}
	cands = append(cands, CacheOptions{Layout: FeatureLayout})
	rep := &TuneReport{Model: opts.Model.Name, Params: opts.Preset.Name, Network: opts.Network.Name, Nonlinear: opts.Nonlinear.String(),
		Prompt: opts.Prompt, Gen: opts.Gen, Best: -1}
	for _, co := range cands {
		o := opts.EstimateOptions
		o.Strategy, o.Cache, o.OnStep = Cryptogen, co, nil
		pt := TunePoint{Layout: co.Layout.String(), Append: co.Append.String(), Refresh: co.Policy().String(), opts: co}
		if co.Layout == FeatureLayout {
			pt.Append, pt.Refresh = "client re-encrypts", "never"
		}
		r, err := Estimate(o)
		if err != nil {
			pt.Error = err.Error()
		} else {
			pt.Total, pt.Decode = r.Total, r.MeanDecode()
			if rep.Best < 0 || pt.Total.Seconds() < rep.Points[rep.Best].Total.Seconds() {
				rep.Best = len(rep.Points)
			}
		}
		rep.Points = append(rep.Points, pt)
		if opts.OnPoint != nil {
			opts.OnPoint()
		}
	}
	if rep.Best < 0 {
		return nil, fmt.Errorf("sim: tune: no cache configuration is valid: %s", rep.Points[0].Error)
	}
	return rep, nil
}
