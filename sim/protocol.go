package sim

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
)

// protocol is the resolved protocol context of a session: the preset, its
// lattigo parameters, the profile that prices every operation (checked
// against the parameters once, here), the fixed point's two-party
// configuration and the HE planner with the preset's κ. It is resolved
// once per session (resolveProtocol) and passed down: nothing below looks
// a preset up by name or rebuilds its parameters.
type protocol struct {
	preset params.Preset
	params bgv.Parameters
	prof   *cost.Profile
	mpc    mpc.Config
	he     exec.Planner
	// twoParty memoizes the estimates of the two-party steps, which depend
	// on mpc only: the planners of one session (planSession makes two or
	// more) share it. Not safe for concurrent use: a session's own (see
	// forSession).
	twoParty map[unaryKey]cost.Cost
	// memo holds the linear layers' plans and the two-party protocols'
	// estimates: shared by every session of this protocol, from several
	// goroutines (Plan's).
	memo *protocolMemo
}

// forSession is the protocol for one more session: the same resolution
// and memo, a memo of two-party steps of its own.
func (pr protocol) forSession() protocol {
	pr.twoParty = map[unaryKey]cost.Cost{}
	return pr
}

// resolveProtocol resolves a BGV preset and a profile (nil: the preset's
// embedded one), its HE primitives priced for the server's and the
// client's cores (0: one) and their packings chosen for the network nw,
// and the method of its non-linear two-party protocols.
func resolveProtocol(preset params.Preset, prof *cost.Profile, cores, clientCores int, nw net.Network, nonlinear mpc.Nonlinear) (protocol, error) {
	if preset.Scheme != params.BGV {
		return protocol{}, fmt.Errorf("sim: preset %s is %v; the hybrid protocol needs a BGV preset", preset.Name, preset.Scheme)
	}
	bp, err := preset.BGV()
	if err != nil {
		return protocol{}, err
	}
	if prof == nil {
		if prof, err = cost.Default(preset.Name); err != nil {
			return protocol{}, err
		}
	}
	if prof.Params != preset.Name || prof.MaxLevel != bp.MaxLevel() || prof.LogN != bp.LogN() {
		return protocol{}, fmt.Errorf("sim: profile for %s (log N %d, max level %d) does not fit preset %s (log N %d, max level %d)",
			prof.Params, prof.LogN, prof.MaxLevel, preset.Name, bp.LogN(), bp.MaxLevel())
	}
	mc, err := mpc.NewConfig(preset.FixedPoint, prof)
	if err != nil {
		return protocol{}, err
	}
	mc.Nonlinear = nonlinear
	mc.GatedTerms = gatedTermsOn(nw, mc.Ring.Bits())
	mc.RoundCompares = roundComparesOn(nw, prof, mc.Ring.Bits())
	he, err := exec.PlannerFor(preset, prof)
	if err != nil {
		return protocol{}, err
	}
	he.Cores, he.ClientCores, he.Network = cores, clientCores, nw
	if err := he.Check(); err != nil {
		return protocol{}, fmt.Errorf("sim: %w", err)
	}
	return protocol{preset: preset, params: bp, prof: prof, mpc: mc, he: he, twoParty: map[unaryKey]cost.Cost{},
		memo: newProtocolMemo()}, nil
}

// flooding is the protocol's HE planner with every returned ciphertext
// flooded for floodBits bits of statistical security (0: the preset's κ).
func (pr protocol) flooding(floodBits int) (exec.Planner, error) {
	he := pr.he
	if floodBits > 0 {
		if he.StatSecurity = floodBits; he.Check() != nil {
			return exec.Planner{}, fmt.Errorf("sim: flooding for %d bits of statistical security: %w", floodBits, he.Check())
		}
	}
	return he, nil
}

// roundComparesOn is the comparisons a round trip is worth
// (mpc.Config.RoundCompares) on network nw with profile prof for a ring
// of ringBits bits: those whose online cost (both parties' evaluations of
// a key of ringBits levels, an element each way) is a round trip (the
// WAN's about 3500 at bgv-n14, the LAN's about 40: its maxima take tree
// levels); -1 (none) below one.
func roundComparesOn(nw net.Network, prof *cost.Profile, ringBits int) int {
	width := (ringBits + 7) / 8
	per := 2*float64(ringBits)*prof.DCFSeconds() + float64(2*8*width)/nw.BitsPerSecond
	n := nw.RTT.Seconds() / per
	if n < 1 {
		return -1
	}
	return int(min(n, 1<<30))
}

// gatedTermsOn is the bound on a step's gated products in one round
// (mpc.Config.GatedTerms) on network nw for a ring of ringBits bits: the
// fused round saves a round trip and sends about one element more each way
// per term, so it pays up to RTT·bandwidth/(2·8·element bytes) terms (the
// LAN's about 3900: a decoded token's stories260K norm, not GPT-2's; the
// WAN's 125000); -1 (never) below one.
func gatedTermsOn(nw net.Network, ringBits int) int {
	width := (ringBits + 7) / 8
	n := nw.RTT.Seconds() * nw.BitsPerSecond / float64(2*8*width)
	if n < 1 {
		return -1
	}
	return int(min(n, 1<<30))
}
