package model

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// llama2cHeaderBytes is the size of the legacy llama2.c header: seven
// little-endian int32.
const llama2cHeaderBytes = 7 * 4

// The constants of llama2.c's run.c that its checkpoint format does not
// store: every model read from the format has them, and only a model with
// them can be written in it.
const (
	llama2cNormEps   = 1e-5
	llama2cRopeTheta = 10000
)

// LoadLlama2C reads a checkpoint in the legacy llama2.c float32 format (the
// format of karpathy's tinyllamas, e.g. stories260K.bin). See [ReadLlama2C]
// for the format and the checks. The model's Config.Name is the file name
// without its extension, and errors name the file.
func LoadLlama2C(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	base := filepath.Base(path)
	return readLlama2C(bufio.NewReaderSize(f, 1<<16), fi.Size(), base, strings.TrimSuffix(base, filepath.Ext(base)))
}

// ReadLlama2C reads a legacy llama2.c float32 checkpoint of size bytes from r.
//
// The format is a header of seven little-endian int32 (dim, hidden_dim,
// n_layers, n_heads, n_kv_heads, vocab_size, seq_len) followed by float32
// arrays: token embedding [vocab][dim], then for all layers rms_att, wq, wk,
// wv, wo, rms_ffn, w1, w2, w3 (each array holding every layer, matrices
// row-major out x in), rms_final [dim], two RoPE tables of
// seq_len*head_size/2 floats each (skipped: RoPE is recomputed), and, only
// when vocab_size is negative, a separate classifier [|vocab|][dim]. A
// positive vocab_size means the classifier is the token embedding.
//
// The header is checked with [Config.Validate] (so a corrupt header cannot
// cause a huge allocation), size must be exactly the number of bytes the
// header implies (a shorter file is truncated, a longer one has trailing
// data), and every weight must be finite. The config gets llama2.c's
// constants: NormEps 1e-5 and RopeTheta 10000.
//
// size must be the true size of the data (LoadLlama2C takes it from the
// file system): the weights are allocated once the header and size agree,
// so a reader that claims a size it does not have can make ReadLlama2C
// allocate up to what the header's limits allow before it fails.
//
// [WriteLlama2C] writes this format.
func ReadLlama2C(r io.Reader, size int64) (*Model, error) {
	return readLlama2C(r, size, "llama2.c", "llama2.c")
}

// readLlama2C does the work of ReadLlama2C; label prefixes errors and name
// becomes Config.Name.
func readLlama2C(r io.Reader, size int64, label, name string) (*Model, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("model: %s: "+format, append([]any{label}, args...)...)
	}
	if size < llama2cHeaderBytes {
		return nil, fail("truncated: file has %d bytes, the header alone needs %d", size, llama2cHeaderBytes)
	}
	var hdr [7]int32
	if err := binary.Read(r, binary.LittleEndian, &hdr); err != nil {
		return nil, fail("reading header: %w", err)
	}
	vocab := int(hdr[5])
	shared := vocab > 0
	if vocab < 0 {
		vocab = -vocab
	}
	cfg := Config{
		Name: name, Arch: ArchLlama,
		Dim: int(hdr[0]), HiddenDim: int(hdr[1]), NumLayers: int(hdr[2]),
		NumHeads: int(hdr[3]), NumKVHeads: int(hdr[4]),
		VocabSize: vocab, SeqLen: int(hdr[6]),
		SharedClassifier: shared,
		NormEps:          llama2cNormEps, RopeTheta: llama2cRopeTheta,
	}
	if err := cfg.validate(); err != nil {
		return nil, fail("bad header %v: %w", hdr, err)
	}
	want := llama2cSize(cfg)
	switch {
	case size < want:
		return nil, fail("truncated: header implies %d bytes, file has %d", want, size)
	case size > want:
		return nil, fail("trailing data: header implies %d bytes, file has %d", want, size)
	}

	fr := &floatReader{r: r, fail: fail}
	d, h, kv, l, v := cfg.Dim, cfg.HiddenDim, cfg.KVDim(), cfg.NumLayers, cfg.VocabSize
	w := &Weights{Layers: make([]Layer, l)}
	w.TokenEmbedding = Matrix{Rows: v, Cols: d, Data: fr.read("token embedding", v*d)}
	// Each of these arrays holds all layers back to back; split them.
	perLayer := func(name string, rows, cols int, set func(*Layer, Matrix)) {
		all := fr.read(name, l*rows*cols)
		if all == nil {
			return
		}
		for i := range w.Layers {
			n := rows * cols
			set(&w.Layers[i], Matrix{Rows: rows, Cols: cols, Data: all[i*n : (i+1)*n : (i+1)*n]})
		}
	}
	perLayer("rms_att", 1, d, func(x *Layer, m Matrix) { x.AttnNorm = m.Data })
	perLayer("wq", d, d, func(x *Layer, m Matrix) { x.Wq = m })
	perLayer("wk", kv, d, func(x *Layer, m Matrix) { x.Wk = m })
	perLayer("wv", kv, d, func(x *Layer, m Matrix) { x.Wv = m })
	perLayer("wo", d, d, func(x *Layer, m Matrix) { x.Wo = m })
	perLayer("rms_ffn", 1, d, func(x *Layer, m Matrix) { x.FFNNorm = m.Data })
	perLayer("w1", h, d, func(x *Layer, m Matrix) { x.W1 = m })
	perLayer("w2", d, h, func(x *Layer, m Matrix) { x.W2 = m })
	perLayer("w3", h, d, func(x *Layer, m Matrix) { x.W3 = m })
	w.FinalNorm = fr.read("rms_final", d)
	fr.skip("RoPE tables", int64(cfg.SeqLen)*int64(cfg.HeadDim())) // two tables of seq_len*head_size/2
	if shared {
		w.Classifier = w.TokenEmbedding
	} else {
		w.Classifier = Matrix{Rows: v, Cols: d, Data: fr.read("classifier", v*d)}
	}
	if fr.err != nil {
		return nil, fr.err
	}
	return &Model{Config: cfg, Weights: w}, nil
}

