package model

import (
	"bytes"
	"os"
	"testing"
)

// FuzzReadLlama2C checks that no model file makes ReadLlama2C panic or
// allocate beyond what the file holds, and that a model it accepts is
// valid. The seeds are small valid files (a shared and a separate
// classifier) and stories260K's header.
func FuzzReadLlama2C(f *testing.F) {
	for _, shared := range []bool{true, false} {
		cfg := tinyLlama()
		cfg.SharedClassifier = shared
		f.Add(encodeLlama2C(f, NewRandom(cfg, 1)))
	}
	f.Add(readStoriesFile(f)[:llama2cHeaderBytes])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		// The size is the data's: the weights are allocated only once the
		// header's size equals it, so at most what the input holds.
		m, err := ReadLlama2C(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted an invalid model: %v", err)
		}
		if llama2cSize(m.Config) != int64(len(data)) {
			t.Fatalf("accepted %d bytes for a model of %d", len(data), llama2cSize(m.Config))
		}
	})
}

// FuzzReadTokenizer checks that no tokenizer file (and no vocabulary size
// announced by its model) makes ReadLlama2CTokenizer panic or allocate
// beyond what the file holds, and that a tokenizer it accepts encodes and
// decodes without error. The seeds are tok512.bin, a small tokenizer and
// cut headers.
func FuzzReadTokenizer(f *testing.F) {
	tok512, err := os.ReadFile(tok512Path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok512, 512)
	var small bytes.Buffer
	pieces := append(bytePieces(), "a", "b", "ab")
	if err := WriteLlama2CTokenizer(&small, mustTokenizer(f, pieces, make([]float64, len(pieces)))); err != nil {
		f.Fatal(err)
	}
	f.Add(small.Bytes(), len(pieces))
	f.Add(tok512[:4], 512)
	f.Add([]byte{}, 259)
	f.Fuzz(func(t *testing.T, data []byte, vocab int) {
		tok, err := ReadLlama2CTokenizer(bytes.NewReader(data), vocab)
		if err != nil {
			return
		}
		if tok.VocabSize() != vocab {
			t.Fatalf("accepted %d pieces for a vocabulary of %d", tok.VocabSize(), vocab)
		}
		ids, err := tok.Encode("Once upon a time \xff", true, true)
		if err != nil {
			t.Fatalf("accepted a tokenizer that cannot encode: %v", err)
		}
		_ = tok.DecodeAll(ids)
	})
}

func mustTokenizer(tb testing.TB, pieces []string, scores []float64) *Tokenizer {
	tb.Helper()
	tok, err := NewTokenizer(pieces, scores)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}
