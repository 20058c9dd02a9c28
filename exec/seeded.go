package exec

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
	"github.com/tuneinsight/lattigo/v5/utils/buffer"

	"github.com/cgsim/cgsim/internal/seedprg"
	"github.com/cgsim/cgsim/net"
)

// Seeded uploads. Every ciphertext the client sends is a secret-key
// encryption (c0, c1) = (-a·s + m + e, a) whose a is uniform: the client
// draws it from a fresh 32-byte seed (AES-256 in counter mode, package
// seedprg, as the uniform sampler of its encryptor) and sends c0 and the
// seed instead of c0 and c1; the server expands the seed into the same a.
// This halves every client-to-server ciphertext. a is as uniform as the
// keystream (AES keyed with a seed from crypto/rand), and the seed is
// public exactly as a is: the ciphertext stays an RLWE sample under the
// client's key. The server's own ciphertexts (the masked, flooded results) are
// public-key encryptions, whose c1 is not uniform, and go whole.

// SeedBytes is the length of the seed of a seeded ciphertext: the key of
// the AES-256 keystream its c1 is drawn from (package seedprg).
const SeedBytes = seedprg.SeedBytes

// SeededCiphertextSize is the marshalled size of a seeded ciphertext at a
// level over a ring of degree 2^logN: the seed and a ciphertext of degree
// 0 (c0 alone, CiphertextSize's layout).
func SeededCiphertextSize(logN, level int) int64 {
	return SeedBytes + CiphertextSize(logN, 0, level)
}

// seededBytes is the framed size of a seeded ciphertext on the wire.
func seededBytes(logN, level int) int64 { return net.FrameOverhead + SeededCiphertextSize(logN, level) }

// seededCiphertext is a ciphertext as the client sends it: the seed of c1
// and the degree-0 ciphertext c0 (with the metadata).
type seededCiphertext struct {
	seed []byte
	c0   *rlwe.Ciphertext
}

var _ net.SizedWriter = seededCiphertext{}

// BinarySize is the length of the seed and c0 marshalled.
func (s seededCiphertext) BinarySize() int { return len(s.seed) + s.c0.BinarySize() }

// WriteTo writes the seed, then c0.
func (s seededCiphertext) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(s.seed)
	if err != nil {
		return int64(n), err
	}
	m, err := s.c0.WriteTo(w)
	return int64(n) + m, err
}

// MarshalBinary writes the seed and c0 into one new slice.
func (s seededCiphertext) MarshalBinary() ([]byte, error) {
	out := buffer.NewBufferSize(s.BinarySize())
	if _, err := s.WriteTo(out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// encryptSeeded encrypts pt at its level under the client's secret key,
// with c1 drawn from a fresh seed, and returns what to send (which holds
// c0 of a new ciphertext).
func (c *Client) encryptSeeded(pt *rlwe.Plaintext) (seededCiphertext, error) {
	return c.encryptSeededInto(pt, bgv.NewCiphertext(c.params, 1, pt.Level()))
}

// encryptSeededInto is encryptSeeded into ct, a degree-1 ciphertext at pt's
// level, whose c0 what it returns holds until ct is used again.
func (c *Client) encryptSeededInto(pt *rlwe.Plaintext, ct *rlwe.Ciphertext) (seededCiphertext, error) {
	seed := make([]byte, SeedBytes)
	if _, err := rand.Read(seed); err != nil {
		return seededCiphertext{}, fmt.Errorf("exec: client: drawing a seed: %w", err)
	}
	prng, err := seedprg.New(seed)
	if err != nil {
		return seededCiphertext{}, err
	}
	if err := c.enc.WithPRNG(prng).Encrypt(pt, ct); err != nil {
		return seededCiphertext{}, fmt.Errorf("exec: client: encrypting: %w", err)
	}
	c0 := &rlwe.Ciphertext{Element: rlwe.Element[ring.Poly]{Value: ct.Value[:1], MetaData: ct.MetaData}}
	return seededCiphertext{seed: seed, c0: c0}, nil
}

// unmarshalSeeded parses a seeded ciphertext of p whose message is in dom
// (the checks of UnmarshalCiphertext on its degree-0 part, before lattigo
// sees it) and expands it: c1 from the seed, as the client's encryptor
// drew it.
func unmarshalSeeded(p bgv.Parameters, b []byte, dom Domain) (*rlwe.Ciphertext, error) {
	if len(b) < SeedBytes {
		return nil, fmt.Errorf("exec: seeded ciphertext of %d bytes, shorter than its seed", len(b))
	}
	seed, body := b[:SeedBytes], b[SeedBytes:]
	if _, _, err := checkCiphertextDegree(p, body, dom, 0, 0); err != nil {
		return nil, err
	}
	ct := &rlwe.Ciphertext{}
	if err := ct.UnmarshalBinary(body); err != nil {
		return nil, fmt.Errorf("exec: unmarshalling a seeded ciphertext: %w", err)
	}
	if ct.MetaData == nil || len(ct.Value) != 1 || ct.Level() > p.MaxLevel() || !ct.IsNTT {
		return nil, fmt.Errorf("exec: malformed seeded ciphertext")
	}
	if err := checkPoly(ct.Value[0], p.RingQ(), ct.Level()); err != nil {
		return nil, err
	}
	prng, err := seedprg.New(seed)
	if err != nil {
		return nil, err
	}
	c1 := p.RingQ().AtLevel(ct.Level()).NewPoly()
	ringqp.NewUniformSampler(prng, *p.RingQP()).AtLevel(ct.Level(), -1).Read(ringqp.Poly{Q: c1})
	ct.Value = append(ct.Value, c1)
	return ct, nil
}
