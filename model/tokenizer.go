package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// Special token ids of llama2.c tokenizers (SentencePiece convention).
const (
	UNK = 0 // <unk>
	BOS = 1 // beginning of sequence, <s>
	EOS = 2 // end of sequence, </s>
)

// byteFallbackOffset is the id of the piece <0x00>: byte b is encoded as id
// b + byteFallbackOffset when no piece matches.
const byteFallbackOffset = 3

// Limits on tokenizer files, far above real ones (tok512.bin is 6 KB with a
// longest piece of 7 bytes), to reject corrupt files before allocating.
const (
	maxTokenizerBytes = 1 << 28 // 256 MB
	maxPieceBytes     = 1 << 16
)

// Tokenizer is a llama2.c (SentencePiece-style BPE with byte fallback)
// tokenizer: a list of pieces, each with a merge score. A Tokenizer is
// read-only and safe for concurrent use.
type Tokenizer struct {
	pieces []string
	scores []float64
	ids    map[string]int // piece -> lowest id with that piece
	maxLen int            // max_token_length from the file header
}

// LoadLlama2CTokenizer reads a llama2.c tokenizer file (e.g. tok512.bin) whose
// vocabulary must have exactly vocabSize pieces, the VocabSize of the model it
// goes with. See [ReadLlama2CTokenizer] for the format.
func LoadLlama2CTokenizer(path string, vocabSize int) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	defer f.Close()
	return readTokenizer(f, vocabSize, filepath.Base(path))
}

// ReadLlama2CTokenizer reads a llama2.c tokenizer from r: an int32
// max_token_length, then for each token a float32 score, an int32 byte length
// and that many bytes, all little-endian, to the end of the input. It is an
// error if the input ends inside a record, if the number of records is not
// vocabSize, if a length is negative or above max_token_length, if a score is
// not finite, or if the vocabulary is too small to hold the special and byte
// fallback pieces (259 ids). [WriteLlama2CTokenizer] writes this format.
func ReadLlama2CTokenizer(r io.Reader, vocabSize int) (*Tokenizer, error) {
	return readTokenizer(r, vocabSize, "tokenizer")
}

func readTokenizer(r io.Reader, vocabSize int, label string) (*Tokenizer, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("model: %s: "+format, append([]any{label}, args...)...)
	}
	if vocabSize < byteFallbackOffset+256 || vocabSize > MaxVocabSize {
		return nil, fail("vocabulary size %d out of range [%d, %d]", vocabSize, byteFallbackOffset+256, MaxVocabSize)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxTokenizerBytes+1))
	if err != nil {
		return nil, fail("%w", err)
	}
	if len(data) > maxTokenizerBytes {
		return nil, fail("larger than %d bytes", maxTokenizerBytes)
	}
	if len(data) < 4 {
		return nil, fail("truncated: %d bytes, the header needs 4", len(data))
	}
	maxLen := int(int32(binary.LittleEndian.Uint32(data)))
	if maxLen <= 0 || maxLen > maxPieceBytes {
		return nil, fail("max token length %d out of range [1, %d]", maxLen, maxPieceBytes)
	}
	t := &Tokenizer{maxLen: maxLen}
	for off := 4; off < len(data); {
		id := len(t.pieces)
		if id == vocabSize {
			return nil, fail("vocabulary size mismatch: the model has %d tokens, the file has more (%d bytes left after token %d)", vocabSize, len(data)-off, id-1)
		}
		if len(data)-off < 8 {
			return nil, fail("truncated in token %d at byte %d", id, off)
		}
		score := float64(math.Float32frombits(binary.LittleEndian.Uint32(data[off:])))
		n := int(int32(binary.LittleEndian.Uint32(data[off+4:])))
		off += 8
		if math.IsNaN(score) || math.IsInf(score, 0) {
			return nil, fail("token %d: non-finite score %v", id, score)
		}
		if n < 0 || n > maxLen {
			return nil, fail("token %d: length %d out of range [0, %d]", id, n, maxLen)
		}
		if len(data)-off < n {
			return nil, fail("truncated in token %d: %d bytes announced, %d left", id, n, len(data)-off)
		}
		t.pieces = append(t.pieces, string(data[off:off+n]))
		t.scores = append(t.scores, score)
		off += n
	}
	if len(t.pieces) != vocabSize {
		return nil, fail("vocabulary size mismatch: the model has %d tokens, the file has %d", vocabSize, len(t.pieces))
	}
	t.index()
	return t, nil
}

