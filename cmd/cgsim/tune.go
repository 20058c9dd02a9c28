package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/kv"
	"github.com/cgsim/cgsim/sim"
)

func tuneCommand() *cli.Command {
	subs := tuneSubcommands()
	return &cli.Command{
		Name:        "tune",
		Usage:       "choose protocol settings by sweeping them with the estimate engine",
		Action:      unknownCommand(func() []*cli.Command { return subs }),
		Subcommands: subs,
	}
}

func tuneSubcommands() []*cli.Command {
	return []*cli.Command{{
		Name:  "refresh",
		Usage: "sweep the KV cache's append method and refresh policy (lazy threshold) and pick the fastest",
		Description: "Estimates the whole cryptogen generation (--prompt, then --gen tokens) for each append method\n" +
			"(client, homomorphic) and refresh policy (never, eager, lazy at each threshold of --taus), prints\n" +
			"the total and per-token seconds, the refreshed ciphertexts, the rounds and the cache's peak memory,\n" +
			"and the fastest valid choice. A configuration the noise model rejects (a budget that would run out)\n" +
			"is listed as invalid. Estimate only: no cryptography.\n\n" +
			"Example: cgsim tune refresh --model gpt2 --prompt 512 --gen 128 --net wan",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Value: defaultEstimateModel, Usage: "built-in model name (see cgsim models) or llama2.c file"},
			&cli.IntFlag{Name: "prompt", Value: defaultPrompt, Usage: "prompt tokens"},
			&cli.IntFlag{Name: "gen", Value: defaultGen, Usage: "generated tokens"},
			&cli.StringFlag{Name: "taus", Usage: "comma-separated lazy thresholds in bits (default " + floats(sim.DefaultTaus) + ")"},
			&cli.StringFlag{Name: "format", Value: "table", Usage: "output format: table, json or csv"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress bar"},
		}, protocolFlagsExcept("strategy", "layout", "append", "refresh", "refresh-threshold", "max-session-tokens")...),
		Action: tuneRefreshAction,
	}, tuneNonlinearCommand(), tuneSpeculativeCommand()}
}

func floats(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, strconv.FormatFloat(x, 'g', -1, 64))
	}
	return strings.Join(s, ",")
}

// maxTaus bounds the thresholds of --taus: each is a whole estimate.
const maxTaus = 256

// parseTaus reads --taus: comma-separated thresholds in bits, each in
// [0, 10^6], at most maxTaus of them ("" is none: the default).
func parseTaus(s string) ([]float64, error) {
	return parseList(s, "--taus", "thresholds", maxTaus, func(f string) (float64, error) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || !(v >= 0) || v > 1e6 {
			return 0, fmt.Errorf("--taus %q: want numbers of bits from 0 to 1e6 separated by commas", s)
		}
		return v, nil
	})
}

