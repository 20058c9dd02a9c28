package mpc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cgsim/cgsim/model"
)

// accuracyCase is one protocol on an input range taken from the models:
// stories260K (TestStories260KRanges: softmax inputs after the maximum
// down to -132, SiLU inputs in [-4.5, 4.9], mean x² + eps in
// [0.033, 5.5], logits in [-19, 22]) and a GPT-2-shaped random model
// (TestGPT2Ranges: GELU inputs in [-3.9, 4.8], softmax inputs in
// [-3.6, 3.0], LayerNorm variances in [0.0012, 2.8], rows of width 768),
// with margins. The last case has the variance of GPT-2's first
// LayerNorm (uniform on ±0.06: 0.0012).
type accuracyCase struct {
	name, inputs string
	n            int
	lo, hi       float64
	run          func(s *Session, cfg Config, x Pair, n int) (Pair, error)
	ref          func(x []float64) []float64
	bound        float64 // the test fails above this max abs error
}

// rawShares are shares of x with f more fractional bits, as an
// untruncated product holds them: x·2^f plus bits below (each element
// plus less than one unit of x's last place; the references ignore it).
func rawShares(cfg Config, x Pair) Pair {
	r := cfg.Ring
	rng := rand.New(rand.NewPCG(3, 5))
	up := r.FromInt(1 << r.frac)
	out := Pair{{Mod: x[0].Mod, V: make([]uint64, x.Len())}, {Mod: x[1].Mod, V: make([]uint64, x.Len())}}
	for i := range out[0].V {
		out[0].V[i] = r.Add(r.Mul(x[0].V[i], up), rng.Uint64N(1<<r.frac))
		out[1].V[i] = r.Mul(x[1].V[i], up)
	}
	return out
}

func elementwise(f func(float64) float64) func([]float64) []float64 {
	return func(x []float64) []float64 {
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = f(v)
		}
		return out
	}
}

