package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/kv"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
	"github.com/cgsim/cgsim/sim"
)

// The built-in default of cgsim estimate.
const (
	defaultEstimateModel = "gpt2"
	defaultPrompt        = 512
	defaultGen           = 128
	defaultNet           = "wan"
)

// protocolFlags are the flags every secure command shares.
func protocolFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "strategy", Value: string(sim.Cryptogen), Usage: strategyUsage()},
		&cli.StringFlag{Name: "params", Value: params.DefaultBGV, Usage: "BGV parameter preset (see cgsim presets)"},
		&cli.BoolFlag{Name: "allow-insecure", Usage: "accept a preset marked INSECURE (unit-test parameters, no security)"},
		&cli.StringFlag{Name: "net", Value: defaultNet, Usage: "network: lan, wan, lan5g, wan100 or BANDWIDTH/RTT such as 200Mbps/10ms"},
		&cli.StringFlag{Name: "layout", Value: "feature", Usage: "cryptogen cache decode layout: feature (feature-major, CryptoGen's ct-pt kernels; the client re-encrypts the open group of the cache at each token, no refresh) or token (token-major, ct-ct kernels, appended and refreshed per --append and --refresh; implied by those flags)"},
		&cli.StringFlag{Name: "append", Value: "client", Usage: "cryptogen cache append: client (the client encrypts the new token at its slot) or homomorphic (the server concatenates it with a selection mask)"},
		&cli.StringFlag{Name: "refresh", Usage: "cryptogen cache refresh policy: eager, lazy or never (default: never with client appends, lazy with homomorphic ones)"},
		&cli.Float64Flag{Name: "refresh-threshold", Usage: "lazy refresh threshold tau, in bits of remaining noise budget (implies --refresh lazy)"},
		&cli.StringFlag{Name: "profile", Usage: "profile file from cgsim calibrate, or auto (this machine's, calibrated once into the user's cache directory; default: the preset's built-in profile)"},
		&cli.IntFlag{Name: "max-session-tokens", Usage: "size the flooding for a session that may grow to this many tokens, prompt included (default: the prompt and --gen)"},
		&cli.IntFlag{Name: "server-cores", Usage: "the server's cores: its kernels' independent pieces run (run) or are priced (estimate, plan, tune) on them (default: all of this machine's for run, 1 elsewhere)"},
		&cli.IntFlag{Name: "client-cores", Usage: "the client's cores: it encrypts and decrypts the ciphertexts of a flight on them, run or priced (default: 1)"},
		&cli.StringFlag{Name: "nonlinear", Value: mpc.Iterative.String(), Usage: "the two-party activations, norms, softmax and argmax: iterative (comparisons, limit formulas, Goldschmidt and Newton steps, tournament trees: small dealer material, many rounds) or lut (lookup tables, comparisons that select in their own round, tournaments planned for the network, truncations fused into the next round or left to the next HE step: an activation in 3 rounds, a norm in 5, a softmax row in 5 after its maximum at bgv-n14 (7 at bgv-n13; one more each for many rows or a fast link), a decode maximum of 64 scores over 8 heads in 3 on the WAN; more dealer material)"},
	}
}

// strategyUsage describes --strategy from the registered strategies.
func strategyUsage() string {
	var parts []string
	for _, s := range sim.Strategies() {
		parts = append(parts, fmt.Sprintf("%s (%s)", s, sim.StrategyDoc(s)))
	}
	return strings.Join(parts, " or ")
}

// protocolFlagsExcept is protocolFlags without the named flags.
func protocolFlagsExcept(names ...string) []cli.Flag {
	var out []cli.Flag
outer:
	for _, f := range protocolFlags() {
		for _, n := range names {
			if f.Names()[0] == n {
				continue outer
			}
		}
		out = append(out, f)
	}
	return out
}

// protocol is what the protocol flags select.
type protocol struct {
	strategy sim.Strategy
	preset   params.Preset
	network  net.Network
	cache    sim.CacheOptions
	profile  *cost.Profile // nil: built-in
	// maxSession is --max-session-tokens (0: the generation asked).
	maxSession int
	// serverCores is --server-cores (0: the command's default).
	serverCores int
	// clientCores is --client-cores (0: one).
	clientCores int
	// nonlinear is --nonlinear.
	nonlinear mpc.Nonlinear
}

