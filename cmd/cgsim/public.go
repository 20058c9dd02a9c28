package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/params"
	"github.com/cgsim/cgsim/sim"
)

// The public prefix of a prompt (--public-prefix, --public-prefix-file):
// sent to the server in the clear, its keys and values computed there in
// plaintext and kept in the prefix store (--prefix-store).

// maxPrefixFileBytes bounds --public-prefix-file: no model's context holds
// more text.
const maxPrefixFileBytes = 16 << 20

// publicPrefixFlags are run's flags of a public prefix.
func publicPrefixFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "public-prefix", Usage: "a public prefix of the prompt (a system prompt, a public document): sent to the server IN THE CLEAR, its keys and values computed there in plaintext and reused across sessions; --prompt stays private (the two are tokenized apart, BOS before the prefix)"},
		&cli.StringFlag{Name: "public-prefix-file", Usage: "--public-prefix read from a file"},
		&cli.StringFlag{Name: "prefix-store", Usage: "the directory of the public prefixes' keys and values (default: cgsim/prefixes in the user's cache directory); none: compute them every time"},
	}
}

// publicPrefixText is the text of --public-prefix or --public-prefix-file
// ("" and false when neither is given).
func publicPrefixText(c *cli.Context) (string, bool, error) {
	switch {
	case c.IsSet("public-prefix") && c.IsSet("public-prefix-file"):
		return "", false, fmt.Errorf("--public-prefix and --public-prefix-file: give one")
	case c.IsSet("public-prefix-file"):
		f, err := os.Open(c.String("public-prefix-file"))
		if err != nil {
			return "", false, fmt.Errorf("--public-prefix-file: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxPrefixFileBytes+1))
		if err != nil {
			return "", false, fmt.Errorf("--public-prefix-file: %w", err)
		}
		if len(b) > maxPrefixFileBytes {
			return "", false, fmt.Errorf("--public-prefix-file: more than %d bytes", maxPrefixFileBytes)
		}
		if strings.TrimSpace(string(b)) == "" {
			return "", false, fmt.Errorf("--public-prefix-file %s is empty", c.String("public-prefix-file"))
		}
		return string(b), true, nil
	case c.IsSet("public-prefix"):
		if strings.TrimSpace(c.String("public-prefix")) == "" {
			return "", false, fmt.Errorf("--public-prefix is empty")
		}
		return c.String("public-prefix"), true, nil
	}
	if c.IsSet("prefix-store") {
		return "", false, fmt.Errorf("--prefix-store without a public prefix")
	}
	return "", false, nil
}

// promptWithPrefix encodes a public prefix (with BOS) and the private
// prompt (without) for a generation of gen tokens: the prompt is their
// concatenation, the first public tokens of it public. The sizes are
// checked as encodePrompt checks them.
func promptWithPrefix(tok *model.Tokenizer, cfg model.Config, prefix, text string, gen, maxSession int) (prompt []int, public int, err error) {
	if err := checkSizes(cfg, 1, gen, maxSession); err != nil {
		return nil, 0, err
	}
	room := cfg.SeqLen - gen + 1
	if n := tok.MinTokens(prefix, true, false) + tok.MinTokens(text, false, false); n > room {
		return nil, 0, fmt.Errorf("the public prefix and --prompt (%d bytes) are at least %d tokens; with --gen %d the context of %s (%d tokens) leaves room for %d",
			len(prefix)+len(text), n, gen, cfg.Name, cfg.SeqLen, room)
	}
	pub, err := tok.Encode(prefix, true, false)
	if err != nil {
		return nil, 0, fmt.Errorf("encoding the public prefix: %w", err)
	}
	priv, err := tok.Encode(text, false, false)
	if err != nil {
		return nil, 0, fmt.Errorf("encoding --prompt: %w", err)
	}
	if len(priv) == 0 {
		return nil, 0, fmt.Errorf("--prompt is empty: with a public prefix the private prompt needs at least one token")
	}
	prompt = append(pub, priv...)
	return prompt, len(pub), checkSizes(cfg, len(prompt), gen, maxSession)
}

// checkPrefixProtocol refuses a public prefix (given: has) with a
// protocol that has no feature-major cache for it, before any work.
func checkPrefixProtocol(has bool, p protocol) error {
	if has && !(p.strategy.KeepsCache() && p.cache.Layout == sim.FeatureLayout) {
		return fmt.Errorf("--public-prefix needs the feature-major cache (--strategy cryptogen or speculative, --layout feature): the private part attends to the prefix over it")
	}
	return nil
}

// checkPublicTokens checks --public-prefix-tokens against --prompt.
func checkPublicTokens(c *cli.Context) error {
	if n := c.Int("public-prefix-tokens"); n < 0 || n >= c.Int("prompt") {
		return fmt.Errorf("--public-prefix-tokens %d: want 0 to %d (--prompt less one: the private part needs a token)", n, c.Int("prompt")-1)
	}
	return nil
}

// readPrompt is the prompt of run and validate: --prompt alone, or after
// the public prefix of --public-prefix or --public-prefix-file; public is
// the prefix's tokens (0: none).
func readPrompt(c *cli.Context, tok *model.Tokenizer, cfg model.Config, gen, maxSession int) (prompt []int, public int, err error) {
	prefix, has, err := publicPrefixText(c)
	if err != nil {
		return nil, 0, err
	}
	if has {
		return promptWithPrefix(tok, cfg, prefix, c.String("prompt"), gen, maxSession)
	}
	prompt, err = encodePrompt(tok, cfg, c.String("prompt"), gen, maxSession)
	return prompt, 0, err
}

// loadPublic is the public prefix's keys and values, from the store of
// --prefix-store or computed; a note of what happened goes to stderr.
func loadPublic(c *cli.Context, m *model.Model, preset params.Preset, tokens []int) (*sim.PublicKV, error) {
	dir := c.String("prefix-store")
	if dir == "none" {
		return sim.ComputePublicKV(m, preset, tokens)
	}
	if dir == "" {
		var err error
		if dir, err = sim.DefaultPrefixDir(); err != nil {
			return sim.ComputePublicKV(m, preset, tokens)
		}
	}
	p, note, err := sim.PrefixStore{Dir: dir}.Load(m, preset, tokens)
	if note != "" && !c.Bool("quiet") {
		fmt.Fprintf(c.App.ErrWriter, "public prefix: %s\n", note)
	}
	return p, err
}

// publicNote is the report's line on a public prefix.
func publicNote(pub *sim.PublicSetup) string {
	if pub == nil {
		return ""
	}
	src := ""
	switch pub.Source {
	case "computed":
		src = fmt.Sprintf("; keys and values computed by the plaintext forward pass in %.3f s", pub.KVSeconds)
	case "stored":
		src = fmt.Sprintf("; keys and values read from the prefix store in %.3f s (no forward pass)", pub.KVSeconds)
	}
	return fmt.Sprintf("public prefix (sent to the server in the clear, not prefilled): the first %d prompt tokens%s; their diagonals encoded at the server's setup (not in the totals): %d encodes, %.1f MB, %.3f s compute\n",
		pub.Tokens, src, pub.Encode.Encodes, mb(pub.Bytes), pub.Encode.ComputeSeconds)
}
