package main

import (
	"strings"
	"testing"
)

// TestSizeErrors checks that sizes beyond the model's context are refused
// with a one-line error naming the flag and the model's limit, before
// anything is allocated or tokenized: --gen 9223372036854775807 made run
// --plaintext panic (len(prompt)+gen-1 overflowed into makeslice) and the
// secure run accept it, estimate and tune refresh panicked on a prompt of
// MaxInt64 tokens and ran out of memory on 10^12, and a 30,000-word prompt
// was tokenized for a minute before its length was checked.
func TestSizeErrors(t *testing.T) {
	const maxInt = "9223372036854775807"
	words := strings.Repeat("word ", 30000)
	files := []string{"--model", storiesModel, "--tokenizer", storiesTok}
	tests := []struct {
		name string
		args []string
		want []string // pieces of the error message
	}{
		{"plaintext huge gen", append([]string{"run", "--plaintext", "--prompt", "x", "--gen", maxInt}, files...), []string{"--gen", "512"}},
		{"secure huge gen", append([]string{"run", "--prompt", "x", "--gen", maxInt}, files...), []string{"--gen", "512"}},
		{"validate huge gen", append([]string{"validate", "--gen", maxInt}, files...), []string{"--gen", "512"}},
		{"estimate huge prompt", []string{"estimate", "--prompt", maxInt}, []string{"--prompt", "1024"}},
		{"estimate 10^12 prompt", []string{"estimate", "--prompt", "1000000000000"}, []string{"--prompt", "1024"}},
		{"estimate huge gen", []string{"estimate", "--gen", maxInt}, []string{"--gen", "1024"}},
		{"estimate prompt and gen", []string{"estimate", "--prompt", "1000", "--gen", "30"}, []string{"--prompt", "--gen", "1024"}},
		{"estimate zero prompt", []string{"estimate", "--prompt", "0"}, []string{"--prompt"}},
		{"estimate huge session", []string{"estimate", "--max-session-tokens", maxInt}, []string{"--max-session-tokens", "1024"}},
		{"tune huge prompt", []string{"tune", "refresh", "--prompt", maxInt, "--quiet"}, []string{"--prompt", "1024"}},
		{"tune huge gen", []string{"tune", "refresh", "--gen", maxInt, "--quiet"}, []string{"--gen", "1024"}},
		{"run huge session", append([]string{"run", "--max-session-tokens", maxInt}, files...), []string{"--max-session-tokens", "512"}},
		{"30,000-word prompt", append([]string{"run", "--plaintext", "--prompt", words}, files...), []string{"--prompt", "512"}},
		{"30,000-word secure prompt", append([]string{"run", "--prompt", words}, files...), []string{"--prompt", "512"}},
		{"prompt just too long", append([]string{"run", "--plaintext", "--gen", "500", "--prompt", strings.Repeat("Once upon a time ", 12)}, files...),
			[]string{"--prompt", "--gen", "512"}},
		{"tune too many taus", []string{"tune", "refresh", "--taus", strings.Repeat("1,", 300) + "1", "--quiet"}, []string{"--taus", "256"}},
		{"plan huge context", []string{"plan", "--max-context", maxInt, "--quiet"}, []string{"--max-context"}},
		{"plan inverted contexts", []string{"plan", "--min-context", "64", "--max-context", "32", "--quiet"}, []string{"--min-context"}},
		{"plan huge memory budget", []string{"plan", "--memory-budget", "9e18", "--quiet"}, []string{"--memory-budget"}},
		{"plan negative latency budget", []string{"plan", "--latency-budget", "-1s", "--quiet"}, []string{"--latency-budget"}},
		{"plan huge latency budget", []string{"plan", "--latency-budget", "1e308", "--quiet"}, []string{"--latency-budget"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := cgsim(tt.args...)
			if err == nil {
				t.Fatalf("no error; output:\n%.300s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}