// parseList reads a flag's comma-separated list of at most most items
// (what names them in the error), each parsed by parse after trimming;
// "" is none.
func parseList[T any](s, flag, what string, most int, parse func(string) (T, error)) ([]T, error) {
	if s == "" {
		return nil, nil
	}
	fields := strings.Split(s, ",")
	if len(fields) > most {
		return nil, fmt.Errorf("%s: %d %s, at most %d", flag, len(fields), what, most)
	}
	out := make([]T, 0, len(fields))
	for _, f := range fields {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func tuneRefreshAction(c *cli.Context) error {
	format, p, cfg, err := estimateInputs(c)
	if err != nil {
		return err
	}
	if err := checkSizes(cfg, c.Int("prompt"), c.Int("gen"), 0); err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	taus, err := parseTaus(c.String("taus"))
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	n := 2 * (2 + len(taus))
	if len(taus) == 0 {
		n = 2 * (2 + len(sim.DefaultTaus))
	}
	bar := newBar(c, false, n, "tuning")
	rep, err := sim.TuneRefresh(sim.TuneOptions{
		EstimateOptions: sim.EstimateOptions{Model: cfg, Preset: p.preset, Profile: p.profile, Network: p.network, ServerCores: p.serverCores, ClientCores: p.clientCores, Nonlinear: p.nonlinear,
			Prompt: c.Int("prompt"), Gen: c.Int("gen")},
		Taus:    taus,
		OnPoint: bar.tick,
	})
	bar.done()
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	w := c.App.Writer
	switch format {
	case "json":
		return writeJSON(w, rep)
	case "csv":
		return writeTuneCSV(w, rep)
	}
	return writeTuneTable(w, rep)
}

func writeTuneCSV(w io.Writer, rep *sim.TuneReport) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"append", "refresh", "valid", "total_seconds", "decode_seconds_per_token", "refreshes", "rounds",
		"peak_memory_bytes", "best", "error", "layout"})
	for i, pt := range rep.Points {
		cw.Write([]string{pt.Append, pt.Refresh, strconv.FormatBool(pt.Error == ""),
			strconv.FormatFloat(pt.Total.Seconds(), 'g', 6, 64), strconv.FormatFloat(pt.Decode.Seconds(), 'g', 6, 64),
			strconv.FormatInt(pt.Total.Refreshes, 10), strconv.FormatInt(pt.Total.Rounds, 10),
			strconv.FormatInt(pt.Total.PeakMemoryBytes, 10), strconv.FormatBool(i == rep.Best), pt.Error, pt.Layout})
	}
	cw.Flush()
	return cw.Error()
}

func writeTuneTable(w io.Writer, rep *sim.TuneReport) error {
	nl, _ := mpc.ParseNonlinear(rep.Nonlinear) // a report names a method ParseNonlinear knows
	fmt.Fprintf(w, "tune refresh %s: %s, %s, %s, %d prompt tokens, %d generated\n\n", rep.Model, strategyLabel(sim.Cryptogen, "", nl), rep.Params, rep.Network,
		rep.Prompt, rep.Gen)
	tw := newTable(w)
	fmt.Fprintln(tw, "layout\tappend\trefresh\ttotal s\tdecode s/token\trefreshes\trounds\tcache MB\t\t")
	for i, pt := range rep.Points {
		mark := ""
		if i == rep.Best {
			mark = "best"
		}
		if pt.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\tinvalid\t-\t-\t-\t-\t%s\t\n", pt.Layout, pt.Append, pt.Refresh, mark)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.3f\t%d\t%d\t%.1f\t%s\t\n", pt.Layout, pt.Append, pt.Refresh, pt.Total.Seconds(), pt.Decode.Seconds(),
			pt.Total.Refreshes, pt.Total.Rounds, mb(pt.Total.PeakMemoryBytes), mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, pt := range rep.Points {
		if pt.Error != "" {
			reason := pt.Error
			if i := strings.LastIndex(reason, ": "); i >= 0 && len(reason) > 160 {
				reason = "..." + reason[i:]
			}
			key := pt.Append + reason
			if !seen[key] {
				seen[key] = true
				fmt.Fprintf(w, "invalid (%s, e.g. %s): %s\n", pt.Append, pt.Refresh, pt.Error)
			}
		}
	}
	b := rep.Points[rep.Best]
	fmt.Fprintf(w, "\nbest: %s: %.2f s in all, %.3f s per decoded token, %d ciphertexts refreshed\n",
		cacheFlags(b.Options()), b.Total.Seconds(), b.Decode.Seconds(), b.Total.Refreshes)
	return nil
}

// cacheFlags spells cache options as cgsim's flags.
func cacheFlags(co sim.CacheOptions) string {
	if co.Layout == sim.FeatureLayout {
		return "--layout feature"
	}
	app := "client"
	if co.Append == kv.Homomorphic {
		app = "homomorphic"
	}
	refresh := co.Policy().String()
	if l, ok := co.Policy().(kv.Lazy); ok {
		refresh = fmt.Sprintf("lazy --refresh-threshold %g", l.Tau)
	}
	return fmt.Sprintf("--layout token --append %s --refresh %s", app, refresh)
}
