package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/sim"
)

// tuneNonlinearCommand is tune nonlinear: the two methods of the
// non-linear protocols side by side on one or more networks.
func tuneNonlinearCommand() *cli.Command {
	return &cli.Command{
		Name:  "nonlinear",
		Usage: "compare the non-linear protocols' methods (iterative, lut): online seconds and rounds against dealer material",
		Description: "Estimates the whole generation (--prompt, then --gen tokens, at least 2: one decode step) with\n" +
			"each method of the two-party activations, norms and softmax (--nonlinear iterative and lut) on each\n" +
			"network of --nets, and prints per decoded token the online seconds, rounds and megabytes, the\n" +
			"dealer's material (offline megabytes and seconds, and the time that material would take over one\n" +
			"direction of the same link: a bound, since the comparison keys' correction words go to both\n" +
			"parties), and the method of least online seconds on each network. Estimate only: no cryptography.\n\n" +
			"Example: cgsim tune nonlinear --model gpt2 --prompt 128 --gen 8 --nets lan,wan",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Value: defaultEstimateModel, Usage: "built-in model name (see cgsim models) or llama2.c file"},
			&cli.IntFlag{Name: "prompt", Value: defaultPrompt, Usage: "prompt tokens"},
			&cli.IntFlag{Name: "gen", Value: defaultGen, Usage: "generated tokens"},
			&cli.IntFlag{Name: "public-prefix-tokens", Usage: "the first N of the --prompt tokens are a public prefix (as estimate's); 0: none"},
			&cli.StringFlag{Name: "nets", Usage: "comma-separated networks (as --net; default: --net)"},
			&cli.StringFlag{Name: "format", Value: "table", Usage: "output format: table, json or csv"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress bar"},
		}, protocolFlagsExcept("nonlinear", "max-session-tokens")...),
		Action: tuneNonlinearAction,
	}
}

// maxNets bounds --nets: each network is two whole estimates.
const maxNets = 16

// parseNets reads --nets: networks as --net takes them, separated by
// commas, at most maxNets ("" is none).
func parseNets(s string) ([]net.Network, error) {
	return parseList(s, "--nets", "networks", maxNets, func(f string) (net.Network, error) {
		nw, err := net.Parse(f)
		if err != nil {
			return net.Network{}, fmt.Errorf("--nets: %w", err)
		}
		return nw, nil
	})
}

func tuneNonlinearAction(c *cli.Context) error {
	nets, err := parseNets(c.String("nets")) // before a --profile auto calibration
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	if g := c.Int("gen"); g < 2 {
		return fmt.Errorf("tune: --gen %d: want at least 2 (a decode step to compare per token)", g)
	}
	format, p, cfg, err := estimateInputs(c)
	if err != nil {
		return err
	}
	if err := checkSizes(cfg, c.Int("prompt"), c.Int("gen"), 0); err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	if err := checkPublicTokens(c); err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	bar := newBar(c, false, 2*max(1, len(nets)), "tuning")
	rep, err := sim.TuneNonlinear(sim.EstimateOptions{Model: cfg, Preset: p.preset, Profile: p.profile, Network: p.network,
		Strategy: p.strategy, Cache: p.cache, ServerCores: p.serverCores, ClientCores: p.clientCores,
		Prompt: c.Int("prompt"), Public: c.Int("public-prefix-tokens"), Gen: c.Int("gen")}, nets, bar.tick)
	bar.done()
	if err != nil {
		return fmt.Errorf("tune: %w", protocolHint(err, p))
	}
	w := c.App.Writer
	switch format {
	case "json":
		return writeJSON(w, rep)
	case "csv":
		return writeNonlinearCSV(w, rep)
	}
	return writeNonlinearTable(w, rep, p.label())
}

func writeNonlinearTable(w io.Writer, rep *sim.NonlinearReport, strategy string) error {
	fmt.Fprintf(w, "tune nonlinear %s: %s, %s, %d prompt tokens, %d generated; per decoded token (mean)\n\n", rep.Model, strategy,
		rep.Params, rep.Prompt, rep.Gen)
	tw := newTable(w)
	fmt.Fprintln(tw, "network\tmethod\ttotal s\tdecode s\trounds\tMB\tcompute s\toffline MB\toffline s\toffline over the link s\t\t")
	for _, pt := range rep.Points {
		d := pt.Decode
		best := ""
		if pt.Best {
			best = "best"
		}
		offlineLink := 0.0
		if pt.Total.OfflineBytes > 0 {
			offlineLink = pt.OfflineTransferSeconds * float64(d.OfflineBytes) / float64(pt.Total.OfflineBytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.3f\t%d\t%.2f\t%.3f\t%.2f\t%.3f\t%.3f\t%s\t\n", pt.Network, pt.Method, pt.Total.Seconds(), d.Seconds(),
			d.Rounds, mb(d.BytesC2S+d.BytesS2C), d.ComputeSeconds, mb(d.OfflineBytes), d.OfflineSeconds, offlineLink, best)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nbest: the method of least online seconds (total) on its network; the dealer's material is made and sent before the prompt.")
	return nil
}

func writeNonlinearCSV(w io.Writer, rep *sim.NonlinearReport) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"network", "nonlinear", "total_seconds", "decode_seconds_per_token", "decode_rounds", "decode_bytes",
		"decode_compute_seconds", "total_offline_bytes", "total_offline_seconds", "total_offline_transfer_seconds", "best"})
	for _, pt := range rep.Points {
		d := pt.Decode
		cw.Write([]string{pt.Network, pt.Method, strconv.FormatFloat(pt.Total.Seconds(), 'g', 6, 64),
			strconv.FormatFloat(d.Seconds(), 'g', 6, 64), strconv.FormatInt(d.Rounds, 10), strconv.FormatInt(d.BytesC2S+d.BytesS2C, 10),
			strconv.FormatFloat(d.ComputeSeconds, 'g', 6, 64), strconv.FormatInt(pt.Total.OfflineBytes, 10),
			strconv.FormatFloat(pt.Total.OfflineSeconds, 'g', 6, 64), strconv.FormatFloat(pt.OfflineTransferSeconds, 'g', 6, 64),
			strconv.FormatBool(pt.Best)})
	}
	cw.Flush()
	return cw.Error()
}
