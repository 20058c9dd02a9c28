package exec

import (
	"fmt"
	"math/big"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/cost"
)

// Reencrypt has the client encrypt afresh what the server holds encrypted,
// possibly laid out anew: the refresh of a KV cache ciphertext whose noise
// budget ran low, and the switch of the prefill kernels' keys and values
// into the decode layout. The server holds Enc(x) (Return.Cts()
// ciphertexts, planned by Return as an H2S); it masks them with a fresh
// uniform r, floods and sends them; the client decrypts y = x - r. Then,
// for each group, both parties apply the same public map to their own
// share (slot j of output ciphertext i of the group is Scale[i] times
// element Map[i·N + j] of the returned vector, zero where Map is -1): the
// client encrypts its relaid y at the group's Level and sends it, the
// server receives it and adds its relaid r (a C2S per group). The output
// ciphertexts encrypt the relaid x, fresh.
//
// The client's half runs with the Client and what it received only, the
// server's with the Server, its ciphertexts and its masks only (see
// Session.both). The server sends everything before it receives, and the
// client receives everything before it sends: two flights, one round.
//
// Cost: the H2S, then per group the C2S of Cts ciphertexts at Level
// (layout, encode, encryption and serialization on the client;
// deserialization, the layout of the server's share, encode and add on
// the server), one round in all. Applying the map and the scale is part
// of each party's layout.
type Reencrypt struct {
	Return H2S
	Groups []ReencryptGroup
}

// ReencryptGroup is one level of a Reencrypt's output: Cts ciphertexts at
// Level. Map (Cts·N entries: an index into the returned vector, or -1)
// and Scale (Cts public factors modulo t) are needed by Run only; an
// Estimate needs Level and Cts.
type ReencryptGroup struct {
	Level int
	Cts   int
	Map   []int
	Scale []uint64
}

func (r Reencrypt) c2s(g ReencryptGroup) C2S {
	return C2S{Params: r.Return.Params, Profile: r.Return.Profile, Len: g.Cts * r.Return.Params.MaxSlots(), Level: g.Level,
		ClientCores: r.Return.clientCores}
}

// Rotations: none.
func (r Reencrypt) Rotations() []int { return nil }

// Cts is the number of output ciphertexts.
func (r Reencrypt) Cts() int {
	n := 0
	for _, g := range r.Groups {
		n += g.Cts
	}
	return n
}

// Estimate prices one Run.
func (r Reencrypt) Estimate() cost.Cost {
	total := r.Return.Estimate()
	total.Rounds = 0
	for _, g := range r.Groups {
		c := r.c2s(g).Estimate()
		c.Rounds = 0
		total = total.Add(c)
	}
	return total.Add(cost.Cost{Rounds: 1})
}

// Run re-encrypts the server's ciphertexts cts (Return.Cts() of them at
// Return.Level) and returns the server's output ciphertexts, one slice
// per group.
func (r Reencrypt) Run(s *Session, tally *cost.Tally, cts []*rlwe.Ciphertext) ([][]*rlwe.Ciphertext, error) {
	sizes := r.check()
	if len(cts) != r.Return.Cts() {
		sizes = fmt.Errorf("exec: re-encryption of %d ciphertexts given %d", r.Return.Cts(), len(cts))
	}
	_, out, err := run(s, tally, sizes,
		nothing(func(cl *Client) error { return r.client(cl, tally) }),
		func(sv *Server) ([][]*rlwe.Ciphertext, error) { return r.server(sv, tally, cts) })
	return out, err
}

// client is the client's half: it receives and decrypts its share of the
// returned vector, lays it out for each group and encrypts it fresh.
func (r Reencrypt) client(cl *Client, tally *cost.Tally) error {
	y, err := r.Return.client(cl, tally)
	if err != nil {
		return err
	}
	for _, g := range r.Groups {
		if err := r.c2s(g).client(cl, tally, r.relay(g, y)); err != nil {
			return err
		}
	}
	return nil
}

// server is the server's half: it masks, floods and sends its
// ciphertexts, keeps the masks, lays them out for each group, receives the
// client's fresh ciphertexts and adds them.
func (r Reencrypt) server(sv *Server, tally *cost.Tally, cts []*rlwe.Ciphertext) ([][]*rlwe.Ciphertext, error) {
	masks, err := r.Return.server(sv, tally, cts)
	if err != nil {
		return nil, err
	}
	out := make([][]*rlwe.Ciphertext, len(r.Groups))
	for i, g := range r.Groups {
		if out[i], err = r.c2s(g).server(sv, tally, r.relay(g, masks)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// check validates the groups' maps against the returned vector.
func (r Reencrypt) check() error {
	p := r.Return.Params
	N, t := p.MaxSlots(), p.PlaintextModulus()
	for gi, g := range r.Groups {
		if g.Cts < 1 || g.Level < 0 || g.Level > p.MaxLevel() {
			return fmt.Errorf("exec: re-encryption group %d: %d ciphertexts at level %d", gi, g.Cts, g.Level)
		}
		if len(g.Map) != g.Cts*N || len(g.Scale) != g.Cts {
			return fmt.Errorf("exec: re-encryption group %d of %d ciphertexts: a map of %d entries and %d scales, want %d and %d", gi, g.Cts, len(g.Map), len(g.Scale), g.Cts*N, g.Cts)
		}
		for i, m := range g.Map {
			if m < -1 || m >= r.Return.Len {
				return fmt.Errorf("exec: re-encryption group %d: map entry %d is %d, outside [-1, %d)", gi, i, m, r.Return.Len)
			}
		}
		for i, s := range g.Scale {
			if s >= t {
				return fmt.Errorf("exec: re-encryption group %d: scale %d is %d, not reduced modulo %d", gi, i, s, t)
			}
		}
	}
	return nil
}

// relay applies group g's public map and scales to one party's share y of
// the returned vector.
func (r Reencrypt) relay(g ReencryptGroup, y []uint64) []uint64 {
	N := r.Return.Params.MaxSlots()
	t := r.Return.Params.PlaintextModulus()
	out := make([]uint64, len(g.Map))
	for i, m := range g.Map {
		if m >= 0 {
			out[i] = mulModT(y[m], g.Scale[i/N], t)
		}
	}
	return out
}

// invModT is a^-1 mod t (t prime, a not a multiple of t).
func invModT(a, t uint64) uint64 {
	return new(big.Int).ModInverse(new(big.Int).SetUint64(a), new(big.Int).SetUint64(t)).Uint64()
}

func mulModT(a, b, t uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return bits.Rem64(hi, lo, t)
}
