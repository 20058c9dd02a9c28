package model

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Arch names a Transformer family. It decides which tensors of [Weights] are
// used and how [Model.Forward] combines them.
type Arch int

const (
	// ArchLlama is the Llama family: RMSNorm, rotary positions (RoPE),
	// grouped-query attention, SwiGLU feed-forward, no biases.
	ArchLlama Arch = iota + 1
	// ArchGPT2 is the GPT-2 family: pre-LN LayerNorm with gain and bias,
	// learned absolute positions, multi-head attention, GELU (tanh
	// approximation) feed-forward, biases everywhere, tied classifier.
	ArchGPT2
)

// String returns "llama" or "gpt2" ("arch(n)" for an unknown value).
func (a Arch) String() string {
	switch a {
	case ArchLlama:
		return "llama"
	case ArchGPT2:
		return "gpt2"
	}
	return fmt.Sprintf("arch(%d)", int(a))
}

// Limits on the shape of a Config. They are far above any real model (the
// largest built-in value is Llama-3's vocabulary of 128,256) and exist so that
// a corrupt checkpoint header cannot make the loader allocate absurd amounts
// of memory.
const (
	MaxDim       = 1 << 16 // model width
	MaxHiddenDim = 1 << 18 // feed-forward width
	MaxLayers    = 1 << 10
	MaxVocabSize = 1 << 22
	MaxSeqLen    = 1 << 22
)

// Config is the shape of a Transformer and the few scalars its forward pass
// needs. A Config is a plain value: build it from a literal or take a built-in
// one from [ConfigByName], then call [Config.Validate].
type Config struct {
	Name string // a label for messages, e.g. "gpt2" or "stories260K"
	Arch Arch

	Dim        int // model (residual stream) width
	HiddenDim  int // feed-forward inner width
	NumLayers  int
	NumHeads   int // query heads
	NumKVHeads int // key/value heads; equals NumHeads for GPT-2
	VocabSize  int
	SeqLen     int // maximum context length (positions 0 .. SeqLen-1)

	// SharedClassifier reports that the output classifier is the token
	// embedding matrix (tied weights).
	SharedClassifier bool

	NormEps   float64 // epsilon of RMSNorm (llama) or LayerNorm (gpt2)
	RopeTheta float64 // RoPE base (llama only; ignored for gpt2)
}

// HeadDim returns the width of one attention head, Dim / NumHeads.
func (c Config) HeadDim() int {
	if c.NumHeads <= 0 {
		return 0
	}
	return c.Dim / c.NumHeads
}

// KVDim returns the width of the key and value vectors of one token in one
// layer, NumKVHeads * HeadDim.
func (c Config) KVDim() int { return c.NumKVHeads * c.HeadDim() }

// Validate reports whether the shape makes sense: every size positive and
// within the Max* limits, Dim divisible by NumHeads, NumHeads divisible by
// NumKVHeads, an even head width for llama (RoPE rotates pairs), NumKVHeads ==
// NumHeads and a tied classifier for gpt2, and a positive finite NormEps (and
// RopeTheta for llama).
func (c Config) Validate() error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("model: config %q: %w", c.Name, err)
	}
	return nil
}