func protocolFrom(c *cli.Context) (protocol, error) {
	var p protocol
	var err error
	p.strategy = sim.Cryptogen
	if c.IsSet("strategy") || c.String("strategy") != "" {
		if p.strategy, err = sim.ParseStrategy(c.String("strategy")); err != nil {
			return p, fmt.Errorf("--strategy: %w", err)
		}
	}
	if p.preset, err = params.ByName(c.String("params")); err != nil {
		return p, fmt.Errorf("--params: %w", err)
	}
	if p.preset.Scheme != params.BGV {
		return p, fmt.Errorf("preset %s is a %v preset; the hybrid protocol needs a BGV one", p.preset.Name, p.preset.Scheme)
	}
	if p.preset.Insecure && !c.Bool("allow-insecure") {
		return p, fmt.Errorf("preset %s is INSECURE (unit-test parameters); pass --allow-insecure to use it anyway", p.preset.Name)
	}
	if p.network, err = net.Parse(c.String("net")); err != nil {
		return p, fmt.Errorf("--net: %w", err)
	}
	tokenFlags := c.IsSet("append") || c.IsSet("refresh") || c.IsSet("refresh-threshold")
	if p.cache.Layout, err = sim.ParseLayout(c.String("layout")); err != nil {
		return p, fmt.Errorf("--layout: %w", err)
	}
	if tokenFlags && !c.IsSet("layout") {
		p.cache.Layout = sim.TokenLayout // --append and --refresh are the token layout's
	}
	if p.cache.Layout == sim.FeatureLayout && tokenFlags && p.strategy.KeepsCache() {
		return p, fmt.Errorf("--append, --refresh and --refresh-threshold are the token layout's: a feature-major cache is re-encrypted by the client and never refreshed")
	}
	if p.cache.Append, err = sim.ParseAppend(c.String("append")); err != nil {
		return p, fmt.Errorf("--append: %w", err)
	}
	tau := c.Float64("refresh-threshold")
	if c.IsSet("refresh-threshold") {
		if err := (kv.Lazy{Tau: tau}).Check(); err != nil {
			return p, fmt.Errorf("--refresh-threshold: %w", err)
		}
	}
	if !c.IsSet("refresh-threshold") {
		tau = -1
	}
	if p.cache.Refresh, err = sim.ParseRefresh(c.String("refresh"), tau); err != nil {
		return p, fmt.Errorf("--refresh: %w", err)
	}
	if p.maxSession = c.Int("max-session-tokens"); p.maxSession < 0 {
		return p, fmt.Errorf("--max-session-tokens must be a positive number of tokens, got %d", p.maxSession)
	}
	if p.serverCores = c.Int("server-cores"); c.IsSet("server-cores") && (p.serverCores < 1 || p.serverCores > exec.MaxCores) {
		return p, fmt.Errorf("--server-cores must be 1 to %d, got %d", exec.MaxCores, p.serverCores)
	}
	if p.clientCores = c.Int("client-cores"); c.IsSet("client-cores") && (p.clientCores < 1 || p.clientCores > exec.MaxCores) {
		return p, fmt.Errorf("--client-cores must be 1 to %d, got %d", exec.MaxCores, p.clientCores)
	}
	if s := c.String("nonlinear"); s != "" || c.IsSet("nonlinear") { // tune nonlinear has no such flag
		if p.nonlinear, err = mpc.ParseNonlinear(s); err != nil {
			return p, fmt.Errorf("--nonlinear: %w", err)
		}
	}
	if f := c.String("profile"); f == "auto" {
		if p.profile, err = autoProfile(c, p.preset); err != nil {
			return p, err
		}
	} else if f != "" {
		if p.profile, err = cost.LoadProfile(f); err != nil {
			return p, fmt.Errorf("--profile: %w", err)
		}
		warnMachine(c, p.profile, "profile "+f)
		warnCalibration(c, p.profile, "profile "+f)
		if p.profile.Params != p.preset.Name {
			return p, fmt.Errorf("profile %s was measured for %s, not for --params %s", f, p.profile.Params, p.preset.Name)
		}
		if !p.profile.PricesOffline() {
			fmt.Fprintf(c.App.ErrWriter, "warning: profile %s does not price the dealer's operations (%s): estimated offline_seconds leave the dealer out; measure them with cgsim calibrate\n",
				f, strings.Trim(fmt.Sprint(cost.OfflineOps()), "[]"))
		}
	} else if prof, err := cost.Default(p.preset.Name); err == nil {
		warnMachine(c, prof, "the built-in profile of "+p.preset.Name)
	}
	return p, nil
}

