// Command scaling writes cgsim's scaling curves: the per-token latency of a
// decode step and the encrypted KV cache's memory as the context grows,
// for both strategies (cryptogen: the cache reused; recompute: the prefix
// re-run), on the LAN and WAN network models, as CSV and PNG.
//
// Usage (from the repository root):
//
//	go run ./experiments/scaling -out DIR [-model gpt2] [-params bgv-n14] [-max-context 1024]
//	go run ./experiments/scaling -out DIR -measure [-measure-contexts 64,128,256,512]
//
// The first part is estimated (sim.DecodeStep, milliseconds per point):
// DIR/scaling_MODEL.csv, DIR/scaling_MODEL_latency.png and
// DIR/scaling_MODEL_memory.png. With -measure it also runs the secure
// protocol for real on stories260K (../shared/data): for each context C
// and both strategies, the decode step that reads C tokens of the
// reference's own greedy story from BOS (see MeasureSweep); it writes
// DIR/measured_stories260K.csv (after every point, so an interrupted sweep
// keeps what it measured) and .png, and prints the table and the measured
// against the estimated compute. The measured compute is this process's CPU
// time on this machine; the same run's bytes and rounds are priced on both
// networks. Slow: minutes.
package main

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
	"github.com/cgsim/cgsim/sim"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "scaling: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("scaling", flag.ContinueOnError)
	out := fs.String("out", "experiments/out", "directory to write the CSV and PNG files to")
	modelName := fs.String("model", "gpt2", "built-in model to estimate")
	presetName := fs.String("params", params.DefaultBGV, "BGV preset")
	minCtx := fs.Int("min-context", 128, "shortest context of the estimate sweep")
	maxCtx := fs.Int("max-context", 1024, "longest context of the estimate sweep")
	measure := fs.Bool("measure", false, "also run the secure stories260K decode sweep (slow)")
	measureCtxs := fs.String("measure-contexts", "64,128,256,512", "contexts of the measured sweep")
	measureParams := fs.String("measure-params", params.DefaultBGV, "preset of the measured sweep")
	measureStrats := fs.String("measure-strategies", "cryptogen,recompute", "strategies of the measured sweep")
	storiesPath := fs.String("stories", "../shared/data/stories260K/stories260K.bin", "stories260K llama2.c model for -measure")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := model.ConfigByName(*modelName)
	if err != nil {
		return err
	}
	preset, err := params.ByName(*presetName)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	rows, err := EstimateSweep(cfg, preset, sim.PlanContexts(*minCtx, *maxCtx), []net.Network{net.LAN, net.WAN})
	if err != nil {
		return err
	}
	base := filepath.Join(*out, "scaling_"+cfg.Name)
	if err := WriteRows(base+".csv", rows); err != nil {
		return err
	}
	if err := PlotRows(base+"_latency.png", fmt.Sprintf("%s, %s: one decode step (estimated)", cfg.Name, preset.Name), rows, false); err != nil {
		return err
	}
	if err := PlotRows(base+"_memory.png", fmt.Sprintf("%s, %s: encrypted KV cache (cryptogen)", cfg.Name, preset.Name), rows, true); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s.csv, %s_latency.png, %s_memory.png\n", base, base, base)
	PrintRows(stdout, rows)
	if !*measure {
		return nil
	}
	var ctxs []int
	for _, f := range strings.Split(*measureCtxs, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("-measure-contexts %q: want comma-separated integers", *measureCtxs)
		}
		ctxs = append(ctxs, c)
	}
	var strats []sim.Strategy
	for _, f := range strings.Split(*measureStrats, ",") {
		st, err := sim.ParseStrategy(f)
		if err != nil {
			return fmt.Errorf("-measure-strategies: %w", err)
		}
		if st != sim.Cryptogen && st != sim.Recompute {
			return fmt.Errorf("-measure-strategies: the measured sweep knows cryptogen and recompute, not %s", st)
		}
		strats = append(strats, st)
	}
	mp, err := params.ByName(*measureParams)
	if err != nil {
		return err
	}
	m, err := model.LoadLlama2C(*storiesPath)
	if err != nil {
		return err
	}
	mbase := filepath.Join(*out, "measured_"+m.Config.Name)
	nets := []net.Network{net.LAN, net.WAN}
	var done []Measured
	save := func(pt Measured) {
		done = append(done, pt)
		for _, d := range pt.Diff {
			fmt.Fprintf(os.Stderr, "scaling: %s at context %d: run and estimate differ in %v\n", pt.Strategy, pt.Context, d)
		}
		fmt.Fprintf(os.Stderr, "measured %s at context %d: %.2f s compute (estimate %.2f s), %.2f MB, %d rounds\n", pt.Strategy, pt.Context,
			pt.Run.ComputeSeconds, pt.Estimate.ComputeSeconds, float64(pt.Run.BytesC2S+pt.Run.BytesS2C)/1e6, pt.Run.Rounds)
		// Keep what is measured so far, should a later context fail.
		if err := WriteRows(mbase+".csv", MeasuredRows(done, nets)); err != nil {
			fmt.Fprintf(os.Stderr, "scaling: %v\n", err)
		}
	}
	pts, err := MeasureSweep(m, mp, ctxs, strats, save)
	if err != nil {
		return err
	}
	mrows := MeasuredRows(pts, nets)
	if err := WriteRows(mbase+".csv", mrows); err != nil {
		return err
	}
	if err := PlotRows(mbase+".png", fmt.Sprintf("%s, %s: one decode step (measured)", m.Config.Name, mp.Name), mrows, false); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %s.csv, %s.png\n", mbase, mbase)
	PrintRows(stdout, mrows)
	fmt.Fprintln(stdout)
	PrintMeasured(stdout, pts)
	return nil
}

