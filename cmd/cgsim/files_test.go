package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestMissingDefaultFiles checks that the data's default paths, run from
// another directory (an installed binary), give an error naming the flag to
// pass and where the default points (it was "open ../shared/data/...: no
// such file or directory").
func TestMissingDefaultFiles(t *testing.T) {
	model, err := filepath.Abs(storiesModel) // before leaving the package's directory
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"plaintext run", []string{"run", "--plaintext"}, []string{"--model FILE", "../shared/data/stories260K/stories260K.bin"}},
		{"secure run", []string{"run", "--params", "bgv-test-insecure", "--allow-insecure"}, []string{"--model FILE"}},
		{"validate", []string{"validate"}, []string{"--model FILE"}},
		{"tokenizer", []string{"run", "--plaintext", "--model", model}, []string{"--tokenizer FILE", "../shared/data/stories260K/tok512.bin"}},
		{"given and missing", []string{"run", "--plaintext", "--model", "nowhere.bin"}, []string{"--model", "nowhere.bin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cgsim(tt.args...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
