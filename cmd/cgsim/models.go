package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/model"
)

func modelsCommand() *cli.Command {
	return &cli.Command{
		Name:  "models",
		Usage: "list the built-in model shapes",
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(w, "name\tarch\tdim\thidden\tlayers\theads\tkv heads\tvocab\tcontext\tparameters\t")
			for _, name := range model.ConfigNames() {
				cfg, err := model.ConfigByName(name)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.1fM\t\n", cfg.Name, cfg.Arch, cfg.Dim, cfg.HiddenDim,
					cfg.NumLayers, cfg.NumHeads, cfg.NumKVHeads, cfg.VocabSize, cfg.SeqLen, float64(cfg.ParamCount())/1e6)
			}
			return w.Flush()
		},
	}
}
