package model

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
)

// mergeQuadratic is the merge loop Encode had before merge, llama2.c's own:
// each merge scans every adjacent pair for the best one. It is the
// reference merge is checked against.
func (t *Tokenizer) mergeQuadratic(tokens []int) []int {
	for {
		bestScore, bestID, bestIdx := minMergeScore, -1, -1
		for i := 0; i+1 < len(tokens); i++ {
			id, ok := t.ids[t.pieces[tokens[i]]+t.pieces[tokens[i+1]]]
			if ok && t.scores[id] > bestScore {
				bestScore, bestID, bestIdx = t.scores[id], id, i
			}
		}
		if bestIdx < 0 {
			return tokens
		}
		tokens[bestIdx] = bestID
		tokens = append(tokens[:bestIdx+1], tokens[bestIdx+2:]...)
	}
}

// encodeQuadratic is Encode with the reference merge loop.
func (t *Tokenizer) encodeQuadratic(text string, bos, eos bool) ([]int, error) {
	return t.encode(text, bos, eos, t.mergeQuadratic)
}

// realTexts returns lines of the shared corpora (English prose in three
// styles, with the corpora's own markup, digits and punctuation) whose
// length lies in [lo, hi) bytes, at most n of them per corpus.
func realTexts(tb testing.TB, lo, hi, n int) []string {
	tb.Helper()
	var out []string
	for _, f := range []string{"wikitext-2/test.txt", "ptb/ptb.test.txt", "lambada/lambada_test_plain_text.txt"} {
		fh, err := os.Open("../../shared/data/" + f)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		k := 0
		for sc.Scan() && k < n {
			if l := len(sc.Text()); l >= lo && l < hi {
				out = append(out, sc.Text())
				k++
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// TestMergeMatchesQuadratic checks that the heap merge encodes real text to
// exactly the ids of llama2.c's quadratic loop with tok512.bin: 200 lines of
// each corpus (10 to 2000 bytes), a few thousand bytes of them joined, and
// texts with long runs of one character, where many candidate merges tie.
func TestMergeMatchesQuadratic(t *testing.T) {
	tok := loadTok512(t)
	texts := realTexts(t, 10, 2000, 200)
	texts = append(texts, strings.Join(texts[:20], "\n"), "", "a", "  ", strings.Repeat("a", 300),
		strings.Repeat("ab", 200), strings.Repeat(" the", 100), "Once upon a time\n\tthere was\x00\xff\xfe é ™ 日本")
	for i, s := range texts {
		got, err := tok.Encode(s, true, true)
		if err != nil {
			t.Fatal(err)
		}
		want, err := tok.encodeQuadratic(s, true, true)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("text %d (%.60q...): heap merge %v, quadratic %v", i, s, got, want)
		}
	}
}

// tieTokenizer is a tokenizer over a and b whose merges tie often: every
// piece of two to four letters, all of score 0 or -1, and one piece at
// llama2.c's floor score that must never merge.
func tieTokenizer(tb testing.TB) *Tokenizer {
	tb.Helper()
	pieces := append(bytePieces(), "a", "b")
	scores := make([]float64, len(pieces))
	for n := 2; n <= 4; n++ {
		for m := range 1 << n {
			var sb strings.Builder
			for i := range n {
				sb.WriteByte("ab"[m>>i&1])
			}
			if sb.String() == "bbbb" {
				continue
			}
			pieces = append(pieces, sb.String())
			scores = append(scores, -float64(m%2))
		}
	}
	pieces = append(pieces, "bbbb")
	scores = append(scores, minMergeScore)
	tok, err := NewTokenizer(pieces, scores)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// TestMergeTies checks the leftmost-on-ties rule and the floor score
// against the quadratic loop on every string of a and b up to 10 letters.
func TestMergeTies(t *testing.T) {
	tok := tieTokenizer(t)
	for n := 1; n <= 10; n++ {
		for m := range 1 << n {
			b := make([]byte, n)
			for i := range b {
				b[i] = "ab"[m>>i&1]
			}
			got, _ := tok.Encode(string(b), false, false)
			want, _ := tok.encodeQuadratic(string(b), false, false)
			if !slices.Equal(got, want) {
				t.Fatalf("%q: heap merge %v, quadratic %v", b, got, want)
			}
		}
	}
}

// FuzzEncode checks that Encode never panics, agrees with the quadratic
// reference and is bounded below by MinTokens on arbitrary bytes, with tok512.bin and with the tie-heavy
// tokenizer.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "Once upon a time", "aabbab", "\x00\xff\xc3", "日本語 ™", strings.Repeat("ab", 40)} {
		f.Add(s)
	}
	toks := []*Tokenizer{loadTok512(f), tieTokenizer(f)}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			return // the quadratic reference would be slow
		}
		for _, tok := range toks {
			got, err := tok.Encode(s, true, false)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := tok.encodeQuadratic(s, true, false)
			if !slices.Equal(got, want) {
				t.Fatalf("%q: heap merge %v, quadratic %v", s, got, want)
			}
			if lb := tok.MinTokens(s, true, false); lb > len(got) {
				t.Fatalf("%q: MinTokens %d > %d tokens", s, lb, len(got))
			}
		}
	})
}

// BenchmarkEncode tokenizes 30,000 words of real text, the prompt that took
// the quadratic loop over a minute.
func BenchmarkEncode(b *testing.B) {
	tok := loadTok512(b)
	var words []string
	for _, s := range realTexts(b, 1, 1<<20, 1<<20) {
		if words = append(words, strings.Fields(s)...); len(words) >= 30000 {
			break
		}
	}
	words = words[:30000]
	text := strings.Join(words, " ")
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := tok.Encode(text, true, false); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMinTokens checks that MinTokens bounds the length of Encode from
// below on real text and on the texts a token covers most of.
func TestMinTokens(t *testing.T) {
	tok := loadTok512(t)
	texts := append(realTexts(t, 0, 2000, 50), "", "a", strings.Repeat(" the", 100), "\xff\xfe")
	for _, s := range texts {
		for _, be := range [][2]bool{{false, false}, {true, false}, {true, true}} {
			ids, err := tok.Encode(s, be[0], be[1])
			if err != nil {
				t.Fatal(err)
			}
			if lb := tok.MinTokens(s, be[0], be[1]); lb > len(ids) {
				t.Fatalf("%.40q (bos %v, eos %v): MinTokens %d > %d tokens", s, be[0], be[1], lb, len(ids))
			}
		}
	}
}
