// Package seedprg is the pseudorandom generator that expands the seed of a
// client's ciphertext into its uniform half: AES-256 in counter mode keyed
// by the 32-byte seed, from a zero counter. The client draws c1 from it when
// it encrypts, and the server draws the same c1 from the seed it receives;
// the seed is public (it travels with c0), as in any seeded RLWE upload,
// and c1 needs only to look uniform.
//
// It replaces lattigo's keyed PRNG (BLAKE2b in extendable-output mode) on
// this path because AES with the processor's instructions draws the bytes
// several times faster, and a ciphertext at level l takes 8·N·(l+1) of
// them at each end.
package seedprg

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/utils/sampling"
)

// SeedBytes is the size of a seed: an AES-256 key.
const SeedBytes = 32

// PRG is a keystream reader: Read fills its argument with the next bytes.
type PRG struct {
	stream cipher.Stream
}

var _ sampling.PRNG = (*PRG)(nil)

// New returns the generator of seed, which must be SeedBytes long.
func New(seed []byte) (*PRG, error) {
	if len(seed) != SeedBytes {
		return nil, fmt.Errorf("seedprg: a seed of %d bytes, want %d", len(seed), SeedBytes)
	}
	block, err := aes.NewCipher(seed)
	if err != nil {
		return nil, fmt.Errorf("seedprg: %w", err)
	}
	var iv [aes.BlockSize]byte
	return &PRG{stream: cipher.NewCTR(block, iv[:])}, nil
}

// Read fills b with the next len(b) bytes of the keystream; it never fails.
func (g *PRG) Read(b []byte) (int, error) {
	clear(b)
	g.stream.XORKeyStream(b, b)
	return len(b), nil
}
