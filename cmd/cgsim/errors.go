package main

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/kv"
)

// run is main without the exit: it runs the command line args, writing to
// stdout and stderr, and returns the error main prints. A failed write to
// stdout (a full disk, a closed pipe) is an error too, so that a truncated
// output never exits 0.
func run(args []string, stdout, stderr io.Writer) error {
	out := &checkedWriter{w: stdout}
	err := newApp(out, stderr).Run(args)
	if err == nil && out.err != nil {
		err = fmt.Errorf("writing the output: %w", out.err)
	}
	return err
}

// checkedWriter remembers the first error of the writer it wraps; the
// commands print with fmt.Fprint*, which callers rarely check.
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	if err != nil {
		c.err = err
	}
	return n, err
}

// oneDashFlag matches urfave/cli's spelling of a flag in its parse errors
// ("for flag -gen", "not defined: -plaintxt").
var oneDashFlag = regexp.MustCompile(`((?:flag|defined:) )-([A-Za-z])`)

// usageError is every command's OnUsageError: a flag that does not parse is
// a one-line error naming the command and the flag as it is typed (--gen),
// never the help text on stdout, where it would end up in a redirected
// JSON file.
func usageError(c *cli.Context, err error, _ bool) error {
	msg := oneDashFlag.ReplaceAllString(err.Error(), "$1--$2")
	return fmt.Errorf("%s%s (see %s --help)", cmdPrefix(c), msg, helpName(c))
}

// helpName is the command line that shows c's help ("cgsim run").
func helpName(c *cli.Context) string {
	if c.Command == nil || c.Command.HelpName == "" {
		return "cgsim"
	}
	return c.Command.HelpName
}

// cmdPrefix is "run: " for cgsim run, "tune refresh: " for cgsim tune
// refresh, and "" for cgsim itself.
func cmdPrefix(c *cli.Context) string {
	if p := strings.TrimPrefix(strings.TrimPrefix(helpName(c), "cgsim"), " "); p != "" {
		return p + ": "
	}
	return ""
}

// unknownCommand is the action of a command with subcommands (the app
// itself, tune): without an argument it shows the help, with an unknown
// one it is an error listing the commands.
func unknownCommand(subs func() []*cli.Command) cli.ActionFunc {
	return func(c *cli.Context) error {
		if !c.Args().Present() || c.Args().First() == "help" {
			return cli.ShowSubcommandHelp(c)
		}
		var names []string
		for _, s := range subs() {
			if !s.Hidden && s.Name != "help" {
				names = append(names, s.Name)
			}
		}
		return fmt.Errorf("unknown command %q: want one of %s (see %s --help)", strings.Join(c.Args().Slice(), " "),
			strings.Join(names, ", "), helpName(c))
	}
}

// quietUsage sets usageError on every command of the tree.
func quietUsage(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = usageError
		quietUsage(c.Subcommands)
	}
}

// requireFlags checks the flags a command needs: urfave/cli's Required
// prints the whole help before its error.
func requireFlags(c *cli.Context, names ...string) error {
	var missing []string
	for _, n := range names {
		if !c.IsSet(n) {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%smissing %s (see %s --help)", cmdPrefix(c), strings.Join(missing, " and "), helpName(c))
}

// protocolHint adds, to an error of the noise model (a cache policy whose
// budget runs out), the flags that avoid it.
func protocolHint(err error, p protocol) error {
	if !errors.Is(err, kv.ErrBudget) {
		return err
	}
	if p.cache.Append == kv.Homomorphic {
		return fmt.Errorf("%w; try --append client", err)
	}
	if _, lazy := p.cache.Policy().(kv.Lazy); !lazy {
		return fmt.Errorf("%w; try --refresh lazy", err)
	}
	return err
}