// modelConfig resolves --model: a built-in name or a llama2.c file.
func modelConfig(arg string) (model.Config, error) {
	if cfg, err := model.ConfigByName(arg); err == nil {
		return cfg, nil
	}
	if _, err := os.Stat(arg); err != nil {
		return model.Config{}, fmt.Errorf("--model %q is neither a built-in model (%v) nor a readable file", arg, model.ConfigNames())
	}
	m, err := model.LoadLlama2C(arg)
	if err != nil {
		return model.Config{}, err
	}
	return m.Config, nil
}

func estimateCommand() *cli.Command {
	return &cli.Command{
		Name:  "estimate",
		Usage: "cost a secure generation analytically (no cryptography)",
		Description: "Runs the generation loop with the estimate engine: every secure primitive returns its cost from its\n" +
			"shape, priced by the profile and the network model. With no flags: gpt2, a 512-token prompt, 128\n" +
			"generated tokens, cryptogen, wan.\n\n" +
			"Example: cgsim estimate --model llama3-8b --prompt 2048 --gen 64 --net lan --format json",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "model", Value: defaultEstimateModel, Usage: "built-in model name (see cgsim models) or llama2.c file"},
			&cli.IntFlag{Name: "prompt", Value: defaultPrompt, Usage: "prompt tokens"},
			&cli.IntFlag{Name: "gen", Value: defaultGen, Usage: "generated tokens"},
			&cli.IntFlag{Name: "public-prefix-tokens", Usage: "the first N of the --prompt tokens are a public prefix (sent in the clear, its keys and values computed by the server in plaintext, not prefilled; the feature-major cache); 0: none"},
			&cli.IntFlag{Name: "top-k", Usage: "price a sampler's top-k filter before each token's choice (sampling itself, --temperature of run, costs what greedy choice does); 0: none"},
			&cli.IntFlag{Name: "gamma", Value: 4, Usage: "with --strategy speculative: the draft tokens a step proposes"},
			&cli.Float64Flag{Name: "acceptance", Value: -1, Usage: "with --strategy speculative: the probability that the model accepts each proposal (measure it with cgsim draft-stats); required with that strategy unless --accepted"},
			&cli.StringFlag{Name: "accepted", Usage: "with --strategy speculative: replay these accepted counts, one per verification pass (a run's JSON accepted), instead of --acceptance"},
			&cli.Float64Flag{Name: "temperature", Usage: "with --strategy speculative: price speculative sampling at this temperature (its verification differs from greedy's); 0: greedy"},
			&cli.StringFlag{Name: "format", Value: "table", Usage: "output format: table, json or csv"},
		}, protocolFlags()...),
		Action: estimateAction,
	}
}

// estimateInputs reads what estimate, plan and tune share: no stray
// arguments, the output format (table, json or csv), the protocol flags and
// the model.
func estimateInputs(c *cli.Context) (format string, p protocol, cfg model.Config, err error) {
	if err = noArgs(c); err != nil {
		return
	}
	if format, err = checkFormat(c, "table", "json", "csv"); err != nil {
		return
	}
	if p, err = protocolFrom(c); err != nil {
		return
	}
	cfg, err = modelConfig(c.String("model"))
	return
}

