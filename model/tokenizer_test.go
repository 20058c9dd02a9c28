package model

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// stories260KVocab is the vocabulary size of stories260K and tok512.bin.
const stories260KVocab = 512

func loadTok512(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := LoadLlama2CTokenizer(tok512Path, stories260KVocab)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenizerPieces(t *testing.T) {
	tok := loadTok512(t)
	if tok.VocabSize() != stories260KVocab {
		t.Fatalf("VocabSize = %d", tok.VocabSize())
	}
	// Pieces and scores as stored in tok512.bin (merge scores decrease by
	// one per id from 0 at id 259).
	tests := []struct {
		id    int
		piece string
		score float64
	}{
		{UNK, "<unk>", 0},
		{BOS, "\n<s>\n", 0},
		{EOS, "\n</s>\n", 0},
		{3, "<0x00>", 0},
		{13, "<0x0A>", 0},  // newline byte, 0x0A + 3
		{258, "<0xFF>", 0}, // last byte fallback
		{261, " a", -2},
		{403, " Once", -144},
		{407, " upon", -148},
		{378, " time", -119},
		{410, " ", -151},
		{432, ",", -173},
		{507, "™", -248},
		{-1, "", 0},  // out of range
		{512, "", 0}, // out of range
	}
	for _, tt := range tests {
		if p, s := tok.Piece(tt.id), tok.Score(tt.id); p != tt.piece || s != tt.score {
			t.Errorf("id %d: piece %q score %v, want %q %v", tt.id, p, s, tt.piece, tt.score)
		}
	}
}

func TestTokenizerEncode(t *testing.T) {
	tok := loadTok512(t)
	// Expected ids are what llama2.c's encode gives (checked against an
	// independent reimplementation of its algorithm). 410 is the dummy
	// prefix " ".
	tests := []struct {
		text     string
		bos, eos bool
		want     []int
	}{
		// The same ids as the model's greedy output (see TestGenerateStories).
		{"Once upon a time, there was a little girl", true, false,
			[]int{1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421}},
		{"Hello, world!", true, true, []int{1, 346, 306, 414, 432, 263, 304, 341, 443, 2}},
		{"Hello, world!", false, false, []int{346, 306, 414, 432, 263, 304, 341, 443}},
		{"", true, false, []int{1}},
		{"", false, true, []int{2}},
		// "日" has no piece: its three UTF-8 bytes e6 97 a5 fall back to ids
		// byte+3 = 233, 154, 168.
		{"日", true, false, []int{1, 410, 233, 154, 168}},
		// "™" (3 bytes) is piece 507.
		{"™", true, false, []int{1, 410, 507}},
		{"café", true, false, []int{1, 280, 412, 431, 485}},
		{" two  spaces", true, false, []int{1, 410, 259, 424, 414, 410, 262, 427, 412, 331, 419}},
		// The newline is byte fallback 13 = 0x0A + 3.
		{"Lily's mom said, \"Lily, let's go.\"\n", true, false,
			[]int{1, 317, 439, 419, 357, 336, 432, 313, 438, 310, 432, 278, 316, 439, 419, 298, 414, 426, 436, 13}},
	}
	for _, tt := range tests {
		got, err := tok.Encode(tt.text, tt.bos, tt.eos)
		if err != nil {
			t.Errorf("Encode(%q): %v", tt.text, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Encode(%q, %v, %v) = %v, want %v", tt.text, tt.bos, tt.eos, got, tt.want)
		}
	}
}

func TestTokenizerRoundTrip(t *testing.T) {
	tok := loadTok512(t)
	for _, s := range []string{
		"Once upon a time",
		"Hello, world!\nNew line\ttab",
		"café ünïcode ✓ 日本語 ™ 🙂",
		"  leading and trailing spaces  ",
		"\xff\x80 invalid UTF-8 \xe6\x97", // malformed bytes survive via byte fallback
		"",
	} {
		for _, bos := range []bool{true, false} {
			ids, err := tok.Encode(s, bos, true)
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.DecodeAll(ids); got != s {
				t.Errorf("DecodeAll(Encode(%q, %v)) = %q", s, bos, got)
			}
		}
	}
}

func TestTokenizerDecode(t *testing.T) {
	tok := loadTok512(t)
	tests := []struct {
		prev, id int
		want     string
	}{
		{BOS, 403, "Once"}, // leading space dropped after BOS
		{403, 407, " upon"},
		{5, 13, "\n"}, // <0x0A>
		{5, 258, "\xff"},
		{5, BOS, "\n<s>\n"},
		{5, 512, ""}, // out of range
		{5, -3, ""},
	}
	for _, tt := range tests {
		if got := tok.Decode(tt.prev, tt.id); got != tt.want {
			t.Errorf("Decode(%d, %d) = %q, want %q", tt.prev, tt.id, got, tt.want)
		}
	}
	// BOS and EOS produce no text; only BOS drops the next leading space.
	if got := tok.DecodeAll([]int{BOS, 403, 407, 261, 378, EOS, 403, BOS, 403}); got != "Once upon a time OnceOnce" {
		t.Errorf("DecodeAll = %q", got)
	}
}

// bytePieces returns llama2.c's first 259 pieces: the special tokens, then
// the byte-fallback pieces <0x00> .. <0xFF>.
func bytePieces() []string {
	pieces := []string{"<unk>", "<s>", "</s>"}
	for b := range 256 {
		pieces = append(pieces, fmt.Sprintf("<0x%02X>", b))
	}
	return pieces
}

// TestTokenizerWriteRoundTrip: tok512.bin written back is the same bytes;
// a tokenizer built by NewTokenizer from its pieces and scores writes the
// same bytes too (tok512's max_token_length is its longest piece, 7), and
// one built from other pieces reads back equal and encodes the same.
func TestTokenizerWriteRoundTrip(t *testing.T) {
	orig, err := os.ReadFile(tok512Path)
	if err != nil {
		t.Fatal(err)
	}
	tok := loadTok512(t)
	write := func(tok *Tokenizer) []byte {
		var b bytes.Buffer
		if err := WriteLlama2CTokenizer(&b, tok); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if !bytes.Equal(write(tok), orig) {
		t.Error("tok512.bin written back differs")
	}
	pieces, scores := make([]string, tok.VocabSize()), make([]float64, tok.VocabSize())
	for id := range pieces {
		pieces[id], scores[id] = tok.Piece(id), tok.Score(id)
	}
	built, err := NewTokenizer(pieces, scores)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(write(built), orig) {
		t.Error("NewTokenizer(tok512's pieces and scores) writes other bytes")
	}

	// Scores that are not float32 values are rounded once, by NewTokenizer:
	// "ab" at 0.1+1e-12 and "ba" at 0.1 tie after the file's rounding to
	// float32, so the tokenizer must already see them tied (in "bab" the
	// leftmost pair, "ba", merges first) or it would encode differently
	// from the file it writes.
	pieces = append(bytePieces(), "a", "b", "ab", "ba", " ab")
	scores = make([]float64, len(pieces))
	scores[len(pieces)-3], scores[len(pieces)-2], scores[len(pieces)-1] = 0.1+1e-12, 0.1, -3
	built, err = NewTokenizer(pieces, scores)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadLlama2CTokenizer(bytes.NewReader(write(built)), len(pieces))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, built) {
		for id := range pieces {
			if back.Piece(id) != built.Piece(id) || back.Score(id) != built.Score(id) {
				t.Errorf("token %d read back as %q %v, written %q %v", id, back.Piece(id), back.Score(id), built.Piece(id), built.Score(id))
			}
		}
		t.Errorf("read back differs from the tokenizer written (max length %d, written %d)", back.maxLen, built.maxLen)
	}
	for _, text := range []string{"abab", "bab", "ab ba", "日本"} {
		a, errA := built.Encode(text, true, true)
		b, errB := back.Encode(text, true, true)
		if errA != nil || errB != nil || !slices.Equal(a, b) {
			t.Errorf("Encode(%q): built %v %v, read back %v %v", text, a, errA, b, errB)
		}
	}
}

func TestNewTokenizerErrors(t *testing.T) {
	ok := bytePieces()
	zeros := func(n int) []float64 { return make([]float64, n) }
	with := func(i int, v float64) []float64 { s := zeros(len(ok)); s[i] = v; return s }
	tests := []struct {
		name   string
		pieces []string
		scores []float64
		want   string
	}{
		{"fewer scores", ok, zeros(len(ok) - 1), "259 pieces but 258 scores"},
		{"too few pieces for byte fallback", ok[:258], zeros(258), "vocabulary size 258 out of range [259, "},
		{"NaN score", ok, with(7, math.NaN()), "token 7: score NaN is not a finite float32"},
		{"score beyond float32", ok, with(8, -1e39), "token 8: score -1e+39 is not a finite float32"},
		{"piece too long", append(slices.Clone(ok), strings.Repeat("x", maxPieceBytes+1)), zeros(len(ok) + 1), "token 259: piece of 65537 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := NewTokenizer(tt.pieces, tt.scores)
			if err == nil {
				t.Fatalf("got a tokenizer of %d pieces, want an error", tok.VocabSize())
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || !strings.HasPrefix(msg, "model: new tokenizer: ") {
				t.Errorf("error %q, want it to contain %q", msg, tt.want)
			}
		})
	}
	var b bytes.Buffer
	if err := WriteLlama2CTokenizer(&b, &Tokenizer{}); err == nil || b.Len() != 0 {
		t.Errorf("writing the zero Tokenizer: %v, %d bytes", err, b.Len())
	}
	if err := WriteLlama2CTokenizer(&b, nil); err == nil {
		t.Error("writing a nil Tokenizer: no error")
	}
	tok, err := NewTokenizer(ok, zeros(len(ok)))
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteLlama2CTokenizer(&failWriter{n: 10}, tok); !errors.Is(err, errWrite) {
		t.Errorf("failing writer: %v", err)
	}
}

func TestTokenizerErrors(t *testing.T) {
	orig, err := os.ReadFile(tok512Path)
	if err != nil {
		t.Fatal(err)
	}
	// The first record starts at byte 4: score (4 bytes), length (4 bytes),
	// then "<unk>".
	set := func(off int, v uint32) []byte {
		b := bytes.Clone(orig)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	tests := []struct {
		name  string
		data  []byte
		vocab int
		want  string
	}{
		{"empty", nil, 512, "truncated"},
		{"header only", orig[:4], 512, "the file has 0"},
		{"cut in a record header", orig[:9], 512, "truncated in token 0"},
		{"cut in a piece", orig[:14], 512, "truncated in token 0"},
		{"cut at the end", orig[:len(orig)-1], 512, "truncated in token 511"},
		{"trailing byte", append(bytes.Clone(orig), 0), 512, "the file has more"},
		{"model vocab smaller", orig, 511, "vocabulary size mismatch: the model has 511 tokens, the file has more"},
		{"model vocab larger", orig, 513, "vocabulary size mismatch: the model has 513 tokens, the file has 512"},
		{"vocab too small for byte fallback", orig, 100, "out of range"},
		{"zero max length", set(0, 0), 512, "max token length 0"},
		{"negative piece length", set(8, math.MaxUint32), 512, "token 0: length -1"},
		{"piece longer than max", set(8, 8), 512, "token 0: length 8 out of range [0, 7]"},
		{"NaN score", set(4, math.Float32bits(float32(math.NaN()))), 512, "token 0: non-finite score"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := ReadLlama2CTokenizer(bytes.NewReader(tt.data), tt.vocab)
			if err == nil {
				t.Fatalf("got a tokenizer of %d pieces, want an error", tok.VocabSize())
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || !strings.HasPrefix(msg, "model: tokenizer: ") {
				t.Errorf("error %q, want it to contain %q", msg, tt.want)
			}
		})
	}
	if _, err := LoadLlama2CTokenizer(tok512Path+".missing", 512); err == nil {
		t.Error("missing file: no error")
	}
}

// TestTokenizerMissingDummyPrefix uses a vocabulary without the piece " ":
// the dummy prefix falls back to byte 0x20 (id 35), and Encode does not fail.
func TestTokenizerMissingDummyPrefix(t *testing.T) {
	pieces := append(bytePieces(), "a", "b", "ab")
	scores := make([]float64, len(pieces))
	scores[len(pieces)-1] = -1
	tok, err := NewTokenizer(pieces, scores)
	if err != nil {
		t.Fatal(err)
	}
	// 259, 260, 261 are "a", "b", "ab"; 35 is byte 0x20 (space) + 3.
	got, err := tok.Encode("ab", false, false)
	if want := []int{35, 261}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Encode = %v, %v, want %v", got, err, want)
	}
	// The fallback byte is not a piece starting with a space, so, as in
	// llama2.c, decoding keeps it.
	if s := tok.DecodeAll(got); s != " ab" {
		t.Errorf("DecodeAll = %q", s)
	}
}
