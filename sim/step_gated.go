package sim

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/model"
)

// gatedStep is llama's gated activation SiLU(g)·u of n value pairs by
// lookup (mpc.SwiGLU, recorded under KindActivation), in pieces of at most
// the activation's bound (the same material per value as SiLU's, about):
// with the iterative protocols the engines run the activation and the
// product as two steps instead.
type gatedStep struct {
	n, scale int
	pieces   [][2]int // the pieces' ranges [lo, hi), in order
	protos   *protocolMemo
	p        *planner
}

func (p *planner) gatedStep(n, scale int) gatedStep {
	return gatedStep{n: n, scale: scale, pieces: rowRanges(p.pieceBound(KindActivation), n, 1), protos: p.shared, p: p}
}

func (s gatedStep) proto(n int) mpc.SwiGLU {
	return mpc.SwiGLU{Config: s.p.mpc, N: n, Scale: s.scale, Raw: s.p.gatedScale() > 0}
}

// gatedScale is the fractional bits beyond f of the gated activation's
// output: f where it leaves its last truncation to the second
// feed-forward projection (mpc.SwiGLU.Raw), whose output then carries
// them into the residual stream until the next norm truncates it in its
// first round, which takes them (mpc.Config.MaxNormScale: bgv-n14's ring);
// 0 otherwise.
func (p *planner) gatedScale() int {
	f := p.mpc.RawScale()
	if f == 0 || p.cfg.Arch != model.ArchLlama || p.linearScale(MatDown)+f > p.mpc.MaxNormScale() {
		return 0
	}
	return f
}

// linearInScale is the fractional bits beyond f that the input of weight
// m carries: the gated activation's (gatedScale) for the second
// feed-forward projection, none for the others.
func (p *planner) linearInScale(m Mat) int {
	if m == MatDown {
		return p.gatedScale()
	}
	return 0
}

// Estimate is the sum of the pieces' estimates.
func (s gatedStep) Estimate() cost.Cost {
	var c cost.Cost
	for _, pc := range s.pieces {
		c = c.Add(s.protos.estimate(s.proto(pc[1] - pc[0])))
	}
	return c
}

// Run plays the pieces on g and u, one after the other.
func (s gatedStep) Run(r *Runner, g, u mpc.Pair) (mpc.Pair, error) {
	if g.Len() != s.n || u.Len() != s.n {
		return mpc.Pair{}, fmt.Errorf("sim: internal error: a gated activation of %d values given %d and %d", s.n, g.Len(), u.Len())
	}
	var y mpc.Pair
	for i := range y {
		y[i] = mpc.Share{Mod: g[i].Mod, V: make([]uint64, 0, s.n)}
	}
	err := r.timed(KindActivation, func(c *cost.Cost) error {
		return r.mpcRun(c, func() error {
			for _, pc := range s.pieces {
				lo, hi := pc[0], pc[1]
				var gp, up mpc.Pair
				for i := range gp {
					gp[i] = mpc.Share{Mod: g[i].Mod, V: g[i].V[lo:hi]}
					up[i] = mpc.Share{Mod: u[i].Mod, V: u[i].V[lo:hi]}
				}
				out, err := s.proto(hi-lo).Run(r.mp, gp, up)
				if err != nil {
					return err
				}
				for i := range y {
					y[i].V = append(y[i].V, out[i].V...)
				}
			}
			return nil
		})
	})
	return y, err
}
