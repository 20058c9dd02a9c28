package exec

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
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
	total := sendInputCost(c.Profile, c.Params.LogN(), c.Level, k)
	if !c.ClientOnly {
		total = total.Add(plainCost(c.Profile, c.Params.LogN(), c.Level, k))
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
// Cost: per ciphertext, one encode (the mask, or the mask together with any
// plaintext the server adds) and one add, one encryption of zero and one
// add for the flooding, Level-SendLevel rescales, one serialization, and
// on the client one decryption and one decoding (counted as an encode: it
// is the inverse transform at the same price). One flight.
type H2S struct {
	Params    bgv.Parameters
	Profile   *cost.Profile
	Len       int // elements of the vector (packed N per ciphertext)
	Level     int // level of the server's ciphertexts
	NoiseBits float64
	send      sendPlan
}

// NewH2S plans the conversion of n elements held in ciphertexts at level
// with payload noiseBits (see noiseModel).
func NewH2S(p bgv.Parameters, prof *cost.Profile, n, level int, noiseBits float64) (H2S, error) {
	pl, err := NewPlanner(p, prof)
	if err != nil {
		return H2S{}, err
	}
	return pl.H2S(n, level, noiseBits)
}

// Cts is the number of ciphertexts.
func (h H2S) Cts() int { return ceilDiv(h.Len, h.Params.MaxSlots()) }

// SendLevel is the level of the ciphertexts the client receives.
func (h H2S) SendLevel() int { return h.send.to }

// Rotations: none.
func (h H2S) Rotations() []int { return nil }

// Estimate prices one Run.
func (h H2S) Estimate() cost.Cost {
	return returnCost(h.Profile, h.Params.LogN(), h.send, int64(h.Cts())).Add(cost.Cost{Rounds: 1})
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
	masks, err := sv.sendOutputs(tally, cts, nil, h.send)
	return unchunk(masks, h.Len), err
}

// Work that is not a homomorphic operation is priced through the existing
// cost.Op kinds, with these conventions (Run records the same events at
// the same places, so the counters stay exact):
//
//   - receiving a ciphertext (framing check and unmarshalling) is one
//     OpSerialize at its level, like sending it: a ciphertext that
//     crosses costs two serializations, one per party;
//   - laying out a slot vector (a party's share of an input, a diagonal,
//     the server's share added to a cache ciphertext, the mask of a
//     returned ciphertext, sampled and subtracted) is N OpShare, one per
//     slot (measured: 0.7 to 1.0 times that at log N 13 and 14);
//   - the flooding error of a ciphertext at level l whose coefficients
//     take w 64-bit words is N·(l+1)·(w+2) OpShare: sampling, w modular
//     multiply-adds per coefficient and prime to reduce it, and its NTT at
//     about two share operations per coefficient and prime (measured:
//     within 25% at log N 13 and 14).
//
// OpShare is priced per element and is the same at every level; these
// events are recorded at level 0.

// layoutCost is the layout of k slot vectors of 2^logN slots.
func layoutCost(prof *cost.Profile, logN int, k int64) cost.Cost {
	return prof.Charge(cost.OpShare, 0, k<<logN)
}

// floodOps is the OpShare count of the flooding error of one ciphertext at
// level with the given bound.
func floodOps(logN, level, bits int) int64 {
	words := int64(bits+1+63) / 64
	return int64(level+1) * (words + 2) << logN
}

// sendInputCost is both sides of sending k fresh ciphertexts at a level
// from the client: layout, encode, encrypt, serialize, the bytes, and the
// server's deserialization.
func sendInputCost(prof *cost.Profile, logN, level int, k int64) cost.Cost {
	return cost.Sum(
		layoutCost(prof, logN, k),
		prof.Charge(cost.OpEncode, level, k),
		prof.Charge(cost.OpEncryptSecret, level, k),
		prof.Charge(cost.OpSerialize, level, 2*k),
		cost.Cost{BytesC2S: k * ctBytes(logN, level)},
	)
}

// plainCost is the server adding k laid-out plaintext vectors to
// ciphertexts at a level (Server.addPlain): layout, encode, add.
func plainCost(prof *cost.Profile, logN, level int, k int64) cost.Cost {
	return cost.Sum(
		layoutCost(prof, logN, k),
		prof.Charge(cost.OpEncode, level, k),
		prof.Charge(cost.OpAdd, level, k),
	)
}

// returnCost is both sides of returning k ciphertexts through sp: mask
// (sampled and laid out, one encode, one add), flooding (one encryption
// of zero, the error, one add), rescales, serialization, bytes,
// deserialization, decryption and decoding on the client.
func returnCost(prof *cost.Profile, logN int, sp sendPlan, k int64) cost.Cost {
	c := cost.Sum(
		plainCost(prof, logN, sp.from, k),
		prof.Charge(cost.OpAdd, sp.from, k),
		prof.Charge(cost.OpEncrypt, sp.from, k),
		prof.Charge(cost.OpShare, 0, k*floodOps(logN, sp.from, sp.floodInt())),
	)
	for lvl := sp.from; lvl > sp.to; lvl-- {
		c = c.Add(prof.Charge(cost.OpRescale, lvl, k))
	}
	return c.Add(cost.Sum(
		prof.Charge(cost.OpSerialize, sp.to, 2*k),
		cost.Cost{BytesS2C: k * ctBytes(logN, sp.to)},
		prof.Charge(cost.OpDecrypt, sp.to, k),
		prof.Charge(cost.OpEncode, sp.to, k),
	))
}

// sendInputs encodes, encrypts at level and sends one ciphertext per slot
// vector.
func (c *Client) sendInputs(tally *cost.Tally, level int, vecs [][]uint64) error {
	tally.Op(cost.OpShare, 0, int64(len(vecs))*int64(c.params.MaxSlots())) // the layout of vecs
	for _, v := range vecs {
		pt := bgv.NewPlaintext(c.params, level)
		if err := c.ecd.Encode(v, pt); err != nil {
			return fmt.Errorf("exec: client: encoding: %w", err)
		}
		tally.Op(cost.OpEncode, level, 1)
		ct := bgv.NewCiphertext(c.params, 1, level)
		if err := c.enc.Encrypt(pt, ct); err != nil {
			return fmt.Errorf("exec: client: encrypting: %w", err)
		}
		tally.Op(cost.OpEncryptSecret, level, 1)
		tally.Op(cost.OpSerialize, level, 1)
		if err := net.SendObject(c.conn, ct); err != nil {
			return fmt.Errorf("exec: client: sending: %w", err)
		}
	}
	return nil
}

// recvInputs receives k ciphertexts from the client.
func (s *Server) recvInputs(tally *cost.Tally, k int) ([]*rlwe.Ciphertext, error) {
	cts := make([]*rlwe.Ciphertext, k)
	for i := range cts {
		ct, err := recvCiphertext(s.params, s.conn)
		if err == nil && ct.Degree() != 1 {
			err = fmt.Errorf("exec: a ciphertext of degree %d, want 1", ct.Degree())
		}
		if err != nil {
			return nil, fmt.Errorf("exec: server: receiving ciphertext %d of %d: %w", i+1, k, err)
		}
		cts[i] = ct
		tally.Op(cost.OpSerialize, ct.Level(), 1)
	}
	return cts, nil
}

// addPlain adds the encoding of v (at ct's scale and level) to ct. It
// records the layout of v too (see plainCost).
func (s *Server) addPlain(tally *cost.Tally, ct *rlwe.Ciphertext, v []uint64) error {
	tally.Op(cost.OpShare, 0, int64(s.params.MaxSlots()))
	pt := bgv.NewPlaintext(s.params, ct.Level())
	pt.Scale = ct.Scale
	if err := s.ecd.Encode(v, pt); err != nil {
		return fmt.Errorf("exec: server: encoding: %w", err)
	}
	tally.Op(cost.OpEncode, ct.Level(), 1)
	if err := s.eval.Add(ct, pt, ct); err != nil {
		return fmt.Errorf("exec: server: adding: %w", err)
	}
	tally.Op(cost.OpAdd, ct.Level(), 1)
	return nil
}

// sendOutputs returns cts to the client through sp: add plus[i] (if any)
// minus a fresh uniform mask, flood, rescale, send. It returns the masks:
// the server's shares.
func (s *Server) sendOutputs(tally *cost.Tally, cts []*rlwe.Ciphertext, plus [][]uint64, sp sendPlan) ([][]uint64, error) {
	t := s.params.PlaintextModulus()
	slots := s.params.MaxSlots()
	fl, err := newFlooder()
	if err != nil {
		return nil, err
	}
	if s.inspect != nil {
		s.inspect(cts, sp.public())
	}
	bits := sp.floodInt()
	masks := make([][]uint64, len(cts))
	for i, ct := range cts {
		if ct.Level() != sp.from {
			return nil, fmt.Errorf("exec: server: ciphertext at level %d, planned %d", ct.Level(), sp.from)
		}
		r := fl.mask(t, slots)
		masks[i] = r
		v := make([]uint64, slots)
		for j := range v {
			var p uint64
			if plus != nil && j < len(plus[i]) {
				p = plus[i][j]
			}
			if p >= r[j] {
				v[j] = p - r[j]
			} else {
				v[j] = p + t - r[j]
			}
		}
		if err := s.addPlain(tally, ct, v); err != nil {
			return nil, err
		}
		z := bgv.NewCiphertext(s.params, 1, ct.Level())
		if err := s.enc.EncryptZero(z); err != nil {
			return nil, fmt.Errorf("exec: server: encrypting zero: %w", err)
		}
		if err := fl.flood(s.params.RingQ(), z, bits); err != nil {
			return nil, err
		}
		tally.Op(cost.OpShare, 0, floodOps(s.params.LogN(), ct.Level(), bits))
		*z.MetaData = *ct.MetaData
		tally.Op(cost.OpEncrypt, ct.Level(), 1)
		if err := s.eval.Add(ct, z, ct); err != nil {
			return nil, fmt.Errorf("exec: server: flooding: %w", err)
		}
		tally.Op(cost.OpAdd, ct.Level(), 1)
		for ct.Level() > sp.to {
			lvl := ct.Level()
			if err := s.eval.Rescale(ct, ct); err != nil {
				return nil, fmt.Errorf("exec: server: rescaling: %w", err)
			}
			tally.Op(cost.OpRescale, lvl, 1)
		}
		tally.Op(cost.OpSerialize, ct.Level(), 1)
		if err := net.SendObject(s.conn, ct); err != nil {
			return nil, fmt.Errorf("exec: server: sending: %w", err)
		}
	}
	return masks, nil
}

// recvOutputs receives k ciphertexts and decrypts them.
func (c *Client) recvOutputs(tally *cost.Tally, k int) ([][]uint64, error) {
	out := make([][]uint64, k)
	for i := range out {
		ct, err := recvCiphertext(c.params, c.conn)
		if err == nil && ct.Degree() != 1 {
			err = fmt.Errorf("exec: a ciphertext of degree %d, want 1", ct.Degree())
		}
		if err != nil {
			return nil, fmt.Errorf("exec: client: receiving ciphertext %d of %d: %w", i+1, k, err)
		}
		tally.Op(cost.OpSerialize, ct.Level(), 1)
		pt := c.dec.DecryptNew(ct)
		tally.Op(cost.OpDecrypt, ct.Level(), 1)
		out[i] = make([]uint64, c.params.MaxSlots())
		if err := c.ecd.Decode(pt, out[i]); err != nil {
			return nil, fmt.Errorf("exec: client: decoding: %w", err)
		}
		tally.Op(cost.OpEncode, ct.Level(), 1)
	}
	return out, nil
}

// chunk splits v into slot vectors of n elements (the last one zero-padded).
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
