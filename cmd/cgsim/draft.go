package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/model"
)

// maxTextBytes bounds the --text file of draft-stats, maxLineBytes the
// part of a line it encodes for a prompt.
const (
	maxTextBytes = 64 << 20
	maxLineBytes = 1024
)

func draftCommand() *cli.Command {
	return &cli.Command{
		Name:  "draft",
		Usage: "derive a public draft model (its first blocks, quantized weights) for speculative decoding",
		Description: "Writes a llama2.c file with the model's first --layers blocks (0: all), its final norm and classifier,\n" +
			"every matrix quantized to --bits bits per weight (0: unquantized), symmetrically per row. The draft reads the\n" +
			"model's tokens; `cgsim draft-stats` measures how many of its proposals the model accepts.\n\n" +
			"Example: cgsim draft --bits 4 --out /tmp/stories260K-q4.bin",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Value: filepath.Join(defaultDataDir, "stories260K/stories260K.bin"), Usage: "llama2.c model file"},
			&cli.IntFlag{Name: "layers", Usage: "blocks to keep, the first ones (0: all)"},
			&cli.IntFlag{Name: "bits", Value: 4, Usage: "bits per weight, 2 to 16 (0: unquantized)"},
			&cli.StringFlag{Name: "out", Usage: "the draft's llama2.c file (written atomically)"},
		},
		Action: draftAction,
	}
}

func draftAction(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if err := requireFlags(c, "out"); err != nil {
		return err
	}
	if err := checkDefaultFile(c, "model"); err != nil {
		return fmt.Errorf("draft: %w", err)
	}
	m, err := model.LoadLlama2C(c.String("model"))
	if err != nil {
		return fmt.Errorf("draft: --model: %w", err)
	}
	d, err := model.Derive(m, model.DraftOptions{Layers: c.Int("layers"), Bits: c.Int("bits")})
	if err != nil {
		return fmt.Errorf("draft: --layers %d --bits %d: %w", c.Int("layers"), c.Int("bits"), err)
	}
	out := c.String("out")
	if err := writeFileAtomic(out, func(w io.Writer) error { return model.WriteLlama2C(w, d) }); err != nil {
		return fmt.Errorf("draft: --out: %w", err)
	}
	_, err = fmt.Fprintf(c.App.Writer, "wrote %s: %s, %d blocks, %d-bit weights\n", out, d.Config.Name, d.Config.NumLayers, c.Int("bits"))
	return err
}

func draftStatsCommand() *cli.Command {
	return &cli.Command{
		Name:  "draft-stats",
		Usage: "measure how many of a draft's proposals a model accepts (speculative decoding, greedy or sampled, in plaintext)",
		Description: "Runs speculative decoding with the float64 reference, step by step as the secure strategy does: the draft\n" +
			"proposes --gamma tokens, the model keeps the longest prefix that equals its own greedy choices and adds its own\n" +
			"next token; with --temperature, speculative sampling (the draft draws its proposals, each is accepted with\n" +
			"probability min(1, p/q), the correction is drawn from the residual; --seed as in run). The tokens are the\n" +
			"model's own (greedy, or distributed as its sampling); what the draft changes is how many a verification pass\n" +
			"yields. acceptance is accepted / (accepted + rejected proposals), the rate estimate --acceptance takes; kept is\n" +
			"accepted / proposed. Prompts: --prompt, or the first 32 tokens of each non-empty line of --text (at most\n" +
			"--max-prompts of them).\n\n" +
			"Example: cgsim draft-stats --draft /tmp/stories260K-q4.bin --prompt \"Once upon a time\" --gen 64",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Value: filepath.Join(defaultDataDir, "stories260K/stories260K.bin"), Usage: "llama2.c model file"},
			&cli.StringFlag{Name: "tokenizer", Value: filepath.Join(defaultDataDir, "stories260K/tok512.bin"), Usage: "llama2.c tokenizer file"},
			&cli.StringFlag{Name: "draft", Usage: "the draft's llama2.c file (cgsim draft), or the model itself"},
			&cli.StringFlag{Name: "prompt", Usage: "prompt text (empty: start from BOS alone)"},
			&cli.StringFlag{Name: "text", Usage: "a text file: one prompt per non-empty line, its first 32 tokens"},
			&cli.IntFlag{Name: "max-prompts", Value: 20, Usage: "with --text: the lines used"},
			&cli.IntFlag{Name: "gen", Value: 64, Usage: "tokens to generate after each prompt"},
			&cli.StringFlag{Name: "gamma", Value: "1,2,4,8", Usage: "comma-separated draft lengths"},
			&cli.Float64Flag{Name: "temperature", Usage: "measure speculative sampling at this temperature; 0: greedy"},
			&cli.Uint64Flag{Name: "seed", Usage: "with --temperature: the seed of the first prompt's coins (prompt i uses seed + i; default: a random one, printed)"},
			formatFlag(),
		},
		Action: draftStatsAction,
	}
}

// draftStatsRow is one gamma's aggregate over the prompts.
type draftStatsRow struct {
	Gamma         int     `json:"gamma"`
	Passes        int     `json:"passes"`
	Proposed      int     `json:"proposed"`
	Accepted      int     `json:"accepted"`
	Rejected      int     `json:"rejected"`
	Acceptance    float64 `json:"acceptance"`
	Kept          float64 `json:"kept"`
	TokensPerPass float64 `json:"tokens_per_pass"`
}