func accuracyCases() []accuracyCase {
	return []accuracyCase{
		{"trunc(x·y)", "x·y, x,y ∈ [-8, 8]", 1000, -8, 8,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				return Mul{Config: cfg, N: n, Fixed: true}.Run(s, x, x)
			}, elementwise(func(v float64) float64 { return v * v }), 3e-5},
		{"trunc(x·y) raw", "x·y, y at 2f bits, x,y ∈ [-8, 8]", 1000, -8, 8,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				return Mul{Config: cfg, N: n, Fixed: true, Scale: cfg.Ring.Frac()}.Run(s, x, rawShares(cfg, x))
			}, elementwise(func(v float64) float64 { return v * v }), 2.1e-3}, // y's bits below f (the reference ignores them) times |x| <= 8: 2e-3 at f = 12
		{"exp", "[-20, 0]", 1000, -20, 0,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) { return Exp{Config: cfg, N: n}.Run(s, x) },
			elementwise(math.Exp), 2e-3},
		{"reciprocal", "[1, 1024)", 1000, 1, 1023,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				return Reciprocal{Config: cfg, N: n, Lo: 0, Hi: 10}.Run(s, x)
			}, elementwise(func(v float64) float64 { return 1 / v }), 5e-5},
		{"rsqrt", "[0.01, 64)", 1000, 0.01, 64,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				return Rsqrt{Config: cfg, N: n, Lo: -7, Hi: 6}.Run(s, x)
			}, elementwise(func(v float64) float64 { return 1 / math.Sqrt(v) }), 5e-4},
		{"silu", "[-8, 8]", 1000, -8, 8,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) { return SiLU{Config: cfg, N: n}.Run(s, x) },
			elementwise(model.SiLU), 1e-3},
		{"gelu", "[-8, 8]", 1000, -8, 8,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) { return GELU{Config: cfg, N: n}.Run(s, x) },
			elementwise(model.GELU), 1e-3},
		{"silu lut", "[-20, 20]", 1000, -20, 20,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				cfg.Nonlinear = LUT
				return SiLU{Config: cfg, N: n}.Run(s, x)
			}, elementwise(model.SiLU), 1e-3},
		{"gelu lut", "[-10, 10]", 1000, -10, 10,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				cfg.Nonlinear = LUT
				return GELU{Config: cfg, N: n}.Run(s, x)
			}, elementwise(model.GELU), 1e-3},
		{"silu lut raw", "[-20, 20] at 2f bits", 1000, -20, 20,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				cfg.Nonlinear = LUT
				return SiLU{Config: cfg, N: n, Scale: cfg.RawScale()}.Run(s, rawShares(cfg, x))
			}, elementwise(model.SiLU), 1e-3},
		{"gelu lut raw", "[-10, 10] at 2f bits", 1000, -10, 10,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				cfg.Nonlinear = LUT
				return GELU{Config: cfg, N: n, Scale: cfg.RawScale()}.Run(s, rawShares(cfg, x))
			}, elementwise(model.GELU), 1e-3},
		{"swiglu lut", "x·silu(x), [-8, 8]", 1000, -8, 8,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				cfg.Nonlinear = LUT
				return SwiGLU{Config: cfg, N: n}.Run(s, x, x)
			}, elementwise(func(v float64) float64 { return v * model.SiLU(v) }), 8e-3},
		{"swiglu lut raw", "x·silu(x), [-8, 8] at 2f bits", 1000, -8, 8,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				cfg.Nonlinear = LUT
				raw := rawShares(cfg, x)
				return SwiGLU{Config: cfg, N: n, Scale: cfg.RawScale()}.Run(s, raw, raw)
			}, elementwise(func(v float64) float64 { return v * model.SiLU(v) }), 8e-3},
		{"softmax", "8 rows x 128, [-20, 20]", 1024, -20, 20,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				return Softmax{Config: cfg, Rows: 8, Cols: n / 8}.Run(s, x)
			}, softmaxRows(128), 1e-3},
		{"softmax lut", "8 rows x 128, [-20, 20]", 1024, -20, 20,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				cfg.Nonlinear = LUT
				return Softmax{Config: cfg, Rows: 8, Cols: n / 8}.Run(s, x)
			}, softmaxRows(128), 1e-3},
		{"softmax lut raw", "8 rows x 128, at 2f bits", 1024, -20, 20,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				cfg.Nonlinear = LUT
				return Softmax{Config: cfg, Rows: 8, Cols: n / 8, Scale: cfg.RawScale()}.Run(s, rawShares(cfg, x))
			}, softmaxRows(128), 1e-3},
		{"softmax causal", "4 heads of 16 queries x 16 keys, [-20, 20]", 1024, -20, 20,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				return Softmax{Config: cfg, Rows: 64, Cols: 16, Causal: true, Heads: 4}.Run(s, x)
			}, func(x []float64) []float64 {
				// Query i of a head sees keys 0..i; the rest come out 0.
				out := make([]float64, len(x))
				for row := 0; row < 64; row++ {
					i := row % 16
					copy(out[row*16:], x[row*16:row*16+i+1])
					model.Softmax(out[row*16 : row*16+i+1])
				}
				return out
			}, 1e-3},
		{"rmsnorm", "4 rows x 64, [-3, 3]", 256, -3, 3,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				return RMSNorm{Config: cfg, Rows: 4, Dim: n / 4, Eps: 1e-5}.Run(s, x)
			}, rmsNormRows(64), 5e-4},
		{"rmsnorm lut", "4 rows x 64, [-3, 3]", 256, -3, 3,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				cfg.Nonlinear = LUT
				return RMSNorm{Config: cfg, Rows: 4, Dim: n / 4, Eps: 1e-5}.Run(s, x)
			}, rmsNormRows(64), 5e-4},
		{"rmsnorm lut raw", "4 rows x 64, at 2f bits", 256, -3, 3,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				cfg.Nonlinear = LUT
				return RMSNorm{Config: cfg, Rows: 4, Dim: n / 4, Eps: 1e-5, Scale: cfg.RawScale()}.Run(s, rawShares(cfg, x))
			}, rmsNormRows(64), 5e-4},
		{"layernorm lut raw", "2 rows x 64, at 2f bits", 128, -4, 6,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				cfg.Nonlinear = LUT
				return LayerNorm{Config: cfg, Rows: 2, Dim: n / 2, Eps: 1e-5, Scale: cfg.RawScale()}.Run(s, rawShares(cfg, x))
			}, layerNormRows(64), 5e-4},
		{"layernorm lut", "2 rows x 768, [-4, 6]", 1536, -4, 6,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				cfg.Nonlinear = LUT
				return LayerNorm{Config: cfg, Rows: 2, Dim: n / 2, Eps: 1e-5}.Run(s, x)
			}, layerNormRows(768), 5e-4},
		{"layernorm lut", "2 rows x 768, ±0.06", 1536, -0.06, 0.06,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				cfg.Nonlinear = LUT
				return LayerNorm{Config: cfg, Rows: 2, Dim: n / 2, Eps: 1e-5}.Run(s, x)
			}, layerNormRows(768), 3e-2},
		{"layernorm", "2 rows x 768, [-4, 6]", 1536, -4, 6,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				return LayerNorm{Config: cfg, Rows: 2, Dim: n / 2, Eps: 1e-5}.Run(s, x)
			}, layerNormRows(768), 5e-4},
		{"layernorm", "2 rows x 768, ±0.06", 1536, -0.06, 0.06,
			func(s *Session, cfg Config, x Pair, n int) (Pair, error) {
				return LayerNorm{Config: cfg, Rows: 2, Dim: n / 2, Eps: 1e-5}.Run(s, x)
			}, layerNormRows(768), 3e-2}, // the mean is held with f bits, within 4·2^-f: at f = 12 that is 0.028 std (0.035)
	}
}

