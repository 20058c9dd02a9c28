package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/sim"
)

// tuneSpeculativeCommand is tune speculative: plain decoding over the
// cache against speculative decoding at each draft length, per network.
func tuneSpeculativeCommand() *cli.Command {
	return &cli.Command{
		Name:  "speculative",
		Usage: "compare speculative decoding's draft lengths with plain decoding at an acceptance rate",
		Description: "Estimates the decoding (--prompt, then --gen tokens, at least 2) plainly (cryptogen, gamma 0) and with\n" +
			"--strategy speculative at each draft length of --gammas, each proposal accepted with probability\n" +
			"--acceptance until the first rejection (measure it with cgsim draft-stats), on each network of --nets,\n" +
			"and prints per decoded token the seconds and rounds, the decode steps, the speedup over plain\n" +
			"decoding and the fastest draft length on each network. Estimate only: no cryptography.\n\n" +
			"Example: cgsim tune speculative --model stories260K --prompt 64 --gen 65 --acceptance 0.85 --nets lan,wan --nonlinear lut",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Value: defaultEstimateModel, Usage: "built-in model name (see cgsim models) or llama2.c file"},
			&cli.IntFlag{Name: "prompt", Value: defaultPrompt, Usage: "prompt tokens"},
			&cli.IntFlag{Name: "gen", Value: defaultGen, Usage: "generated tokens"},
			&cli.Float64Flag{Name: "acceptance", Value: -1, Usage: "the probability that the model accepts each proposal (required)"},
			&cli.StringFlag{Name: "gammas", Value: "1,2,4,8", Usage: "comma-separated draft lengths, 1 to 64"},
			&cli.Float64Flag{Name: "temperature", Usage: "price speculative sampling at this temperature (plain decoding samples at the cost of a greedy choice); 0: greedy"},
			&cli.IntFlag{Name: "public-prefix-tokens", Usage: "the first N of the --prompt tokens are a public prefix (as estimate's); 0: none"},
			&cli.StringFlag{Name: "nets", Usage: "comma-separated networks (as --net; default: --net)"},
			&cli.StringFlag{Name: "format", Value: "table", Usage: "output format: table or json"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress bar"},
		}, protocolFlagsExcept("strategy", "max-session-tokens")...),
		Action: tuneSpeculativeAction,
	}
}

func tuneSpeculativeAction(c *cli.Context) error {
	nets, err := parseNets(c.String("nets")) // before a --profile auto calibration
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	gammas, err := parseGammas("gammas", c.String("gammas"))
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	a := c.Float64("acceptance")
	if !c.IsSet("acceptance") || !(a >= 0 && a <= 1) {
		return fmt.Errorf("tune: --acceptance %v: want the probability, from 0 to 1, that the model accepts a proposal (cgsim draft-stats measures it)", a)
	}
	temp, err := temperatureFrom(c)
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	if g := c.Int("gen"); g < 2 {
		return fmt.Errorf("tune: --gen %d: want at least 2 (a decode step to compare per token)", g)
	}
	format, err := checkFormat(c, "table", "json")
	if err != nil {
		return err
	}
	if err := noArgs(c); err != nil {
		return err
	}
	p, err := protocolFrom(c)
	if err != nil {
		return err
	}
	cfg, err := modelConfig(c.String("model"))
	if err != nil {
		return err
	}
	if err := checkSizes(cfg, c.Int("prompt"), c.Int("gen"), 0); err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	if err := checkPublicTokens(c); err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	bar := newBar(c, false, (1+len(gammas))*max(1, len(nets)), "tuning")
	rep, err := sim.TuneSpeculative(sim.EstimateOptions{Model: cfg, Preset: p.preset, Profile: p.profile, Network: p.network,
		Cache: p.cache, ServerCores: p.serverCores, ClientCores: p.clientCores, Nonlinear: p.nonlinear,
		Prompt: c.Int("prompt"), Public: c.Int("public-prefix-tokens"), Gen: c.Int("gen"), Acceptance: a, Temperature: temp}, gammas, nets, bar.tick)
	bar.done()
	if err != nil {
		return fmt.Errorf("tune: %w", protocolHint(err, p))
	}
	w := c.App.Writer
	if format == "json" {
		return writeJSON(w, rep)
	}
	how := ""
	if rep.Temperature > 0 {
		how = fmt.Sprintf(", sampled at temperature %g", rep.Temperature)
	}
	fmt.Fprintf(w, "tune speculative %s: %s, %s, %d prompt tokens, %d generated, acceptance %g%s; per decoded token\n\n", rep.Model,
		strings.Replace(p.label(), string(sim.Cryptogen), "cryptogen against speculative", 1), rep.Params, rep.Prompt, rep.Gen, rep.Acceptance, how)
	tw := newTable(w)
	fmt.Fprintln(tw, "network\tgamma\tdecode steps\ts a token\trounds a token\tspeedup\t\t")
	for _, pt := range rep.Points {
		g, best := strconv.Itoa(pt.Gamma), ""
		if pt.Gamma == 0 {
			g = "0 (plain)"
		}
		if pt.Best {
			best = "best"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.3f\t%.1f\t%.2fx\t%s\t\n", pt.Network, g, pt.Steps, pt.SecondsPerTok, pt.RoundsPerToken, pt.Speedup, best)
	}
	return tw.Flush()
}
