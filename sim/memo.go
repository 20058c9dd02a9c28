package sim

import (
	"sync"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/exec/mpc"
)

// protocolMemo holds what depends on a resolved protocol only, not on the
// session that asks: the linear layers' plans, by flooding and shape, and
// the estimates of the two-party protocols, by protocol value. Every
// session of a Plan shares one protocol, hence one memo, so that the
// packing search of a linear layer and the estimate of a causal softmax's
// piece are made once per sweep, not once per planner of each context and
// strategy. It is safe for concurrent use; a plan or an estimate is made
// outside the lock (two goroutines may both make one; they are equal).
type protocolMemo struct {
	mu      sync.Mutex
	linears map[linKey]linearPlan
	protos  map[mpc.Protocol]cost.Cost
}

// linKey identifies a linear layer planned by a protocol's planner
// flooding for floodBits bits: its shape (out x in over rows tokens).
type linKey struct {
	floodBits     int
	out, in, rows int
	once          bool // weights encoded once
}

// linearPlan is the outcome of planning a linear layer: the layer or why
// it cannot be planned.
type linearPlan struct {
	lin *exec.Linear
	err error
}

func newProtocolMemo() *protocolMemo {
	return &protocolMemo{linears: map[linKey]linearPlan{}, protos: map[mpc.Protocol]cost.Cost{}}
}

// linear is he.Linear(out, in, rows, enc) (he.LinearEncodedOnce if
// once), planned once per flooding, shape and use (he is the memo's
// protocol's planner, flooding for he.StatSecurity bits; the encoding
// follows from rows). The layer is shared: a Linear is a plain value,
// safe for concurrent use.
func (m *protocolMemo) linear(he exec.Planner, out, in, rows int, enc exec.Encoding, once bool) (*exec.Linear, error) {
	k := linKey{he.StatSecurity, out, in, rows, once}
	m.mu.Lock()
	lp, ok := m.linears[k]
	m.mu.Unlock()
	if !ok {
		if once {
			lp.lin, lp.err = he.LinearEncodedOnce(out, in, rows, enc)
		} else {
			lp.lin, lp.err = he.Linear(out, in, rows, enc)
		}
		m.mu.Lock()
		m.linears[k] = lp
		m.mu.Unlock()
	}
	return lp.lin, lp.err
}

// estimate is pr.Estimate(), made once per protocol value: a protocol's
// estimate depends on its value only (its configuration and shape).
func (m *protocolMemo) estimate(pr mpc.Protocol) cost.Cost {
	m.mu.Lock()
	c, ok := m.protos[pr]
	m.mu.Unlock()
	if !ok {
		c = pr.Estimate()
		m.mu.Lock()
		m.protos[pr] = c
		m.mu.Unlock()
	}
	return c
}