// index fills t.ids from t.pieces: each piece maps to the lowest id that
// has it.
func (t *Tokenizer) index() {
	t.ids = make(map[string]int, len(t.pieces))
	for id, p := range t.pieces {
		if _, dup := t.ids[p]; !dup {
			t.ids[p] = id
		}
	}
}

// NewTokenizer returns the tokenizer with the given pieces and merge
// scores: token id has piece pieces[id] and score scores[id]. The
// conventions of [Tokenizer.Encode] apply: ids 0, 1 and 2 are taken as
// [UNK], [BOS] and [EOS], and ids 3..258 as the byte-fallback pieces
// "<0x00>".."<0xFF>" (whatever their text), so there must be at least 259
// pieces. Scores are rounded to float32, the precision of the file format,
// so that a tokenizer written with [WriteLlama2CTokenizer] and read back
// encodes exactly as this one. Its max_token_length is the longest piece's
// byte length (at least 1), as llama2.c's tokenizer export writes.
//
// It is an error if the lengths of pieces and scores differ, if there are
// fewer than 259 or more than MaxVocabSize pieces, if a score is not a
// finite float32, or if the file would exceed the limits that
// [ReadLlama2CTokenizer] enforces (a piece of more than 65536 bytes, a file
// of more than 256 MB).
func NewTokenizer(pieces []string, scores []float64) (*Tokenizer, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("model: new tokenizer: "+format, args...)
	}
	n := len(pieces)
	switch {
	case len(scores) != n:
		return nil, fail("%d pieces but %d scores", n, len(scores))
	case n < byteFallbackOffset+256 || n > MaxVocabSize:
		return nil, fail("vocabulary size %d out of range [%d, %d]", n, byteFallbackOffset+256, MaxVocabSize)
	}
	t := &Tokenizer{pieces: slices.Clone(pieces), scores: make([]float64, n), maxLen: 1}
	size := 4 // max_token_length
	for id, p := range pieces {
		s := float64(float32(scores[id]))
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return nil, fail("token %d: score %v is not a finite float32", id, scores[id])
		}
		if len(p) > maxPieceBytes {
			return nil, fail("token %d: piece of %d bytes, the limit is %d", id, len(p), maxPieceBytes)
		}
		t.scores[id] = s
		t.maxLen = max(t.maxLen, len(p))
		size += 8 + len(p)
		if size > maxTokenizerBytes {
			return nil, fail("the file would exceed %d bytes at token %d", maxTokenizerBytes, id)
		}
	}
	t.index()
	return t, nil
}

// WriteLlama2CTokenizer writes t to w in the llama2.c tokenizer format that
// [ReadLlama2CTokenizer] reads: max_token_length, then each piece's score
// (float32) and length and bytes. Reading the output back gives a tokenizer
// equal to t; a tokenizer read from a file is written back byte for byte.
// It is an error if t is nil or has no pieces (the zero Tokenizer);
// otherwise the only errors are w's.
func WriteLlama2CTokenizer(w io.Writer, t *Tokenizer) error {
	if t == nil || len(t.pieces) == 0 {
		return fmt.Errorf("model: write tokenizer: empty tokenizer (build one with NewTokenizer)")
	}
	buf := binary.LittleEndian.AppendUint32(nil, uint32(int32(t.maxLen)))
	for id, p := range t.pieces {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(t.scores[id])))
		buf = binary.LittleEndian.AppendUint32(buf, uint32(int32(len(p))))
		buf = append(buf, p...)
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("model: write tokenizer: %w", err)
	}
	return nil
}

// VocabSize returns the number of pieces.
func (t *Tokenizer) VocabSize() int { return len(t.pieces) }