func draftStatsAction(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if err := requireFlags(c, "draft"); err != nil {
		return err
	}
	format, err := checkFormat(c, "table", "json")
	if err != nil {
		return err
	}
	gammas, err := parseGammas("gamma", c.String("gamma"))
	if err != nil {
		return fmt.Errorf("draft-stats: %w", err)
	}
	gen := c.Int("gen")
	if gen < 1 {
		return fmt.Errorf("draft-stats: --gen must be at least 1, got %d", gen)
	}
	sampler, err := samplerFrom(c) // flag errors before loading anything
	if err != nil {
		return fmt.Errorf("draft-stats: %w", err)
	}
	m, tok, err := loadModelAndTokenizer(c)
	if err != nil {
		return fmt.Errorf("draft-stats: %w", err)
	}
	d, err := model.LoadLlama2C(c.String("draft"))
	if err != nil {
		return fmt.Errorf("draft-stats: --draft: %w", err)
	}
	prompts, err := draftPrompts(c, tok, m.Config, gen)
	if err != nil {
		return fmt.Errorf("draft-stats: %w", err)
	}

	var rows []draftStatsRow
	for _, g := range gammas {
		var all model.SpecStats
		for i, p := range prompts {
			s := sampler
			s.Seed += uint64(i)
			_, st, err := model.GenerateSpeculative(m, d, p, gen, g, s)
			if err != nil {
				return fmt.Errorf("draft-stats: %w", err)
			}
			all.Passes, all.Proposed, all.Accepted, all.Rejected = all.Passes+st.Passes, all.Proposed+st.Proposed, all.Accepted+st.Accepted, all.Rejected+st.Rejected
		}
		rows = append(rows, draftStatsRow{Gamma: g, Passes: all.Passes, Proposed: all.Proposed, Accepted: all.Accepted, Rejected: all.Rejected,
			Acceptance: all.Acceptance(), Kept: all.Kept(), TokensPerPass: all.TokensPerPass()})
	}
	w := c.App.Writer
	if format == "json" {
		var seed *uint64
		if !sampler.Greedy() {
			seed = &sampler.Seed
		}
		return writeJSON(w, struct {
			Model       string          `json:"model"`
			Draft       string          `json:"draft"`
			Prompts     int             `json:"prompts"`
			Gen         int             `json:"generated"`
			Temperature float64         `json:"temperature,omitempty"`
			Seed        *uint64         `json:"seed,omitempty"`
			Rows        []draftStatsRow `json:"gammas"`
		}{m.Config.Name, c.String("draft"), len(prompts), gen, sampler.Temperature, seed, rows})
	}
	how := "greedy"
	if !sampler.Greedy() {
		how = fmt.Sprintf("sampled at temperature %g with seed %d", sampler.Temperature, sampler.Seed)
	}
	fmt.Fprintf(w, "draft %s for %s: %d prompts, %d tokens each, %s\n\n", c.String("draft"), m.Config.Name, len(prompts), gen, how)
	tw := newTable(w)
	fmt.Fprintln(tw, "gamma\tpasses\tproposed\taccepted\trejected\tacceptance\tkept\ttokens a pass\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%.3f\t%.3f\t%.2f\t\n", r.Gamma, r.Passes, r.Proposed, r.Accepted, r.Rejected, r.Acceptance, r.Kept, r.TokensPerPass)
	}
	return tw.Flush()
}

// parseGammas reads flag's comma-separated list of draft lengths, each
// from 1 to 64.
func parseGammas(flag, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		g, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || g < 1 || g > 64 {
			return nil, fmt.Errorf("--%s %q: want comma-separated draft lengths from 1 to 64", flag, s)
		}
		out = append(out, g)
	}
	return out, nil
}

// draftPrompts are the prompts of draft-stats: --prompt, or the first 32
// tokens of each non-empty line of --text, at most --max-prompts.
func draftPrompts(c *cli.Context, tok *model.Tokenizer, cfg model.Config, gen int) ([][]int, error) {
	path := c.String("text")
	if path == "" {
		p, err := encodePrompt(tok, cfg, c.String("prompt"), gen, 0)
		return [][]int{p}, err
	}
	if c.IsSet("prompt") {
		return nil, fmt.Errorf("--prompt and --text: give one")
	}
	most := c.Int("max-prompts")
	if most < 1 {
		return nil, fmt.Errorf("--max-prompts must be at least 1, got %d", most)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--text: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTextBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--text: %w", err)
	}
	if len(b) > maxTextBytes {
		return nil, fmt.Errorf("--text %s: larger than %d MB", path, maxTextBytes>>20)
	}
	var out [][]int
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line == "" || len(out) == most {
			continue
		}
		if len(line) > maxLineBytes { // 32 tokens come from far fewer bytes; encoding is quadratic
			line = strings.ToValidUTF8(line[:maxLineBytes], "")
		}
		p, err := tok.Encode(line, true, false)
		if err != nil {
			return nil, fmt.Errorf("--text: %w", err)
		}
		if p = p[:min(len(p), 32)]; len(p)+gen-1 > cfg.SeqLen {
			return nil, fmt.Errorf("--gen %d: a 32-token prompt and %d tokens exceed the context of %s (%d)", gen, gen, cfg.Name, cfg.SeqLen)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--text %s: no non-empty line", path)
	}
	return out, nil
}
