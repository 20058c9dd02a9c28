package model

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
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

// encodeLlama2C returns m written by WriteLlama2C.
func encodeLlama2C(t testing.TB, m *Model) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteLlama2C(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// llamaTensors names every tensor of a llama model, in no particular order.
func llamaTensors(m *Model) map[string][]float64 {
	w := m.Weights
	out := map[string][]float64{
		"token embedding": w.TokenEmbedding.Data,
		"rms_final":       w.FinalNorm,
		"classifier":      w.Classifier.Data,
	}
	for i, l := range w.Layers {
		for name, x := range map[string][]float64{"rms_att": l.AttnNorm, "wq": l.Wq.Data, "wk": l.Wk.Data, "wv": l.Wv.Data,
			"wo": l.Wo.Data, "rms_ffn": l.FFNNorm, "w1": l.W1.Data, "w2": l.W2.Data, "w3": l.W3.Data} {
			out[fmt.Sprintf("layer %d %s", i, name)] = x
		}
	}
	return out
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

// TestLlama2CRoundTrip writes random llama models in the llama2.c format
// and reads them back: the config is the same (but the name, which the
// format does not hold), every weight is the original rounded to float32,
// the file has the size llama2cSize predicts, and writing the model read
// back gives the same bytes.
func TestLlama2CRoundTrip(t *testing.T) {
	// mqa has one kv head for three query heads of 6 (not a power of two),
	// an odd hidden dim and a vocabulary that is not a power of two.
	mqa := Config{Name: "mqa", Arch: ArchLlama, Dim: 18, HiddenDim: 27, NumLayers: 3, NumHeads: 3, NumKVHeads: 1,
		VocabSize: 37, SeqLen: 10, NormEps: 1e-5, RopeTheta: 10000}
	for _, base := range []Config{tinyLlama(), mqa} {
		for _, shared := range []bool{true, false} {
			cfg := base
			cfg.SharedClassifier = shared
			t.Run(fmt.Sprintf("%s/shared=%v", cfg.Name, shared), func(t *testing.T) {
				m := NewRandom(cfg, 1)
				data := encodeLlama2C(t, m)
				if int64(len(data)) != llama2cSize(cfg) {
					t.Fatalf("encoded %d bytes, llama2cSize says %d", len(data), llama2cSize(cfg))
				}
				// llama2.c's convention: a negative vocab_size announces a
				// separate classifier.
				if v := int32(binary.LittleEndian.Uint32(data[5*4:])); (v > 0) != shared || abs(int(v)) != cfg.VocabSize {
					t.Errorf("header vocab_size %d for %d tokens, shared=%v", v, cfg.VocabSize, shared)
				}
				got, err := ReadLlama2C(bytes.NewReader(data), int64(len(data)))
				if err != nil {
					t.Fatal(err)
				}
				got.Config.Name = cfg.Name
				if got.Config != cfg {
					t.Errorf("config %+v, want %+v", got.Config, cfg)
				}
				want := llamaTensors(m)
				for name, x := range llamaTensors(got) {
					w := want[name]
					if len(x) != len(w) {
						t.Errorf("%s: %d values, want %d", name, len(x), len(w))
						continue
					}
					for i := range x {
						if x[i] != float64(float32(w[i])) {
							t.Errorf("%s[%d] = %v, want %v rounded to float32", name, i, x[i], w[i])
							break
						}
					}
				}
				if again := encodeLlama2C(t, got); !bytes.Equal(again, data) {
					t.Error("writing the model read back gives other bytes")
				}
			})
		}
	}
}

func abs(x int) int { return max(x, -x) }

// TestWriteLlama2CStories writes stories260K back: the bytes are the
// file's, except the RoPE tables, which llama2.c's export computes in
// float32 and WriteLlama2C in float64 (then rounds): they agree to 1e-4,
// since an angle below 512 radians rounded to float32 is off by at most
// half an ulp, 2^-16 ≈ 1.5e-5 (measured: 2.3e-6).
func TestWriteLlama2CStories(t *testing.T) {
	raw := readStoriesFile(t)
	data := encodeLlama2C(t, loadStories(t))
	if len(data) != len(raw) {
		t.Fatalf("wrote %d bytes, the file has %d", len(data), len(raw))
	}
	// The RoPE tables: two of seq_len 512 x head_size/2 4 floats, at the end.
	const ropeBytes = 2 * 512 * 4 * 4
	ropeOff := len(raw) - ropeBytes
	if !bytes.Equal(data[:ropeOff], raw[:ropeOff]) {
		i := 0
		for data[i] == raw[i] {
			i++
		}
		t.Errorf("first difference at byte %d of %d (before the RoPE tables at %d)", i, len(raw), ropeOff)
	}
	worst := 0.0
	for off := ropeOff; off < len(raw); off += 4 {
		f := func(b []byte) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(b[off:]))) }
		worst = max(worst, math.Abs(f(data)-f(raw)))
	}
	t.Logf("largest RoPE table difference %.3g", worst)
	if worst > 1e-4 {
		t.Errorf("RoPE tables differ by up to %g", worst)
	}
}