func estimateAction(c *cli.Context) error {
	format, p, cfg, err := estimateInputs(c)
	if err != nil {
		return err
	}
	if err := checkSizes(cfg, c.Int("prompt"), c.Int("gen"), p.maxSession); err != nil {
		return fmt.Errorf("estimate: %w", err)
	}
	topK := c.Int("top-k")
	if topK < 0 {
		return fmt.Errorf("estimate: --top-k %d: want 0 (none) or more", topK)
	}
	if err := checkPublicTokens(c); err != nil {
		return fmt.Errorf("estimate: %w", err)
	}
	opts := sim.EstimateOptions{Public: c.Int("public-prefix-tokens"), Model: cfg, Preset: p.preset, Profile: p.profile, Network: p.network,
		Strategy: p.strategy, Prompt: c.Int("prompt"), Gen: c.Int("gen"), Cache: p.cache, MaxSessionTokens: p.maxSession, ServerCores: p.serverCores, ClientCores: p.clientCores, Nonlinear: p.nonlinear,
		TopK: topK}
	if p.strategy == sim.Speculative {
		opts.Gamma, opts.Acceptance = c.Int("gamma"), c.Float64("acceptance")
		if opts.Temperature, err = temperatureFrom(c); err != nil {
			return fmt.Errorf("estimate: %w", err)
		}
		switch {
		case c.IsSet("accepted"):
			if c.IsSet("acceptance") {
				return fmt.Errorf("estimate: --accepted and --acceptance: give one")
			}
			if opts.Accepted, err = parseAccepted(c.String("accepted")); err != nil {
				return fmt.Errorf("estimate: %w", err)
			}
		case !c.IsSet("acceptance"):
			return fmt.Errorf("estimate: --strategy speculative needs --acceptance, the probability that the model accepts a proposal (cgsim draft-stats measures it), or --accepted")
		case !(opts.Acceptance >= 0 && opts.Acceptance <= 1):
			return fmt.Errorf("estimate: --acceptance %v: want a probability from 0 to 1", opts.Acceptance)
		}
	} else if c.IsSet("gamma") || c.IsSet("acceptance") || c.IsSet("accepted") || c.IsSet("temperature") {
		return fmt.Errorf("estimate: --gamma, --acceptance, --accepted and --temperature are for --strategy speculative (other strategies sample at the cost of a greedy choice)")
	}
	rep, err := sim.Estimate(opts)
	if err != nil {
		return protocolHint(err, p)
	}
	return writeReport(c.App.Writer, format, rep)
}

// writeReport prints a report in one of the formats.
func writeReport(w io.Writer, format string, rep *sim.Report) error {
	switch format {
	case "json":
		return writeJSON(w, rep)
	case "csv":
		return writeCSV(w, rep)
	}
	return writeTable(w, rep)
}

// writeCSV writes one row per phase with every cost field.
func writeCSV(w io.Writer, rep *sim.Report) error {
	cw := csv.NewWriter(w)
	cw.Write(append([]string{"phase", "context"}, cost.FieldNames()...))
	row := func(name string, ctx int, c cost.Cost) {
		rec := []string{name, strconv.Itoa(ctx)}
		for _, v := range c.Values() {
			rec = append(rec, strconv.FormatFloat(v, 'g', -1, 64))
		}
		cw.Write(rec)
	}
	row("prefill", rep.PromptTokens, rep.Prefill)
	for i, d := range rep.Decode {
		row(fmt.Sprintf("decode %d", i), rep.PromptTokens+i+1, d)
	}
	row("total", rep.PromptTokens+rep.Generated-1, rep.Total)
	cw.Flush()
	return cw.Error()
}

// strategyLabel names a strategy in a table's header: with its cache
// (empty for a strategy without one) and, when it is not the default, the
// method of its non-linear protocols.
func strategyLabel(strategy sim.Strategy, cache string, nonlinear mpc.Nonlinear) string {
	s := string(strategy)
	if cache != "" {
		s += " (" + cache + ")"
	}
	if nonlinear != mpc.Iterative {
		s += ", nonlinear " + nonlinear.String()
	}
	return s
}

// label is strategyLabel of the protocol flags.
func (p protocol) label() string {
	cache := ""
	if p.strategy.KeepsCache() {
		cache = p.cache.String()
	}
	return strategyLabel(p.strategy, cache, p.nonlinear)
}

