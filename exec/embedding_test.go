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
		e := env(t, name)
		p := e.params
		tm := p.PlaintextModulus()
		emb, err := NewEmbedding(p, e.profile, c.VocabSize, c.Dim)
		if err != nil {
			t.Fatal(err)
		}
		sess, err := NewSession(p, emb)
		if err != nil {
			t.Fatal(err)
		}
		table := randMatrix(t, tm, c.VocabSize, c.Dim)
		tableT := table.Transpose()
		for _, tok := range []int{0, c.VocabSize - 1} {
			tally := cost.NewTally(e.profile)
			y, err := emb.Run(sess, tally, tableT, tok)
			if err != nil {
				t.Fatal(err)
			}
			if !equalVec(y.Reveal(tm), table.Data[tok*c.Dim:(tok+1)*c.Dim]) {
				t.Errorf("%s: token %d: wrong row", name, tok)
			}
			checkCounters(t, tally.Cost(), emb.Estimate())
		}
		if _, err := emb.Run(sess, cost.NewTally(e.profile), tableT, c.VocabSize); err == nil {
			t.Error("out-of-range token accepted")
		}
		sess.Close()
	}
}
