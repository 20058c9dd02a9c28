package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// TestNoProgressWhenRedirected checks that a command's progress bar is not
// written to a stderr that is not a terminal (the bars wrote "\r" into
// redirected logs).
func TestNoProgressWhenRedirected(t *testing.T) {
	for _, args := range [][]string{
		{"plan", "--model", "stories260K", "--min-context", "16", "--max-context", "64"},
		{"tune", "refresh", "--model", "stories260K", "--prompt", "8", "--gen", "2", "--taus", "8"},
		{"run", "--model", storiesModel, "--tokenizer", storiesTok, "--gen", "1", "--params", "bgv-test-insecure", "--allow-insecure", "--format", "json"},
	} {
		_, errOut, err := cgsim(args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if errOut != "" {
			t.Errorf("%v: wrote %q to a stderr that is not a terminal", args, errOut)
		}
	}
}

// asTerminal makes isTerminal report the given writers, and only them, as
// terminals for the rest of the test.
func asTerminal(t *testing.T, terms ...io.Writer) {
	saved := isTerminal
	t.Cleanup(func() { isTerminal = saved })
	isTerminal = func(w io.Writer) bool {
		if c, ok := w.(*checkedWriter); ok {
			w = c.w
		}
		for _, tw := range terms {
			if w == tw {
				return true
			}
		}
		return false
	}
}

// TestSecureRunStatus checks what a secure run shows on a terminal's
// stderr (it showed nothing through the key exchange and the prefill): the
// stage and the layer of every pass; with the table on the same terminal,
// the status line stops at the first token, whose text then streams.
func TestSecureRunStatus(t *testing.T) {
	args := []string{"cgsim", "run", "--model", storiesModel, "--tokenizer", storiesTok, "--gen", "2", "--params", "bgv-test-insecure",
		"--allow-insecure", "--net", "lan"}
	tests := []struct {
		name       string
		format     string
		stdoutTerm bool
		want, not  []string
	}{
		{"json", "json", false, []string{"key exchange", "prefill: layer 1/5", "prefill: layer 5/5", "decode 1/1: layer 5/5", "\r\033[K"}, nil},
		{"table on the terminal", "table", true, []string{"key exchange", "prefill: layer 5/5"}, []string{"decode"}},
		{"table to a file", "table", false, []string{"key exchange", "decode 1/1: layer 5/5"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if tt.stdoutTerm {
				asTerminal(t, &out, &errOut)
			} else {
				asTerminal(t, &errOut)
			}
			if err := run(append(args, "--format", tt.format), &out, &errOut); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr does not show %q:\n%q", w, errOut.String())
				}
			}
			for _, w := range tt.not {
				if strings.Contains(errOut.String(), w) {
					t.Errorf("stderr shows %q:\n%q", w, errOut.String())
				}
			}
			if !strings.HasSuffix(errOut.String(), "\r\033[K") {
				t.Errorf("the status line is not cleared at the end: %q", errOut.String())
			}
			if tt.format == "json" && !json.Valid(out.Bytes()) {
				t.Errorf("stdout is not JSON:\n%s", out.String())
			}
			// --quiet: nothing.
			out.Reset()
			errOut.Reset()
			if err := run(append(args, "--format", tt.format, "--quiet"), &out, &errOut); err != nil || errOut.Len() > 0 {
				t.Errorf("--quiet: %v, stderr %q", err, errOut.String())
			}
		})
	}
}

// TestSecureHeaderAfterChecks checks that the table's header ("secure run
// of ...") is not printed when the run is refused before it begins (it was
// printed, then the error).
func TestSecureHeaderAfterChecks(t *testing.T) {
	out, _, err := cgsim("run", "--model", storiesModel, "--tokenizer", storiesTok, "--gen", "2", "--params", "bgv-n13",
		"--append", "homomorphic")
	if err == nil || !strings.Contains(err.Error(), "--append client") {
		t.Errorf("error %v, want the noise model's refusal naming --append client", err)
	}
	if out != "" {
		t.Errorf("printed before the error:\n%s", out)
	}
}
