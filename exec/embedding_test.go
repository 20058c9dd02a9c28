package exec

import (
	"slices"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
	"github.com/cgsim/cgsim/model"
)

// TestEmbedding looks up two tokens (the first and the last id) in a
// random table of stories260K's shape.
func TestEmbedding(t *testing.T) {
	c, err := model.ConfigByName("stories260K")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range hetest.Presets() {
		checkEmbedding(t, hetest.ForTest(t, name), c.VocabSize, c.Dim)
	}
}

// checkEmbedding looks up the first and the last token in a random table.
func checkEmbedding(t *testing.T, e *hetest.Env, vocab, dim int) {
	name := e.Name
	p := e.Params
	tm := p.PlaintextModulus()
	emb, err := NewEmbedding(p, e.Profile, vocab, dim)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := NewSession(p, emb)
	if err != nil {
		t.Fatal(err)
	}
	table := randMatrix(t, tm, vocab, dim)
	tableT := table.Transpose()
	for _, tok := range []int{0, vocab - 1} {
		tally := cost.NewTally(e.Profile)
		y, err := emb.Run(sess, tally, tableT, tok)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(y.Reveal(tm), table.Data[tok*dim:(tok+1)*dim]) {
			t.Errorf("%s: token %d: wrong row", name, tok)
		}
		hetest.CheckCounters(t, "embedding", tally.Cost(), emb.Estimate())
	}
	if _, err := emb.Run(sess, cost.NewTally(e.Profile), tableT, vocab); err == nil {
		t.Error("out-of-range token accepted")
	}
	sess.Close()
}
