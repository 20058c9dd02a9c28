package mpc

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
)

// A Protocol is a two-party computation of a known shape: what it needs
// from the dealer and what it costs are known before any share exists.
type Protocol interface {
	Need() Need
	Estimate() cost.Cost
}

var (
	_ Protocol = Mul{}
	_ Protocol = Trunc{}
	_ Protocol = Sign{}
	_ Protocol = Max{}
	_ Protocol = Argmax{}
	_ Protocol = Exp{}
	_ Protocol = Reciprocal{}
	_ Protocol = Rsqrt{}
	_ Protocol = Softmax{}
	_ Protocol = SiLU{}
	_ Protocol = GELU{}
	_ Protocol = RMSNorm{}
	_ Protocol = LayerNorm{}
	_ Protocol = TopK{}
	_ Protocol = Accept{}
	_ Protocol = AcceptSampled{}
)

// play is one party's code of a protocol: it gets its own party (role,
// connection, dealer material) and its own shares of the inputs, in the
// order of the Run's arguments, and returns its own share of the output.
// Every protocol's play is a method of the protocol value with no other
// way to reach a share: the other party's shares never are in its scope.
type play func(p *party, mine ...[]uint64) ([]uint64, error)

// run is the common frame of every Run: check the inputs, fetch the
// material, then run body once per party (Session.each), each party with
// its own shares of the inputs, and assemble the two outputs into a Pair
// after both finished.
func run(s *Session, cfg Config, name string, proto Protocol, shape error, inputs []Pair, lens []int, body play) (Pair, error) {
	if shape != nil {
		return Pair{}, fmt.Errorf("mpc: %s: %w", name, shape)
	}
	if cfg.Ring == nil || cfg.Profile == nil {
		return Pair{}, fmt.Errorf("mpc: %s: incomplete Config (use NewConfig)", name)
	}
	for i, in := range inputs {
		if err := cfg.Ring.check(name, in, lens[i]); err != nil {
			return Pair{}, err
		}
	}
	if err := s.begin(name, cfg, proto.Need()); err != nil {
		return Pair{}, err
	}
	for _, p := range s.parties {
		p.gated, p.roundCompares = cfg.gatedBound(), cfg.roundCompares()
	}
	out, err := s.playBoth(inputs, body)
	if err != nil {
		return Pair{}, fmt.Errorf("mpc: %s: %w", name, err)
	}
	return out, nil
}

// playBoth hands each party its own shares of the inputs (index p.role of
// each Pair, and nothing else), runs body for both concurrently and
// returns the outputs as a Pair.
func (s *Session) playBoth(inputs []Pair, body play) (Pair, error) {
	var out [2][]uint64
	err := s.each(func(p *party) error {
		mine := make([][]uint64, len(inputs))
		for i, in := range inputs {
			mine[i] = in[p.role].V
		}
		v, err := body(p, mine...)
		out[p.role] = v
		return err
	})
	if err != nil {
		return Pair{}, err
	}
	t := s.cfg.Ring.t
	return Pair{{Mod: t, V: out[Client]}, {Mod: t, V: out[Server]}}, nil
}

func positive(what string, v int) error {
	if v < 1 {
		return fmt.Errorf("%s is %d, want at least 1", what, v)
	}
	return nil
}

func newBill(c Config) *bill { return &bill{cfg: c} }

func repeat(v, n int) []int {
	out := make([]int, max(n, 0))
	for i := range out {
		out[i] = v
	}
	return out
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func frac(c Config) int {
	if c.Ring == nil {
		return 0
	}
	return c.Ring.frac
}

// Concat joins pairs of the same ring into one, to batch several vectors
// into one Run.
func Concat(ps ...Pair) Pair {
	var out Pair
	for _, p := range ps {
		for role := range out {
			out[role].Mod = p[role].Mod
			out[role].V = append(out[role].V, p[role].V...)
		}
	}
	return out
}
