package sim

import (
	"math"
	"strings"
	"testing"

	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
)

func TestGrowthExponent(t *testing.T) {
	xs := []float64{128, 192, 256, 384, 512}
	pow := func(a, k float64) []float64 {
		ys := make([]float64, len(xs))
		for i, x := range xs {
			ys[i] = a * math.Pow(x, k)
		}
		return ys
	}
	tests := []struct {
		name string
		ys   []float64
		want float64
	}{
		{"linear", pow(3, 1), 1},
		{"quadratic", pow(0.5, 2), 2},
		{"flat", pow(7, 0), 0},
		{"square root", pow(1, 0.5), 0.5},
		// A fixed part: 100 + x grows slower than x over this range. The
		// least-squares slope of ln(100 + x) on ln x, computed apart (numpy-free
		// Python, the textbook formula): 0.71445.
		{"fixed part", []float64{228, 292, 356, 484, 612}, 0.71445},
	}
	for _, tt := range tests {
		got, err := GrowthExponent(xs, tt.ys)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		// Exact power laws fit exactly but for rounding; the fixed part's
		// reference has four decimals.
		if math.Abs(got-tt.want) > 1e-4 {
			t.Errorf("%s: exponent %.6f, want %.4f", tt.name, got, tt.want)
		}
	}
	bad := []struct {
		xs, ys []float64
		want   string
	}{
		{[]float64{1, 2}, []float64{1}, "2 x and 1 y values"},
		{[]float64{1, 2}, []float64{1, 0}, "not positive"},
		{[]float64{-1, 2}, []float64{1, 1}, "not positive"},
		{[]float64{1, math.Inf(1)}, []float64{1, 1}, "not positive and finite"},
		{[]float64{1, 2}, []float64{1, math.NaN()}, "not positive"},
		{[]float64{4, 4}, []float64{1, 2}, "two distinct x"},
		{nil, nil, "two distinct x"},
	}
	for _, b := range bad {
		if _, err := GrowthExponent(b.xs, b.ys); err == nil || !strings.Contains(err.Error(), b.want) || !strings.HasPrefix(err.Error(), "sim: growth exponent: ") {
			t.Errorf("GrowthExponent(%v, %v) = %v, want an error about %q", b.xs, b.ys, err, b.want)
		}
	}
}

// TestPlanGrowth checks the plan's growth exponents for GPT-2 on a LAN from
// 128 to 1024 tokens: recompute re-runs the prefix, whose linear layers are
// linear in the context and whose attention is quadratic, so its exponent
// is above 1 (and at most 2); cryptogen's step is mostly the linear layers
// of one token, which do not grow, so its exponent is far below
// recompute's and below 1.
func TestPlanGrowth(t *testing.T) {
	rep, err := Plan(PlanOptions{
		EstimateOptions: EstimateOptions{Model: config(t, "gpt2"), Preset: preset(t, params.DefaultBGV), Network: net.LAN},
		Contexts:        PlanContexts(128, 1024),
	})
	if err != nil {
		t.Fatal(err)
	}
	cg, err := rep.Growth(Cryptogen)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rep.Growth(Recompute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gpt2 128..1024 tokens: seconds per token grow as context^%.3f (cryptogen), context^%.3f (recompute)", cg, rc)
	if !(cg >= 0 && cg < 1) || !(rc > 1 && rc <= 2) || rc < cg+0.5 {
		t.Errorf("growth exponents: cryptogen %.3f, want in [0, 1); recompute %.3f, want in (1, 2] and well above cryptogen's", cg, rc)
	}
	// A strategy with no costed point has no exponent.
	none := &PlanReport{Model: "m", Points: []PlanPoint{{Context: 128, Errors: map[Strategy]string{Cryptogen: "x"}}, {Context: 256, Errors: map[Strategy]string{Cryptogen: "x"}}}}
	if _, err := none.Growth(Cryptogen); err == nil || !strings.HasPrefix(err.Error(), "sim: growth exponent of cryptogen in the plan of m: ") {
		t.Errorf("growth without points: %v", err)
	}
}
