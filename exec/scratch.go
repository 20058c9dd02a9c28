package exec

import (
	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

// scratch is a party's (or one of its workers') reusable buffers: a
// plaintext per level, a temporary ciphertext per level, a set of baby
// steps per level and a slot vector, made on first use. A kernel that
// encodes or decrypts one vector at a time uses them instead of
// allocating a plaintext per operation: a fresh plaintext is megabytes the
// runtime zeroes (and the kernel first touches), which the profile's
// operations, measured on buffers reused, do not price. Each goroutine
// has its own (Server.worker, Client.worker); a buffer is the caller's
// until its next call for the same buffer.
type scratch struct {
	pts   []*rlwe.Plaintext
	temps []*rlwe.Ciphertext
	baby  [][]*rlwe.Ciphertext
	vec   []uint64
}

// plaintext returns the plaintext at level, at scale 1 and batched.
func (s *scratch) plaintext(p bgv.Parameters, level int) *rlwe.Plaintext {
	if s.pts == nil {
		s.pts = make([]*rlwe.Plaintext, p.MaxLevel()+1)
	}
	pt := s.pts[level]
	if pt == nil {
		pt = bgv.NewPlaintext(p, level)
		s.pts[level] = pt
	}
	pt.Scale, pt.IsBatched = p.NewScale(1), true
	return pt
}

// slots returns the slot vector, zeroed.
func (s *scratch) slots(p bgv.Parameters) []uint64 {
	if s.vec == nil {
		s.vec = make([]uint64, p.MaxSlots())
	}
	clear(s.vec)
	return s.vec
}

// temp returns the temporary degree-1 ciphertext at level: the work space
// of one kernel piece (a giant step's next term, a fold's rotations), the
// caller's until the piece ends; nothing the piece calls may use it.
func (s *scratch) temp(p bgv.Parameters, level int) *rlwe.Ciphertext {
	if s.temps == nil {
		s.temps = make([]*rlwe.Ciphertext, p.MaxLevel()+1)
	}
	if s.temps[level] == nil {
		s.temps[level] = bgv.NewCiphertext(p, 1, level)
	}
	return s.temps[level]
}

// babySteps returns n degree-1 ciphertexts at level (a linear layer's
// hoisted rotations of its inputs, which its giant steps read). They stay
// allocated with the party: the largest layer's set per level (its chunks
// times its baby steps, less one each), which a layer allocated and let go
// per call before.
func (s *scratch) babySteps(p bgv.Parameters, level, n int) []*rlwe.Ciphertext {
	if s.baby == nil {
		s.baby = make([][]*rlwe.Ciphertext, p.MaxLevel()+1)
	}
	for len(s.baby[level]) < n {
		s.baby[level] = append(s.baby[level], bgv.NewCiphertext(p, 1, level))
	}
	return s.baby[level][:n]
}
