package main

import (
	"fmt"
	"math"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/sim"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "run and estimate the same secure generation and compare them",
		Description: "Runs the secure generation for real and with the estimate engine, then prints, for the prefill\n" +
			"and for all decode steps, per primitive kind, the estimated and measured seconds and any counter on\n" +
			"which they differ, and the offline seconds (the dealer's and the server's pads; not part of the total:\n" +
			"reported, not checked).\n" +
			"The exit status is non-zero if a counter differs or the total seconds differ by more than --tolerance.\n" +
			"With --sweep C1,C2,...: one decode step per context and strategy (for cryptogen the median of its five decode\n" +
			"steps reading C-2 to C+2 tokens, for recompute its second pass, over C tokens, after one over C-1) on the reference story,\n" +
			"per kind, with the geometric mean and the worst error per kind over the sweep (--csv, --png for the points).\n" +
			"--temperature (and --seed) validates a sampled run; --strategy speculative --draft FILE [--gamma G] a speculative one,\n" +
			"whose estimate replays the run's accepted counts.\n\n" +
			"Example: cgsim validate --gen 8 --net lan --params bgv-n13",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Value: filepath.Join(defaultDataDir, "stories260K/stories260K.bin"), Usage: "llama2.c model file"},
			&cli.StringFlag{Name: "tokenizer", Value: filepath.Join(defaultDataDir, "stories260K/tok512.bin"), Usage: "llama2.c tokenizer file"},
			&cli.StringFlag{Name: "prompt", Usage: "prompt text (empty: start from BOS alone)"},
			&cli.IntFlag{Name: "gen", Value: 8, Usage: "number of tokens to generate"},
			&cli.Float64Flag{Name: "tolerance", Value: 0.15, Usage: "largest accepted relative difference of the total seconds (with --sweep: of the geometric mean of the steps' compute)"},
			&cli.StringFlag{Name: "sweep", Usage: "comma-separated contexts: validate one decode step per context and strategy, per kind (e.g. 16,32,64,128,256)"},
			&cli.StringFlag{Name: "strategies", Value: strategyNames(), Usage: "with --sweep: the strategies"},
			&cli.StringFlag{Name: "csv", Usage: "with --sweep: also write the points as CSV to this file"},
			&cli.StringFlag{Name: "png", Usage: "with --sweep: also plot measured against estimated seconds to this PNG file"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress bar"},
			&cli.Float64Flag{Name: "temperature", Usage: "validate a sampled run at this temperature (as run's); 0: greedy"},
			&cli.Uint64Flag{Name: "seed", Usage: "with --temperature: the sampler's seed (default: a random one)"},
			&cli.StringFlag{Name: "draft", Usage: "with --strategy speculative: the client's public draft model (as run's)"},
			&cli.IntFlag{Name: "gamma", Value: 4, Usage: "with --strategy speculative: the draft tokens a step proposes"},
			formatFlag(),
		}, append(publicPrefixFlags(), protocolFlags()...)...),
		Action: validateAction,
	}
}

// validateRow is one line of the comparison.
type validateRow struct {
	Phase     string            `json:"phase"`
	Kind      string            `json:"kind"`
	Estimated cost.Cost         `json:"estimated"`
	Measured  cost.Cost         `json:"measured"`
	Diffs     []cost.Difference `json:"counter_differences,omitempty"`
}

