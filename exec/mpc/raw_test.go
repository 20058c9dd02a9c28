package mpc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cgsim/cgsim/cost"
)

// TestRawOutputs: the outputs left for their consumer to truncate
// (Softmax.Raw: the probabilities with SoftmaxRawBits more fractional
// bits; SwiGLU.Raw: f more) and the norms' inputs with 2f extra bits
// (a residual stream after SwiGLU.Raw, MaxNormScale) decode, at their
// fractional bits, to the float results within the truncated forms'
// tolerances, with Run's counters equal to Estimate's and one round fewer
// than the truncated forms (the norm: the same rounds). A ring that
// cannot hold them refuses them: bgv-n13's (41-bit t) the raw
// probabilities and the norm's 2f, whose residual streams would pass the
// truncation's range.
func TestRawOutputs(t *testing.T) {
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		cfg.Nonlinear = LUT
		r := cfg.Ring
		rng := rand.New(rand.NewPCG(3, 33))
		for _, worth := range []int{0, -1} { // with selects, and without (a round worth nothing)
			cfg := cfg
			cfg.RoundCompares = worth
			t.Run(fmt.Sprintf("%s/softmax/worth=%d", preset, worth), func(t *testing.T) {
				const rows, cols = 3, 40
				v, x := randomPair(t, r, rng, rows*cols, -12, 6)
				raw := Softmax{Config: cfg, Rows: rows, Cols: cols, Raw: true}
				if cfg.SoftmaxRawBits() == 0 {
					if _, err := raw.Run(NewSession(cfg, TrustedDealer{}), x); err == nil {
						t.Fatal("raw probabilities in a ring that cannot hold them: no error")
					}
					return
				}
				var out Pair
				est := raw.Estimate()
				got := measure(t, cfg, func(s *Session) (err error) { out, err = raw.Run(s, x); return err })
				checkContract(t, est, got, Softmax{Config: cfg, Rows: rows, Cols: cols}.Estimate().Rounds-1)
				vals := openAt(t, r, out, r.frac+cfg.SoftmaxRawBits())
				for i := range rows {
					row, mx, sum := v[i*cols:(i+1)*cols], math.Inf(-1), 0.0
					for _, a := range row {
						mx = math.Max(mx, a)
					}
					for _, a := range row {
						sum += math.Exp(a - mx)
					}
					for j, a := range row {
						if d := math.Abs(vals[i*cols+j] - math.Exp(a-mx)/sum); d > 3e-4 {
							t.Errorf("row %d entry %d: off by %.2g", i, j, d)
						}
					}
				}
			})
		}
		t.Run(fmt.Sprintf("%s/swiglu", preset), func(t *testing.T) {
			const n = 50
			g, gp := randomPair(t, r, rng, n, -10, 10)
			u, up := randomPair(t, r, rng, n, -4, 4)
			raw := SwiGLU{Config: cfg, N: n, Raw: true}
			var out Pair
			est := raw.Estimate()
			got := measure(t, cfg, func(s *Session) (err error) { out, err = raw.Run(s, gp, up); return err })
			checkContract(t, est, got, SwiGLU{Config: cfg, N: n}.Estimate().Rounds-1)
			for i, y := range openAt(t, r, out, 2*r.frac) {
				want := g[i] / (1 + math.Exp(-g[i])) * u[i]
				if d := math.Abs(y - want); d > 3e-3 {
					t.Errorf("SiLU(%.3f)·%.3f: %.5f, want %.5f", g[i], u[i], y, want)
				}
			}
		})
		t.Run(fmt.Sprintf("%s/rmsnorm-2f", preset), func(t *testing.T) {
			const dim = 64
			norm := RMSNorm{Config: cfg, Rows: 1, Dim: dim, Eps: 1e-5, Scale: 2 * r.frac}
			v := make([]float64, dim)
			enc := make([]uint64, dim)
			for i := range v {
				v[i] = -3 + 6*rng.Float64()
				enc[i] = r.encodeAt(v[i], 3*r.frac)
			}
			x, err := r.SplitElements(enc)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MaxNormScale() < 2*r.frac {
				if _, err := norm.Run(NewSession(cfg, TrustedDealer{}), x); err == nil {
					t.Fatal("a norm of rows with 2f extra bits in a ring that cannot hold them: no error")
				}
				return
			}
			var out Pair
			est := norm.Estimate()
			got := measure(t, cfg, func(s *Session) (err error) { out, err = norm.Run(s, x); return err })
			checkContract(t, est, got, RMSNorm{Config: cfg, Rows: 1, Dim: dim, Eps: 1e-5, Scale: r.frac}.Estimate().Rounds)
			var ms float64
			for _, a := range v {
				ms += a * a / dim
			}
			for i, y := range openAt(t, r, out, r.frac) {
				if d := math.Abs(y - v[i]/math.Sqrt(ms+1e-5)); d > 1e-3 {
					t.Errorf("element %d: off by %.2g", i, d)
				}
			}
		})
	}
}

// checkContract fails t if Run's counters differ from Estimate's or its
// rounds from rounds.
func checkContract(t *testing.T, est, got cost.Cost, rounds int64) {
	t.Helper()
	got.OfflineBytes, got.OfflineSeconds = est.OfflineBytes, est.OfflineSeconds
	if d := cost.CounterDiff(got, est); len(d) > 0 {
		t.Errorf("Run's counters differ from Estimate's: %v", d)
	}
	if got.Rounds != rounds {
		t.Errorf("%d rounds, want %d", got.Rounds, rounds)
	}
}

// openAt opens p and decodes its elements at bits fractional bits.
func openAt(t *testing.T, r *Ring, p Pair, bits int) []float64 {
	t.Helper()
	v, err := r.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(v))
	for i, e := range v {
		a := float64(e)
		if e > r.half {
			a = -float64(r.t - e)
		}
		out[i] = math.Ldexp(a, -bits)
	}
	return out
}
