package mpc

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"

	"github.com/cgsim/cgsim/params"
)

// Ring is Z_t with the fixed-point encoding of a params.FixedPoint: a
// real v is the element round(v·2^f) mod t, read back in the centered
// representation (elements above t/2 are negative). Besides the f
// fractional bits of the shares that enter and leave the protocols, a ring
// has a working precision W >= f (see [Ring.Work]) at which the protocols
// whose errors grow through repeated products (exp, reciprocal, the
// sigmoid) compute internally. A Ring is immutable and safe for concurrent
// use.
type Ring struct {
	fp    params.FixedPoint
	t     uint64
	frac  int
	work  int
	bits  int    // bit length of t
	width int    // bytes of one element on the wire: ceil(bits/8)
	half  uint64 // (t-1)/2: the largest non-negative element
}

// NewRing checks fp and returns its ring: fp must pass
// params.FixedPoint.Validate, and t must be a prime between 2^20 and 2^62.
func NewRing(fp params.FixedPoint) (*Ring, error) {
	if err := fp.Validate(); err != nil {
		return nil, fmt.Errorf("mpc: %w", err)
	}
	if fp.T < 1<<20 || fp.T >= 1<<62 {
		return nil, fmt.Errorf("mpc: modulus %d outside (2^20, 2^62)", fp.T)
	}
	if !new(big.Int).SetUint64(fp.T).ProbablyPrime(32) {
		return nil, fmt.Errorf("mpc: modulus %d is not prime", fp.T)
	}
	b := bits.Len64(fp.T)
	r := &Ring{fp: fp, t: fp.T, frac: fp.FracBits, bits: b, width: (b + 7) / 8, half: (fp.T - 1) / 2}
	r.work = workPrecision(r.TruncBound(), fp.FracBits, fp.IntBits)
	return r, nil
}

// workGuard is the number of bits the working precision adds to f when
// the modulus has room for it.
const workGuard = 6

// workPrecision is W = min(f + 6, ⌊(ℓ-2)/2⌋, ℓ - f - IntBits - 1), at least
// f: a product of two working values below 2 in magnitude (2W fractional
// bits) and the product of an in-range value of (-2^(IntBits+1),
// 2^(IntBits+1)) by a working constant below 1 (f + W bits) both stay
// below the truncation bound 2^ℓ.
func workPrecision(l, f, intBits int) int {
	return max(f, min(f+workGuard, (l-2)/2, l-f-intBits-1))
}

// FixedPoint returns the settings the ring was built from.
func (r *Ring) FixedPoint() params.FixedPoint { return r.fp }

// Work is the working precision W: the fractional bits of the internal
// values of exp, reciprocal and the sigmoid (f + 6 when t leaves room: 18
// bits for bgv-n13's 41-bit t with f = 12, 20 bits for the 60-bit t with
// f = 14).
func (r *Ring) Work() int { return r.work }

// Modulus is t.
func (r *Ring) Modulus() uint64 { return r.t }

// Frac is the number of fractional bits f.
func (r *Ring) Frac() int { return r.frac }

// Bits is the bit length of t.
func (r *Ring) Bits() int { return r.bits }

// ElementBytes is the size of one element on the wire.
func (r *Ring) ElementBytes() int { return r.width }

// TruncBound is ℓ such that truncation is exact up to its rounding for
// every |x| < 2^ℓ (x the integer representative, 2f fractional bits after
// a product): ℓ = bits(t) - 3.
func (r *Ring) TruncBound() int { return r.bits - 3 }

// Add returns a + b mod t.
func (r *Ring) Add(a, b uint64) uint64 {
	s := a + b
	if s >= r.t || s < a {
		s -= r.t
	}
	return s
}

// Sub returns a - b mod t.
func (r *Ring) Sub(a, b uint64) uint64 {
	if a >= b {
		return a - b
	}
	return a + (r.t - b)
}

// Neg returns -a mod t.
func (r *Ring) Neg(a uint64) uint64 {
	if a == 0 {
		return 0
	}
	return r.t - a
}

// Mul returns a·b mod t through a 128-bit product.
func (r *Ring) Mul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return bits.Rem64(hi, lo, r.t)
}

// FromInt returns the element of the signed integer v.
func (r *Ring) FromInt(v int64) uint64 {
	if v >= 0 {
		return uint64(v) % r.t
	}
	return r.Neg(uint64(-v) % r.t)
}

// ToInt returns the centered representative of a in (-t/2, t/2).
func (r *Ring) ToInt(a uint64) int64 {
	if a > r.half {
		return -int64(r.t - a)
	}
	return int64(a)
}

// Encode returns the fixed-point element of v: round(v·2^f) mod t. Values
// beyond the centered range saturate.
func (r *Ring) Encode(v float64) uint64 { return r.encodeAt(v, r.frac) }

// encodeAt is Encode with k fractional bits.
func (r *Ring) encodeAt(v float64, k int) uint64 {
	x := math.Round(math.Ldexp(v, k))
	lim := float64(r.half)
	switch {
	case math.IsNaN(x):
		x = 0
	case x > lim:
		x = lim
	case x < -lim:
		x = -lim
	}
	return r.FromInt(int64(x))
}

// Decode returns the real value of a fixed-point element.
func (r *Ring) Decode(a uint64) float64 { return r.decodeAt(a, r.frac) }