// Piece returns the raw piece of token id as stored in the file (e.g. " Once",
// "<0x0A>", "\n<s>\n"), or "" if id is out of range.
func (t *Tokenizer) Piece(id int) string {
	if id < 0 || id >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// Score returns the merge score of token id, or 0 if id is out of range.
func (t *Tokenizer) Score(id int) float64 {
	if id < 0 || id >= len(t.pieces) {
		return 0
	}
	return t.scores[id]
}

// Encode tokenizes text exactly as llama2.c's encode does:
//
//  1. if bos, start with BOS;
//  2. if text is not empty, add the piece " " (a dummy prefix, as
//     SentencePiece's add_dummy_prefix does);
//  3. split text into UTF-8 code points (at most 4 bytes each; malformed
//     bytes are taken as llama2.c takes them) and map each to its piece, or,
//     when there is none, each of its bytes b to the byte-fallback id b+3;
//  4. repeatedly replace the adjacent pair whose concatenated pieces form the
//     piece with the highest score (the leftmost on ties) by that piece,
//     until no pair merges (in O(n log n) for n tokens, see merge);
//  5. if eos, end with EOS.
//
// The error is reserved for a tokenizer that lacks a piece needed by the
// procedure; with a valid llama2.c tokenizer Encode does not fail.
func (t *Tokenizer) Encode(text string, bos, eos bool) ([]int, error) {
	return t.encode(text, bos, eos, t.merge)
}

// encode is Encode with the merge loop of step 4 given.
func (t *Tokenizer) encode(text string, bos, eos bool, merge func([]int) []int) ([]int, error) {
	tokens := make([]int, 0, len(text)+3)
	if bos {
		tokens = append(tokens, BOS)
	}
	if text != "" {
		tokens = t.appendPiece(tokens, " ")
	}
	// Code point splitting, byte by byte like llama2.c: a non-continuation
	// byte starts a new buffer; the buffer is flushed when the next byte is
	// not a continuation byte or the buffer holds 4 bytes.
	isCont := func(b byte) bool { return b&0xC0 == 0x80 }
	start := 0
	for i := 0; i < len(text); i++ {
		if !isCont(text[i]) {
			start = i
		}
		if i+1 < len(text) && isCont(text[i+1]) && i+1-start < 4 {
			continue
		}
		tokens = t.appendPiece(tokens, text[start:i+1])
		start = i + 1
	}
	tokens = merge(tokens)
	if eos {
		tokens = append(tokens, EOS)
	}
	for _, id := range tokens {
		if id < 0 || id >= len(t.pieces) {
			return nil, fmt.Errorf("model: encode: id %d out of the vocabulary of %d (byte fallback needs ids 3..258)", id, len(t.pieces))
		}
	}
	return tokens, nil
}

// MinTokens is a lower bound, computed without tokenizing, on the length of
// Encode(text, bos, eos): no token covers more bytes of the text (with the
// dummy-prefix space) than the longest piece, max_token_length. A caller
// with a budget of tokens rejects a text far beyond it at once.
func (t *Tokenizer) MinTokens(text string, bos, eos bool) int {
	n := 0
	if text != "" {
		n = (len(text) + 1 + t.maxLen - 1) / t.maxLen
	}
	if bos {
		n++
	}
	if eos {
		n++
	}
	return n
}

// appendPiece appends the id of piece s, or its bytes as byte-fallback ids.
func (t *Tokenizer) appendPiece(tokens []int, s string) []int {
	if id, ok := t.ids[s]; ok {
		return append(tokens, id)
	}
	for i := 0; i < len(s); i++ {
		tokens = append(tokens, int(s[i])+byteFallbackOffset)
	}
	return tokens
}

// Decode returns the text of token id when it follows token prev, as
// llama2.c's decode does: after BOS a leading space is dropped, and a
// byte-fallback piece "<0xXX>" becomes the raw byte XX. An id out of range
// decodes to "". Special tokens decode to their piece (for tok512.bin, BOS is
// "\n<s>\n"); [Tokenizer.DecodeAll] skips them.
func (t *Tokenizer) Decode(prev, id int) string {
	if id < 0 || id >= len(t.pieces) {
		return ""
	}
	p := t.pieces[id]
	if prev == BOS && len(p) > 0 && p[0] == ' ' {
		p = p[1:]
	}
	if b, ok := parseBytePiece(p); ok {
		return string([]byte{b})
	}
	return p
}

// DecodeAll returns the text of a sequence of ids, each decoded by
// [Tokenizer.Decode] after its predecessor. The first id is decoded as if it
// followed BOS, so the dummy-prefix space that Encode adds is removed and a
// generated continuation of a prompt decodes as llama2.c prints it. BOS and
// EOS produce no text (a BOS still drops the leading space of the piece after
// it). Hence DecodeAll(Encode(s, bos, eos)) == s for ordinary text (text
// that does not itself spell a special or "<0xXX>" piece).
func (t *Tokenizer) DecodeAll(ids []int) string {
	var b bytes.Buffer
	prev := BOS
	for _, id := range ids {
		if id != BOS && id != EOS {
			b.WriteString(t.Decode(prev, id))
		}
		prev = id
	}
	return b.String()
}

// parseBytePiece recognises the byte-fallback pieces "<0x00>" .. "<0xFF>"
// (upper- or lower-case hex digits).
func parseBytePiece(p string) (byte, bool) {
	if len(p) != 6 || p[:3] != "<0x" || p[5] != '>' {
		return 0, false
	}
	hi, ok1 := hexDigit(p[3])
	lo, ok2 := hexDigit(p[4])
	return hi<<4 | lo, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
