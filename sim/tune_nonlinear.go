package sim

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/net"
)

// NonlinearPoint is the estimated generation with one method of the
// non-linear protocols on one network.
type NonlinearPoint struct {
	Network string    `json:"network"`
	Method  string    `json:"nonlinear"`
	Total   cost.Cost `json:"total"`
	// Decode is the mean decode step.
	Decode cost.Cost `json:"decode_mean"`
	// OfflineTransferSeconds is the time the dealer's material (Total's
	// offline bytes) takes over the network's bandwidth, were it sent on
	// that link: offline, before the prompt, but a real cost for a dealer
	// that is not next to the parties.
	OfflineTransferSeconds float64 `json:"offline_transfer_seconds"`
	// Best marks the method of least online seconds on its network.
	Best bool `json:"best"`
}

// NonlinearReport is the result of TuneNonlinear.
type NonlinearReport struct {
	Model    string           `json:"model"`
	Strategy Strategy         `json:"strategy"`
	Params   string           `json:"params"`
	Prompt   int              `json:"prompt_token_count"`
	Gen      int              `json:"generated"`
	Points   []NonlinearPoint `json:"points"`
}

// TuneNonlinear estimates the generation of opts with each method of the
// non-linear protocols (mpc.Iterative, mpc.LUT) on each network of nets
// (opts.Network when nets is empty): the online seconds and rounds one
// trades against the other's dealer material. onPoint, if not nil, is
// called after each estimate.
func TuneNonlinear(opts EstimateOptions, nets []net.Network, onPoint func()) (*NonlinearReport, error) {
	if len(nets) == 0 {
		nets = []net.Network{opts.Network}
	}
	if opts.Strategy == "" {
		opts.Strategy = Cryptogen
	}
	rep := &NonlinearReport{Model: opts.Model.Name, Strategy: opts.Strategy, Params: opts.Preset.Name, Prompt: opts.Prompt, Gen: opts.Gen}
	for _, nw := range nets {
		best := -1
		for _, m := range []mpc.Nonlinear{mpc.Iterative, mpc.LUT} {
			o := opts
			o.Network, o.Nonlinear, o.OnStep = nw, m, nil
			r, err := Estimate(o)
			if err != nil {
				return nil, fmt.Errorf("sim: tune nonlinear: %s on %s: %w", m, nw.Name, err)
			}
			rep.Points = append(rep.Points, NonlinearPoint{Network: nw.Name, Method: m.String(), Total: r.Total, Decode: r.MeanDecode(),
				OfflineTransferSeconds: float64(r.Total.OfflineBytes) * 8 / nw.BitsPerSecond})
			if i := len(rep.Points) - 1; best < 0 || r.Total.Seconds() < rep.Points[best].Total.Seconds() {
				best = i
			}
			if onPoint != nil {
				onPoint()
			}
		}
		rep.Points[best].Best = true
	}
	return rep, nil
}
