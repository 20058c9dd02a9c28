package params

import (
	"fmt"
	"math"
	"math/bits"
)

// MinAccumBits is the room for sums that Validate demands: at least
// 2^MinAccumBits products of two in-range values must add up without
// leaving the range where truncation is exact (see FixedPoint.Validate).
const MinAccumBits = 4

// truncSlackBits is the headroom the truncation protocol needs above the
// magnitude of the value it truncates (see FixedPoint.Validate): the shifted
// value lies in [0, 2^(ℓ+1)) and must stay below (t-1)/2.
const truncSlackBits = 2

// FixedPoint is the fixed-point encoding of real numbers modulo the plaintext
// modulus t, used for the additive shares and the BGV plaintexts of the
// hybrid protocol.
//
// A real x with |x| < 2^IntBits is represented by the integer
// X = round(x·2^FracBits), stored in [0, t) as X for X >= 0 and t + X for
// X < 0 (the centered, two's-complement-like convention). Decoding lifts
// v in [0, t) to (-t/2, t/2] and divides by 2^FracBits. Adding encodings adds
// the values; multiplying two encodings gives a value with 2·FracBits
// fractional bits, which the protocol then truncates by 2^FracBits.
//
// The zero value is not usable; Validate says why. A FixedPoint is a plain
// value and safe for concurrent use.
type FixedPoint struct {
	// FracBits is the number f of fractional bits: the resolution is 2^-f.
	FracBits int
	// IntBits bounds the values: they are assumed in (-2^IntBits, 2^IntBits).
	IntBits int
	// StatSecurity is the statistical security parameter κ, in bits, of the
	// protocols that hide a value behind a statistical gap: the noise
	// flooding of ciphertexts returned to the client and any statistically
	// masked opening. It must be at least MinStatSecurity (40) for a secure
	// preset. The truncation that Validate assumes uses a uniform mask and
	// spends none of it inside t.
	StatSecurity int
	// T is the plaintext modulus t, an odd prime for BGV presets.
	T uint64
}

// floorLog2 returns floor(log2 t) for t > 0.
func floorLog2(t uint64) int {
	return bits.Len64(t) - 1
}

// checkEncoding verifies what Encode and Decode need: an odd modulus t >= 3,
// non-negative bit counts, f + IntBits <= 62 (so that encodings fit an
// int64), and 2^(f+IntBits+1) <= t - 1 (so that every encoding, including a
// value that rounds up to ±2^(f+IntBits), lifts back uniquely).
func (fp FixedPoint) checkEncoding() error {
	if fp.T < 3 || fp.T%2 == 0 {
		return fmt.Errorf("params: fixed point: modulus t = %d must be odd and at least 3", fp.T)
	}
	if fp.FracBits < 0 || fp.IntBits < 0 {
		return fmt.Errorf("params: fixed point: FracBits = %d and IntBits = %d must be non-negative", fp.FracBits, fp.IntBits)
	}
	if fp.FracBits+fp.IntBits > 62 {
		return fmt.Errorf("params: fixed point: FracBits + IntBits = %d exceeds 62", fp.FracBits+fp.IntBits)
	}
	if fp.FracBits+fp.IntBits+1 > floorLog2(fp.T) {
		return fmt.Errorf("params: fixed point: FracBits + IntBits + 1 = %d bits do not fit below t (floor(log2 t) = %d)",
			fp.FracBits+fp.IntBits+1, floorLog2(fp.T))
	}
	return nil
}

// AccumBits returns the room left for sums: floor(log2 t) - 2 - 2·(f + IntBits).
// Up to 2^AccumBits products of two in-range values can be added before a
// truncation and the sum still truncates exactly (see Validate). It may be
// negative.
func (fp FixedPoint) AccumBits() int {
	return floorLog2(fp.T) - truncSlackBits - 2*(fp.FracBits+fp.IntBits)
}