// failWriter accepts n bytes, then fails.
type failWriter struct{ n int }

var errWrite = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errWrite
	}
	w.n -= len(p)
	return len(p), nil
}

// TestWriteLlama2CErrors: models the format cannot hold are refused
// before anything is written; a failing writer's error is returned.
func TestWriteLlama2CErrors(t *testing.T) {
	gpt := Config{Name: "tiny-gpt2", Arch: ArchGPT2, Dim: 8, HiddenDim: 16, NumLayers: 1, NumHeads: 2, NumKVHeads: 2,
		VocabSize: 10, SeqLen: 4, SharedClassifier: true, NormEps: 1e-5}
	// tinyLlama is 16 wide with a hidden dim of 40: w2 of layer 0 holds
	// 16*40 = 640 values, so index 3 of layer 1's w2 is index 643 of the
	// file's w2 array.
	llama := func(edit func(*Model)) *Model {
		m := NewRandom(tinyLlama(), 3)
		edit(m)
		return m
	}
	tests := []struct {
		name string
		m    *Model
		want string
	}{
		{"nil model", nil, "nil model"},
		{"gpt2", NewRandom(gpt, 1), "tiny-gpt2 is a gpt2 model; the format holds llama models only"},
		{"norm epsilon", llama(func(m *Model) { m.Config.NormEps = 1e-6 }), "norm epsilon 1e-06"},
		{"rope theta", llama(func(m *Model) { m.Config.RopeTheta = 500000 }), "RoPE theta 500000"},
		{"wrong shape", llama(func(m *Model) { m.Weights.Layers[1].Wk.Rows-- }), "layer 1 wk"},
		{"shared but different", llama(func(m *Model) {
			m.Config.SharedClassifier = true
			m.Weights.Classifier.Data[5] = 1
		}), "shared classifier that differs"},
		{"beyond float32", llama(func(m *Model) { m.Weights.Layers[1].W2.Data[3] = 1e39 }), "w2: weight 1e+39 at index 643 is not a finite float32"},
		{"NaN", llama(func(m *Model) { m.Weights.FinalNorm[2] = math.NaN() }), "rms_final: weight NaN at index 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			err := WriteLlama2C(&b, tt.m)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "model: write llama2.c: ") {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
			if b.Len() != 0 {
				t.Errorf("%d bytes written before the error", b.Len())
			}
		})
	}
	// A writer that fails at once, after the header, and (stories260K's
	// 1 MB go out in 64 KB writes) in a later write.
	for _, tc := range []struct {
		m *Model
		n int
	}{{NewRandom(tinyLlama(), 3), 0}, {NewRandom(tinyLlama(), 3), 28}, {loadStories(t), 100_000}} {
		if err := WriteLlama2C(&failWriter{n: tc.n}, tc.m); !errors.Is(err, errWrite) {
			t.Errorf("%s, writer failing after %d bytes: error %v", tc.m.Config.Name, tc.n, err)
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
	data := encodeLlama2C(t, NewRandom(tinyLlama(), 2))
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
