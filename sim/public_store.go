package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/kv"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/params"
)

// PrefixStore keeps public prefixes' keys and values on disk, one file per
// (model, fixed point, prefix tokens), so that a later session with the
// same prefix skips its plaintext forward pass (prefix caching). The file
// name is the SHA-256 of that key; the file repeats the key and ends with
// the SHA-256 of its contents, so a corrupt file, a truncated one or one
// for another model or prefix is never used: it is recomputed and
// replaced. Files are written atomically (a temporary file renamed).
type PrefixStore struct {
	Dir string
}

// DefaultPrefixDir is the store's directory in the user's cache directory.
func DefaultPrefixDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "cgsim", "prefixes"), nil
}

const (
	prefixMagic   = "CGSIMPKV"
	prefixVersion = 1
	prefixHead    = len(prefixMagic) + 4 + 32 + 12 // magic, version, key, layers, tokens, width
	// maxPrefixFile bounds a file read: no model we load has a prefix
	// this large (4 GiB).
	maxPrefixFile = 4 << 30
)

// prefixKey is the SHA-256 of the model's llama2.c bytes, the fixed point
// and the tokens; ok is false for a model that has no llama2.c form (it is
// then not stored).
func prefixKey(m *model.Model, preset params.Preset, tokens []int) (key [32]byte, ok bool) {
	h := sha256.New()
	if err := model.WriteLlama2C(h, m); err != nil {
		return key, false
	}
	fp := preset.FixedPoint
	binary.Write(h, binary.LittleEndian, [3]uint64{fp.T, uint64(fp.FracBits), uint64(len(tokens))})
	for _, t := range tokens {
		binary.Write(h, binary.LittleEndian, uint64(t))
	}
	copy(key[:], h.Sum(nil))
	return key, true
}

// Load returns the prefix's keys and values: from the store when a valid
// file holds them (Source "stored"), else computed (ComputePublicKV) and
// saved. note says what happened beyond a hit or a first computation (a
// file recomputed and why, a model that cannot be stored).
func (s PrefixStore) Load(m *model.Model, preset params.Preset, tokens []int) (p *PublicKV, note string, err error) {
	key, ok := prefixKey(m, preset, tokens)
	if !ok {
		p, err = ComputePublicKV(m, preset, tokens)
		return p, "not stored: the model has no llama2.c form", err
	}
	path := filepath.Join(s.Dir, fmt.Sprintf("%x.pkv", key))
	cpu := cost.CPUSeconds()
	data, rerr := readBounded(path, prefixFileSize(m.Config, len(tokens)))
	if rerr == nil {
		if p, err = decodePrefix(data, key, m.Config, preset.FixedPoint.T, tokens); err == nil {
			p.Source, p.Seconds = "stored", cost.CPUSeconds()-cpu
			return p, "", nil
		}
		note = fmt.Sprintf("%s was unusable (%v): recomputed", path, err)
	} else if !errors.Is(rerr, fs.ErrNotExist) {
		note = fmt.Sprintf("%s could not be read (%v): recomputed", path, rerr)
	}
	if p, err = ComputePublicKV(m, preset, tokens); err != nil {
		return nil, note, err
	}
	if err := s.save(path, encodePrefix(p, key)); err != nil {
		return p, fmt.Sprintf("not stored: %v", err), nil
	}
	return p, note, nil
}

// prefixFileSize is the size of the file of a prefix of n tokens for a
// model of shape c.
func prefixFileSize(c model.Config, n int) int64 {
	return int64(prefixHead) + int64(n)*4 + int64(c.NumLayers)*int64(2*n*headsOf(c).kv)*8 + sha256.Size
}

// readBounded reads the file at path, which must be size bytes: a file of
// another size is refused before it is read.
func readBounded(path string, size int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() != size || size > maxPrefixFile {
		return nil, fmt.Errorf("%d bytes, want %d", st.Size(), size)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, err
	}
	return data, nil
}