func (c Config) validate() error {
	if c.Arch != ArchLlama && c.Arch != ArchGPT2 {
		return fmt.Errorf("unknown architecture %v", c.Arch)
	}
	sizes := []struct {
		name     string
		val, max int
	}{
		{"dim", c.Dim, MaxDim},
		{"hidden dim", c.HiddenDim, MaxHiddenDim},
		{"number of layers", c.NumLayers, MaxLayers},
		{"number of heads", c.NumHeads, MaxDim},
		{"number of kv heads", c.NumKVHeads, MaxDim},
		{"vocabulary size", c.VocabSize, MaxVocabSize},
		{"sequence length", c.SeqLen, MaxSeqLen},
	}
	for _, s := range sizes {
		if s.val <= 0 {
			return fmt.Errorf("%s is %d, must be positive", s.name, s.val)
		}
		if s.val > s.max {
			return fmt.Errorf("%s is %d, above the limit %d", s.name, s.val, s.max)
		}
	}
	if c.Dim%c.NumHeads != 0 {
		return fmt.Errorf("dim %d is not divisible by the number of heads %d", c.Dim, c.NumHeads)
	}
	if c.NumKVHeads > c.NumHeads || c.NumHeads%c.NumKVHeads != 0 {
		return fmt.Errorf("number of heads %d is not a multiple of the number of kv heads %d", c.NumHeads, c.NumKVHeads)
	}
	if !(c.NormEps > 0) || math.IsInf(c.NormEps, 0) {
		return fmt.Errorf("norm epsilon is %v, must be positive and finite", c.NormEps)
	}
	switch c.Arch {
	case ArchLlama:
		if c.HeadDim()%2 != 0 {
			return fmt.Errorf("head dim %d is odd, RoPE needs pairs", c.HeadDim())
		}
		if !(c.RopeTheta > 0) || math.IsInf(c.RopeTheta, 0) {
			return fmt.Errorf("RoPE theta is %v, must be positive and finite", c.RopeTheta)
		}
	case ArchGPT2:
		if c.NumKVHeads != c.NumHeads {
			return fmt.Errorf("gpt2 needs as many kv heads as heads, have %d and %d", c.NumKVHeads, c.NumHeads)
		}
		if !c.SharedClassifier {
			return fmt.Errorf("gpt2 needs a shared (tied) classifier")
		}
	}
	return nil
}

// ParamCount returns the number of weights of a model of this shape, counting
// a shared classifier once and, for gpt2, the position embedding table. For
// the built-in GPT-2 configs it gives the usual 124M, 355M, 774M and 1.56B;
// for llama3-8b, 8.03B.
func (c Config) ParamCount() int64 {
	d, h, l := int64(c.Dim), int64(c.HiddenDim), int64(c.NumLayers)
	v, kv := int64(c.VocabSize), int64(c.KVDim())
	var n int64
	switch c.Arch {
	case ArchLlama:
		perLayer := 2*d + 2*d*d + 2*kv*d + 3*d*h // norms, wq wo, wk wv, w1 w2 w3
		n = v*d + l*perLayer + d
	case ArchGPT2:
		perLayer := 4*d + // ln1, ln2 gain and bias
			3*d*d + 3*d + // wq wk wv and biases
			d*d + d + // wo and bias
			d*h + h + h*d + d // fc, proj and biases
		n = v*d + int64(c.SeqLen)*d + l*perLayer + 2*d
	}
	if !c.SharedClassifier {
		n += v * d
	}
	return n
}

func gpt2Config(name string, dim, layers, heads int) Config {
	return Config{
		Name: name, Arch: ArchGPT2,
		Dim: dim, HiddenDim: 4 * dim, NumLayers: layers,
		NumHeads: heads, NumKVHeads: heads,
		VocabSize: 50257, SeqLen: 1024,
		SharedClassifier: true,
		NormEps:          1e-5,
	}
}

var builtin = map[string]Config{
	"gpt2":        gpt2Config("gpt2", 768, 12, 12),
	"gpt2-medium": gpt2Config("gpt2-medium", 1024, 24, 16),
	"gpt2-large":  gpt2Config("gpt2-large", 1280, 36, 20),
	"gpt2-xl":     gpt2Config("gpt2-xl", 1600, 48, 25),
	"llama3-8b": {
		Name: "llama3-8b", Arch: ArchLlama,
		Dim: 4096, HiddenDim: 14336, NumLayers: 32,
		NumHeads: 32, NumKVHeads: 8,
		VocabSize: 128256, SeqLen: 8192,
		NormEps: 1e-5, RopeTheta: 500000,
	},
	"stories260K": {
		Name: "stories260K", Arch: ArchLlama,
		Dim: 64, HiddenDim: 172, NumLayers: 5,
		NumHeads: 8, NumKVHeads: 4,
		VocabSize: 512, SeqLen: 512,
		SharedClassifier: true,
		NormEps:          1e-5, RopeTheta: 10000,
	},
}

// ConfigNames returns the names of the built-in configs, sorted.
func ConfigNames() []string {
	names := make([]string, 0, len(builtin))
	for n := range builtin {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ConfigByName returns the built-in config with the given name (exact,
// case-sensitive match). An unknown name is an error that lists the known ones.
func ConfigByName(name string) (Config, error) {
	c, ok := builtin[name]
	if !ok {
		return Config{}, fmt.Errorf("model: unknown config %q (known: %s)", name, strings.Join(ConfigNames(), ", "))
	}
	return c, nil
}
