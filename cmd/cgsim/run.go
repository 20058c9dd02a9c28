package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/model"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "generate text (with --plaintext: the float64 reference, no cryptography)",
		Description: "With --plaintext, run greedy generation with the plaintext reference forward pass (float64,\n" +
			"KV cache) on a llama2.c model. The secure run arrives with the generation loop (sim/).\n\n" +
			"Example: cgsim run --plaintext --prompt \"Once upon a time\" --gen 32 --format json",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "plaintext", Usage: "run the plaintext reference generation"},
			&cli.StringFlag{Name: "model", Value: filepath.Join(defaultDataDir, "stories260K/stories260K.bin"), Usage: "llama2.c model file"},
			&cli.StringFlag{Name: "tokenizer", Value: filepath.Join(defaultDataDir, "stories260K/tok512.bin"), Usage: "llama2.c tokenizer file"},
			&cli.StringFlag{Name: "prompt", Usage: "prompt text (empty: start from BOS alone)"},
			&cli.IntFlag{Name: "gen", Value: 128, Usage: "number of tokens to generate"},
			formatFlag(),
		},
		Action: runAction,
	}
}

// runResult is the JSON form of a run. Tokens and Text are the generated
// continuation only; the prompt is reported apart.
type runResult struct {
	Model        string  `json:"model"`
	Mode         string  `json:"mode"`
	PromptTokens []int   `json:"prompt_tokens"`
	Prompt       string  `json:"prompt"`
	Tokens       []int   `json:"tokens"`
	Text         string  `json:"text"`
	Seconds      float64 `json:"seconds"`
}

func runAction(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	format, err := checkFormat(c, "table", "json")
	if err != nil {
		return err
	}
	if !c.Bool("plaintext") {
		return fmt.Errorf("run: secure generation is not available yet in this build; pass --plaintext for the reference generation")
	}
	gen := c.Int("gen")
	if gen < 1 {
		return fmt.Errorf("run: --gen must be at least 1, got %d", gen)
	}
	m, err := model.LoadLlama2C(c.String("model"))
	if err != nil {
		return err
	}
	tok, err := model.LoadLlama2CTokenizer(c.String("tokenizer"), m.Config.VocabSize)
	if err != nil {
		return err
	}
	prompt, err := tok.Encode(c.String("prompt"), true, false)
	if err != nil {
		return fmt.Errorf("run: encoding the prompt: %w", err)
	}
	if need := len(prompt) + gen - 1; need > m.Config.SeqLen {
		return fmt.Errorf("run: prompt of %d tokens plus %d generated needs %d positions, the model's context is %d",
			len(prompt), gen, need, m.Config.SeqLen)
	}
	start := time.Now()
	ids, err := model.Generate(m, prompt, gen)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	// Decoding is token by token, so the prompt's text is a prefix of the
	// whole text; the continuation is what follows it.
	promptText := tok.DecodeAll(prompt)
	whole := tok.DecodeAll(append(append([]int(nil), prompt...), ids...))
	res := runResult{
		Model: c.String("model"), Mode: "plaintext",
		PromptTokens: prompt, Prompt: promptText, Tokens: ids,
		Text:    whole[len(promptText):],
		Seconds: time.Since(start).Seconds(),
	}
	w := c.App.Writer
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintln(w, res.Prompt+res.Text)
	fmt.Fprintf(w, "\n%d prompt tokens, %d generated in %.3f s (%.1f tokens/s), plaintext reference\n",
		len(prompt), len(ids), res.Seconds, float64(len(ids))/res.Seconds)
	return nil
}
