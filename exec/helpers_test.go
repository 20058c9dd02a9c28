package exec

import (
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/internal/hetest"
)

// The test kit shared with package kv is internal/hetest (presets and
// profiles, random vectors, counters); what follows needs exec's
// unexported side.

// share splits v into fresh shares modulo tmod.
func share(t testing.TB, v []uint64, tmod uint64) Shared {
	t.Helper()
	c, s := hetest.Share(v, tmod)
	return Shared{C: c, S: s}
}

// encryptVecs plays the client's part of building an encrypted input (a
// KV cache, a prompt's keys): it encrypts slot vectors at level and sends
// them to the server.
func encryptVecs(t testing.TB, s *Session, level int, vecs [][]uint64) []*rlwe.Ciphertext {
	t.Helper()
	_, cts, err := run(s, hetest.NopTally(), nil,
		nothing(func(cl *Client) error { return cl.sendInputs(hetest.NopTally(), level, vecs) }),
		func(sv *Server) ([]*rlwe.Ciphertext, error) { return sv.recvInputs(hetest.NopTally(), len(vecs)) })
	if err != nil {
		t.Fatal(err)
	}
	return cts
}