// Validate checks that t leaves room for the arithmetic of the protocol.
//
// The condition. A product of two in-range values has magnitude below
// 2^(2f + 2·IntBits); a sum of 2^A such products stays below
// 2^(2f + 2·IntBits + A). The protocol (package exec/mpc, Trunc) truncates
// such a value z by 2^f with a dealer-assisted exact truncation: it opens
// c = z + 2^ℓ + r mod t for a uniform mask r in [0, t), which hides z
// perfectly, and corrects the wrap-around of c with the dealer's shared bit
// w_r = [r > (t-1)/2], which is exact when the shifted value z + 2^ℓ lies in
// [0, 2^(ℓ+1)) with 2^(ℓ+1) <= (t-1)/2; the result is floor(z/2^f) up to
// one unit in the last place, with no failure probability. That is
// ℓ + 2 <= floor(log2 t) with ℓ = 2f + 2·IntBits + A (the truncation slack is
// two bits). Validate demands this for A = MinAccumBits:
//
//	2·FracBits + 2·IntBits + MinAccumBits + 2 <= floor(log2 t).
//
// Why not probabilistic truncation. The cheaper truncations with a
// statistical gap (SecureML-style local truncation, or a mask r drawn from
// [0, 2^(ℓ+κ)) as in Catrina–Saxena) need ℓ + κ + 1 <= log2 t, so that the
// failure or leakage probability is at most 2^-κ. With κ = 40 and t < 2^61
// (lattigo's word size) that leaves ℓ <= 19, too few bits for a product of two
// values with 12 to 16 fractional bits. StatSecurity is therefore spent on
// noise flooding, not inside t.
//
// Validate also checks what Encode needs (see checkEncoding) and that
// StatSecurity is not negative. It does not check StatSecurity >= 40; that
// is a property of secure presets, checked by Preset.CheckSecurity.
func (fp FixedPoint) Validate() error {
	if err := fp.checkEncoding(); err != nil {
		return err
	}
	if fp.StatSecurity < 0 {
		return fmt.Errorf("params: fixed point: StatSecurity = %d must be non-negative", fp.StatSecurity)
	}
	need := 2*fp.FracBits + 2*fp.IntBits + MinAccumBits + truncSlackBits
	if have := floorLog2(fp.T); need > have {
		return fmt.Errorf("params: fixed point: 2·f + 2·IntBits + %d (sums) + %d (truncation) = %d bits exceed floor(log2 t) = %d (f = %d, IntBits = %d)",
			MinAccumBits, truncSlackBits, need, have, fp.FracBits, fp.IntBits)
	}
	return nil
}

// Scale returns 2^FracBits, the factor between a value and its encoding.
func (fp FixedPoint) Scale() float64 {
	return math.Ldexp(1, fp.FracBits)
}

// Encode returns the encoding of x modulo t: round(x·2^FracBits), rounding
// half away from zero, mapped to [0, t) with negative values as t + X. It
// returns an error if x is not finite or not in (-2^IntBits, 2^IntBits), or if
// the FixedPoint cannot encode: t must be odd and at least 3, FracBits and
// IntBits non-negative with FracBits + IntBits + 1 <= min(63, floor(log2 t)).
// Encode does not demand the room for products that Validate checks.
func (fp FixedPoint) Encode(x float64) (uint64, error) {
	if err := fp.checkEncoding(); err != nil {
		return 0, err
	}
	v, err := fp.encode(x)
	if err != nil {
		return 0, fmt.Errorf("params: fixed point: %w", err)
	}
	return v, nil
}

// encode is Encode without the check of fp; its errors have no prefix.
func (fp FixedPoint) encode(x float64) (uint64, error) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("cannot encode %v", x)
	}
	limit := math.Ldexp(1, fp.IntBits)
	if !(x > -limit && x < limit) {
		return 0, fmt.Errorf("%g is out of range (-2^%d, 2^%d)", x, fp.IntBits, fp.IntBits)
	}
	// |x·2^f| < 2^(f+IntBits) <= 2^62: the conversion to int64 is exact.
	v := int64(math.Round(math.Ldexp(x, fp.FracBits)))
	if v < 0 {
		return fp.T - uint64(-v), nil
	}
	return uint64(v), nil
}

// Decode returns the real value of an encoding: v is reduced modulo t,
// lifted to the centered range (-t/2, t/2] and divided by 2^FracBits. Any
// v is accepted. Decode returns NaN if the modulus is not usable (t < 3 or
// even), since it has no error result.
func (fp FixedPoint) Decode(v uint64) float64 {
	if fp.T < 3 || fp.T%2 == 0 {
		return math.NaN()
	}
	return fp.decode(v)
}

// decode is Decode without the check of fp.
func (fp FixedPoint) decode(v uint64) float64 {
	v %= fp.T
	var x float64
	if v > fp.T/2 {
		x = -float64(fp.T - v)
	} else {
		x = float64(v)
	}
	return math.Ldexp(x, -fp.FracBits)
}

// EncodeVec encodes each value of xs (see Encode). It returns an error naming
// the index of the first value that cannot be encoded.
func (fp FixedPoint) EncodeVec(xs []float64) ([]uint64, error) {
	if err := fp.checkEncoding(); err != nil {
		return nil, err
	}
	out := make([]uint64, len(xs))
	for i, x := range xs {
		v, err := fp.encode(x)
		if err != nil {
			return nil, fmt.Errorf("params: fixed point: index %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// DecodeVec decodes each value of vs (see Decode).
func (fp FixedPoint) DecodeVec(vs []uint64) []float64 {
	out := make([]float64, len(vs))
	usable := fp.T >= 3 && fp.T%2 == 1
	for i, v := range vs {
		if usable {
			out[i] = fp.decode(v)
		} else {
			out[i] = math.NaN()
		}
	}
	return out
}
