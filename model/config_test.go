package model

import (
	"slices"
	"strings"
	"testing"
)

func TestConfigByName(t *testing.T) {
	// Shapes from the published models; parameter counts are the usual ones
	// (GPT-2 with its 1024 learned positions and tied classifier, Llama-3-8B
	// with a separate classifier). stories260K has 260,032 weights: the
	// 264,128 floats of its file minus the 4,096 floats of the RoPE tables.
	tests := []struct {
		name                                       string
		arch                                       Arch
		dim, hidden, layers, heads, kvHeads, vocab int
		seqLen, headDim                            int
		params                                     int64
	}{
		{"gpt2", ArchGPT2, 768, 3072, 12, 12, 12, 50257, 1024, 64, 124_439_808},
		{"gpt2-medium", ArchGPT2, 1024, 4096, 24, 16, 16, 50257, 1024, 64, 354_823_168},
		{"gpt2-large", ArchGPT2, 1280, 5120, 36, 20, 20, 50257, 1024, 64, 774_030_080},
		{"gpt2-xl", ArchGPT2, 1600, 6400, 48, 25, 25, 50257, 1024, 64, 1_557_611_200},
		{"llama3-8b", ArchLlama, 4096, 14336, 32, 32, 8, 128256, 8192, 128, 8_030_261_248},
		{"stories260K", ArchLlama, 64, 172, 5, 8, 4, 512, 512, 8, 260_032},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ConfigByName(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			got := []int{c.Dim, c.HiddenDim, c.NumLayers, c.NumHeads, c.NumKVHeads, c.VocabSize, c.SeqLen, c.HeadDim()}
			want := []int{tt.dim, tt.hidden, tt.layers, tt.heads, tt.kvHeads, tt.vocab, tt.seqLen, tt.headDim}
			if !slices.Equal(got, want) || c.Arch != tt.arch || c.Name != tt.name {
				t.Errorf("got %s %v %v, want %s %v %v", c.Name, c.Arch, got, tt.name, tt.arch, want)
			}
			if p := c.ParamCount(); p != tt.params {
				t.Errorf("ParamCount = %d, want %d", p, tt.params)
			}
			if c.NormEps != 1e-5 {
				t.Errorf("NormEps = %v, want 1e-5", c.NormEps)
			}
		})
	}
	if n := len(ConfigNames()); n != len(tests) {
		t.Errorf("ConfigNames has %d names, the table %d", n, len(tests))
	}
	if !slices.IsSorted(ConfigNames()) {
		t.Errorf("ConfigNames not sorted: %v", ConfigNames())
	}
}

func TestConfigByNameUnknown(t *testing.T) {
	_, err := ConfigByName("gpt3")
	if err == nil {
		t.Fatal("no error for an unknown name")
	}
	for _, n := range ConfigNames() {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not list %q", err, n)
		}
	}
}

func TestConfigDetails(t *testing.T) {
	l, _ := ConfigByName("llama3-8b")
	if l.KVDim() != 1024 || l.RopeTheta != 500000 || l.SharedClassifier {
		t.Errorf("llama3-8b: kv dim %d, theta %v, shared %v", l.KVDim(), l.RopeTheta, l.SharedClassifier)
	}
	s, _ := ConfigByName("stories260K")
	if s.KVDim() != 32 || s.RopeTheta != 10000 || !s.SharedClassifier {
		t.Errorf("stories260K: kv dim %d, theta %v, shared %v", s.KVDim(), s.RopeTheta, s.SharedClassifier)
	}
	if ArchLlama.String() != "llama" || ArchGPT2.String() != "gpt2" || Arch(0).String() != "arch(0)" {
		t.Errorf("Arch.String: %v %v %v", ArchLlama, ArchGPT2, Arch(0))
	}
}

func TestConfigValidate(t *testing.T) {
	base, _ := ConfigByName("stories260K")
	gpt, _ := ConfigByName("gpt2")
	tests := []struct {
		name string
		edit func(*Config)
		want string // a substring of the error
	}{
		{"zero dim", func(c *Config) { c.Dim = 0 }, "dim is 0"},
		{"negative layers", func(c *Config) { c.NumLayers = -1 }, "number of layers is -1"},
		{"zero hidden", func(c *Config) { c.HiddenDim = 0 }, "hidden dim is 0"},
		{"zero vocab", func(c *Config) { c.VocabSize = 0 }, "vocabulary size is 0"},
		{"zero seq", func(c *Config) { c.SeqLen = 0 }, "sequence length is 0"},
		{"zero heads", func(c *Config) { c.NumHeads = 0 }, "number of heads is 0"},
		{"zero kv heads", func(c *Config) { c.NumKVHeads = 0 }, "kv heads is 0"},
		{"huge dim", func(c *Config) { c.Dim = MaxDim + 64 }, "above the limit"},
		{"huge vocab", func(c *Config) { c.VocabSize = 1 << 30 }, "above the limit"},
		// 64 is not a multiple of 7 heads.
		{"heads do not divide dim", func(c *Config) { c.NumHeads = 7 }, "not divisible"},
		// 8 heads cannot be grouped over 3 kv heads.
		{"kv heads do not divide heads", func(c *Config) { c.NumKVHeads = 3 }, "not a multiple"},
		{"more kv heads than heads", func(c *Config) { c.NumKVHeads = 16 }, "not a multiple"},
		// dim 66 over 6 heads gives heads of 11, odd.
		{"odd head dim", func(c *Config) { c.Dim, c.NumHeads, c.NumKVHeads = 66, 6, 6 }, "odd"},
		{"zero eps", func(c *Config) { c.NormEps = 0 }, "epsilon"},
		{"zero theta", func(c *Config) { c.RopeTheta = 0 }, "theta"},
		{"no arch", func(c *Config) { c.Arch = 0 }, "architecture"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	gptTests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"gpt2 grouped heads", func(c *Config) { c.NumKVHeads = 4 }, "kv heads"},
		{"gpt2 untied", func(c *Config) { c.SharedClassifier = false }, "tied"},
	}
	for _, tt := range gptTests {
		t.Run(tt.name, func(t *testing.T) {
			c := gpt
			tt.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// A GPT-2 head width may be odd: no RoPE.
	odd := gpt
	odd.Dim, odd.NumHeads, odd.NumKVHeads = 15, 5, 5
	if err := odd.Validate(); err != nil {
		t.Errorf("gpt2 with heads of 3: %v", err)
	}
}
