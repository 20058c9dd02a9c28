package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/calibrate"
	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/params"
	"github.com/cgsim/cgsim/sim"
)

func calibrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "calibrate",
		Usage: "measure the seconds of each HE operation on this machine and write a profile",
		Description: "Times encode and decode (for BGV also in the coefficients), encrypt, decrypt, add, ct-pt mul,\n" +
			"ct-ct mul, rotation, hoisted rotation, rescale, serialize (half a crossing of the transport) and a seed's\n" +
			"expansion at every level of a preset with lattigo, the operations on ciphertexts on operands out of the\n" +
			"caches, and one modular share operation, and, for a BGV preset, the protocols' share operations, a\n" +
			"round's own work, a level of a comparison key's evaluation and\n" +
			"the trusted dealer's work (a dealing, and each triple, truncation mask and comparison key in\n" +
			"it, which price offline_seconds), in CPU time, in interleaved rounds of --reps calls, keeping the least\n" +
			"median of each, until another round confirms each price above a millisecond within 3%, and writes a JSON\n" +
			"profile for --profile that records this machine. The file is replaced atomically.\n\n" +
			"Example: cgsim calibrate --params bgv-n13 --out n13.json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "params", Usage: "parameter preset (see cgsim presets); required"},
			&cli.StringFlag{Name: "out", Usage: "profile file to write; required"},
			&cli.IntFlag{Name: "reps", Value: 15, Usage: "timed calls per operation, level and round (the median of a round is kept)"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress bar"},
		},
		Action: calibrateAction,
	}
}

func calibrateAction(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if err := requireFlags(c, "params", "out"); err != nil {
		return err
	}
	preset, err := params.ByName(c.String("params"))
	if err != nil {
		return err
	}
	if c.Int("reps") < 1 {
		return fmt.Errorf("calibrate: --reps must be at least 1, got %d", c.Int("reps"))
	}
	out := c.String("out")
	// Fail before minutes of measuring if the file cannot be written there;
	// the probe leaves nothing behind and never touches an existing file.
	probe, err := os.CreateTemp(filepath.Dir(out), ".cgsim-calibrate-*")
	if err != nil {
		return fmt.Errorf("calibrate: cannot write beside %s: %w", out, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	prof, err := measureProfile(c, preset, c.Int("reps"))
	if err != nil {
		return err
	}
	if err := cost.SaveProfile(out, prof); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %s: %s, log N %d, levels 0..%d; at the top level: ct-pt mul %.3g ms, rotation %.3g ms, ct-ct mul %.3g ms\n",
		out, preset.Name, prof.LogN, prof.MaxLevel,
		1e3*prof.Time(cost.OpMulPlain, prof.MaxLevel), 1e3*prof.Time(cost.OpRotate, prof.MaxLevel),
		1e3*prof.Time(cost.OpMulCipher, prof.MaxLevel))
	var worst cost.Op
	for op, sp := range prof.Spread {
		if worst == "" || sp > prof.Spread[worst] || sp == prof.Spread[worst] && op < worst {
			worst = op
		}
	}
	fmt.Fprintf(c.App.Writer, "measured on %s in %d interleaved rounds; largest spread of the round medians: %.1f%% (%s)\n",
		prof.MachineOf().String(), prof.Rounds, 100*prof.Spread[worst], worst)
	return nil
}

// measureProfile calibrates a preset on this machine with reps timed
// calls per round, showing a progress bar on stderr unless --quiet.
func measureProfile(c *cli.Context, preset params.Preset, reps int) (*cost.Profile, error) {
	opt := calibrate.Options{Repetitions: reps}
	if !c.Bool("quiet") && isTerminal(c.App.ErrWriter) { // a bar on a terminal only
		var bar *progressbar.ProgressBar
		opt.Progress = func(done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total,
					progressbar.OptionSetWriter(c.App.ErrWriter),
					progressbar.OptionSetDescription("calibrating "+preset.Name),
					progressbar.OptionShowCount(),
					progressbar.OptionClearOnFinish())
			}
			bar.ChangeMax(total)
			bar.Set(done)
		}
	}
	defer sim.OneThread()() // as a run is measured
	switch preset.Scheme {
	case params.BGV:
		p, err := preset.BGV()
		if err != nil {
			return nil, err
		}
		opt.FixedPoint = preset.FixedPoint
		return calibrate.BGV(preset.Name, p, opt)
	case params.CKKS:
		p, err := preset.CKKS()
		if err != nil {
			return nil, err
		}
		return calibrate.CKKS(preset.Name, p, opt)
	}
	return nil, fmt.Errorf("calibrate: preset %s has unknown scheme %v", preset.Name, preset.Scheme)
}

