package exec

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// C2S is the client-to-server share conversion of a vector of Len
// elements: the client encrypts its share (packed N per ciphertext) at
// Level and sends it; the server adds its own share, and holds Enc(x).
//
// Cost: per ciphertext, the client encodes, encrypts and serializes once and
// the server encodes its share and adds it; one flight, one round.
//
// With ClientOnly the server adds nothing: the vector is the client's alone
// (Shared.S is ignored and may be nil), as when the client encrypts its
// share of a new token for the KV cache, whose server share is kept in the
// clear. It saves the server's layout, encode and add per ciphertext.
type C2S struct {
	Params     bgv.Parameters
	Profile    *cost.Profile
	Len        int // elements of the vector
	Level      int // level of the encryption
	ClientOnly bool
	// ClientCores are the client's cores it is priced for (zero: one;
	// Planner.ClientCores).
	ClientCores int
}

// NewC2S is the conversion of a vector of n elements, encrypted at the top
// level. It does not check prof against p (it has no error to return):
// Planner.C2S is the checked constructor.
func NewC2S(p bgv.Parameters, prof *cost.Profile, n int) C2S {
	return C2S{Params: p, Profile: prof, Len: n, Level: p.MaxLevel()}
}

// Cts is the number of ciphertexts.
func (c C2S) Cts() int { return ceilDiv(c.Len, c.Params.MaxSlots()) }

// Rotations: none.
func (c C2S) Rotations() []int { return nil }

// Estimate prices one Run.
func (c C2S) Estimate() cost.Cost {
	k := int64(c.Cts())
	total := sendInputCost(c.Profile, c.Params.LogN(), c.Level, Slots, k, c.ClientCores)
	if !c.ClientOnly {
		total = total.Add(plainCost(c.Profile, c.Params.LogN(), c.Level, Slots, k))
	}
	return total.Add(cost.Cost{Rounds: 1})
}

// Run converts x and returns the server's ciphertexts Enc(x).
func (c C2S) Run(s *Session, tally *cost.Tally, x Shared) ([]*rlwe.Ciphertext, error) {
	var sizes error
	if x.Len() != c.Len || (!c.ClientOnly && len(x.S) != c.Len) {
		sizes = fmt.Errorf("exec: C2S of %d elements given %d and %d", c.Len, len(x.C), len(x.S))
	}
	xC, xS := x.C, x.S
	if c.ClientOnly {
		xS = nil
	}
	_, cts, err := run(s, tally, sizes,
		nothing(func(cl *Client) error { return c.client(cl, tally, xC) }),
		func(sv *Server) ([]*rlwe.Ciphertext, error) { return c.server(sv, tally, xS) })
	return cts, err
}

// client is the client's half of a C2S: it encrypts and sends its share.
func (c C2S) client(cl *Client, tally *cost.Tally, xC []uint64) error {
	return cl.sendInputs(tally, c.Level, chunk(xC, c.Params.MaxSlots()))
}

// server is the server's half: it receives the ciphertexts and adds its
// share (none with ClientOnly).
func (c C2S) server(sv *Server, tally *cost.Tally, xS []uint64) ([]*rlwe.Ciphertext, error) {
	cts, err := sv.recvInputs(tally, c.Cts())
	if err != nil || c.ClientOnly {
		return cts, err
	}
	shares := chunk(xS, c.Params.MaxSlots())
	for i, ct := range cts {
		if ct.Level() != c.Level {
			return nil, fmt.Errorf("exec: server: input at level %d, planned %d", ct.Level(), c.Level)
		}
		if err := sv.addPlain(tally, ct, shares[i]); err != nil {
			return nil, err
		}
	}
	return cts, nil
}

// H2S is the server-to-client share conversion: the server holds Enc(y)
// (Cts ciphertexts at Level whose payload is at most NoiseBits), draws a
// uniform mask r, and sends Enc(y - r), flooded, then rescaled to SendLevel;
// the client decrypts y - r, the server keeps r.
//
// Cost: per ciphertext, offline, its pad (one encode of the mask, one
// public-key encryption of it, the flooding error); online, one add (the
// pad), Level-SendLevel rescales, one serialization, and on the client one
// decryption and one decoding (counted in encodes, priced as
// cost.OpDecode). One flight.
type H2S struct {
	Params      bgv.Parameters
	Profile     *cost.Profile
	Len         int // elements of the vector (packed N per ciphertext)
	Level       int // level of the server's ciphertexts
	NoiseBits   float64
	send        returnPath
	cores       int // the server's, for the price (Planner.Cores)
	clientCores int // the client's (Planner.ClientCores)
}

// NewH2S plans the conversion of n elements held in ciphertexts at level
// with payload noiseBits (see noiseModel).
func NewH2S(p bgv.Parameters, prof *cost.Profile, n, level int, noiseBits float64) (H2S, error) {
	return planned(p, prof, func(pl Planner) (H2S, error) { return pl.H2S(n, level, noiseBits) })
}

// Cts is the number of ciphertexts.
func (h H2S) Cts() int { return ceilDiv(h.Len, h.Params.MaxSlots()) }

// SendLevel is the level of the ciphertexts the client receives.
func (h H2S) SendLevel() int { return h.send.to }

// Rotations: none.
func (h H2S) Rotations() []int { return nil }

// Estimate prices one Run.
func (h H2S) Estimate() cost.Cost {
	return returnCost(h.Profile, h.Params.LogN(), h.send, Slots, int64(h.Cts()), h.cores, h.clientCores).Add(cost.Cost{Rounds: 1})
}

// Run converts the server's ciphertexts into shares of their first Len
// slots.
func (h H2S) Run(s *Session, tally *cost.Tally, cts []*rlwe.Ciphertext) (Shared, error) {
	var sizes error
	if len(cts) != h.Cts() {
		sizes = fmt.Errorf("exec: H2S of %d ciphertexts given %d", h.Cts(), len(cts))
	}
	return runShared(s, tally, sizes,
		func(cl *Client) ([]uint64, error) { return h.client(cl, tally) },
		func(sv *Server) ([]uint64, error) { return h.server(sv, tally, cts) })
}

// client is the client's half of an H2S: it receives and decrypts its
// share.
func (h H2S) client(cl *Client, tally *cost.Tally) ([]uint64, error) {
	vals, err := cl.recvOutputs(tally, h.Cts())
	return unchunk(vals, h.Len), err
}

// server is the server's half: it masks, floods and sends its ciphertexts
// and keeps the masks.
func (h H2S) server(sv *Server, tally *cost.Tally, cts []*rlwe.Ciphertext) ([]uint64, error) {
	masks, err := sv.sendOutputs(tally, cts, h.send)
	return unchunk(masks, h.Len), err
}