// llama2cSize returns the file size in bytes that a valid llama2.c config
// implies. The Max* limits of Config keep it far from overflowing an int64.
func llama2cSize(c Config) int64 {
	d, h, l := int64(c.Dim), int64(c.HiddenDim), int64(c.NumLayers)
	v, kv := int64(c.VocabSize), int64(c.KVDim())
	floats := v*d + // token embedding
		l*(2*d+2*d*d+2*kv*d+3*h*d) + // per layer
		d + // rms_final
		int64(c.SeqLen)*int64(c.HeadDim()) // RoPE tables
	if !c.SharedClassifier {
		floats += v * d
	}
	return llama2cHeaderBytes + 4*floats
}

// WriteLlama2C writes m to w in the legacy llama2.c float32 format that
// [ReadLlama2C] reads (see there for the layout), as llama2.c's legacy
// export does: the header, then every tensor rounded to float32, then the
// two RoPE tables (cos, then sin, of pos·RopeTheta^(-2i/head_size) for
// every position and pair), then, when m.Config.SharedClassifier is false,
// the classifier, announced by a negative vocab_size in the header.
// Reading the output back gives m's config (but its Name, which the format
// does not store) and m's weights rounded to float32.
//
// It is an error, before anything is written, if m fails
// [Model.Validate], if it is not a llama model, if its NormEps or
// RopeTheta are not the 1e-5 and 10000 that the format implies, if its
// config says SharedClassifier but the classifier differs from the token
// embedding, or if a weight does not fit a finite float32. Otherwise the
// only error is w's; w may then hold part of the file.
func WriteLlama2C(w io.Writer, m *Model) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("model: write llama2.c: "+format, args...)
	}
	if err := m.Validate(); err != nil {
		return fail("%w", err)
	}
	c, ws := m.Config, m.Weights
	switch {
	case c.Arch != ArchLlama:
		return fail("%s is a %v model; the format holds llama models only", c.Name, c.Arch)
	case c.NormEps != llama2cNormEps || c.RopeTheta != llama2cRopeTheta:
		return fail("%s has norm epsilon %v and RoPE theta %v; the format implies %v and %v",
			c.Name, c.NormEps, c.RopeTheta, llama2cNormEps, float64(llama2cRopeTheta))
	}
	// The tensors in file order. A per-layer array of the file holds every
	// layer back to back: one part per layer.
	type tensor struct {
		name  string
		parts [][]float64
	}
	tensors := []tensor{{"token embedding", [][]float64{ws.TokenEmbedding.Data}}}
	perLayer := func(name string, get func(*Layer) []float64) {
		t := tensor{name: name}
		for i := range ws.Layers {
			t.parts = append(t.parts, get(&ws.Layers[i]))
		}
		tensors = append(tensors, t)
	}
	perLayer("rms_att", func(l *Layer) []float64 { return l.AttnNorm })
	perLayer("wq", func(l *Layer) []float64 { return l.Wq.Data })
	perLayer("wk", func(l *Layer) []float64 { return l.Wk.Data })
	perLayer("wv", func(l *Layer) []float64 { return l.Wv.Data })
	perLayer("wo", func(l *Layer) []float64 { return l.Wo.Data })
	perLayer("rms_ffn", func(l *Layer) []float64 { return l.FFNNorm })
	perLayer("w1", func(l *Layer) []float64 { return l.W1.Data })
	perLayer("w2", func(l *Layer) []float64 { return l.W2.Data })
	perLayer("w3", func(l *Layer) []float64 { return l.W3.Data })
	tensors = append(tensors, tensor{"rms_final", [][]float64{ws.FinalNorm}})
	half := c.HeadDim() / 2
	cos, sin := make([]float64, c.SeqLen*half), make([]float64, c.SeqLen*half)
	for pos := range c.SeqLen {
		ropeTable(cos[pos*half:(pos+1)*half], sin[pos*half:(pos+1)*half], pos, c.HeadDim(), c.RopeTheta)
	}
	tensors = append(tensors, tensor{"RoPE cos", [][]float64{cos}}, tensor{"RoPE sin", [][]float64{sin}})
	vocab := int32(c.VocabSize)
	if !c.SharedClassifier {
		vocab = -vocab
		tensors = append(tensors, tensor{"classifier", [][]float64{ws.Classifier.Data}})
	}
	for _, t := range tensors {
		off := 0
		for _, p := range t.parts {
			for i, x := range p {
				if f := float64(float32(x)); math.IsNaN(f) || math.IsInf(f, 0) {
					return fail("%s: weight %v at index %d is not a finite float32", t.name, x, off+i)
				}
			}
			off += len(p)
		}
	}
	// Only the token embedding is written for a shared classifier: it must
	// be the same (after the check above, no NaN can make equal data differ).
	if c.SharedClassifier && !slices.Equal(ws.Classifier.Data, ws.TokenEmbedding.Data) {
		return fail("%s has a shared classifier that differs from its token embedding", c.Name)
	}

	buf := make([]byte, 0, 64<<10)
	flush := func() error {
		_, err := w.Write(buf)
		buf = buf[:0]
		return err
	}
	for _, v := range []int32{int32(c.Dim), int32(c.HiddenDim), int32(c.NumLayers), int32(c.NumHeads), int32(c.NumKVHeads), vocab, int32(c.SeqLen)} {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(v))
	}
	for _, t := range tensors {
		for _, p := range t.parts {
			for _, x := range p {
				if len(buf) == cap(buf) {
					if err := flush(); err != nil {
						return fail("%w", err)
					}
				}
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(x)))
			}
		}
	}
	if err := flush(); err != nil {
		return fail("%w", err)
	}
	return nil
}