// softmaxRows is the float64 softmax of rows of width values.
func softmaxRows(width int) func(x []float64) []float64 {
	return func(x []float64) []float64 {
		out := append([]float64(nil), x...)
		for i := 0; i < len(out); i += width {
			model.Softmax(out[i : i+width])
		}
		return out
	}
}

// layerNormRows and rmsNormRows are the float64 references of the norms
// over rows of width values.
func layerNormRows(width int) func(x []float64) []float64 {
	return func(x []float64) []float64 {
		out := make([]float64, len(x))
		for i := 0; i < len(x); i += width {
			model.LayerNorm(out[i:i+width], x[i:i+width], ones(width), make([]float64, width), 1e-5)
		}
		return out
	}
}

func rmsNormRows(width int) func(x []float64) []float64 {
	return func(x []float64) []float64 {
		out := make([]float64, len(x))
		for i := 0; i < len(x); i += width {
			model.RMSNorm(out[i:i+width], x[i:i+width], ones(width), 1e-5)
		}
		return out
	}
}

func ones(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// TestAccuracyTable measures max and mean absolute error against float64
// for every protocol, on both presets' fixed point, and prints the
// table of the package documentation (go test -run TestAccuracyTable -v).
func TestAccuracyTable(t *testing.T) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-16s %-44s %8s %12s %12s\n", "protocol", "inputs", "t", "max abs err", "mean abs err")
	presets := testPresets
	if testing.Short() {
		presets = presets[:1] // bgv-n13, the tighter one
	}
	for _, preset := range presets {
		cfg := testConfig(t, preset)
		for _, c := range accuracyCases() {
			rng := rand.New(rand.NewPCG(42, uint64(c.n)))
			xs, x := randomPair(t, cfg.Ring, rng, c.n, c.lo, c.hi)
			s := NewSession(cfg, TrustedDealer{})
			out, err := c.run(s, cfg, x, c.n)
			s.Close()
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			got, _ := cfg.Ring.Reveal(out)
			want := c.ref(xs)
			var worst, total float64
			for i := range got {
				e := math.Abs(got[i] - want[i])
				worst = math.Max(worst, e)
				total += e
			}
			fmt.Fprintf(&b, "%-16s %-44s %5d-bit %12.2e %12.2e\n", c.name, c.inputs, cfg.Ring.Bits(), worst, total/float64(len(got)))
			// The bound: the approximation's error plus 3 units in the
			// last place of the output (rounding, truncation).
			if bound := c.bound + 3*math.Ldexp(1, -cfg.Ring.Frac()); worst > bound {
				t.Errorf("%s (t %d-bit): max abs error %.3g > %.3g", c.name, cfg.Ring.Bits(), worst, bound)
			}
		}
	}
	t.Log(b.String())
}
