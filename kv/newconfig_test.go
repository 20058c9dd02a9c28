package kv

import (
	"fmt"
	"math"
	"testing"

	"github.com/cgsim/cgsim/cost"
)

// gpt2Shape is GPT-2 small's attention: 12 layers, 12 heads of 64 (KVDim
// 768: B = 16 tokens per ciphertext at bgv-n14's 16384 slots).
var gpt2Shape = shape{layers: 12, heads: 12, kvHeads: 12, headDim: 64}

// cacheBoundReference is the quadratic cacheBound that Config.cacheBound
// replaced, kept as the test's reference: it notes every ciphertext of
// the ledger after every step.
func (cfg Config) cacheBoundReference() (bits [2]float64, err error) {
	note := func(l *ledger) {
		for k := range l.states {
			for _, s := range l.states[k] {
				bits[k] = math.Max(bits[k], cfg.model.downTo(s, cfg.KernelLevel[k]))
			}
		}
	}
	var switched ledger
	for k := 0; k < 2; k++ {
		switched.states[k] = []NoiseState{refreshedState(cfg.HomeLevel[k])}
	}
	switched.tokens = 1
	for _, l := range []*ledger{{}, &switched} {
		note(l)
		for l.tokens < cfg.MaxContext {
			ap, err := cfg.nextAppend(l)
			if err != nil {
				return bits, err
			}
			cfg.applyAppend(l, ap)
			rr, err := cfg.dueRefresh(l, ap.ct)
			if err != nil {
				return bits, err
			}
			cfg.applyRefresh(l, rr)
			note(l)
		}
	}
	return bits, nil
}

// stepReference is the quadratic Trajectory.Step that the census
// replaced: it clones the ledger and measures the memory and lost levels
// of the whole ledger before and after the step.
func stepReference(c Config, led *ledger) (cost.Cost, error) {
	old := led.clone()
	ap, err := c.nextAppend(led)
	if err != nil {
		return cost.Cost{}, err
	}
	step := c.appendCost(ap)
	c.applyAppend(led, ap)
	rr, err := c.dueRefresh(led, ap.ct)
	if err != nil {
		return cost.Cost{}, err
	}
	step = step.Add(c.refreshCost(led, rr))
	c.applyRefresh(led, rr)
	if err := c.checkSafe(led, ap.ct); err != nil {
		return cost.Cost{}, err
	}
	step = step.Scale(int64(c.Layers))
	return step.Add(c.boundaryCost(&old, led)), nil
}

// TestCacheBoundLinear: cacheBound (one ciphertext's life) and
// Trajectory.Step (linear in the context) give
// exactly the results of the quadratic references, for both methods,
// every policy and several thresholds (0: refresh only when needed; 44
// and 100 at the test preset: refresh after some or every append; see
// TestRunEqualsEstimate), at contexts that end mid-ciphertext and on a
// ciphertext boundary (B = 64 at the test preset with smallShape, 512 at
// bgv-n14 with storiesShape), from an empty cache and after a prefill
// switch.
func TestCacheBoundLinear(t *testing.T) {
	type tc struct {
		preset string
		sh     shape
		ctx    int
		m      Method
		pol    Policy
	}
	var cases []tc
	for _, pol := range []Policy{Eager{}, Lazy{Tau: 0}, Lazy{Tau: 44}, Lazy{Tau: 100}, Never{}} {
		for _, m := range []Method{ClientEncrypt, Homomorphic} {
			if m == Homomorphic && pol == (Never{}) {
				continue // rejected: no level for a third append
			}
			for _, ctx := range []int{1, 63, 64, 200, 1000} {
				cases = append(cases, tc{"bgv-test-insecure", smallShape, ctx, m, pol})
			}
		}
	}
	cases = append(cases,
		tc{"bgv-n13", storiesShape, 700, ClientEncrypt, Lazy{Tau: 0}},
		tc{"bgv-n14", storiesShape, 1500, ClientEncrypt, Never{}},
		tc{"bgv-n14", storiesShape, 1500, Homomorphic, Lazy{Tau: 0}},
		tc{"bgv-n14", gpt2Shape, 1024, ClientEncrypt, Never{}},
	)
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%s/%s/ctx=%d", c.preset, c.m, c.pol, c.ctx), func(t *testing.T) {
			cfg := newConfig(t, c.preset, c.sh, c.ctx, c.m, c.pol)
			bits, err := cfg.cacheBound()
			if err != nil {
				t.Fatal(err)
			}
			rb, err := cfg.cacheBoundReference()
			if err != nil {
				t.Fatal(err)
			}
			if bits != rb {
				t.Errorf("cacheBound: %v bits; the reference: %v", bits, rb)
			}
			// NewConfig checked one ciphertext's life: the whole
			// trajectory must be safe too.
			if _, err := cfg.Estimate(0, c.ctx); err != nil {
				t.Errorf("NewConfig accepted a trajectory that fails: %v", err)
			}
			// Trajectories from empty and after a switch of half the
			// context (as sim's estimator starts one).
			starts := map[string]func() (*Trajectory, error){
				"empty": func() (*Trajectory, error) { return cfg.NewTrajectory(), nil },
			}
			if m := c.ctx / 2; m >= 1 {
				starts["switched"] = func() (*Trajectory, error) {
					bits := cfg.Model().Payload(NoiseState{Level: cfg.HomeLevel[0], Msgs: 2, Fresh: 1, Extra: math.Inf(-1)})
					_, tr, err := cfg.EstimateSwitch(m, cfg.HomeLevel[0], bits)
					return tr, err
				}
			}
			for name, start := range starts {
				tr, err := start()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				ref := tr.led.clone()
				for tr.Len() < c.ctx {
					got, err := tr.Step()
					if err != nil {
						t.Fatalf("%s: step to %d: %v", name, tr.Len(), err)
					}
					want, err := stepReference(cfg, &ref)
					if err != nil {
						t.Fatalf("%s: reference step to %d: %v", name, ref.tokens, err)
					}
					if got != want {
						t.Fatalf("%s: step to %d tokens: %+v, the reference %+v", name, tr.Len(), got, want)
					}
					if mem, wantMem := tr.Memory(), int64(cfg.Layers)*cfg.memory(&ref)+cfg.KeyBytes; mem != wantMem {
						t.Fatalf("%s: memory at %d tokens: %d, the reference %d", name, tr.Len(), mem, wantMem)
					}
				}
			}
		})
	}
}

// BenchmarkNewConfig measures NewConfig (the kernels' planning and the
// simulation of one cache ciphertext's life, which every ciphertext lives)
// for GPT-2 small at bgv-n14, client appends, at growing contexts: the
// time no longer grows with the context once it exceeds a ciphertext's
// tokens (it grew quadratically before cacheBound and Trajectory.Step
// were made linear, 11.6 s at 32768, then linearly).
func BenchmarkNewConfig(b *testing.B) {
	for _, ctx := range []int{1024, 4096, 16384, 32768} {
		b.Run(fmt.Sprintf("gpt2/bgv-n14/ctx=%d", ctx), func(b *testing.B) {
			for b.Loop() {
				newConfig(b, "bgv-n14", gpt2Shape, ctx, ClientEncrypt, Never{})
			}
		})
	}
}
