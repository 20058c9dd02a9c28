package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/sim"
)

func planCommand() *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "per-token latency and KV-cache memory as the context grows, and the longest context within budgets",
		Description: "Estimates one decode step of each strategy at contexts from --min-context to --max-context\n" +
			"(powers of two and the midpoints between them): its seconds and the encrypted KV cache's memory\n" +
			"(cryptogen; recompute keeps no cache), then the longest context whose step fits --latency-budget\n" +
			"and --memory-budget. Beyond the model's own context the shape is costed as if it had been trained\n" +
			"for it. The speculative strategy (--strategies cryptogen,speculative) is costed as a verification pass of\n" +
			"--gamma proposals whose seconds are divided by the tokens a pass yields at --acceptance (1 + a + ... + a^gamma),\n" +
			"at --temperature for speculative sampling. Estimate only: no cryptography.\n\n" +
			"Example: cgsim plan --model gpt2 --net wan --latency-budget 3m --memory-budget 16GB",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Value: defaultEstimateModel, Usage: "built-in model name (see cgsim models) or llama2.c file"},
			&cli.IntFlag{Name: "min-context", Value: 128, Usage: "shortest context"},
			&cli.IntFlag{Name: "max-context", Value: 32768, Usage: "longest context"},
			&cli.StringFlag{Name: "latency-budget", Usage: "largest per-token latency: a duration (90s, 2m) or seconds"},
			&cli.StringFlag{Name: "memory-budget", Usage: "largest KV-cache memory: bytes with an optional unit (16GB, 512MiB)"},
			&cli.StringFlag{Name: "format", Value: "table", Usage: "output format: table, json or csv"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress bar"},
			&cli.StringFlag{Name: "strategies", Value: strategyNames(), Usage: "comma-separated strategies to cost"},
			&cli.IntFlag{Name: "gamma", Value: 4, Usage: "with the speculative strategy: the draft tokens a pass proposes"},
			&cli.Float64Flag{Name: "acceptance", Value: -1, Usage: "with the speculative strategy: the probability that the model accepts each proposal (cgsim draft-stats measures it); required with it"},
			&cli.Float64Flag{Name: "temperature", Usage: "with the speculative strategy: price speculative sampling at this temperature; 0: greedy"},
			&cli.IntFlag{Name: "public-prefix-tokens", Usage: "every context starts with a public prefix of N tokens (sent in the clear, not prefilled; the feature-major cache: --strategies cryptogen or speculative); the contexts must exceed N + 1; 0: none"},
		}, protocolFlagsExcept("strategy", "max-session-tokens")...),
		Action: planAction,
	}
}

// maxLatencyBudget bounds --latency-budget: 10^9 s (32 years) per token is
// beyond any plan, and larger numbers are typos.
const maxLatencyBudget = 1e9

// parseSeconds reads a duration ("90s", "2m") or a number of seconds, at
// most maxLatencyBudget.
func parseSeconds(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		d, derr := time.ParseDuration(s)
		if derr != nil {
			return 0, fmt.Errorf("--latency-budget %q: want a duration such as 90s or 2m, or seconds", s)
		}
		v = d.Seconds()
	}
	if !(v >= 0 && v <= maxLatencyBudget) {
		return 0, fmt.Errorf("--latency-budget %q: want a duration or seconds from 0 to %g s", s, float64(maxLatencyBudget))
	}
	return v, nil
}

// parseBytes reads a byte count with an optional unit: B, KB, MB, GB, TB
// (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024).
func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	bad := fmt.Errorf("--memory-budget %q: want bytes with an optional unit, such as 16GB or 512MiB, below %.3g", s, float64(math.MaxInt64/2))
	i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, bad
	}
	mult := map[string]float64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}
	m, ok := mult[strings.ToUpper(unit)]
	if !ok || v*m > math.MaxInt64/2 {
		return 0, bad
	}
	return int64(v * m), nil
}

