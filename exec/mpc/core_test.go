package mpc

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestCoreSteps(t *testing.T) {
	for _, prime := range testPrimes(t) {
		cfg := testConfig(t, prime, 16)
		r := cfg.Ring
		s := NewSession(cfg, TrustedDealer{})
		n := 200
		rng := rand.New(rand.NewPCG(1, 2))
		xs, ys := make([]float64, n), make([]float64, n)
		for i := range xs {
			xs[i] = rng.NormFloat64() * 20
			ys[i] = rng.NormFloat64() * 20
		}
		xs[0], xs[1] = 0, -1.0/65536
		x, _ := r.Split(xs)
		y, _ := r.Split(ys)
		need := Need{Triples: n, Truncs: n}.Add(cfg.signNeed(n))
		if err := s.Preprocess(need); err != nil {
			t.Fatal(err)
		}
		z, err := s.mul(fromPair(x), fromPair(y))
		if err != nil {
			t.Fatal(err)
		}
		z, err = s.trunc(z)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := r.Reveal(z.pair(r))
		for i := range got {
			want := r.Decode(r.Encode(xs[i])) * r.Decode(r.Encode(ys[i])) // the shared values
			if math.Abs(got[i]-want) > 2.0/65536 {                        // truncation: within 2 ulp
				t.Errorf("mul %d: %v·%v = %v, got %v", i, xs[i], ys[i], want, got[i])
			}
		}
		sg, err := s.sign(fromPair(x))
		if err != nil {
			t.Fatal(err)
		}
		bits, _ := r.Open(sg.pair(r))
		for i, b := range bits {
			want := uint64(0)
			if r.Encode(xs[i]) <= r.half {
				want = 1
			}
			if b != want {
				t.Errorf("sign %d of %v: got %d want %d", i, xs[i], b, want)
			}
		}
		if left := s.Left(); left != (Need{}) {
			t.Errorf("left %v", left)
		}
		t.Logf("%d: %+v", prime, s.Cost())
	}
}