func validateAction(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	format, err := checkFormat(c, "table", "json")
	if err != nil {
		return err
	}
	p, err := protocolFrom(c)
	if err != nil {
		return err
	}
	tol := c.Float64("tolerance")
	if !(tol >= 0) {
		return fmt.Errorf("validate: --tolerance must be non-negative, got %g", tol)
	}
	if err := checkSpeculativeFlags(c, p); err != nil {
		return err
	}
	sampler, err := samplerFrom(c)
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	_, hasPrefix, err := publicPrefixText(c)
	if err == nil {
		err = checkPrefixProtocol(hasPrefix, p)
	}
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	if spec := c.String("sweep"); spec != "" {
		for _, f := range []string{"temperature", "seed", "draft", "gamma", "public-prefix", "public-prefix-file"} {
			if c.IsSet(f) {
				return fmt.Errorf("validate: --%s with --sweep: a sweep validates greedy decode steps", f)
			}
		}
		m, _, err := loadModelAndTokenizer(c)
		if err != nil {
			return fmt.Errorf("validate: %w", err)
		}
		return validateSweep(c, p, m, spec)
	}
	gen := c.Int("gen")
	if gen < 1 {
		return fmt.Errorf("validate: --gen must be at least 1, got %d", gen)
	}
	m, tok, err := loadModelAndTokenizer(c)
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	prompt, public, err := readPrompt(c, tok, m.Config, gen, p.maxSession)
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	var pub *sim.PublicKV
	if public > 0 {
		if pub, err = loadPublic(c, m, p.preset, prompt[:public]); err != nil {
			return fmt.Errorf("validate: %w", err)
		}
	}
	ro := sim.RunOptions{Model: m, Preset: p.preset, Profile: p.profile, Network: p.network, Strategy: p.strategy, Gen: gen, Cache: p.cache,
		MaxSessionTokens: p.maxSession, ServerCores: p.serverCores, ClientCores: p.clientCores, Nonlinear: p.nonlinear, Sampler: sampler, Public: pub}
	if err := speculativeOptions(c, p, &ro); err != nil {
		return err
	}
	eo := sim.EstimateOptions{Model: m.Config, Preset: p.preset, Profile: p.profile, Network: p.network,
		Strategy: p.strategy, Prompt: len(prompt), Public: public, Gen: gen, Cache: p.cache, MaxSessionTokens: p.maxSession, ServerCores: p.serverCores, ClientCores: p.clientCores, Nonlinear: p.nonlinear,
		TopK: sampler.FilterK()}
	var est *sim.Report
	if p.strategy == sim.Speculative { // estimated after the run, replaying its accepted counts
		eo.TopK, eo.Gamma, eo.Temperature = 0, ro.Gamma, sampler.Temperature
	} else if est, err = sim.Estimate(eo); err != nil {
		return fmt.Errorf("validate: %w", protocolHint(err, p))
	}
	warnCores(c, "--server-cores", p.serverCores)
	warnCores(c, "--client-cores", p.clientCores)
	if p.serverCores <= 1 && p.clientCores <= 1 {
		defer sim.OneThread()()
	}
	bar := newBar(c, false, gen, "running")
	run, err := sim.Run(ro, prompt, false, func(sim.Step) { bar.tick() })
	bar.done()
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	if est == nil {
		eo.Accepted = run.Accepted
		if eo.Accepted == nil {
			eo.Accepted = []int{}
		}
		if est, err = sim.Estimate(eo); err != nil {
			return fmt.Errorf("validate: %w", protocolHint(err, p))
		}
	}
	var rows []validateRow
	ndiff := 0
	for _, ph := range []struct {
		name string
		kind sim.PhaseKind
	}{{"prefill", sim.Prefill}, {"decode", sim.Decode}} {
		e, r := est.ByKind(ph.kind), run.ByKind(ph.kind)
		for _, k := range sim.Kinds() {
			if e[k] == (cost.Cost{}) && r[k] == (cost.Cost{}) {
				continue
			}
			d := cost.CounterDiff(e[k], r[k])
			ndiff += len(d)
			rows = append(rows, validateRow{Phase: ph.name, Kind: string(k), Estimated: e[k], Measured: r[k], Diffs: d})
		}
	}
	total := cost.CounterDiff(est.Total, run.Total)
	ndiff += len(total)
	rel := run.Total.Seconds()/est.Total.Seconds() - 1
	// The offline seconds are reported beside the total, never gated; a
	// profile without the dealer's operations estimates the pads' alone,
	// which compare with nothing measured.
	var relOff *float64
	if est.Total.OfflineSeconds > 0 && (p.profile == nil || p.profile.PricesOffline()) {
		r := run.Total.OfflineSeconds/est.Total.OfflineSeconds - 1
		relOff = &r
	}
	if format == "json" {
		if err := writeJSON(c.App.Writer, struct {
			Rows       []validateRow `json:"rows"`
			Estimate   *sim.Report   `json:"estimate"`
			Run        *sim.Report   `json:"run"`
			Relative   float64       `json:"relative_seconds_difference"`
			RelOffline *float64      `json:"relative_offline_seconds_difference"`
		}{rows, est, run, rel, relOff}); err != nil {
			return err
		}
	} else {
		w := c.App.Writer
		fmt.Fprintf(w, "validate %s: %s, %s, %s, %d prompt tokens, %d generated%s\n\n", m.Config.Name, p.label(), p.preset.Name, p.network,
			len(prompt), gen, samplerNote(sampler))
		tw := newTable(w)
		fmt.Fprintln(tw, "phase\tkind\testimated s\tmeasured s\tmeas/est-1\tcounters\t")
		for _, r := range rows {
			status := "equal"
			if len(r.Diffs) > 0 {
				status = fmt.Sprint(r.Diffs)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.3f\t%s\t%s\t\n", r.Phase, r.Kind, r.Estimated.Seconds(), r.Measured.Seconds(),
				relPct(r.Measured.Seconds(), r.Estimated.Seconds()), status)
		}
		status := "equal"
		if len(total) > 0 {
			status = fmt.Sprint(total)
		}
		fmt.Fprintf(tw, "total\t\t%.3f\t%.3f\t%s\t%s\t\n", est.Total.Seconds(), run.Total.Seconds(), relPct(run.Total.Seconds(), est.Total.Seconds()), status)
		fmt.Fprintf(tw, "offline\tdealer, pads\t%.3f\t%.3f\t%s\t%s\t\n", est.Total.OfflineSeconds, run.Total.OfflineSeconds,
			relPct(run.Total.OfflineSeconds, est.Total.OfflineSeconds), "not in the total, not checked")
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "\ncompute only: estimated %.3f s, measured %.3f s of CPU (%s; wall %.3f s); network %.3f s on both sides\n",
			est.Total.ComputeSeconds, run.Total.ComputeSeconds, relPct(run.Total.ComputeSeconds, est.Total.ComputeSeconds),
			run.Total.WallSeconds, run.Total.NetworkSeconds)
	}
	if ndiff > 0 {
		return fmt.Errorf("validate: %d counters differ between the run and the estimate", ndiff)
	}
	if math.Abs(rel) > tol {
		return fmt.Errorf("validate: measured total %.3f s differs from the estimate %.3f s by %+.1f%%, beyond the tolerance %.0f%%",
			run.Total.Seconds(), est.Total.Seconds(), 100*rel, 100*tol)
	}
	return nil
}

func relPct(meas, est float64) string {
	if est == 0 {
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", 100*(meas/est-1))
}
