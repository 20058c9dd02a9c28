package main

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
)

// singleDash matches a flag spelled -gen, as urfave/cli spells it.
var singleDash = regexp.MustCompile(`(?:^|[\s:])-[A-Za-z]`)

// TestUsageErrors checks that a flag that does not parse, a missing
// required flag and an unknown command are each a one-line error naming
// what was typed, with nothing on stdout: the whole help used to be printed
// on stdout (into a redirected JSON file), and an unknown command said "No
// help topic".
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // pieces of the error message
	}{
		{"bad int", []string{"estimate", "--gen", "abc", "--format", "json"}, []string{"estimate:", "--gen", "abc"}},
		{"bad float", []string{"estimate", "--refresh-threshold", "x"}, []string{"--refresh-threshold"}},
		{"bad plaintext run flag", []string{"run", "--plaintext", "--gen", "1.5"}, []string{"run:", "--gen"}},
		{"unknown flag", []string{"run", "--plaintxt"}, []string{"--plaintxt"}},
		{"unknown app flag", []string{"--frob"}, []string{"--frob"}},
		{"bad subcommand flag", []string{"tune", "refresh", "--prompt", "many"}, []string{"tune refresh:", "--prompt"}},
		{"plan bad context", []string{"plan", "--max-context", "big"}, []string{"plan:", "--max-context"}},
		{"calibrate missing flags", []string{"calibrate"}, []string{"--params", "--out"}},
		{"calibrate missing out", []string{"calibrate", "--params", "bgv-n13"}, []string{"--out"}},
		{"unknown command", []string{"frobnicate"}, []string{"unknown command", "frobnicate", "estimate"}},
		{"unknown subcommand", []string{"tune", "frobnicate"}, []string{"unknown command", "frobnicate", "refresh"}},
		{"unknown strategy", []string{"estimate", "--strategy", "fhe"}, []string{"--strategy", "fhe"}},
		{"unknown preset", []string{"estimate", "--params", "bgv-n99"}, []string{"--params", "bgv-n99"}},
		{"bad network", []string{"estimate", "--net", "1e-300bps/1ms"}, []string{"--net", "1e-300bps"}},
		{"bad append", []string{"estimate", "--append", "magic"}, []string{"--append", "magic"}},
		{"bad refresh", []string{"estimate", "--refresh", "sometimes"}, []string{"--refresh", "sometimes"}},
		{"negative temperature", []string{"run", "--plaintext", "--temperature", "-1"}, []string{"run:", "--temperature", "-1"}},
		{"huge temperature", []string{"run", "--temperature", "1e9"}, []string{"run:", "--temperature"}},
		{"seed without temperature", []string{"run", "--plaintext", "--seed", "3"}, []string{"run:", "--seed", "--temperature"}},
		{"top-k without temperature", []string{"run", "--top-k", "3"}, []string{"run:", "--top-k", "--temperature"}},
		{"negative top-k", []string{"run", "--plaintext", "--temperature", "1", "--top-k", "-2"}, []string{"run:", "--top-k", "-2"}},
		{"negative estimate top-k", []string{"estimate", "--top-k", "-1"}, []string{"estimate:", "--top-k"}},
		{"empty public prefix", []string{"run", "--plaintext", "--public-prefix", " ", "--prompt", "x"}, []string{"run:", "--public-prefix", "empty"}},
		{"two public prefixes", []string{"run", "--public-prefix", "a", "--public-prefix-file", "/nonexistent", "--prompt", "x"}, []string{"run:", "--public-prefix-file", "one"}},
		{"missing public prefix file", []string{"run", "--public-prefix-file", "/nonexistent/prefix.txt", "--prompt", "x"}, []string{"run:", "--public-prefix-file"}},
		{"prefix store without prefix", []string{"run", "--plaintext", "--prefix-store", "/tmp/x"}, []string{"run:", "--prefix-store"}},
		{"public prefix without private prompt", []string{"run", "--plaintext", "--model", storiesModel, "--tokenizer", storiesTok, "--public-prefix", "Once upon a time"}, []string{"run:", "--prompt", "private"}},
		{"public prefix too long", []string{"run", "--plaintext", "--model", storiesModel, "--tokenizer", storiesTok, "--public-prefix", strings.Repeat("a long story ", 400), "--prompt", "x"}, []string{"run:", "public prefix", "context"}},
		{"public prefix tokens of the whole prompt", []string{"estimate", "--prompt", "16", "--public-prefix-tokens", "16"}, []string{"estimate:", "--public-prefix-tokens"}},
		{"public prefix run with recompute", []string{"run", "--public-prefix", "a", "--prompt", "b", "--strategy", "recompute"}, []string{"run:", "--public-prefix", "feature-major"}},
		{"public prefix validate with the token layout", []string{"validate", "--public-prefix", "a", "--prompt", "b", "--layout", "token"}, []string{"validate:", "--public-prefix", "feature-major"}},
		{"prefix store with plaintext", []string{"run", "--plaintext", "--public-prefix", "a", "--prompt", "b", "--prefix-store", "/tmp/x"}, []string{"run:", "--prefix-store", "--plaintext"}},
		{"public prefix with recompute", []string{"estimate", "--prompt", "16", "--public-prefix-tokens", "8", "--strategy", "recompute"}, []string{"public prefix", "feature-major"}},
		{"draft without out", []string{"draft"}, []string{"--out"}},
		{"draft bad bits", []string{"draft", "--model", storiesModel, "--bits", "1", "--out", "/tmp/never-written.bin"}, []string{"draft:", "--bits"}},
		{"draft-stats without draft", []string{"draft-stats"}, []string{"--draft"}},
		{"draft-stats bad gamma", []string{"draft-stats", "--draft", storiesModel, "--gamma", "2,x"}, []string{"draft-stats:", "--gamma"}},
		{"draft-stats zero gamma", []string{"draft-stats", "--draft", storiesModel, "--gamma", "0"}, []string{"draft-stats:", "--gamma"}},
		{"draft-stats missing text", []string{"draft-stats", "--model", storiesModel, "--tokenizer", storiesTok, "--draft", storiesModel, "--text", "/nonexistent/t.txt"},
			[]string{"draft-stats:", "--text"}},
		{"draft-stats bad draft", []string{"draft-stats", "--model", storiesModel, "--tokenizer", storiesTok, "--draft", storiesTok}, []string{"draft-stats:", "--draft"}},
		{"speculative without acceptance", []string{"estimate", "--strategy", "speculative"}, []string{"estimate:", "--acceptance"}},
		{"speculative bad acceptance", []string{"estimate", "--strategy", "speculative", "--acceptance", "2"}, []string{"estimate:", "--acceptance"}},
		{"gamma without speculative", []string{"estimate", "--gamma", "3"}, []string{"estimate:", "--gamma"}},
		{"accepted and acceptance", []string{"estimate", "--strategy", "speculative", "--accepted", "1,2", "--acceptance", "0.5"}, []string{"estimate:", "--accepted"}},
		{"bad accepted", []string{"estimate", "--strategy", "speculative", "--accepted", "1,x"}, []string{"estimate:", "--accepted"}},
		{"speculative run without draft", []string{"run", "--strategy", "speculative"}, []string{"--draft"}},
		{"draft without speculative", []string{"run", "--draft", "x.bin"}, []string{"run:", "--draft"}},
		{"gamma without draft with plaintext", []string{"run", "--plaintext", "--gamma", "2"}, []string{"run:", "--gamma"}},
		{"plaintext draft gamma too large", []string{"run", "--plaintext", "--draft", "x.bin", "--gamma", "99999999999"}, []string{"run:", "--gamma", "64"}},
		{"estimate temperature without speculative", []string{"estimate", "--temperature", "1"}, []string{"estimate:", "--temperature"}},
		{"estimate speculative bad temperature", []string{"estimate", "--strategy", "speculative", "--acceptance", "0.5", "--temperature", "-1"}, []string{"estimate:", "--temperature"}},
		{"estimate speculative tiny temperature", []string{"estimate", "--strategy", "speculative", "--acceptance", "0.5", "--temperature", "1e-12"}, []string{"temperature", "too low"}},
		{"draft-stats bad temperature", []string{"draft-stats", "--draft", "x.bin", "--temperature", "NaN"}, []string{"draft-stats:", "--temperature"}},
		{"tune speculative bad temperature", []string{"tune", "speculative", "--acceptance", "0.5", "--temperature", "1000"}, []string{"tune:", "--temperature"}},
		{"tune speculative without acceptance", []string{"tune", "speculative"}, []string{"tune:", "--acceptance"}},
		{"tune speculative bad gammas", []string{"tune", "speculative", "--acceptance", "0.5", "--gammas", "0,2"}, []string{"tune:", "--gammas"}},
		{"missing profile", []string{"estimate", "--profile", "/nonexistent/p.json"}, []string{"--profile"}},
		// The noise model's refusal names the flag that avoids it, not
		// kv's API (it said "use ClientEncrypt").
		{"homomorphic at n13", []string{"estimate", "--params", "bgv-n13", "--append", "homomorphic", "--prompt", "8", "--gen", "2"},
			[]string{"--append client"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := cgsim(tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			for _, bad := range []string{"\n", "No help topic", "ClientEncrypt"} {
				if strings.Contains(msg, bad) {
					t.Errorf("error %q contains %q", msg, bad)
				}
			}
			if singleDash.MatchString(msg) {
				t.Errorf("error %q spells a flag with one dash", msg)
			}
			if out != "" || errOut != "" {
				t.Errorf("printed on stdout %q and stderr %q beside the error", out, errOut)
			}
		})
	}
}

// failingWriter fails every write, as stdout on a full disk does.
type failingWriter struct{}

var errFull = errors.New("no space left on device")

func (failingWriter) Write([]byte) (int, error) { return 0, errFull }

// TestWriteErrors checks that a command whose output cannot be written
// fails (run --plaintext > /dev/full exited 0).
func TestWriteErrors(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--plaintext", "--model", storiesModel, "--tokenizer", storiesTok, "--gen", "4"},
		{"run", "--plaintext", "--model", storiesModel, "--tokenizer", storiesTok, "--gen", "4", "--format", "json"},
		{"estimate", "--prompt", "8", "--gen", "2"},
		{"presets"},
		{"models"},
	} {
		var errOut bytes.Buffer
		err := run(append([]string{"cgsim"}, args...), failingWriter{}, &errOut)
		if !errors.Is(err, errFull) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want a one-line error wrapping the write's", args, err)
		}
	}
}
