package model

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Paths of the shared test data, relative to this package's directory.
const (
	stories260KPath = "../../shared/data/stories260K/stories260K.bin"
	tok512Path      = "../../shared/data/stories260K/tok512.bin"
)

// stories260KBytes is the size of stories260K.bin: a 28-byte header and
// 264,128 float32 (see the data README).
const stories260KBytes = 1_056_540

func loadStories(t testing.TB) *Model {
	t.Helper()
	m, err := LoadLlama2C(stories260KPath)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readStoriesFile(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(stories260KPath)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// encodeLlama2C writes m (a llama model) in the legacy llama2.c format, the
// inverse of ReadLlama2C. The RoPE tables are written as zeros.
func encodeLlama2C(m *Model) []byte {
	c, w := m.Config, m.Weights
	var b bytes.Buffer
	vocab := int32(c.VocabSize)
	if !c.SharedClassifier {
		vocab = -vocab
	}
	hdr := []int32{int32(c.Dim), int32(c.HiddenDim), int32(c.NumLayers), int32(c.NumHeads), int32(c.NumKVHeads), vocab, int32(c.SeqLen)}
	binary.Write(&b, binary.LittleEndian, hdr)
	put := func(x []float64) {
		for _, v := range x {
			binary.Write(&b, binary.LittleEndian, float32(v))
		}
	}
	put(w.TokenEmbedding.Data)
	for _, get := range []func(*Layer) []float64{
		func(l *Layer) []float64 { return l.AttnNorm },
		func(l *Layer) []float64 { return l.Wq.Data },
		func(l *Layer) []float64 { return l.Wk.Data },
		func(l *Layer) []float64 { return l.Wv.Data },
		func(l *Layer) []float64 { return l.Wo.Data },
		func(l *Layer) []float64 { return l.FFNNorm },
		func(l *Layer) []float64 { return l.W1.Data },
		func(l *Layer) []float64 { return l.W2.Data },
		func(l *Layer) []float64 { return l.W3.Data },
	} {
		for i := range w.Layers {
			put(get(&w.Layers[i]))
		}
	}
	put(w.FinalNorm)
	put(make([]float64, c.SeqLen*c.HeadDim()))
	if !c.SharedClassifier {
		put(w.Classifier.Data)
	}
	return b.Bytes()
}

func TestLoadStories260K(t *testing.T) {
	m := loadStories(t)
	want, _ := ConfigByName("stories260K")
	if m.Config != want {
		t.Errorf("config\n got %+v\nwant %+v", m.Config, want)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	w := m.Weights
	if &w.Classifier.Data[0] != &w.TokenEmbedding.Data[0] {
		t.Error("shared classifier does not alias the token embedding")
	}
	// Spot checks against the raw file: the first embedding value is the
	// float32 right after the 28-byte header; the final RMSNorm gain is the
	// last dim floats before the RoPE tables (512*8 floats = 16384 bytes).
	raw := readStoriesFile(t)
	f32 := func(off int) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[off:]))) }
	if got, want := w.TokenEmbedding.At(0, 0), f32(28); got != want {
		t.Errorf("embedding[0][0] = %v, want %v", got, want)
	}
	ropeOff := stories260KBytes - 512*8*4
	if got, want := w.FinalNorm[63], f32(ropeOff-4); got != want {
		t.Errorf("rms_final[63] = %v, want %v", got, want)
	}
	if len(raw) != stories260KBytes {
		t.Errorf("file has %d bytes, want %d", len(raw), stories260KBytes)
	}
}

// TestLlama2CRoundTrip writes random llama models (shared and separate
// classifier) in the llama2.c format and reads them back.
func TestLlama2CRoundTrip(t *testing.T) {
	for _, shared := range []bool{true, false} {
		cfg := tinyLlama()
		cfg.SharedClassifier = shared
		m := NewRandom(cfg, 1)
		data := encodeLlama2C(m)
		if int64(len(data)) != llama2cSize(cfg) {
			t.Fatalf("shared=%v: encoded %d bytes, llama2cSize says %d", shared, len(data), llama2cSize(cfg))
		}
		got, err := ReadLlama2C(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("shared=%v: %v", shared, err)
		}
		got.Config.Name = cfg.Name
		if got.Config != cfg {
			t.Errorf("shared=%v: config %+v, want %+v", shared, got.Config, cfg)
		}
		// The file holds float32: compare with the float32 rounding.
		r := func(x float64) float64 { return float64(float32(x)) }
		if a, b := got.Weights.Layers[1].W2.At(3, 5), r(m.Weights.Layers[1].W2.At(3, 5)); a != b {
			t.Errorf("shared=%v: w2 differs: %v vs %v", shared, a, b)
		}
		if a, b := got.Weights.Classifier.At(7, 2), r(m.Weights.Classifier.At(7, 2)); a != b {
			t.Errorf("shared=%v: classifier differs: %v vs %v", shared, a, b)
		}
	}
}

