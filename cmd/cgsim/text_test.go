package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSafeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Once upon a time,\n\tthere", "Once upon a time,\n\tthere"},
		{"日本語 ™ é", "日本語 ™ é"},
		{"a\x1b[2Jb", `a\x1b[2Jb`}, // a terminal escape: clear the screen
		{"line\roverwritten", `line\x0doverwritten`},
		{"\x00\x07\x7f", `\x00\x07\x7f`},
		{"\xff\xfe", `\xff\xfe`},                // not UTF-8
		{"\xe6\x97", `\xe6\x97`},                // a cut character
		{"\u200e\u0085", `\u200e\u0085`},        // a direction mark, a C1 control
		{"\u00a0\u3000", "\u00a0\u3000"},        // spaces are graphic
		{`a\x1b`, `a\x1b`},                      // a backslash stays itself
		{"<0x0A>", "<0x0A>"},                    // a piece's name is text
		{"\u202ecod.exe", `\u202e` + "cod.exe"}, // a right-to-left override
		{"", ""},
	}
	for _, tt := range tests {
		if got := safeText(tt.in); got != tt.want {
			t.Errorf("safeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestTextStream: a character split over byte tokens prints whole; bytes
// that never complete one are escaped when flushed.
func TestTextStream(t *testing.T) {
	tests := []struct {
		pieces []string
		want   string
	}{
		{[]string{"Once", " upon"}, "Once upon"},
		{[]string{"\xe6", "\x97", "\xa5", "本"}, "日本"},
		{[]string{"a\xe6\x97", "\xa5b"}, "a日b"},
		{[]string{"\x1b", "[2J"}, `\x1b[2J`},
		{[]string{"x\xe6\x97"}, `x\xe6\x97`}, // never completed: flushed escaped
		{[]string{"\xff", "a"}, `\xffa`},
	}
	for _, tt := range tests {
		var s textStream
		var b strings.Builder
		for _, p := range tt.pieces {
			b.WriteString(s.write(p))
		}
		b.WriteString(s.flush())
		if b.String() != tt.want {
			t.Errorf("%q: %q, want %q", tt.pieces, b.String(), tt.want)
		}
	}
}

// TestTableEscapes checks that the table output escapes non-printable bytes
// of the text (they were written raw to the terminal) while the JSON keeps
// the text exact.
func TestTableEscapes(t *testing.T) {
	prompt := "Once\x1b[2J upon\r a"
	files := []string{"--model", storiesModel, "--tokenizer", storiesTok, "--prompt", prompt}
	for _, args := range [][]string{
		append([]string{"run", "--plaintext", "--gen", "2"}, files...),
		append([]string{"run", "--gen", "1", "--params", "bgv-test-insecure", "--allow-insecure", "--quiet"}, files...),
	} {
		out, _, err := cgsim(args...)
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(out, "\x1b\r") || !strings.Contains(out, `Once\x1b[2J upon\x0d a`) {
			t.Errorf("%v: table output\n%q", args[:3], out)
		}
		out, _, err = cgsim(append(args, "--format", "json")...)
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Prompt string `json:"prompt"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Prompt != prompt {
			t.Errorf("%v: JSON prompt %q (%v), want %q", args[:3], res.Prompt, err, prompt)
		}
	}
}
