package mpc

import (
	"testing"

	"github.com/cgsim/cgsim/cost"
)

// testProfile prices every operation at one microsecond: the tests compare
// counters, never seconds.
func testProfile() *cost.Profile {
	p := &cost.Profile{Params: "mpc-test", Scheme: "BGV", LogN: 13, MaxLevel: 0, Seconds: map[cost.Op][]float64{}}
	for _, op := range cost.Ops() {
		p.Seconds[op] = []float64{1e-6}
	}
	return p
}

// testPrimes are the moduli the tests loop over: a 50-bit and a 61-bit
// prime ≡ 1 mod 2^17 (SIMD-friendly for N up to 2^16), found by FindPrime.
func testPrimes(t testing.TB) []uint64 {
	var ps []uint64
	for _, b := range []int{50, 61} {
		p, err := FindPrime(b, 17)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

func testConfig(t testing.TB, prime uint64, frac int) Config {
	c, err := NewConfig(Params{T: prime, Frac: frac}, testProfile())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