// TestLoadLlama2CErrors corrupts the real file in many ways; each must give
// a one-line error naming the file, never a panic.
func TestLoadLlama2CErrors(t *testing.T) {
	orig := readStoriesFile(t)
	dir := t.TempDir()
	clone := func() []byte { return bytes.Clone(orig) }
	setInt := func(i int, v int32) func([]byte) []byte { // header field i
		return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4*i:], uint32(v)); return b }
	}
	setFloat := func(off int, v float32) func([]byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off:], math.Float32bits(v)); return b }
	}
	// Offsets: the embedding starts at 28; w2 of stories260K starts after
	// embedding 32768, rms_att 320, wq 20480, wk 10240, wv 10240, wo 20480,
	// rms_ffn 320 and w1 55040 floats = 149888 floats.
	const w2Off = 28 + 4*149888
	tests := []struct {
		name    string
		corrupt func([]byte) []byte
		want    string // substring of the error
	}{
		{"empty", func(b []byte) []byte { return b[:0] }, "truncated: file has 0 bytes"},
		{"half header", func(b []byte) []byte { return b[:10] }, "truncated: file has 10 bytes"},
		{"header only", func(b []byte) []byte { return b[:28] }, "truncated: header implies 1056540 bytes, file has 28"},
		{"cut at 1000", func(b []byte) []byte { return b[:1000] }, "truncated: header implies 1056540 bytes, file has 1000"},
		{"cut mid file", func(b []byte) []byte { return b[:len(b)/2] }, "truncated"},
		{"last byte missing", func(b []byte) []byte { return b[:len(b)-1] }, "file has 1056539"},
		{"one trailing byte", func(b []byte) []byte { return append(b, 0) }, "trailing data: header implies 1056540 bytes, file has 1056541"},
		{"trailing float", func(b []byte) []byte { return append(b, 0, 0, 0, 0) }, "trailing data"},
		{"zero dim", setInt(0, 0), "dim is 0"},
		{"zero hidden", setInt(1, 0), "hidden dim is 0"},
		{"negative layers", setInt(2, -5), "number of layers is -5"},
		{"heads not dividing dim", setInt(3, 7), "not divisible"},
		{"kv heads not dividing heads", setInt(4, 3), "not a multiple"},
		{"zero vocab", setInt(5, 0), "vocabulary size is 0"},
		{"negative seq len", setInt(6, -1), "sequence length is -1"},
		{"absurd dim", setInt(0, math.MaxInt32), "above the limit"},
		{"absurd layers", setInt(2, 1<<30), "above the limit"},
		{"most negative vocab", setInt(5, math.MinInt32), "above the limit"},
		{"absurd seq len", setInt(6, math.MaxInt32), "above the limit"},
		// More layers than the file holds: a valid header, the wrong size.
		{"more layers", setInt(2, 6), "truncated: header implies"},
		// Negative vocab means a separate classifier the file does not have.
		{"unshared without classifier", setInt(5, -512), "truncated: header implies 1187612 bytes"},
		{"NaN embedding", setFloat(28, float32(math.NaN())), "token embedding: non-finite weight NaN at index 0"},
		{"Inf in w2", setFloat(w2Off+4*10, float32(math.Inf(1))), "w2: non-finite weight +Inf at index 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "stories260K.bin")
			if err := os.WriteFile(path, tt.corrupt(clone()), 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := LoadLlama2C(path)
			if err == nil {
				t.Fatalf("loaded %+v, want an error", m.Config)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || !strings.HasPrefix(msg, "model: stories260K.bin: ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line starting with %q containing %q", msg, "model: stories260K.bin: ", tt.want)
			}
		})
	}
	// The message of the brief, verbatim.
	path := filepath.Join(dir, "stories260K.bin")
	os.WriteFile(path, orig[:1000], 0o600)
	_, err := LoadLlama2C(path)
	if want := "model: stories260K.bin: truncated: header implies 1056540 bytes, file has 1000"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	if _, err := LoadLlama2C(filepath.Join(dir, "missing.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}
}

// TestReadLlama2CShortReader gives a size that matches the header but a
// reader that ends early (a reader that lies about its size).
func TestReadLlama2CShortReader(t *testing.T) {
	orig := readStoriesFile(t)
	for _, cut := range []int{20, 28, 5000, len(orig) - 8*4096, len(orig) - 1} {
		_, err := ReadLlama2C(bytes.NewReader(orig[:cut]), int64(len(orig)))
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: got %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
}

// TestReadLlama2CNoPanic flips random bytes of a small valid file: reading
// may succeed or fail, but must not panic, and a model it returns must be
// valid.
func TestReadLlama2CNoPanic(t *testing.T) {
	data := encodeLlama2C(NewRandom(tinyLlama(), 2))
	for i := range 2000 {
		b := bytes.Clone(data)
		// Corrupt mostly the header (first 28 bytes), sometimes anywhere.
		pos := (i * 7919) % 28
		if i%4 == 0 {
			pos = (i * 104729) % len(b)
		}
		b[pos] ^= byte(1 + i%255)
		size := int64(len(b))
		if i%3 == 0 {
			size -= int64(i % 7)
		}
		m, err := ReadLlama2C(bytes.NewReader(b), size)
		if err == nil {
			if err := m.Validate(); err != nil {
				t.Fatalf("case %d: returned an invalid model: %v", i, err)
			}
		}
	}
}
