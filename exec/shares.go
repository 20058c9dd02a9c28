package exec

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"sync"
)

// Shared is a vector additively shared modulo t between the two parties:
// the value is C + S mod t, the client holds C and the server S. In a
// simulation one process holds both halves; a Run hands C only to its
// client side and S only to its server side.
type Shared struct {
	C, S []uint64
}

// Len is the length of the shared vector.
func (x Shared) Len() int { return len(x.C) }

// Reveal returns C + S mod t: the plaintext value (for tests and checks).
func (x Shared) Reveal(t uint64) []uint64 {
	out := make([]uint64, len(x.C))
	for i := range out {
		out[i] = (x.C[i] + x.S[i]) % t
	}
	return out
}

// ShareOf splits v into two shares with a fresh uniform mask from
// crypto/rand.
func ShareOf(v []uint64, t uint64) (Shared, error) {
	r, err := UniformMod(t, len(v))
	if err != nil {
		return Shared{}, err
	}
	c := make([]uint64, len(v))
	for i := range v {
		c[i] = (v[i]%t + t - r[i]) % t
	}
	return Shared{C: c, S: r}, nil
}

// UniformMod returns n values uniform modulo t, drawn from crypto/rand by
// rejection sampling (no modulo bias).
func UniformMod(t uint64, n int) ([]uint64, error) {
	randMu.Lock()
	defer randMu.Unlock()
	return uniformFrom(randReader, t, n)
}

var (
	randMu     sync.Mutex
	randReader = bufio.NewReaderSize(rand.Reader, 1<<16)
)

func uniformFrom(r io.Reader, t uint64, n int) ([]uint64, error) {
	if t < 2 {
		return nil, fmt.Errorf("exec: modulus %d too small", t)
	}
	mask := uint64(1)<<bits.Len64(t-1) - 1
	if bits.Len64(t-1) == 64 {
		mask = ^uint64(0)
	}
	out := make([]uint64, n)
	var b [8]byte
	for i := 0; i < n; {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("exec: reading randomness: %w", err)
		}
		v := binary.LittleEndian.Uint64(b[:]) & mask
		if v < t { // accepted with probability > 1/2
			out[i] = v
			i++
		}
	}
	return out, nil
}

func chunk(v []uint64, n int) [][]uint64 {
	k := ceilDiv(len(v), n)
	out := make([][]uint64, k)
	for i := range out {
		out[i] = make([]uint64, n)
		copy(out[i], v[i*n:])
	}
	return out
}

// unchunk concatenates slot vectors and keeps the first n elements.
func unchunk(vs [][]uint64, n int) []uint64 {
	out := make([]uint64, 0, n)
	for _, v := range vs {
		out = append(out, v...)
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
