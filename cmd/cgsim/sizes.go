package main

import (
	"fmt"

	"github.com/cgsim/cgsim/model"
)

// checkSizes checks --prompt (a number of tokens) and --gen against the
// model's context before anything is allocated: the prompt and the fed-back
// tokens need prompt + gen - 1 positions. It never overflows. A non-zero
// --max-session-tokens is checked too.
func checkSizes(cfg model.Config, prompt, gen, maxSession int) error {
	ctx := cfg.SeqLen
	switch {
	case prompt < 1:
		return fmt.Errorf("--prompt must be at least 1 token, got %d", prompt)
	case gen < 1:
		return fmt.Errorf("--gen must be at least 1, got %d", gen)
	case gen > ctx:
		return fmt.Errorf("--gen %d exceeds the context of %s: %d tokens", gen, cfg.Name, ctx)
	case prompt > ctx:
		return fmt.Errorf("--prompt of %d tokens exceeds the context of %s: %d tokens", prompt, cfg.Name, ctx)
	case prompt > ctx-gen+1:
		return fmt.Errorf("--prompt of %d tokens and --gen %d need %d positions, the context of %s is %d tokens",
			prompt, gen, prompt+gen-1, cfg.Name, ctx)
	case maxSession != 0 && maxSession-1 > ctx:
		return fmt.Errorf("--max-session-tokens %d needs %d positions, the context of %s is %d tokens", maxSession, maxSession-1, cfg.Name, ctx)
	}
	return nil
}

// encodePrompt tokenizes --prompt (with BOS) for a generation of gen
// tokens, after checking --gen and, from the text's length alone, that the
// prompt can fit the context: a prompt far too long is refused at once, not
// after tokenizing it.
func encodePrompt(tok *model.Tokenizer, cfg model.Config, text string, gen, maxSession int) ([]int, error) {
	if err := checkSizes(cfg, 1, gen, maxSession); err != nil {
		return nil, err
	}
	if room := cfg.SeqLen - gen + 1; tok.MinTokens(text, true, false) > room {
		return nil, fmt.Errorf("--prompt of %d bytes is at least %d tokens; with --gen %d the context of %s (%d tokens) leaves room for %d",
			len(text), tok.MinTokens(text, true, false), gen, cfg.Name, cfg.SeqLen, room)
	}
	prompt, err := tok.Encode(text, true, false)
	if err != nil {
		return nil, fmt.Errorf("encoding --prompt: %w", err)
	}
	return prompt, checkSizes(cfg, len(prompt), gen, maxSession)
}
