package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/montanaflynn/stats"
	"github.com/urfave/cli/v2"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/sim"
)

// sweepPoint is one point of validate --sweep: a strategy's decode step at
// a context, per kind, estimated and measured (compute seconds: the
// network is the same model on both sides).
type sweepPoint struct {
	Context  int               `json:"context"`
	Strategy sim.Strategy      `json:"strategy"`
	Kind     string            `json:"kind"` // a sim.Kind, or "total"
	Estimate float64           `json:"estimated_compute_seconds"`
	Measured float64           `json:"measured_compute_seconds"`
	Diffs    []cost.Difference `json:"counter_differences,omitempty"`
}

// sweepError summarizes the errors of one kind over the sweep: the
// geometric mean of measured/estimated, less one, and the largest
// |measured/estimated - 1|.
type sweepError struct {
	Kind    string  `json:"kind"`
	GeoMean float64 `json:"geometric_mean_error"`
	Worst   float64 `json:"worst_error"`
	Points  int     `json:"points"`
}

// parseContexts reads --sweep: comma-separated contexts, increasing, from
// lo to hi.
func parseContexts(s string, lo, hi int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < lo || c > hi || (len(out) > 0 && c <= out[len(out)-1]) {
			return nil, fmt.Errorf("--sweep %q: want increasing contexts from %d to %d, comma-separated", s, lo, hi)
		}
		out = append(out, c)
	}
	return out, nil
}

// validateSweep is validate --sweep: for each context and strategy, the
// decode step that reads that many tokens (see sim.MeasurePlan: a cached
// strategy's the median of the steps around it, estimated and measured
// alike; recompute's second pass, over C tokens), run for real on the
// reference story from BOS and estimated for the same generation, per
// kind.
func validateSweep(c *cli.Context, p protocol, m *model.Model, spec string) error {
	strats, err := sim.ParseStrategies(c.String("strategies"))
	if err != nil {
		return fmt.Errorf("--strategies: %w", err)
	}
	lo, hi := 2, m.Config.SeqLen
	for _, s := range strats {
		l, h := sim.MeasureRange(s, m.Config.SeqLen)
		lo, hi = max(lo, l), min(hi, h)
	}
	ctxs, err := parseContexts(spec, lo, hi)
	if err != nil {
		return err
	}
	need := 0
	for _, s := range strats {
		need = max(need, sim.MeasureStory(s, ctxs[len(ctxs)-1], m.Config.SeqLen))
	}
	story, err := model.Generate(m, []int{1}, need)
	if err != nil {
		return err
	}
	if p.serverCores <= 1 && p.clientCores <= 1 {
		defer sim.OneThread()()
	}
	bar := newBar(c, false, len(ctxs)*len(strats), "validating")
	var pts []sweepPoint
	ndiff := 0
	for _, ctx := range ctxs {
		for _, s := range strats {
			plan := sim.MeasurePlan(s, story, ctx, m.Config.SeqLen)
			prompt, gen, phases := plan.Prompt, plan.Gen, plan.Phases
			est, err := sim.Estimate(sim.EstimateOptions{Model: m.Config, Preset: p.preset, Profile: p.profile, Network: p.network,
				Strategy: s, Prompt: len(prompt), Gen: gen, Cache: p.cache, ServerCores: p.serverCores, ClientCores: p.clientCores, Nonlinear: p.nonlinear})
			if err != nil {
				return fmt.Errorf("validate: %s at %d: %w", s, ctx, err)
			}
			run, err := sim.Run(sim.RunOptions{Model: m, Preset: p.preset, Profile: p.profile, Network: p.network, Strategy: s,
				Gen: gen, Cache: p.cache, ServerCores: p.serverCores, ClientCores: p.clientCores, Nonlinear: p.nonlinear}, prompt, false, nil)
			if err != nil {
				return fmt.Errorf("validate: %s at %d: %w", s, ctx, err)
			}
			for _, k := range append(sim.Kinds(), "total") {
				var es, rs []float64
				var diffs []cost.Difference
				for _, ph := range phases {
					e, r := kindCost(est.Breakdown[ph], k), kindCost(run.Breakdown[ph], k)
					if e == (cost.Cost{}) && r == (cost.Cost{}) {
						continue
					}
					es, rs = append(es, e.ComputeSeconds), append(rs, r.ComputeSeconds)
					for _, d := range cost.CounterDiff(e, r) {
						d.Field = fmt.Sprintf("step %d: %s", ph, d.Field)
						diffs = append(diffs, d)
					}
				}
				if len(es) == 0 {
					continue
				}
				ndiff += len(diffs)
				em, _ := stats.Median(es)
				rm, _ := stats.Median(rs)
				pts = append(pts, sweepPoint{ctx, s, string(k), em, rm, diffs})
			}
			bar.tick()
		}
	}
	bar.done()
	errs := sweepErrors(pts)
	w := c.App.Writer
	if f := c.String("csv"); f != "" {
		if err := writeFileAtomic(f, func(out io.Writer) error { return writeSweepCSV(out, pts) }); err != nil {
			return err
		}
	}
	if f := c.String("png"); f != "" {
		if err := plotSweep(f, pts); err != nil {
			return err
		}
	}
	if c.String("format") == "json" {
		if err := writeJSON(w, struct {
			Points []sweepPoint `json:"points"`
			Errors []sweepError `json:"errors"`
		}{pts, errs}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "validate --sweep %s: %s, compute seconds of one decode step per context and strategy (cryptogen: the median of the %d around it; CPU time measured)\n\n",
			m.Config.Name, p.preset.Name, sim.MeasuredSteps)
		tw := newTable(w)
		fmt.Fprintln(tw, "context\tstrategy\tkind\testimated s\tmeasured s\tmeas/est-1\tcounters\t")
		for _, pt := range pts {
			status := "equal"
			if len(pt.Diffs) > 0 {
				status = fmt.Sprint(pt.Diffs)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%.4f\t%.4f\t%s\t%s\t\n", pt.Context, pt.Strategy, pt.Kind, pt.Estimate, pt.Measured,
				relPct(pt.Measured, pt.Estimate), status)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "\nper kind over the sweep\n")
		tw = newTable(w)
		fmt.Fprintln(tw, "kind\tpoints\tgeometric mean\tworst\t")
		for _, e := range errs {
			fmt.Fprintf(tw, "%s\t%d\t%+.1f%%\t%+.1f%%\t\n", e.Kind, e.Points, 100*e.GeoMean, 100*e.Worst)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if ndiff > 0 {
		return fmt.Errorf("validate: %d counters differ between the runs and the estimates", ndiff)
	}
	for _, e := range errs {
		if e.Kind == "total" && math.Abs(e.GeoMean) > c.Float64("tolerance") {
			return fmt.Errorf("validate: the total compute's geometric mean error %+.1f%% is beyond the tolerance %.0f%%", 100*e.GeoMean, 100*c.Float64("tolerance"))
		}
	}
	return nil
}

// kindCost is a phase's cost of kind k, or its total for "total".
func kindCost(b sim.PhaseCost, k sim.Kind) cost.Cost {
	if k == "total" {
		return b.Total()
	}
	return b.Kinds[k]
}

// sweepErrors summarizes the points per kind (kinds in sim.Kinds order,
// then the total).
func sweepErrors(pts []sweepPoint) []sweepError {
	ratios := map[string][]float64{}
	for _, pt := range pts {
		if pt.Estimate > 0 && pt.Measured > 0 {
			ratios[pt.Kind] = append(ratios[pt.Kind], pt.Measured/pt.Estimate)
		}
	}
	var order []string
	for _, k := range sim.Kinds() {
		order = append(order, string(k))
	}
	order = append(order, "total")
	var out []sweepError
	for _, k := range order {
		rs := ratios[k]
		if len(rs) == 0 {
			continue
		}
		gm, _ := stats.GeometricMean(rs)
		worst := 0.0
		for _, r := range rs {
			if math.Abs(r-1) > math.Abs(worst) {
				worst = r - 1
			}
		}
		out = append(out, sweepError{Kind: k, GeoMean: gm - 1, Worst: worst, Points: len(rs)})
	}
	return out
}

func writeSweepCSV(w io.Writer, pts []sweepPoint) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"context", "strategy", "kind", "estimated_compute_seconds", "measured_compute_seconds", "counter_differences"})
	for _, pt := range pts {
		cw.Write([]string{strconv.Itoa(pt.Context), string(pt.Strategy), pt.Kind, strconv.FormatFloat(pt.Estimate, 'g', -1, 64),
			strconv.FormatFloat(pt.Measured, 'g', -1, 64), strconv.Itoa(len(pt.Diffs))})
	}
	cw.Flush()
	return cw.Error()
}

