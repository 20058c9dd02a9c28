package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/cgsim/cgsim/sim"
)

// isTerminal reports whether w is a terminal; progress is shown only
// there, never as carriage returns in a redirected log. A variable, for
// tests.
var isTerminal = func(w io.Writer) bool {
	if c, ok := w.(*checkedWriter); ok {
		w = c.w
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// statusLine is one line of progress on a terminal, rewritten in place
// ("\r" and erase to the end of the line), or nothing when off.
type statusLine struct {
	w     io.Writer
	on    bool
	shown bool
	start time.Time
}

func newStatusLine(w io.Writer, on bool) *statusLine {
	return &statusLine{w: w, on: on, start: time.Now()}
}

// show replaces the line with text and the time since the start.
func (s *statusLine) show(text string) {
	if !s.on {
		return
	}
	fmt.Fprintf(s.w, "\r\033[K%s [%s]", text, time.Since(s.start).Round(time.Second))
	s.shown = true
}

// clear erases the line.
func (s *statusLine) clear() {
	if s.shown {
		fmt.Fprint(s.w, "\r\033[K")
		s.shown = false
	}
}

// describe is the status text of a run's progress report, gen tokens in
// all: "key exchange", "prefill: layer 2/5", "decode 3/7: layer 1/5".
func describe(p sim.Progress, gen int) string {
	switch p.Stage {
	case sim.StagePrefill:
		return fmt.Sprintf("prefill: layer %d/%d", p.Layer+1, p.Layers)
	case sim.StageDecode:
		return fmt.Sprintf("decode %d/%d: layer %d/%d", p.Step+1, gen-1, p.Layer+1, p.Layers)
	}
	return string(p.Stage) + ": evaluation keys"
}
