package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/params"
)

func calibrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "calibrate",
		Usage: "measure the seconds of each HE operation on this machine and write a profile",
		Description: "Times encode, encrypt, decrypt, add, ct-pt mul, ct-ct mul, rotation, hoisted rotation, rescale and\n" +
			"serialize at every level of a preset with lattigo, and one modular share operation, and, for a BGV\n" +
			"preset, the trusted dealer's work (a dealing, and each triple, truncation mask and comparison key in\n" +
			"it, which price offline_seconds), and writes the medians as a JSON profile for --profile. The file is\n" +
			"replaced atomically.\n\n" +
			"Example: cgsim calibrate --params bgv-n13 --out n13.json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "params", Usage: "parameter preset (see cgsim presets); required"},
			&cli.StringFlag{Name: "out", Usage: "profile file to write; required"},
			&cli.IntFlag{Name: "reps", Value: 15, Usage: "repetitions per operation and level (the median is kept)"},
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
	opt := exec.CalibrationOptions{Repetitions: c.Int("reps")}
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
			bar.Set(done)
		}
	}
	var prof *cost.Profile
	switch preset.Scheme {
	case params.BGV:
		p, err := preset.BGV()
		if err != nil {
			return err
		}
		opt.FixedPoint = preset.FixedPoint
		prof, err = exec.CalibrateBGV(preset.Name, p, opt)
		if err != nil {
			return err
		}
	case params.CKKS:
		p, err := preset.CKKS()
		if err != nil {
			return err
		}
		prof, err = exec.CalibrateCKKS(preset.Name, p, opt)
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("calibrate: preset %s has unknown scheme %v", preset.Name, preset.Scheme)
	}
	if err := cost.SaveProfile(out, prof); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %s: %s, log N %d, levels 0..%d; at the top level: ct-pt mul %.3g ms, rotation %.3g ms, ct-ct mul %.3g ms\n",
		out, preset.Name, prof.LogN, prof.MaxLevel,
		1e3*prof.Time(cost.OpMulPlain, prof.MaxLevel), 1e3*prof.Time(cost.OpRotate, prof.MaxLevel),
		1e3*prof.Time(cost.OpMulCipher, prof.MaxLevel))
	return nil
}
