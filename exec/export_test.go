package exec

import "github.com/tuneinsight/lattigo/v5/core/rlwe"

// Test seams for the external tests of this directory (package exec_test,
// which may import kv): they exist only while testing.

// SetInspect has the session's server call f with the ciphertexts it is
// about to mask, flood and return (see Session.InspectReturns).
func SetInspect(s *Session, f func(cts []*rlwe.Ciphertext)) {
	s.InspectReturns(func(cts []*rlwe.Ciphertext, _ ReturnPlan) { f(cts) })
}

// PayloadBits is the payload of ct measured with the session's client key.
func PayloadBits(s *Session, ct *rlwe.Ciphertext) float64 { return s.client.PayloadBits(ct) }
