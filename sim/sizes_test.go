package sim

import (
	"math"
	"strings"
	"testing"

	"github.com/cgsim/cgsim/net"
)

// TestHugeSizes checks that sizes far beyond the model's context are
// refused before anything is allocated (a prompt of MaxInt64 tokens made
// Estimate and TuneRefresh panic in makeslice, one of 10^12 ran out of
// memory) and that prompt + gen - 1 cannot overflow past the check.
func TestHugeSizes(t *testing.T) {
	cfg := config(t, "gpt2")
	pre := preset(t, "bgv-n14")
	tests := []struct {
		name        string
		prompt, gen int
	}{
		{"prompt MaxInt64", math.MaxInt64, 1},
		{"prompt 10^12", 1_000_000_000_000, 1},
		{"gen MaxInt64", 1, math.MaxInt64},
		{"both MaxInt64", math.MaxInt64, math.MaxInt64},
		{"sum overflows", math.MaxInt64 / 2, math.MaxInt64/2 + 3},
		{"one past the context", cfg.SeqLen, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := EstimateOptions{Model: cfg, Preset: pre, Network: net.WAN, Prompt: tt.prompt, Gen: tt.gen}
			if _, err := Estimate(opts); err == nil || !strings.Contains(err.Error(), "context") {
				t.Errorf("Estimate: %v, want an error about the context", err)
			}
			if _, err := TuneRefresh(TuneOptions{EstimateOptions: opts}); err == nil || !strings.Contains(err.Error(), "context") {
				t.Errorf("TuneRefresh: %v, want an error about the context", err)
			}
			if err := checkGeneration(cfg, Cryptogen, []int{1}, tt.gen); tt.gen > cfg.SeqLen && err == nil {
				t.Errorf("checkGeneration accepts %d tokens after one", tt.gen)
			}
		})
	}
}