// current reports whether prof was calibrated by this version's calibrate
// (calibrate.Version): an older one measured code or a calibration that
// has changed since, and is recalibrated (see stale).
func current(prof *cost.Profile) bool { return stale(prof) == "" }

// stale says why prof is not current: made by an older calibration, or,
// for a profile with the dealer's operations (a BGV preset's), by this
// version before it measured the lookup tables (lut_entry,
// deal_lookup); "" if it is current.
func stale(prof *cost.Profile) string {
	if prof.Calibration < calibrate.Version {
		return fmt.Sprintf("was made by calibration version %d, this cgsim's is %d", prof.Calibration, calibrate.Version)
	}
	_, lut := prof.Seconds[cost.OpLUT]
	_, deal := prof.Seconds[cost.OpDealLookup]
	if prof.PricesOffline() && !(lut && deal) {
		return "was made before calibrate priced the lookup tables (lut_entry, deal_lookup)"
	}
	return ""
}

// autoProfile is --profile auto: the profile of the preset measured on
// this machine, from the user's cache directory, calibrated there once
// (with cgsim calibrate's default repetitions) if it is not there yet, was
// measured on another machine or by an older calibration.
func autoProfile(c *cli.Context, preset params.Preset) (*cost.Profile, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("--profile auto: no cache directory to keep the profile in: %w", err)
	}
	host := cost.ThisMachine()
	path := filepath.Join(dir, "cgsim", "profiles", preset.Name+"-"+host.Key()+".json")
	if prof, err := cost.LoadProfile(path); err == nil && prof.Params == preset.Name && prof.SameMachine(host) && current(prof) {
		return prof, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("--profile auto: %w", err)
	}
	fmt.Fprintf(c.App.ErrWriter, "--profile auto: calibrating %s on this machine (%s), once; the profile is kept in %s\n", preset.Name, host, path)
	prof, err := measureProfile(c, preset, 15)
	if err != nil {
		return nil, fmt.Errorf("--profile auto: %w", err)
	}
	if err := cost.SaveProfile(path, prof); err != nil {
		return nil, fmt.Errorf("--profile auto: %w", err)
	}
	return prof, nil
}

// warnCores warns that a run on more cores (flag: --server-cores or
// --client-cores) than the machine has measures goroutines taking turns:
// its wall-clock compute seconds are not those of that many cores.
func warnCores(c *cli.Context, flag string, cores int) {
	if n := runtime.NumCPU(); cores > n {
		fmt.Fprintf(c.App.ErrWriter, "warning: %s %d on a machine of %d cores: the pieces take turns, and the measured (wall-clock) compute seconds are not those of %d cores\n", flag, cores, n, cores)
	}
}

// thisMachine is the machine profiles are compared with (the tests, which
// run the built-in profiles anywhere, compare with the reference machine).
var thisMachine = cost.ThisMachine

// warnCalibration warns on stderr when a profile file was made by an
// older calibration than this cgsim's (calibrate.Version): its prices
// miss what the calibration or the measured code changed since (a
// profile that does not record its version is of version 0).
func warnCalibration(c *cli.Context, prof *cost.Profile, what string) {
	why := stale(prof)
	if why == "" {
		return
	}
	fmt.Fprintf(c.App.ErrWriter, "warning: %s %s: its prices miss what changed since (cgsim calibrate, or --profile auto, measures them again)\n",
		what, why)
}

// warnMachine warns on stderr when a profile was measured on another
// machine than this one (a profile that does not record its machine, one
// calibrated before profiles did, draws none): its seconds may not hold
// here.
func warnMachine(c *cli.Context, prof *cost.Profile, what string) {
	host := thisMachine()
	if prof.CPU == "" || prof.SameMachine(host) {
		return
	}
	fmt.Fprintf(c.App.ErrWriter, "warning: %s was measured on %s; this is %s: measured seconds may differ from the estimate (--profile auto calibrates this machine once)\n",
		what, prof.MachineOf(), host)
}
