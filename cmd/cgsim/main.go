// Command cgsim runs and costs privacy-preserving Transformer generation.
//
// Usage:
//
//	cgsim run --plaintext [--model FILE] [--tokenizer FILE] [--prompt TEXT] [--gen N] [--format table|json]
//	cgsim run [--model FILE] [--tokenizer FILE] [--prompt TEXT] [--gen N] [protocol flags] [--reveal-logits]
//	cgsim estimate [--model NAME|FILE] [--prompt N] [--gen N] [protocol flags] [--format table|json|csv]
//	cgsim validate [same flags as run] [--tolerance F]
//	cgsim plan [--model NAME|FILE] [--net NET] [--latency-budget D] [--memory-budget B] [--format table|json|csv]
//	cgsim tune refresh [--model NAME|FILE] [--prompt N] [--gen N] [--net NET] [--taus T,T,...] [--format table|json|csv]
//	cgsim calibrate --params NAME --out FILE [--reps N]
//	cgsim presets [--format table|json]
//	cgsim models
//
// The protocol flags: --strategy cryptogen|recompute, --params P
// (--allow-insecure for an INSECURE test preset), --net NET, --append
// client|homomorphic, --refresh eager|lazy|never, --refresh-threshold T,
// --profile FILE.
//
// Every command has --help. Errors are one line on stderr and a non-zero
// exit status.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
)

// defaultDataDir is where the shared data lives, relative to the repository
// root, which is where the README's commands run.
const defaultDataDir = "../shared/data"

func main() {
	if err := run(os.Args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "cgsim: %v\n", err)
		os.Exit(1)
	}
}

// newApp builds the command tree writing to stdout and stderr; tests call
// it directly.
func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "cgsim",
		Usage: "privacy-preserving Transformer generation: run it for real or cost it",
		Description: "cgsim generates text with a Transformer while the client's prompt and the server's weights stay\n" +
			"private (BGV homomorphic encryption + two-party secret sharing, encrypted KV cache), or costs\n" +
			"such a generation analytically under a simulated LAN or WAN. See README.md.",
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			runCommand(),
			estimateCommand(),
			validateCommand(),
			planCommand(),
			tuneCommand(),
			draftCommand(),
			draftStatsCommand(),
			calibrateCommand(),
			presetsCommand(),
			modelsCommand(),
		},
		// A wrong flag is a one-line error (non-zero exit), not the help on
		// stdout, not a panic and not a silent default; so is an unknown
		// command.
		OnUsageError:   usageError,
		ExitErrHandler: func(*cli.Context, error) {}, // main prints and exits
	}
	app.Action = unknownCommand(func() []*cli.Command { return app.Commands })
	quietUsage(app.Commands)
	return app
}

// formatFlag is the --format flag of commands with table and JSON output.
func formatFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "format", Value: "table", Usage: "output format: table or json"}
}

// checkFormat validates --format against the allowed values.
func checkFormat(c *cli.Context, allowed ...string) (string, error) {
	f := c.String("format")
	for _, a := range allowed {
		if f == a {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown --format %q: want one of %v", f, allowed)
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// noArgs rejects stray positional arguments, which are usually a mistyped
// flag.
func noArgs(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return fmt.Errorf("%s: unexpected argument %q (flags start with --)", c.Command.Name, c.Args().First())
	}
	return nil
}