// save writes data to path atomically (kv.WriteFileAtomic), making the
// store's directory if need be.
func (s PrefixStore) save(path string, data []byte) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	return kv.WriteFileAtomic(path, data)
}

// encodePrefix is the file: magic, version, key, layers, tokens, width,
// the tokens, every layer's keys then values (little-endian words), and
// the SHA-256 of all of it.
func encodePrefix(p *PublicKV, key [32]byte) []byte {
	var b bytes.Buffer
	b.WriteString(prefixMagic)
	width := 0
	if len(p.Tokens) > 0 && len(p.K) > 0 {
		width = len(p.K[0]) / len(p.Tokens)
	}
	binary.Write(&b, binary.LittleEndian, uint32(prefixVersion))
	b.Write(key[:])
	binary.Write(&b, binary.LittleEndian, [3]uint32{uint32(len(p.K)), uint32(len(p.Tokens)), uint32(width)})
	for _, t := range p.Tokens {
		binary.Write(&b, binary.LittleEndian, uint32(t))
	}
	for l := range p.K {
		binary.Write(&b, binary.LittleEndian, p.K[l])
		binary.Write(&b, binary.LittleEndian, p.V[l])
	}
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:])
	return b.Bytes()
}

// decodePrefix reads a file for key, checking it against the model's
// shape and the tokens.
func decodePrefix(data []byte, key [32]byte, c model.Config, t uint64, tokens []int) (*PublicKV, error) {
	if len(data) < prefixHead+sha256.Size {
		return nil, fmt.Errorf("truncated: %d bytes", len(data))
	}
	body := data[:len(data)-sha256.Size]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], data[len(body):]) {
		return nil, fmt.Errorf("checksum mismatch")
	}
	if string(body[:len(prefixMagic)]) != prefixMagic {
		return nil, fmt.Errorf("not a prefix file")
	}
	r := bytes.NewReader(body[len(prefixMagic):])
	var version uint32
	var k [32]byte
	var dims [3]uint32
	binary.Read(r, binary.LittleEndian, &version)
	binary.Read(r, binary.LittleEndian, &k)
	binary.Read(r, binary.LittleEndian, &dims)
	layers, n, width := int(dims[0]), int(dims[1]), int(dims[2])
	switch {
	case version != prefixVersion:
		return nil, fmt.Errorf("version %d, want %d", version, prefixVersion)
	case k != key:
		return nil, fmt.Errorf("written for another model or prefix")
	case layers != c.NumLayers || n != len(tokens) || width != headsOf(c).kv:
		return nil, fmt.Errorf("%d layers x %d tokens x %d, want %d x %d x %d", layers, n, width, c.NumLayers, len(tokens), headsOf(c).kv)
	case int64(r.Len()) != int64(n)*4+int64(layers)*int64(2*n*width)*8:
		return nil, fmt.Errorf("%d bytes of contents, want %d", r.Len(), n*4+layers*2*n*width*8)
	}
	p := &PublicKV{Tokens: make([]int, n), K: make([][]uint64, layers), V: make([][]uint64, layers)}
	for i := range n {
		var t uint32
		binary.Read(r, binary.LittleEndian, &t)
		if int(t) != tokens[i] {
			return nil, fmt.Errorf("token %d is %d, want %d", i, t, tokens[i])
		}
		p.Tokens[i] = int(t)
	}
	for l := range layers {
		p.K[l], p.V[l] = make([]uint64, n*width), make([]uint64, n*width)
		binary.Read(r, binary.LittleEndian, p.K[l])
		binary.Read(r, binary.LittleEndian, p.V[l])
		for _, rows := range [2][]uint64{p.K[l], p.V[l]} {
			for _, x := range rows {
				if x >= t {
					return nil, fmt.Errorf("layer %d holds %d, not an element of Z_t", l, x)
				}
			}
		}
	}
	return p, nil
}
