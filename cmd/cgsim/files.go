package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/cgsim/cgsim/model"
)

// loadModelAndTokenizer loads --model and --tokenizer (llama2.c files). The
// defaults point into the shared data beside the repository, relative to
// the current directory; run elsewhere (an installed binary), a missing
// default is an error that says so and names the flags to pass.
func loadModelAndTokenizer(c *cli.Context) (*model.Model, *model.Tokenizer, error) {
	if err := checkDefaultFile(c, "model"); err != nil {
		return nil, nil, err
	}
	m, err := model.LoadLlama2C(c.String("model"))
	if err != nil {
		return nil, nil, fmt.Errorf("--model: %w", err)
	}
	if err := checkDefaultFile(c, "tokenizer"); err != nil {
		return nil, nil, err
	}
	tok, err := model.LoadLlama2CTokenizer(c.String("tokenizer"), m.Config.VocabSize)
	if err != nil {
		return nil, nil, fmt.Errorf("--tokenizer: %w", err)
	}
	return m, tok, nil
}

// checkDefaultFile returns the error of a file flag left at a default that
// does not exist.
func checkDefaultFile(c *cli.Context, flag string) error {
	path := c.String(flag)
	if c.IsSet(flag) {
		return nil
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	where, _ := filepath.Abs(path)
	return fmt.Errorf("the default --%s %s (%s) does not exist: run from the repository root with the shared data beside it, or pass --%s FILE (a llama2.c %s file)",
		flag, path, where, flag, flag)
}