func planAction(c *cli.Context) error {
	format, p, cfg, err := estimateInputs(c)
	if err != nil {
		return err
	}
	lat, err := parseSeconds(c.String("latency-budget"))
	if err != nil {
		return err
	}
	mem, err := parseBytes(c.String("memory-budget"))
	if err != nil {
		return err
	}
	lo, hi := c.Int("min-context"), c.Int("max-context")
	if lo < 2 || hi < lo || hi > 1<<20 {
		return fmt.Errorf("plan: contexts from %d to %d: want 2 <= --min-context <= --max-context <= %d", lo, hi, 1<<20)
	}
	strats, err := sim.ParseStrategies(c.String("strategies"))
	if err != nil {
		return fmt.Errorf("--strategies: %w", err)
	}
	eo := sim.EstimateOptions{Model: cfg, Preset: p.preset, Profile: p.profile, Network: p.network, Cache: p.cache, ServerCores: p.serverCores, ClientCores: p.clientCores, Nonlinear: p.nonlinear,
		Public: c.Int("public-prefix-tokens")}
	if eo.Public < 0 || (eo.Public > 0 && lo <= eo.Public+1) {
		return fmt.Errorf("plan: --public-prefix-tokens %d: want 0 or more, below --min-context %d less one (each context's prompt needs a private token)", eo.Public, lo)
	}
	if eo.Public > 0 {
		if !c.IsSet("strategies") {
			strats = []sim.Strategy{sim.Cryptogen}
		}
		for _, s := range strats {
			if !s.KeepsCache() {
				return fmt.Errorf("plan: --public-prefix-tokens with --strategies %s: a public prefix needs the encrypted cache, which %s does not keep", s, s)
			}
		}
	}
	if slices.Contains(strats, sim.Speculative) {
		eo.Gamma, eo.Acceptance = c.Int("gamma"), c.Float64("acceptance")
		if eo.Temperature, err = temperatureFrom(c); err != nil {
			return fmt.Errorf("plan: %w", err)
		}
		switch {
		case !c.IsSet("acceptance"):
			return fmt.Errorf("plan: the speculative strategy needs --acceptance, the probability that the model accepts a proposal (cgsim draft-stats measures it)")
		case !(eo.Acceptance >= 0 && eo.Acceptance <= 1):
			return fmt.Errorf("plan: --acceptance %v: want a probability from 0 to 1", eo.Acceptance)
		}
	} else if c.IsSet("gamma") || c.IsSet("acceptance") || c.IsSet("temperature") {
		return fmt.Errorf("plan: --gamma, --acceptance and --temperature are for the speculative strategy (--strategies ...,speculative)")
	}
	ctxs := sim.PlanContexts(lo, hi)
	bar := newBar(c, false, len(ctxs), "planning")
	rep, err := sim.Plan(sim.PlanOptions{
		EstimateOptions: eo,
		Strategies:      strats, Contexts: ctxs, LatencyBudget: lat, MemoryBudget: mem,
		OnPoint: bar.tick,
	})
	bar.done()
	if err != nil {
		return err // sim's error names the plan and the context
	}
	w := c.App.Writer
	switch format {
	case "json":
		return writeJSON(w, planJSON{rep, growthOf(rep)})
	case "csv":
		return writePlanCSV(w, rep)
	}
	return writePlanTable(w, rep, cfg.SeqLen)
}

// planJSON is the JSON of a plan: the report and, per strategy costed at two
// contexts or more, its growth exponent (see sim.GrowthExponent).
type planJSON struct {
	*sim.PlanReport
	Growth map[sim.Strategy]float64 `json:"growth_exponent,omitempty"`
}

// growthOf returns the growth exponent of each strategy that has one.
func growthOf(rep *sim.PlanReport) map[sim.Strategy]float64 {
	out := map[sim.Strategy]float64{}
	for _, s := range rep.Strategies {
		if k, err := rep.Growth(s); err == nil {
			out[s] = k
		}
	}
	return out
}

// strategyNames is the default strategies (sim.DefaultStrategies), comma-separated.
func strategyNames() string {
	var names []string
	for _, s := range sim.DefaultStrategies() {
		names = append(names, string(s))
	}
	return strings.Join(names, ",")
}

// cacheStrategy is the first strategy of the plan that keeps a cache, whose
// memory the plan shows ("" if none does).
func cacheStrategy(rep *sim.PlanReport) sim.Strategy {
	for _, s := range rep.Strategies {
		if s.KeepsCache() {
			return s
		}
	}
	return ""
}

