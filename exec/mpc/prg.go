package mpc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
)

// SeedBytes is the size of a PRG seed.
const SeedBytes = 32

// Seed is the key of a PRG: the whole material of a seed-compressed party.
type Seed [SeedBytes]byte

// prg is AES-256 in counter mode keyed by SHA-256(seed ‖ label): one
// independent stream per label, so that every component of the dealer's
// material (triple a, triple b, ...) is its own stream and can be expanded
// without knowing how the protocol will slice it.
type prg struct {
	stream cipher.Stream
	buf    [8 * 128]byte
	pos    int
}

func newPRG(seed Seed, label string) *prg {
	h := sha256.New()
	h.Write(seed[:])
	h.Write([]byte(label))
	key := h.Sum(nil)
	block, err := aes.NewCipher(key) // a 32-byte key: cannot fail
	if err != nil {
		panic("mpc: aes: " + err.Error())
	}
	var iv [aes.BlockSize]byte
	g := &prg{stream: cipher.NewCTR(block, iv[:])}
	g.pos = len(g.buf)
	return g
}

func (g *prg) uint64() uint64 {
	if g.pos == len(g.buf) {
		clear(g.buf[:])
		g.stream.XORKeyStream(g.buf[:], g.buf[:])
		g.pos = 0
	}
	v := binary.LittleEndian.Uint64(g.buf[g.pos:])
	g.pos += 8
	return v
}

// elements draws n uniform elements of Z_t by rejection sampling.
func (g *prg) elements(r *Ring, n int) []uint64 {
	out := make([]uint64, n)
	mask := uint64(1)<<r.bits - 1
	for i := range out {
		for {
			v := g.uint64() & mask
			if v < r.t {
				out[i] = v
				break
			}
		}
	}
	return out
}
