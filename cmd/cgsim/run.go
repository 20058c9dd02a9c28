package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/sim"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "generate text securely (with --plaintext: the float64 reference, no cryptography)",
		Description: "Greedy or sampled (--temperature) generation on a llama2.c model. By default the secure protocol runs for real: BGV linear\n" +
			"layers and attention over an encrypted KV cache, two-party protocols for the non-linear layers,\n" +
			"every byte between client and server metered; it prints the text as it is generated and each\n" +
			"token's latency (measured compute plus the simulated network) and traffic. --reveal-logits opens\n" +
			"every step's logits to the client (the run is then NOT private) and reports their largest\n" +
			"difference from the plaintext reference. With --plaintext, only the float64 reference runs (with --draft,\n" +
			"speculative decoding's: the reference of the secure speculative run, greedy or sampled, coin for coin).\n\n" +
			"Example: cgsim run --prompt \"Once upon a time\" --gen 32 --reveal-logits --net lan",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "plaintext", Usage: "run the plaintext reference generation"},
			&cli.StringFlag{Name: "model", Value: filepath.Join(defaultDataDir, "stories260K/stories260K.bin"), Usage: "llama2.c model file"},
			&cli.StringFlag{Name: "tokenizer", Value: filepath.Join(defaultDataDir, "stories260K/tok512.bin"), Usage: "llama2.c tokenizer file"},
			&cli.StringFlag{Name: "prompt", Usage: "prompt text (empty: start from BOS alone)"},
			&cli.IntFlag{Name: "gen", Value: 128, Usage: "number of tokens to generate"},
			&cli.Float64Flag{Name: "temperature", Value: 0, Usage: "sample each token from softmax(logits/T) (Gumbel-max: the server adds its noise to its share of the logits, the client learns only the sampled token); 0: greedy"},
			&cli.StringFlag{Name: "draft", Usage: "with --strategy speculative: the client's public draft model, a llama2.c file with the model's tokenizer (cgsim draft); with --plaintext: run speculative decoding's plaintext reference with it"},
			&cli.IntFlag{Name: "gamma", Value: 4, Usage: "with --draft: the draft tokens a step proposes"},
			&cli.IntFlag{Name: "top-k", Usage: "with --temperature: draw only among the K highest logits (on shares: all pairs compared, or K tournaments, whichever the link makes cheaper); 0: every token"},
			&cli.Uint64Flag{Name: "seed", Usage: "with --temperature: the sampler's seed (the same seed, the same tokens; default: a random one, printed)"},
			&cli.BoolFlag{Name: "reveal-logits", Usage: "secure run: open the logits to the client (NOT private) and compare them with the plaintext reference"},
			&cli.Float64Flag{Name: "logit-tolerance", Value: 0.05, Usage: "with --reveal-logits: the exit status is non-zero if a logit differs from the reference's by more"},
			&cli.BoolFlag{Name: "quiet", Usage: "secure run: no progress bar"},
			formatFlag(),
		}, append(publicPrefixFlags(), protocolFlags()...)...),
		Action: runAction,
	}
}

// runResult is the JSON form of a run. Tokens and Text are the generated
// continuation only; the prompt is reported apart.
// The prompt's fields are those of the secure run's sim.Report:
// prompt_token_count, prompt_tokens (the ids, BOS included) and prompt.
type runResult struct {
	Model            string  `json:"model"`
	Mode             string  `json:"mode"`
	PromptTokenCount int     `json:"prompt_token_count"`
	PromptTokens     []int   `json:"prompt_tokens"`
	Prompt           string  `json:"prompt"`
	Temperature      float64 `json:"temperature,omitempty"`
	Seed             *uint64 `json:"seed,omitempty"`
	TopK             int     `json:"top_k,omitempty"`
	Gamma            int     `json:"gamma,omitempty"`
	Accepted         []int   `json:"accepted,omitempty"`
	Tokens           []int   `json:"tokens"`
	Text             string  `json:"text"`
	Seconds          float64 `json:"seconds"`
}

// temperatureFrom reads --temperature: from 0 (greedy) to
// model.MaxTemperature.
func temperatureFrom(c *cli.Context) (float64, error) {
	t := c.Float64("temperature")
	if (model.Sampler{Temperature: t}).Validate() != nil {
		return t, fmt.Errorf("--temperature %v: want a number from 0 (greedy) to %d", t, model.MaxTemperature)
	}
	return t, nil
}

