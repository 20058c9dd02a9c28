package params

import (
	"math"
	"math/bits"
	"strings"
	"testing"
)

// testFP is the fixed point of the t ≈ 2^59 presets: f = 14, values in
// (-4096, 4096).
var testFP = fpLarge

func TestFixedPointRoundTrip(t *testing.T) {
	fp := testFP
	ulp := 1 / fp.Scale()            // 2^-14
	max := math.Ldexp(1, fp.IntBits) // 4096, excluded
	for _, c := range []struct {
		name    string
		x       float64
		want    uint64 // expected encoding; checked if wantSet
		wantSet bool
		tol     float64 // |Decode(Encode(x)) - x| bound
		bad     bool    // Encode must fail
	}{
		{name: "zero", x: 0, want: 0, wantSet: true},
		{name: "one", x: 1, want: 1 << 14, wantSet: true},
		{name: "minus-one", x: -1, want: tLarge - 1<<14, wantSet: true},
		{name: "ulp", x: ulp, want: 1, wantSet: true},
		{name: "minus-ulp", x: -ulp, want: tLarge - 1, wantSet: true},
		// Half an ulp rounds away from zero.
		{name: "half-ulp", x: ulp / 2, want: 1, wantSet: true, tol: ulp / 2},
		{name: "minus-half-ulp", x: -ulp / 2, want: tLarge - 1, wantSet: true, tol: ulp / 2},
		{name: "quarter-ulp", x: ulp / 4, want: 0, wantSet: true, tol: ulp / 4},
		{name: "pi", x: math.Pi, tol: ulp / 2},
		{name: "minus-e", x: -math.E, tol: ulp / 2},
		{name: "small", x: 1e-9, want: 0, wantSet: true, tol: 1e-9},
		{name: "largest-exact", x: max - ulp, want: 1<<26 - 1, wantSet: true},
		{name: "smallest-exact", x: -(max - ulp), want: tLarge - (1<<26 - 1), wantSet: true},
		// Just below the bound rounds up to 2^(f+IntBits), still decodable.
		{name: "just-below-bound", x: max - ulp/4, want: 1 << 26, wantSet: true, tol: ulp / 4},
		{name: "bound", x: max, bad: true},
		{name: "minus-bound", x: -max, bad: true},
		{name: "far-out", x: 1e30, bad: true},
		{name: "nan", x: math.NaN(), bad: true},
		{name: "inf", x: math.Inf(1), bad: true},
		{name: "minus-inf", x: math.Inf(-1), bad: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := fp.Encode(c.x)
			if c.bad {
				if err == nil {
					t.Fatalf("Encode(%v) = %d, want an error", c.x, v)
				}
				if !strings.HasPrefix(err.Error(), "params: ") {
					t.Errorf("error %q lacks the prefix \"params: \"", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Encode(%v): %v", c.x, err)
			}
			if v >= fp.T {
				t.Fatalf("Encode(%v) = %d >= t", c.x, v)
			}
			if c.wantSet && v != c.want {
				t.Errorf("Encode(%v) = %d, want %d", c.x, v, c.want)
			}
			if got := fp.Decode(v); math.Abs(got-c.x) > c.tol {
				t.Errorf("Decode(Encode(%v)) = %v, error %g > %g", c.x, got, math.Abs(got-c.x), c.tol)
			}
		})
	}
}

func TestFixedPointDecode(t *testing.T) {
	fp := testFP
	half := fp.T / 2 // (t-1)/2, the largest non-negative lift
	for _, c := range []struct {
		v    uint64
		want float64
	}{
		{0, 0},
		{1, 1.0 / 16384},
		{fp.T - 1, -1.0 / 16384},
		{half, float64(half) / 16384},
		{half + 1, -float64(half) / 16384},
		{fp.T, 0},         // reduced mod t
		{fp.T + 16384, 1}, // reduced mod t
		{math.MaxUint64, fp.Decode(math.MaxUint64 % fp.T)},
	} {
		if got := fp.Decode(c.v); got != c.want {
			t.Errorf("Decode(%d) = %v, want %v", c.v, got, c.want)
		}
	}
	if !math.IsNaN((FixedPoint{}).Decode(1)) || !math.IsNaN((FixedPoint{T: 10}).Decode(1)) {
		t.Error("Decode with an unusable modulus: want NaN")
	}
}

func TestFixedPointVec(t *testing.T) {
	fp := testFP
	xs := []float64{0, 1.5, -2.25, 100, -4095.5}
	vs, err := fp.EncodeVec(xs)
	if err != nil {
		t.Fatal(err)
	}
	got := fp.DecodeVec(vs)
	for i := range xs {
		// All values are multiples of 2^-14: the round trip is exact.
		if got[i] != xs[i] {
			t.Errorf("DecodeVec(EncodeVec(xs))[%d] = %v, want %v", i, got[i], xs[i])
		}
	}
	_, err = fp.EncodeVec([]float64{1, 2, 5000})
	if err == nil || !strings.Contains(err.Error(), "index 2") {
		t.Errorf("EncodeVec with an out-of-range value: error %v, want one naming index 2", err)
	}
	if vs, err := fp.EncodeVec(nil); err != nil || len(vs) != 0 {
		t.Errorf("EncodeVec(nil) = %v, %v", vs, err)
	}
	if _, err := (FixedPoint{}).EncodeVec([]float64{1}); err == nil {
		t.Error("EncodeVec with the zero FixedPoint: want an error")
	}
	for _, x := range (FixedPoint{}).DecodeVec([]uint64{1, 2}) {
		if !math.IsNaN(x) {
			t.Error("DecodeVec with the zero FixedPoint: want NaN")
		}
	}
}

// TestFixedPointProduct checks the convention that Validate relies on: the
// product of two encodings, reduced mod t, is the encoding of the product at
// 2f fractional bits, and sums of such products stay exact.
func TestFixedPointProduct(t *testing.T) {
	fp := testFP
	mulmod := func(a, b uint64) uint64 {
		hi, lo := bits.Mul64(a, b)
		_, r := bits.Div64(hi, lo, fp.T)
		return r
	}
	wide := FixedPoint{FracBits: 2 * fp.FracBits, IntBits: 2*fp.IntBits + fp.AccumBits(), T: fp.T}
	// The largest magnitudes allowed: 16 = 2^MinAccumBits products of values
	// near ±2^IntBits.
	a, b := -(4096 - 1.0/16384), 4096-1.0/16384
	va, _ := fp.Encode(a)
	vb, _ := fp.Encode(b)
	var acc uint64
	for i := 0; i < 1<<MinAccumBits; i++ {
		acc = (acc + mulmod(va, vb)) % fp.T
	}
	want := 16 * a * b
	if got := wide.Decode(acc); got != want {
		t.Errorf("sum of 16 products decodes to %v, want %v", got, want)
	}
}

func TestFixedPointValidate(t *testing.T) {
	for _, p := range All() {
		if p.Scheme != BGV {
			continue
		}
		t.Run(p.Name, func(t *testing.T) {
			fp := p.FixedPoint
			if err := fp.Validate(); err != nil {
				t.Fatal(err)
			}
			if fp.T != p.PlaintextModulus() {
				t.Errorf("FixedPoint.T = %d, preset t = %d", fp.T, p.PlaintextModulus())
			}
			// The brief's range for the stories260K accuracy target.
			if fp.FracBits < 12 || fp.FracBits > 16 {
				t.Errorf("FracBits = %d, want 12..16", fp.FracBits)
			}
			if fp.AccumBits() < MinAccumBits {
				t.Errorf("AccumBits = %d < %d", fp.AccumBits(), MinAccumBits)
			}
			if !p.Insecure && fp.StatSecurity < MinStatSecurity {
				t.Errorf("StatSecurity = %d < %d", fp.StatSecurity, MinStatSecurity)
			}
		})
	}
	for _, c := range []struct {
		name string
		fp   FixedPoint
		want string
	}{
		{"zero", FixedPoint{}, "odd"},
		{"even-t", FixedPoint{FracBits: 8, IntBits: 4, T: 1 << 40}, "odd"},
		{"negative-f", FixedPoint{FracBits: -1, IntBits: 4, T: tLarge}, "non-negative"},
		{"negative-stat", FixedPoint{FracBits: 8, IntBits: 4, StatSecurity: -1, T: tLarge}, "StatSecurity"},
		{"too-wide", FixedPoint{FracBits: 40, IntBits: 30, T: tLarge}, "exceeds 62"},
		{"no-lift-room", FixedPoint{FracBits: 40, IntBits: 19, T: tLarge}, "do not fit"},
		// 2·(14+12) + 4 + 2 = 58 fits floor(log2 t) = 59 ...
		// ... but one more integer bit does not: 60 > 59.
		{"no-product-room", FixedPoint{FracBits: 14, IntBits: 13, StatSecurity: 40, T: tLarge}, "exceed"},
		{"small-t", FixedPoint{FracBits: 14, IntBits: 12, StatSecurity: 40, T: tSmall}, "exceed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.fp.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "params: ") {
				t.Errorf("Validate() = %v, want an error with \"params: \" and %q", err, c.want)
			}
		})
	}
	// The largest range of the comment above is accepted.
	if err := (FixedPoint{FracBits: 14, IntBits: 12, StatSecurity: 40, T: tLarge}).Validate(); err != nil {
		t.Errorf("2(f+I)+MinAccumBits+2 = 58 <= floor(log2 t) = 59: %v", err)
	}
}
