package sim

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/model"
)

// The two-party steps: a protocol of package mpc on shares, recorded under
// one kind. Each step's Estimate is its protocol's; its Run plays the same
// protocol value on the run engine's mpc session, so both price exactly
// what was planned.

// unaryStep is a protocol on one shared input: the norms, the activations
// and the softmax.
type unaryStep struct {
	kind  Kind
	proto interface {
		mpc.Protocol
		Run(s *mpc.Session, x mpc.Pair) (mpc.Pair, error)
	}
}

// Estimate is the protocol's estimate.
func (s unaryStep) Estimate() cost.Cost { return s.proto.Estimate() }

// Run plays the protocol on x.
func (s unaryStep) Run(r *Runner, x mpc.Pair) (mpc.Pair, error) {
	var y mpc.Pair
	err := r.timed(s.kind, func(c *cost.Cost) error {
		return r.mpcRun(c, func() error {
			var err error
			y, err = s.proto.Run(r.mp, x)
			return err
		})
	})
	return y, err
}

// normStep is the architecture's norm of rows rows (LayerNorm for GPT-2,
// RMSNorm for llama), gain and bias folded into the next matrix.
func (p *planner) normStep(rows int) unaryStep {
	if p.cfg.Arch == model.ArchGPT2 {
		return unaryStep{KindNorm, mpc.LayerNorm{Config: p.mpc, Rows: rows, Dim: p.cfg.Dim, Eps: p.cfg.NormEps}}
	}
	return unaryStep{KindNorm, mpc.RMSNorm{Config: p.mpc, Rows: rows, Dim: p.cfg.Dim, Eps: p.cfg.NormEps}}
}

// activationStep is the architecture's activation of n values (GELU or
// SiLU).
func (p *planner) activationStep(n int) unaryStep {
	if p.cfg.Arch == model.ArchGPT2 {
		return unaryStep{KindActivation, mpc.GELU{Config: p.mpc, N: n}}
	}
	return unaryStep{KindActivation, mpc.SiLU{Config: p.mpc, N: n}}
}

// softmaxStep is the softmax of rows rows of cols scores; with
// causalHeads > 0 the rows are that many heads of causal queries over the
// same cols keys (a pass from position 0), each query's row covering the
// keys up to its own position only.
func (p *planner) softmaxStep(rows, cols, causalHeads int) unaryStep {
	return unaryStep{KindSoftmax, mpc.Softmax{Config: p.mpc, Rows: rows, Cols: cols, Causal: causalHeads > 0, Heads: causalHeads}}
}

// mulStep is the element-wise fixed-point product of n values (Beaver,
// with truncation).
type mulStep struct{ proto mpc.Mul }

func (p *planner) mulStep(n int) mulStep { return mulStep{mpc.Mul{Config: p.mpc, N: n, Fixed: true}} }

// Estimate is the product's estimate.
func (s mulStep) Estimate() cost.Cost { return s.proto.Estimate() }

// Run multiplies a and b.
func (s mulStep) Run(r *Runner, a, b mpc.Pair) (mpc.Pair, error) {
	var y mpc.Pair
	err := r.timed(KindMul, func(c *cost.Cost) error {
		return r.mpcRun(c, func() error {
			var err error
			y, err = s.proto.Run(r.mp, a, b)
			return err
		})
	})
	return y, err
}

// argmaxStep is the argmax of n shared values, revealed to the client.
type argmaxStep struct{ proto mpc.Argmax }

func (p *planner) argmaxStep(n int) argmaxStep { return argmaxStep{mpc.Argmax{Config: p.mpc, N: n}} }

// Estimate is the argmax's estimate.
func (s argmaxStep) Estimate() cost.Cost { return s.proto.Estimate() }

// Run returns the index of the largest of x's values (the client's
// output).
func (s argmaxStep) Run(r *Runner, x mpc.Pair) (int, error) {
	var tok int
	err := r.timed(KindArgmax, func(c *cost.Cost) error {
		return r.mpcRun(c, func() error {
			var err error
			tok, err = s.proto.Run(r.mp, x)
			return err
		})
	})
	return tok, err
}

// truncStep is the truncation of n shared values by the fixed point's
// fractional bits: a part of the step whose product it follows.
type truncStep struct{ proto mpc.Trunc }

func (p *planner) truncStep(n int) truncStep { return truncStep{mpc.Trunc{Config: p.mpc, N: n}} }

// Estimate is the truncation's estimate.
func (s truncStep) Estimate() cost.Cost { return s.proto.Estimate() }

// Run truncates xc and xs (both parties' shares) in place, adding its
// counters to c. It is an error if they are not the n values planned.
func (s truncStep) Run(r *Runner, c *cost.Cost, xc, xs []uint64) error {
	if len(xc) != s.proto.N || len(xs) != s.proto.N {
		return fmt.Errorf("sim: internal error: a truncation of %d values planned, %d and %d given", s.proto.N, len(xc), len(xs))
	}
	return r.mpcRun(c, func() error {
		y, err := s.proto.Run(r.mp, r.pair(xc, xs))
		if err == nil {
			copy(xc, y[mpc.Client].V)
			copy(xs, y[mpc.Server].V)
		}
		return err
	})
}