// writeTable prints the summary, the phases and the per-kind breakdown.
func writeTable(w io.Writer, rep *sim.Report) error {
	nl, _ := mpc.ParseNonlinear(rep.Nonlinear) // a report names a method ParseNonlinear knows
	strat := strategyLabel(rep.Strategy, rep.Cache, nl)
	fmt.Fprintf(w, "%s %s: %s, %s, %s, %d prompt tokens, %d generated\n\n", rep.Mode, rep.Model, strat, rep.Params,
		rep.Network, rep.PromptTokens, rep.Generated)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tcontext\tseconds\tcompute s\tnetwork s\tMB up\tMB down\trounds\tct-pt mul\tct-ct mul\trotations\tcache MB\t")
	line := func(name string, ctx int, c cost.Cost) {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.2f\t%.2f\t%d\t%d\t%d\t%d\t%.1f\t\n", name, ctx, c.Seconds(), c.ComputeSeconds,
			c.NetworkSeconds, mb(c.BytesC2S), mb(c.BytesS2C), c.Rounds, c.CtPtMul, c.CtCtMul, c.Rotations, mb(c.PeakMemoryBytes))
	}
	line("prefill", rep.PromptTokens, rep.Prefill)
	n := len(rep.Decode)
	ctxs := decodeContexts(rep)
	for i, d := range rep.Decode {
		if n > 8 && i >= 3 && i < n-3 {
			if i == 3 {
				fmt.Fprintf(tw, "...\t\t\t\t\t\t\t\t\t\t\t\t\n")
			}
			continue
		}
		line(fmt.Sprintf("decode %d", i), ctxs[i], d)
	}
	if n > 0 {
		line("decode mean", ctxs[n/2], rep.MeanDecode())
	}
	line("total", rep.PromptTokens+rep.Generated-1, rep.Total)
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.Gamma > 0 {
		var acc, prop int
		for i, a := range rep.Accepted {
			acc, prop = acc+a, prop+rep.Proposed[i]
		}
		how := "greedy"
		if rep.Temperature > 0 {
			how = fmt.Sprintf("sampled at temperature %g", rep.Temperature)
		}
		fmt.Fprintf(w, "\nspeculative (%s): gamma %d, %d verification passes accepted %d of %d proposals (acceptance %.3f: accepted / (accepted + rejected)), %d decode steps for %d tokens\n",
			how, rep.Gamma, len(rep.Accepted), acc, prop, rep.Acceptance, n, rep.Generated-1)
	}
	if sec := rep.Security; sec.FloodBits > 0 {
		fmt.Fprintf(w, "\nstatistical security: %.1f bits for the %d ciphertexts returned (each flooded for %d bits: κ = %d plus room for the %d ciphertexts a session of %d tokens returns)\n",
			rep.StatSecurityBits, rep.Total.Decryptions, sec.FloodBits, sec.Kappa, sec.Ciphertexts, sec.DeclaredTokens)
	}
	if ew := rep.Weights; ew.Layers > 0 {
		fmt.Fprintf(w, "weights encoded once at the server's setup (not in the totals): %d linear layers, %.1f MB of plaintexts, %d encodes, %.3f s compute\n",
			ew.Layers, mb(ew.Bytes), ew.Cost.Encodes, ew.Cost.ComputeSeconds)
	}
	fmt.Fprint(w, publicNote(rep.Public))
	fmt.Fprintf(w, "\nper kind (seconds; prefill, then all decode steps)\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tprefill s\tdecode s\tdecode MB\tdecode rounds\t")
	pre, dec := rep.ByKind(sim.Prefill), rep.ByKind(sim.Decode)
	for _, k := range sim.Kinds() {
		if pre[k] == (cost.Cost{}) && dec[k] == (cost.Cost{}) {
			continue
		}
		d := dec[k]
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.2f\t%d\t\n", k, pre[k].Seconds(), d.Seconds(), mb(d.BytesC2S+d.BytesS2C), d.Rounds)
	}
	return tw.Flush()
}

func mb(b int64) float64 { return float64(b) / 1e6 }

// decodeContexts is the tokens each decode step of rep reads: one more
// than the last step's, or, for a speculative step, as many more as it
// made.
func decodeContexts(rep *sim.Report) []int {
	out := make([]int, len(rep.Decode))
	made := 1 // the prefill's token
	for i := range out {
		step := 1
		if i < len(rep.Accepted) {
			step = rep.Accepted[i] + 1
		}
		made += step
		out[i] = rep.PromptTokens + made - 1
	}
	return out
}

// parseAccepted reads --accepted: comma-separated counts from 0 to 64, at
// most one per generated token (bounded by the model's context: 2^20).
func parseAccepted(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("--accepted %q: want comma-separated counts from 0 to 64", s)
	}
	return parseList(s, "--accepted", "counts", 1<<20, func(f string) (int, error) {
		a, err := strconv.Atoi(f)
		if err != nil || a < 0 || a > 64 {
			return 0, fmt.Errorf("--accepted %q: want comma-separated counts from 0 to 64", s)
		}
		return a, nil
	})
}