// Row is one point of a curve: a decode step of a strategy at a context
// on a network.
type Row struct {
	Context  int
	Network  string
	Strategy sim.Strategy
	Cost     cost.Cost
}

// EstimateSweep estimates a decode step of both strategies at each context
// on each network.
func EstimateSweep(cfg model.Config, preset params.Preset, ctxs []int, nets []net.Network) ([]Row, error) {
	var rows []Row
	for _, nw := range nets {
		rep, err := sim.Plan(sim.PlanOptions{EstimateOptions: sim.EstimateOptions{Model: cfg, Preset: preset, Network: nw}, Contexts: ctxs})
		if err != nil {
			return nil, err
		}
		for _, pt := range rep.Points {
			for _, s := range rep.Strategies {
				if e := pt.Errors[s]; e != "" {
					return nil, fmt.Errorf("%s at %d tokens: %s: %s", cfg.Name, pt.Context, s, e)
				}
				rows = append(rows, Row{pt.Context, nw.Name, s, pt.Costs[s]})
			}
		}
	}
	return rows, nil
}

// Measured is one measured decode step: a strategy at a context, with the
// estimate of the same step (sim.DecodeStep, the same preset and profile)
// beside it. Both are unpriced: Network prices them.
type Measured struct {
	Context  int
	Strategy sim.Strategy
	Run      cost.Cost
	Estimate cost.Cost
	Diff     []cost.Difference // counters on which Run and Estimate differ (none expected)
}

// MeasureSweep runs, for each context C and each strategy, the secure
// decode step that reads C tokens, for real, taken as validate --sweep
// takes it (sim.MeasurePlan: a cached strategy's the median of the five
// steps around C, its counters the step's at C; recompute's second pass
// over C tokens), and checks the tokens generated against the plaintext
// reference's greedy story from BOS. Its estimate is sim.DecodeStep's at
// C.
//
// onPoint, if not nil, is called after each measured step (to save the
// points so far).
func MeasureSweep(m *model.Model, preset params.Preset, ctxs []int, strats []sim.Strategy, onPoint func(Measured)) ([]Measured, error) {
	var pts []Measured
	defer sim.OneThread()() // one server core and one client core: see sim.OneThread
	for _, c := range ctxs {
		for _, s := range strats {
			if lo, hi := sim.MeasureRange(s, m.Config.SeqLen); c < lo || c > hi {
				return nil, fmt.Errorf("%s at context %d: want %d to %d for %s", s, c, lo, hi, m.Config.Name)
			}
		}
	}
	for _, c := range ctxs {
		for _, s := range strats {
			story, err := model.Generate(m, []int{1}, sim.MeasureStory(s, c, m.Config.SeqLen))
			if err != nil {
				return nil, err
			}
			plan := sim.MeasurePlan(s, story, c, m.Config.SeqLen)
			rep, err := sim.Run(sim.RunOptions{Model: m, Preset: preset, Network: net.LAN, Strategy: s, Gen: plan.Gen}, plan.Prompt, false, nil)
			if err != nil {
				return nil, fmt.Errorf("%s at context %d: %w", s, c, err)
			}
			if want := story[len(plan.Prompt)-1:]; !slices.Equal(rep.Tokens, want) {
				return nil, fmt.Errorf("%s at context %d: tokens %v, the reference's are %v", s, c, rep.Tokens, want)
			}
			pt := Measured{Context: c, Strategy: s}
			if pt.Run, err = rep.MedianStep(plan); err != nil {
				return nil, err
			}
			pt.Run.NetworkSeconds = 0
			if pt.Estimate, err = sim.DecodeStep(sim.EstimateOptions{Model: m.Config, Preset: preset, Network: net.LAN, Strategy: s}, c); err != nil {
				return nil, err
			}
			pt.Estimate.NetworkSeconds = 0
			pt.Diff = cost.CounterDiff(pt.Run, pt.Estimate)
			pts = append(pts, pt)
			if onPoint != nil {
				onPoint(pt)
			}
		}
	}
	return pts, nil
}

// MeasuredRows prices the measured steps on each network (measured compute
// plus the network model's price of the step's bytes and rounds).
func MeasuredRows(pts []Measured, nets []net.Network) []Row {
	var rows []Row
	for _, nw := range nets {
		for _, pt := range pts {
			rows = append(rows, Row{pt.Context, nw.Name, pt.Strategy, nw.Price(pt.Run)})
		}
	}
	return rows
}