// plotSweep draws measured against estimated compute seconds, log-log,
// one point per kind and step (the totals apart), with the diagonal, and
// writes the PNG atomically, as the CSV.
func plotSweep(path string, pts []sweepPoint) error {
	pl := plot.New()
	pl.Title.Text = "validate --sweep: measured against estimated compute"
	pl.X.Label.Text = "estimated seconds"
	pl.Y.Label.Text = "measured seconds (CPU)"
	pl.X.Scale, pl.Y.Scale = plot.LogScale{}, plot.LogScale{}
	pl.X.Tick.Marker, pl.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	byKind := map[string]plotter.XYs{}
	lo, hi := math.Inf(1), 0.0
	for _, pt := range pts {
		if pt.Estimate <= 0 || pt.Measured <= 0 {
			continue
		}
		byKind[pt.Kind] = append(byKind[pt.Kind], plotter.XY{X: pt.Estimate, Y: pt.Measured})
		lo, hi = min(lo, pt.Estimate, pt.Measured), max(hi, pt.Estimate, pt.Measured)
	}
	if hi == 0 {
		return fmt.Errorf("validate: nothing to plot")
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for i, k := range kinds {
		sc, err := plotter.NewScatter(byKind[k])
		if err != nil {
			return err
		}
		sc.GlyphStyle.Color = plotutil.Color(i)
		sc.GlyphStyle.Shape = plotutil.Shape(i)
		pl.Add(sc)
		pl.Legend.Add(k, sc)
	}
	diag, err := plotter.NewLine(plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}})
	if err != nil {
		return err
	}
	pl.Add(diag)
	pl.Legend.Add("measured = estimated", diag)
	pl.Legend.Top, pl.Legend.Left = true, true
	wt, err := pl.WriterTo(7*vg.Inch, 5*vg.Inch, "png")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, func(w io.Writer) error { _, err := wt.WriteTo(w); return err })
}

// writeFileAtomic writes path through a temporary file in its directory
// renamed over it: a failure leaves any previous file whole.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