// writePlanCSV writes one row per context: each strategy's seconds, the
// ratio of the second strategy over the first (with two), the cache's
// memory, each strategy's rounds and bytes and whether it fits.
func writePlanCSV(w io.Writer, rep *sim.PlanReport) error {
	cw := csv.NewWriter(w)
	ss, cache := rep.Strategies, cacheStrategy(rep)
	per := func(suffix string) []string {
		var h []string
		for _, s := range ss {
			h = append(h, string(s)+suffix)
		}
		return h
	}
	head := append([]string{"context"}, per("_seconds")...)
	if len(ss) == 2 {
		head = append(head, "ratio")
	}
	if cache != "" {
		head = append(head, string(cache)+"_memory_bytes")
	}
	head = append(append(append(head, per("_rounds")...), per("_bytes")...), per("_fits")...)
	cw.Write(head)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, pt := range rep.Points {
		row := []string{strconv.Itoa(pt.Context)}
		for _, s := range ss {
			row = append(row, f(pt.Seconds(s)))
		}
		if len(ss) == 2 {
			row = append(row, f(pt.Ratio(ss[0], ss[1])))
		}
		if cache != "" {
			row = append(row, strconv.FormatInt(pt.Costs[cache].PeakMemoryBytes, 10))
		}
		for _, s := range ss {
			row = append(row, strconv.FormatInt(pt.Costs[s].Rounds, 10))
		}
		for _, s := range ss {
			row = append(row, strconv.FormatInt(pt.Costs[s].BytesC2S+pt.Costs[s].BytesS2C, 10))
		}
		for _, s := range ss {
			row = append(row, strconv.FormatBool(pt.Fits(s, rep.LatencyBudget, rep.MemoryBudget)))
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

func writePlanTable(w io.Writer, rep *sim.PlanReport, trained int) error {
	method := ""
	if rep.Nonlinear != mpc.Iterative.String() {
		method = ", nonlinear " + rep.Nonlinear
	}
	step := "one decode step"
	if rep.Gamma > 0 {
		step += " (speculative: one verification pass)"
	}
	step += " per context"
	if rep.Public > 0 {
		step += fmt.Sprintf(", its first %d tokens a public prefix", rep.Public)
	}
	fmt.Fprintf(w, "plan %s: %s, %s, cache %s%s; %s\n\n", rep.Model, rep.Params, rep.Network, rep.Cache, method, step)
	ss, cache := rep.Strategies, cacheStrategy(rep)
	tw := newTable(w)
	head := "context\t"
	for _, s := range ss {
		head += string(s) + " s/token\t"
	}
	if len(ss) == 2 {
		head += "ratio\t"
	}
	if cache != "" {
		head += "cache MB\t"
	}
	for _, s := range ss {
		head += string(s) + " fits\t"
	}
	fmt.Fprintln(tw, head)
	yes := map[bool]string{true: "yes", false: "no"}
	beyond := false
	for _, pt := range rep.Points {
		ctx := strconv.Itoa(pt.Context)
		if pt.Context > trained {
			ctx += "*"
			beyond = true
		}
		line := ctx + "\t"
		for _, s := range ss {
			if pt.Errors[s] != "" {
				line += "n/a\t"
			} else {
				line += fmt.Sprintf("%.2f\t", pt.Seconds(s))
			}
		}
		if len(ss) == 2 {
			if r := pt.Ratio(ss[0], ss[1]); r > 0 {
				line += fmt.Sprintf("%.1f\t", r)
			} else {
				line += "-\t"
			}
		}
		if cache != "" {
			if pt.Errors[cache] == "" {
				line += fmt.Sprintf("%.1f\t", mb(pt.Costs[cache].PeakMemoryBytes))
			} else {
				line += "n/a\t"
			}
		}
		for _, s := range ss {
			line += yes[pt.Fits(s, rep.LatencyBudget, rep.MemoryBudget)] + "\t"
		}
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if beyond {
		fmt.Fprintf(w, "* beyond the model's context of %d tokens (costed as if trained for it)\n", trained)
	}
	if rep.Gamma > 0 {
		how := "greedy"
		if rep.Temperature > 0 {
			how = fmt.Sprintf("sampled at temperature %g", rep.Temperature)
		}
		fmt.Fprintf(w, "speculative (%s): a verification pass of %d proposals yields %.2f tokens at acceptance %g; its seconds are per token\n",
			how, rep.Gamma, sim.SpecYield(rep.Gamma, rep.Acceptance), rep.Acceptance)
	}
	for _, pt := range rep.Points {
		for _, s := range ss {
			if e := pt.Errors[s]; e != "" {
				fmt.Fprintf(w, "n/a: %s at %d: %s\n", s, pt.Context, e)
			}
		}
	}
	budget := "no budget"
	var parts []string
	if rep.LatencyBudget > 0 {
		parts = append(parts, fmt.Sprintf("%.3g s/token", rep.LatencyBudget))
	}
	if rep.MemoryBudget > 0 {
		parts = append(parts, fmt.Sprintf("%.4g GB of cache", float64(rep.MemoryBudget)/1e9))
	}
	if len(parts) > 0 {
		budget = strings.Join(parts, " and ")
	}
	var lg, gr []string
	g := growthOf(rep)
	for _, s := range ss {
		lg = append(lg, fmt.Sprintf("%s %s", s, longest(rep.Longest[s])))
		k := "n/a"
		if v, ok := g[s]; ok {
			k = fmt.Sprintf("%.2f", v)
		}
		gr = append(gr, fmt.Sprintf("%s k = %s", s, k))
	}
	fmt.Fprintf(w, "\nlongest context within %s: %s\n", budget, strings.Join(lg, ", "))
	if len(g) > 0 {
		fmt.Fprintf(w, "growth over the sweep (seconds per token ~ context^k, least squares on log-log): %s\n", strings.Join(gr, ", "))
	}
	return nil
}

func longest(n int) string {
	if n == 0 {
		return "none of the sweep"
	}
	return strconv.Itoa(n) + " tokens"
}