// PrintMeasured prints, per context and strategy, the measured and the
// estimated compute seconds of the step and their ratio.
func PrintMeasured(w io.Writer, pts []Measured) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "context\tstrategy\tmeasured compute s\testimated compute s\tmeasured/estimated\toffline s\tMB\trounds\t")
	for _, pt := range pts {
		fmt.Fprintf(tw, "%d\t%s\t%.2f\t%.2f\t%.3f\t%.2f\t%.1f\t%d\t\n", pt.Context, pt.Strategy, pt.Run.ComputeSeconds, pt.Estimate.ComputeSeconds,
			pt.Run.ComputeSeconds/pt.Estimate.ComputeSeconds, pt.Run.OfflineSeconds, float64(pt.Run.BytesC2S+pt.Run.BytesS2C)/1e6, pt.Run.Rounds)
	}
	tw.Flush()
}

// WriteRows writes the rows as CSV: context, network, strategy, then every
// cost.Cost field. The file is replaced atomically (a temporary file in the
// same directory, renamed over it), so an interrupted sweep, which rewrites
// it after every point, never leaves a half-written file; an existing
// file's permissions are kept, a new file is 0644.
func WriteRows(path string, rows []Row) error {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	cw.Write(append([]string{"context", "network", "strategy"}, cost.FieldNames()...))
	for _, r := range rows {
		rec := []string{strconv.Itoa(r.Context), r.Network, string(r.Strategy)}
		for _, v := range r.Cost.Values() {
			rec = append(rec, strconv.FormatFloat(v, 'g', -1, 64))
		}
		cw.Write(rec)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op once renamed
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// PlotRows draws seconds per token (or, with memory, the cryptogen cache's
// bytes) against the context, one line per strategy and network.
func PlotRows(path, title string, rows []Row, memory bool) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "context (tokens)"
	if memory {
		p.Y.Label.Text = "KV cache (MB)"
	} else {
		p.Y.Label.Text = "seconds per token"
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	type key struct {
		net string
		s   sim.Strategy
	}
	var order []key
	lines := map[key]plotter.XYs{}
	for _, r := range rows {
		k := key{r.Network, r.Strategy}
		if memory {
			if !r.Strategy.KeepsCache() {
				continue
			}
			k.net = ""
		}
		if _, ok := lines[k]; !ok {
			order = append(order, k)
		}
		y := r.Cost.Seconds()
		if memory {
			y = float64(r.Cost.PeakMemoryBytes) / 1e6
		}
		lines[k] = append(lines[k], plotter.XY{X: float64(r.Context), Y: y})
	}
	var args []any
	for _, k := range order {
		name := string(k.s)
		if k.net != "" {
			name += " " + k.net
		}
		args = append(args, name, lines[k])
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// PrintRows prints, per context and network, both strategies' seconds per
// token and their ratio, and the cryptogen cache's memory; then, per
// network, each strategy's growth exponent over the contexts (the
// least-squares log-log slope, sim.GrowthExponent).
func PrintRows(w io.Writer, rows []Row) {
	type key struct {
		ctx int
		net string
	}
	var order []key
	by := map[key]map[sim.Strategy]cost.Cost{}
	for _, r := range rows {
		k := key{r.Context, r.Network}
		if by[k] == nil {
			by[k] = map[sim.Strategy]cost.Cost{}
			order = append(order, k)
		}
		by[k][r.Strategy] = r.Cost
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "context\tnetwork\tcryptogen s/token\trecompute s/token\tratio\tcryptogen rounds\tcache MB\t")
	for _, k := range order {
		cg, rc := by[k][sim.Cryptogen], by[k][sim.Recompute]
		fmt.Fprintf(tw, "%d\t%s\t%.3f\t%.3f\t%.1f\t%d\t%.1f\t\n", k.ctx, k.net, cg.Seconds(), rc.Seconds(), rc.Seconds()/cg.Seconds(),
			cg.Rounds, float64(cg.PeakMemoryBytes)/1e6)
	}
	tw.Flush()
	var nets []string
	for _, k := range order {
		if !slices.Contains(nets, k.net) {
			nets = append(nets, k.net)
		}
	}
	for _, nw := range nets {
		var parts []string
		for _, s := range sim.DefaultStrategies() {
			var xs, ys []float64
			for _, k := range order {
				if c, ok := by[k][s]; ok && k.net == nw {
					xs, ys = append(xs, float64(k.ctx)), append(ys, c.Seconds())
				}
			}
			g := "n/a"
			if v, err := sim.GrowthExponent(xs, ys); err == nil {
				g = fmt.Sprintf("%.2f", v)
			}
			parts = append(parts, fmt.Sprintf("%s k = %s", s, g))
		}
		fmt.Fprintf(w, "growth on %s (seconds per token ~ context^k, least squares on log-log): %s\n", nw, strings.Join(parts, ", "))
	}
}
