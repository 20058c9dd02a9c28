package main

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/sim"
)

// secureRun is cgsim run without --plaintext.
// p is the protocol its flags give (protocolFrom, once: it warns).
func secureRun(c *cli.Context, p protocol, format string, m *model.Model, tok *model.Tokenizer, prompt []int, public *sim.PublicKV, gen int, sampler model.Sampler) error {
	w := c.App.Writer
	table := format == "table"
	prev := prompt[len(prompt)-1]
	// Progress on stderr, on a terminal only: the stage and the layer. In
	// the table form on a terminal the text streamed from the first token
	// on is the progress, and it shares the status line's line: the status
	// line stops there.
	status := newStatusLine(c.App.ErrWriter, !c.Bool("quiet") && isTerminal(c.App.ErrWriter))
	streaming := table && isTerminal(w)
	started, generating := false, false
	onProgress := func(pr sim.Progress) {
		if !started { // every check has passed: the run begins
			started = true
			if table {
				fmt.Fprintf(w, "secure run of %s: %s, %s, %s; %d prompt tokens%s\n\n", m.Config.Name, p.label(), p.preset.Name, p.network, len(prompt), samplerNote(sampler))
				if n := public.Len(); n > 0 {
					fmt.Fprintf(w, "the first %d prompt tokens are a public prefix: the server sees them in the clear\n\n", n)
				}
				if c.Bool("reveal-logits") {
					fmt.Fprintf(w, "--reveal-logits: the client sees every step's logits; this run is NOT private (a test of accuracy)\n\n")
				}
			}
		}
		if !(streaming && generating) {
			status.show(describe(pr, gen))
		}
	}
	var lines []string
	var text textStream
	onStep := func(s sim.Step) {
		status.clear()
		if table && !generating {
			fmt.Fprint(w, text.write(tok.DecodeAll(prompt)))
		}
		generating = true
		var pieces string
		var ids []string
		for _, t := range s.Tokens { // one, or a speculative step's
			pieces += tok.Decode(prev, t)
			prev = t
			ids = append(ids, strconv.Itoa(t))
		}
		if table {
			fmt.Fprint(w, text.write(pieces))
		}
		lines = append(lines, fmt.Sprintf("%s\t%s\t%q\t%.3f\t%.3f\t%.3f\t%.2f\t%.2f\t%d\t", s.Phase, strings.Join(ids, " "), pieces, s.Cost.Seconds(),
			s.Cost.ComputeSeconds, s.Cost.WallSeconds, mb(s.Cost.BytesC2S), mb(s.Cost.BytesS2C), s.Cost.Rounds))
	}
	cores := p.serverCores
	if cores == 0 {
		cores = runtime.NumCPU() // a run's default: all of this machine's
	}
	warnCores(c, "--server-cores", cores)
	warnCores(c, "--client-cores", p.clientCores)
	if cores == 1 && p.clientCores <= 1 {
		defer sim.OneThread()()
	}
	opts := sim.RunOptions{Model: m, Preset: p.preset, Profile: p.profile, Network: p.network, Strategy: p.strategy, Gen: gen, Cache: p.cache, ServerCores: cores, ClientCores: p.clientCores, Nonlinear: p.nonlinear,
		MaxSessionTokens: p.maxSession, OnProgress: onProgress, Sampler: sampler, Public: public}
	if err := speculativeOptions(c, p, &opts); err != nil {
		return err
	}
	rep, err := sim.Run(opts, prompt, c.Bool("reveal-logits"), onStep)
	status.clear()
	if table {
		fmt.Fprint(w, text.flush())
	}
	if err != nil {
		if table && generating {
			fmt.Fprintln(w)
		}
		return fmt.Errorf("run: %w", protocolHint(err, p))
	}
	promptText := tok.DecodeAll(prompt)
	rep.Model = c.String("model")
	rep.PromptText = promptText
	rep.Text = tok.DecodeAll(append(append([]int(nil), prompt...), rep.Tokens...))[len(promptText):]
	if !table {
		if err := writeReport(w, format, rep); err != nil {
			return err
		}
		return logitCheck(c, rep)
	}
	fmt.Fprintf(w, "\n\n")
	tw := newTable(w)
	fmt.Fprintln(tw, "phase\ttoken\tpiece\tseconds\tcompute (CPU) s\twall s\tMB up\tMB down\trounds\t")
	for _, l := range lines {
		fmt.Fprintln(tw, l)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := writeTable(w, rep); err != nil {
		return err
	}
	if rep.Setup != nil {
		fmt.Fprintf(w, "\nsetup (key exchange, not in the totals): %.2f MB, %.3f s on %s\n", mb(rep.Setup.BytesC2S), rep.Setup.Seconds(), p.network.Name)
	}
	if rep.MaxLogitDiff != nil {
		fmt.Fprintf(w, "largest |logit - reference| over all steps (revealed logits, not private): %.4g\n", *rep.MaxLogitDiff)
	}
	return logitCheck(c, rep)
}

// logitCheck is the exit status of a run with --reveal-logits: an error if
// a logit differs from the plaintext reference's by more than
// --logit-tolerance (the secure arithmetic left the fixed point's range,
// or lost precision).
func logitCheck(c *cli.Context, rep *sim.Report) error {
	if rep.MaxLogitDiff == nil {
		return nil
	}
	if tol := c.Float64("logit-tolerance"); !(*rep.MaxLogitDiff <= tol) {
		return fmt.Errorf("run: a secure logit differs from the plaintext reference's by %.4g, more than --logit-tolerance %g: the model's values may leave the fixed point's range", *rep.MaxLogitDiff, tol)
	}
	return nil
}

// progress is the progress bar of a long command on stderr, or nothing
// (a nil bar) when --quiet is set or the standard output already shows
// progress.
type progress struct{ bar *progressbar.ProgressBar }

// tick advances the bar by one step.
func (p progress) tick() {
	if p.bar != nil {
		p.bar.Add(1)
	}
}

// done finishes (and clears) the bar.
func (p progress) done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// newBar returns the progress of n steps described by what, shown on a
// terminal only.
func newBar(c *cli.Context, stdoutShowsProgress bool, n int, what string) progress {
	if c.Bool("quiet") || stdoutShowsProgress || !isTerminal(c.App.ErrWriter) {
		return progress{}
	}
	return progress{progressbar.NewOptions(n, progressbar.OptionSetWriter(c.App.ErrWriter), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())}
}

// newTable is the aligned table writer of the commands.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
}

// speculativeOptions reads --draft and --gamma into opts for --strategy
// speculative, and refuses them with another strategy.
func speculativeOptions(c *cli.Context, p protocol, opts *sim.RunOptions) error {
	if err := checkSpeculativeFlags(c, p); err != nil || p.strategy != sim.Speculative {
		return err
	}
	d, err := model.LoadLlama2C(c.String("draft"))
	if err != nil {
		return fmt.Errorf("%s--draft: %w", cmdPrefix(c), err)
	}
	opts.Draft, opts.Gamma = d, c.Int("gamma")
	return nil
}

// checkSpeculativeFlags checks --draft and --gamma against --strategy
// before anything is loaded.
func checkSpeculativeFlags(c *cli.Context, p protocol) error {
	if p.strategy != sim.Speculative {
		if c.IsSet("draft") || c.IsSet("gamma") {
			return fmt.Errorf("%s--draft and --gamma are for --strategy speculative", cmdPrefix(c))
		}
		return nil
	}
	return requireFlags(c, "draft")
}