// samplerFrom reads --temperature and --seed: the zero Sampler (greedy)
// without a temperature, else one with the given seed or a random one.
func samplerFrom(c *cli.Context) (model.Sampler, error) {
	temp, err := temperatureFrom(c)
	s := model.Sampler{Temperature: temp, TopK: c.Int("top-k")}
	if err != nil {
		return s, err
	}
	if s.TopK < 0 {
		return s, fmt.Errorf("--top-k %d: want 0 (every token) or more", s.TopK)
	}
	if s.Greedy() {
		for _, f := range []string{"seed", "top-k"} {
			if c.IsSet(f) {
				return s, fmt.Errorf("--%s without --temperature: greedy decoding draws nothing", f)
			}
		}
		return s, nil
	}
	if c.IsSet("seed") {
		s.Seed = c.Uint64("seed")
		return s, nil
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return s, fmt.Errorf("--seed: drawing a random one: %w", err)
	}
	s.Seed = binary.LittleEndian.Uint64(b[:])
	return s, nil
}

func runAction(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	format, err := checkFormat(c, "table", "json")
	if err != nil {
		return err
	}
	gen := c.Int("gen")
	if gen < 1 {
		return fmt.Errorf("run: --gen must be at least 1, got %d", gen)
	}
	sampler, err := samplerFrom(c)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	var p protocol
	if !c.Bool("plaintext") {
		if p, err = protocolFrom(c); err != nil { // flag errors before loading anything
			return err
		}
		if err := checkSpeculativeFlags(c, p); err != nil {
			return err
		}
	} else if c.IsSet("gamma") && !c.IsSet("draft") {
		return fmt.Errorf("run: --gamma without --draft")
	} else if g := c.Int("gamma"); c.IsSet("draft") && (g < 1 || g > 64) {
		return fmt.Errorf("run: --gamma %d: want 1 to 64 draft tokens a step", g)
	}
	_, hasPrefix, err := publicPrefixText(c) // flag errors before loading anything
	if err == nil && !c.Bool("plaintext") {
		err = checkPrefixProtocol(hasPrefix, p)
	} else if err == nil && c.IsSet("prefix-store") {
		err = fmt.Errorf("--prefix-store with --plaintext: the plaintext reference stores nothing")
	}
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	m, tok, err := loadModelAndTokenizer(c)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	prompt, public, err := readPrompt(c, tok, m.Config, gen, c.Int("max-session-tokens"))
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if !c.Bool("plaintext") {
		var pub *sim.PublicKV
		if public > 0 {
			if pub, err = loadPublic(c, m, p.preset, prompt[:public]); err != nil {
				return fmt.Errorf("run: %w", err)
			}
		}
		return secureRun(c, p, format, m, tok, prompt, pub, gen, sampler)
	}
	var draft *model.Model
	if c.IsSet("draft") {
		if draft, err = model.LoadLlama2C(c.String("draft")); err != nil {
			return fmt.Errorf("run: --draft: %w", err)
		}
	}
	start := time.Now()
	var ids []int
	var st model.SpecStats
	if draft != nil {
		ids, st, err = model.GenerateSpeculative(m, draft, prompt, gen, c.Int("gamma"), sampler)
	} else {
		ids, err = model.GenerateSampled(m, prompt, gen, sampler)
	}
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	// Decoding is token by token, so the prompt's text is a prefix of the
	// whole text; the continuation is what follows it.
	promptText := tok.DecodeAll(prompt)
	whole := tok.DecodeAll(append(append([]int(nil), prompt...), ids...))
	res := runResult{
		Model: c.String("model"), Mode: "plaintext",
		PromptTokenCount: len(prompt), PromptTokens: prompt, Prompt: promptText, Tokens: ids,
		Text:    whole[len(promptText):],
		Seconds: time.Since(start).Seconds(),
	}
	if !sampler.Greedy() {
		seed := sampler.Seed
		res.Temperature, res.Seed, res.TopK = sampler.Temperature, &seed, sampler.FilterK()
	}
	note := samplerNote(sampler)
	if draft != nil {
		res.Gamma, res.Accepted = c.Int("gamma"), st.PerPass
		note += fmt.Sprintf(", speculative with gamma %d (the secure speculative run's reference): %d passes accepted %v", res.Gamma, st.Passes, st.PerPass)
	}
	w := c.App.Writer
	if format == "json" {
		return writeJSON(w, res)
	}
	fmt.Fprintln(w, safeText(res.Prompt+res.Text))
	fmt.Fprintf(w, "\n%d prompt tokens, %d generated in %.3f s (%.1f tokens/s), plaintext reference%s\n",
		len(prompt), len(ids), res.Seconds, float64(len(ids))/res.Seconds, note)
	return nil
}

// samplerNote describes a sampler for a table's footer: nothing when
// greedy.
func samplerNote(s model.Sampler) string {
	if s.Greedy() {
		return ""
	}
	if s.TopK > 0 {
		return fmt.Sprintf(", sampled at temperature %g among the top %d with seed %d", s.Temperature, s.TopK, s.Seed)
	}
	return fmt.Sprintf(", sampled at temperature %g with seed %d", s.Temperature, s.Seed)
}