// decodeAt is Decode with k fractional bits.
func (r *Ring) decodeAt(a uint64, k int) float64 { return math.Ldexp(float64(r.ToInt(a)), -k) }

// Share is one party's additive share of a vector: the vector is the sum of
// the two parties' shares modulo Mod. Mod travels with the share so that a
// protocol can refuse a share of another ring.
type Share struct {
	Mod uint64
	V   []uint64
}

// Pair holds the client's (index 0) and the server's (index 1) shares of
// one vector. It exists for Run, which plays both parties; a party's own
// code only ever sees its index.
type Pair [2]Share

// Len is the length of the shared vector (of the client's share).
func (p Pair) Len() int { return len(p[0].V) }

// Client and Server name the two parties, as indices of a Pair.
const (
	Client = 0
	Server = 1
)

// Split encodes v in fixed point and splits it into two fresh shares with
// crypto-grade randomness: the client's share is uniform in Z_t.
func (r *Ring) Split(v []float64) (Pair, error) {
	x := make([]uint64, len(v))
	for i, f := range v {
		x[i] = r.Encode(f)
	}
	return r.SplitElements(x)
}

// SplitElements splits elements of Z_t into two fresh shares.
func (r *Ring) SplitElements(x []uint64) (Pair, error) {
	mask, err := r.uniformCrypto(len(x))
	if err != nil {
		return Pair{}, err
	}
	s := make([]uint64, len(x))
	for i := range x {
		s[i] = r.Sub(x[i], mask[i])
	}
	return Pair{{Mod: r.t, V: mask}, {Mod: r.t, V: s}}, nil
}

// Open adds the two shares: the elements of the shared vector. It checks
// moduli and lengths.
func (r *Ring) Open(p Pair) ([]uint64, error) {
	if err := r.check("open", p, p.Len()); err != nil {
		return nil, err
	}
	x := make([]uint64, p.Len())
	for i := range x {
		x[i] = r.Add(p[0].V[i], p[1].V[i])
	}
	return x, nil
}

// Reveal opens p and decodes it from fixed point.
func (r *Ring) Reveal(p Pair) ([]float64, error) {
	x, err := r.Open(p)
	if err != nil {
		return nil, err
	}
	v := make([]float64, len(x))
	for i, a := range x {
		v[i] = r.Decode(a)
	}
	return v, nil
}

// check verifies that both shares of p belong to this ring, have n
// elements and hold reduced elements.
func (r *Ring) check(what string, p Pair, n int) error {
	for party, s := range p {
		name := [2]string{"client", "server"}[party]
		if s.Mod != r.t {
			return fmt.Errorf("mpc: %s: %s share is modulo %d, the protocol works modulo %d", what, name, s.Mod, r.t)
		}
		if len(s.V) != n {
			return fmt.Errorf("mpc: %s: %s share has %d elements, want %d", what, name, len(s.V), n)
		}
		for i, a := range s.V {
			if a >= r.t {
				return fmt.Errorf("mpc: %s: %s share element %d is %d, not reduced modulo %d", what, name, i, a, r.t)
			}
		}
	}
	return nil
}

// uniformCrypto draws n uniform elements of Z_t from crypto/rand by
// rejection sampling (no modulo bias).
func (r *Ring) uniformCrypto(n int) ([]uint64, error) {
	out := make([]uint64, n)
	mask := uint64(1)<<r.bits - 1
	var buf [8 * 64]byte
	i := 0
	for i < n {
		if _, err := rand.Read(buf[:]); err != nil {
			return nil, fmt.Errorf("mpc: reading randomness: %w", err)
		}
		for j := 0; j < len(buf) && i < n; j += 8 {
			v := binary.LittleEndian.Uint64(buf[j:]) & mask
			if v < r.t {
				out[i] = v
				i++
			}
		}
	}
	return out, nil
}

// encode writes elements as fixed-width little-endian words of
// ElementBytes bytes.
func (r *Ring) encode(dst []byte, x []uint64) []byte {
	w := r.width
	dst = slices.Grow(dst, len(x)*w+8-w)
	at := len(dst)
	buf := dst[:at+len(x)*w+8-w]
	for _, a := range x {
		binary.LittleEndian.PutUint64(buf[at:], a) // the 8-w high bytes are zero, overwritten next
		at += w
	}
	return dst[:at]
}

// decode reads n elements written by encode, checking the length and that
// each element is reduced modulo t (a message from a party with another
// modulus fails here).
func (r *Ring) decode(msg []byte, n int) ([]uint64, error) {
	return r.decodeInto(nil, msg, n)
}

// decodeInto is decode appending the elements to dst; nil on error.
func (r *Ring) decodeInto(dst []uint64, msg []byte, n int) ([]uint64, error) {
	if len(msg) != n*r.width {
		return nil, fmt.Errorf("message of %d bytes, want %d elements of %d bytes", len(msg), n, r.width)
	}
	dst, x := extend(dst, n)
	var w [8]byte
	for i := range x {
		copy(w[:r.width], msg[i*r.width:])
		x[i] = binary.LittleEndian.Uint64(w[:])
		if x[i] >= r.t {
			return nil, fmt.Errorf("element %d is %d, not reduced modulo %d (mismatched moduli?)", i, x[i], r.t)
		}
	}
	return dst, nil
}
