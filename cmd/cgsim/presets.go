package main

import (
	"fmt"
	"math/bits"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/params"
)

func presetsCommand() *cli.Command {
	return &cli.Command{
		Name:  "presets",
		Usage: "list the HE parameter presets and their security check",
		Flags: []cli.Flag{formatFlag()},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			format, err := checkFormat(c, "table", "json")
			if err != nil {
				return err
			}
			rows, err := presetRows()
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(c.App.Writer, rows)
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "name\tscheme\tlog N\tlog QP\t128-bit bound\tlevels\tslots\tt bits\tsecurity\tdoc")
			for _, r := range rows {
				tbits := "-"
				if r.PlaintextModulus != 0 {
					tbits = fmt.Sprint(r.PlaintextBits)
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%.1f\t%.0f\t%d\t%d\t%s\t%s\t%s\n", r.Name, r.Scheme, r.LogN, r.LogQP,
					r.MaxLogQP, r.MaxLevel+1, r.Slots, tbits, r.Security, r.Doc)
			}
			return w.Flush()
		},
	}
}

// presetRow is one line of `cgsim presets`.
type presetRow struct {
	Name             string  `json:"name"`
	Scheme           string  `json:"scheme"`
	LogN             int     `json:"log_n"`
	LogQP            float64 `json:"log_qp"`
	MaxLogQP         float64 `json:"max_log_qp"`
	MaxLevel         int     `json:"max_level"`
	Slots            int     `json:"slots"`
	PlaintextModulus uint64  `json:"plaintext_modulus,omitempty"`
	PlaintextBits    int     `json:"plaintext_bits,omitempty"`
	Security         string  `json:"security"`
	Doc              string  `json:"doc"`
}

func presetRows() ([]presetRow, error) {
	var rows []presetRow
	for _, p := range params.All() {
		bound, err := params.MaxLogQP(p.LogN)
		if err != nil {
			return nil, err
		}
		security := "128-bit ok"
		if p.Insecure {
			security = "INSECURE (tests only)"
		} else if err := p.CheckSecurity(); err != nil {
			security = "FAILS: " + err.Error()
		}
		r := presetRow{Name: p.Name, Scheme: fmt.Sprint(p.Scheme), LogN: p.LogN, LogQP: p.LogQP(), MaxLogQP: bound,
			MaxLevel: p.MaxLevel(), Slots: p.Slots(), Security: security, Doc: p.Doc}
		if p.Scheme == params.BGV {
			r.PlaintextModulus = p.PlaintextModulus()
			r.PlaintextBits = bits.Len64(r.PlaintextModulus)
		}
		rows = append(rows, r)
	}
	return rows, nil
}