// floatReader reads little-endian float32 arrays into float64 slices,
// remembering the first error so that the caller checks once at the end.
type floatReader struct {
	r    io.Reader
	fail func(format string, args ...any) error
	buf  [4 << 10]byte
	err  error
}

// read returns n values converted to float64, or nil after an error. A value
// that is NaN or infinite is an error naming the tensor and the index.
func (fr *floatReader) read(name string, n int) []float64 {
	if fr.err != nil {
		return nil
	}
	out := make([]float64, n)
	for off := 0; off < n; {
		k := min(n-off, len(fr.buf)/4)
		b := fr.buf[:4*k]
		if _, err := io.ReadFull(fr.r, b); err != nil {
			fr.err = fr.fail("reading %s: %w", name, noEOF(err))
			return nil
		}
		for i := range k {
			x := float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
			if math.IsNaN(x) || math.IsInf(x, 0) {
				fr.err = fr.fail("%s: non-finite weight %v at index %d", name, x, off+i)
				return nil
			}
			out[off+i] = x
		}
		off += k
	}
	return out
}

// skip discards n float32 values.
func (fr *floatReader) skip(name string, n int64) {
	if fr.err != nil {
		return
	}
	if _, err := io.CopyN(io.Discard, fr.r, 4*n); err != nil {
		fr.err = fr.fail("reading %s: %w", name, noEOF(err))
	}
}

// noEOF turns a bare io.EOF (nothing left where data was expected) into
// io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
