package main

import (
	"encoding/json"
	"slices"
	"testing"
)

// promptFields are the prompt's fields of every JSON output.
type promptFields struct {
	Count  *int            `json:"prompt_token_count"`
	Tokens json.RawMessage `json:"prompt_tokens"`
	Prompt *string         `json:"prompt"`
}

// TestPromptTokensSchema checks that prompt_tokens has one meaning in every
// JSON output: the prompt's ids (it was a count in the secure run's JSON and
// a list in the plaintext run's), with prompt_token_count beside it; an
// estimate, which has no ids, gives the count alone.
func TestPromptTokensSchema(t *testing.T) {
	files := []string{"--model", storiesModel, "--tokenizer", storiesTok, "--prompt", "Once upon a time", "--format", "json"}
	secure := []string{"--params", "bgv-test-insecure", "--allow-insecure", "--net", "lan", "--quiet"}
	wantIDs := []int{1, 403, 407, 261, 378} // BOS, " Once", " upon", " a", " time"
	tests := []struct {
		name string
		args []string
		ids  bool // prompt_tokens present
	}{
		{"plaintext run", append([]string{"run", "--plaintext", "--gen", "2"}, files...), true},
		{"secure run", append(append([]string{"run", "--gen", "1"}, files...), secure...), true},
		{"estimate", []string{"estimate", "--model", "stories260K", "--prompt", "5", "--gen", "2", "--format", "json"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := cgsim(tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			var got promptFields
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if got.Count == nil || *got.Count != len(wantIDs) {
				t.Errorf("prompt_token_count %v, want %d", got.Count, len(wantIDs))
			}
			if !tt.ids {
				if got.Tokens != nil {
					t.Errorf("prompt_tokens %s in an estimate, which has no ids", got.Tokens)
				}
				return
			}
			var ids []int
			if err := json.Unmarshal(got.Tokens, &ids); err != nil || !slices.Equal(ids, wantIDs) {
				t.Errorf("prompt_tokens %s (%v), want the list %v", got.Tokens, err, wantIDs)
			}
			if got.Prompt == nil || *got.Prompt != "Once upon a time" {
				t.Errorf("prompt %v", got.Prompt)
			}
		})
	}
}

// TestTuneJSONCount: tune refresh's JSON names the prompt's length
// prompt_token_count too.
func TestTuneJSONCount(t *testing.T) {
	out, _, err := cgsim("tune", "refresh", "--model", "stories260K", "--prompt", "5", "--gen", "2", "--taus", "8", "--quiet", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got promptFields
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Count == nil || *got.Count != 5 || got.Tokens != nil {
		t.Errorf("%v: prompt_token_count %v, prompt_tokens %s", err, got.Count, got.Tokens)
	}
}
