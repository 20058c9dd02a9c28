package exec

import (
	"math"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
	"github.com/cgsim/cgsim/params"
)

// TestProfileMismatch: every checked constructor returns an error, never
// panics, for a nil profile or one of another ring or scheme.
func TestProfileMismatch(t *testing.T) {
	e := hetest.ForTest(t, "bgv-test-insecure")
	p := e.Params
	other, err := cost.Default("bgv-n13") // log N 13, the parameters 11
	if err != nil {
		t.Fatal(err)
	}
	ckks := *e.Profile
	ckks.Scheme = "CKKS"
	short := *e.Profile
	short.MaxLevel = p.MaxLevel() - 1
	sh := AttentionShape{Heads: 2, KVHeads: 1, HeadDim: 8, Context: 4}
	for name, prof := range map[string]*cost.Profile{"nil": nil, "other ring": other, "other scheme": &ckks, "fewer levels": &short} {
		ctors := map[string]func() error{
			"Linear":        func() error { _, err := NewLinear(p, prof, 8, 8, 1, Decode); return err },
			"Embedding":     func() error { _, err := NewEmbedding(p, prof, 16, 8); return err },
			"H2S":           func() error { _, err := NewH2S(p, prof, 8, 0, NewNoiseModel(p).FreshSK()); return err },
			"C2S":           func() error { pl := Planner{Params: p, Profile: prof}; _, err := pl.C2S(8, 0); return err },
			"DecodeScores":  func() error { _, err := NewDecodeScores(p, prof, sh); return err },
			"DecodeValues":  func() error { _, err := NewDecodeValues(p, prof, sh); return err },
			"PrefillScores": func() error { _, err := NewPrefillScores(p, prof, sh); return err },
			"PrefillValues": func() error { _, err := NewPrefillValues(p, prof, sh); return err },
			"Planner":       func() error { _, err := NewPlanner(p, prof); return err },
		}
		for c, f := range ctors {
			if err := f(); err == nil {
				t.Errorf("%s with a %s profile: no error", c, name)
			}
		}
	}
	if _, err := NewPlanner(p, e.Profile); err != nil {
		t.Fatalf("the preset's own profile: %v", err)
	}
}

// TestPlannerStatSecurity: a planner built from a preset floods for the
// preset's κ; a larger κ floods more (and may need a higher level).
func TestPlannerStatSecurity(t *testing.T) {
	e := hetest.ForTest(t, "bgv-test-insecure")
	pr, err := params.ByName("bgv-test-insecure")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := PlannerFor(pr, e.Profile)
	if err != nil {
		t.Fatal(err)
	}
	if pl.StatSecurity != pr.FixedPoint.StatSecurity || pl.NoiseModel().StatSecurity() != pr.FixedPoint.StatSecurity {
		t.Fatalf("planner κ %d, preset %d", pl.StatSecurity, pr.FixedPoint.StatSecurity)
	}
	h40, err := pl.H2S(8, 2, pl.NoiseModel().FreshSK())
	if err != nil {
		t.Fatal(err)
	}
	pl.StatSecurity = 60
	h60, err := pl.H2S(8, 2, pl.NoiseModel().FreshSK())
	if err != nil {
		t.Fatal(err)
	}
	if d := h60.send.floodBits - h40.send.floodBits; math.Abs(d-20) > 1e-9 { // floating-point sums of log2 terms
		t.Fatalf("κ 60 floods %.1f bits more than κ 40, want 20", d)
	}
}
