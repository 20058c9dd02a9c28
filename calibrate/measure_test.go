package calibrate

import (
	"math"
	"testing"
)

// fakeClock is a clock that only the measured closures advance: each call
// of a closure made by script adds the next duration of its script (the
// last one repeating).
type fakeClock struct{ now float64 }

func (c *fakeClock) read() float64 { return c.now }

func (c *fakeClock) script(durations ...float64) func() error {
	i := 0
	return func() error {
		c.now += durations[min(i, len(durations)-1)]
		i++
		return nil
	}
}

// TestMeasureConverges: the rounds are interleaved, an operation's price
// is the least of its round medians, and rounds are added until another
// round confirms the price of every operation above a millisecond within
// the tolerance, up to MaxRounds.
func TestMeasureConverges(t *testing.T) {
	const reps = 3 // timed calls per round, after one warm-up call
	// calls lists one round's calls: the warm-up and reps timed ones.
	round := func(d float64) []float64 { return []float64{d, d, d, d} }
	cat := func(rs ...[]float64) []float64 {
		var out []float64
		for _, r := range rs {
			out = append(out, r...)
		}
		return out
	}
	tests := []struct {
		name       string
		steady     []float64 // the steady operation's calls
		noisy      []float64 // the other operation's calls
		wantRounds int
		wantNoisy  float64 // its price: the least round median
	}{
		// Both steady: the least number of rounds.
		{"stable", round(2e-3), round(5e-3), 3, 5e-3},
		// A burst of load in round 2 of the noisy one (+50%): round 3
		// confirms round 1; the price ignores the burst.
		{"burst", round(2e-3), cat(round(5e-3), round(7.5e-3), round(5e-3)), 3, 5e-3},
		// Load that eases round after round (-10% each): no price is
		// confirmed, rounds go on to MaxRounds and the least is kept.
		{"easing", round(2e-3), cat(round(8e-3), round(7.2e-3), round(6.48e-3), round(5.832e-3), round(5.2488e-3)), 5, 5.2488e-3},
		// A lucky first round (-20%) that no later one reaches: the later
		// rounds agree with each other, not with it, so rounds go on.
		{"lucky", round(2e-3), cat(round(4e-3), round(5e-3)), 5, 4e-3},
		// Below a millisecond the spread does not hold the rounds.
		{"small and noisy", round(2e-3), cat(round(1e-4), round(3e-4)), 3, 1e-4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{}
			a := &measurement{name: "steady", per: 1, run: clk.script(tt.steady...)}
			b := &measurement{name: "noisy", per: 1, run: clk.script(tt.noisy...)}
			var calls int
			opt := Options{Repetitions: reps, Rounds: 3, MaxRounds: 5, Tolerance: 0.03}
			rounds, err := meter{clock: clk.read, opt: opt}.measure([]*measurement{a, b}, func(done, total int) {
				calls++
				if done > total {
					t.Errorf("progress %d of %d", done, total)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if rounds != tt.wantRounds || len(a.medians) != rounds || len(b.medians) != rounds || calls != 2*rounds {
				t.Errorf("%d rounds (%d and %d medians, %d progress calls), want %d", rounds, len(a.medians), len(b.medians), calls, tt.wantRounds)
			}
			if math.Abs(b.best()-tt.wantNoisy) > 1e-15 {
				t.Errorf("price %g, want %g", b.best(), tt.wantNoisy)
			}
		})
	}
}

// TestMeasurePrepare: a measurement's prepare runs before each timed call
// (not before the warm-up) and outside the clock: an eviction that takes
// a second does not enter a 2 ms price.
func TestMeasurePrepare(t *testing.T) {
	clk := &fakeClock{}
	prepared := 0
	m := &measurement{name: "evicted", per: 1, run: clk.script(2e-3), prepare: func() { prepared++; clk.now += 1 }}
	opt := Options{Repetitions: 3, Rounds: 2, MaxRounds: 2, Tolerance: 0.03}
	if _, err := (meter{clock: clk.read, opt: opt}).measure([]*measurement{m}, nil); err != nil {
		t.Fatal(err)
	}
	if prepared != 2*3 {
		t.Errorf("prepared %d times, want once per timed call (6)", prepared)
	}
	if math.Abs(m.best()-2e-3) > 1e-12 {
		t.Errorf("price %g, want 2e-3", m.best())
	}
}

// TestMeasureSpread: the spread is the largest round median over the
// least, less one, the confirmation the second least over the least, less
// one, and a measurement's price is per operation.
func TestMeasureSpread(t *testing.T) {
	m := &measurement{per: 4, medians: []float64{8e-3, 10e-3, 9e-3}}
	if got := m.spread(); math.Abs(got-0.25) > 1e-12 {
		t.Errorf("spread %g, want 0.25", got)
	}
	if got := m.confirmation(); math.Abs(got-0.125) > 1e-12 {
		t.Errorf("confirmation %g, want 0.125", got)
	}
	if got := (&measurement{medians: []float64{1}}).confirmation(); !math.IsInf(got, 1) {
		t.Errorf("confirmation of one round %g, want +Inf", got)
	}
	if got := m.best(); math.Abs(got-2e-3) > 1e-15 {
		t.Errorf("best %g, want 2e-3", got)
	}
}
