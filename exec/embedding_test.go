package exec

import (
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/model"
)

// TestEmbedding looks up two tokens (the first and the last id) in a
// random table of stories260K's shape.
func TestEmbedding(t *testing.T) {
	c, err := model.ConfigByName("stories260K")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range testPresets(t) {
		checkEmbedding(t, env(t, name), c.VocabSize, c.Dim)
	}
}

// checkEmbedding looks up the first and the last token in a random table.
func checkEmbedding(t *testing.T, e *testEnv, vocab, dim int) {
	name := e.name
	p := e.params
	tm := p.PlaintextModulus()
	emb, err := NewEmbedding(p, e.profile, vocab, dim)
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
		tally := cost.NewTally(e.profile)
		y, err := emb.Run(sess, tally, tableT, tok)
		if err != nil {
			t.Fatal(err)
		}
		if !equalVec(y.Reveal(tm), table.Data[tok*dim:(tok+1)*dim]) {
			t.Errorf("%s: token %d: wrong row", name, tok)
		}
		checkCounters(t, tally.Cost(), emb.Estimate())
	}
	if _, err := emb.Run(sess, cost.NewTally(e.profile), tableT, vocab); err == nil {
		t.Error("out-of-range token accepted")
	}
	sess.Close()
}
