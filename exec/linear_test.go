package exec

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
	"github.com/cgsim/cgsim/model"
)

// linearShape is one weight matrix of a model.
type linearShape struct {
	name    string
	out, in int
}

// modelShapes lists every weight-matrix shape of a model: d x d (wq, wo),
// kv x d (wk, wv), hidden x d (w1, w3 or fc), d x hidden (w2 or proj),
// vocab x d (classifier).
func modelShapes(t testing.TB, name string, withVocab bool) []linearShape {
	c, err := model.ConfigByName(name)
	if err != nil {
		t.Fatal(err)
	}
	s := []linearShape{
		{name + "/dxd", c.Dim, c.Dim},
		{name + "/kvxd", c.KVDim(), c.Dim},
		{name + "/hiddenxd", c.HiddenDim, c.Dim},
		{name + "/dxhidden", c.Dim, c.HiddenDim},
	}
	if withVocab {
		s = append(s, linearShape{name + "/vocabxd", c.VocabSize, c.Dim})
	}
	return s
}

func randMatrix(t testing.TB, tm uint64, rows, cols int) Matrix {
	return Matrix{Rows: rows, Cols: cols, Data: hetest.RandVec(tm, rows*cols)}
}

// TestLinear runs the linear layer on every matrix shape of stories260K
// and of a GPT-2 layer (the GPT-2 classifier, 50257 x 768, is priced in
// TestLinearEstimateOnly and the benchmarks), in the decode encoding and in
// the prefill encoding, with the slot and the coefficient packings: the
// result equals W x mod t exactly and the counters of Run equal
// Estimate's.
func TestLinear(t *testing.T) {
	shapes := modelShapes(t, "stories260K", true)
	shapes = append(shapes, modelShapes(t, "gpt2", false)...)
	for _, name := range hetest.Presets() {
		e := hetest.ForTest(t, name)
		for _, sh := range shapes {
			// Prefill token counts: 3 (not a power of two) and 16 for the
			// small model; 2 for GPT-2, whose layers are large.
			ms := []int{1, 3, 16}
			if sh.in > 256 || sh.out > 256 {
				ms = []int{1, 2}
				if testing.Short() {
					ms = []int{1}
				}
			}
			for _, m := range ms {
				enc := Prefill
				if m == 1 {
					enc = Decode
				}
				for _, fam := range linearFamilyNames {
					t.Run(fmt.Sprintf("%s/%s/%s/m=%d/%s", name, sh.name, enc, m, fam.name), func(t *testing.T) {
						defer func(f int) { linearFamilies = f }(linearFamilies)
						linearFamilies = fam.families
						checkLinear(t, e, sh.out, sh.in, m)
					})
				}
			}
		}
	}
}

// linearFamilyNames are the packing searches TestLinear runs: each family
// alone, so that both are run whatever the planner prefers (its choice is
// one of them).
var linearFamilyNames = []struct {
	name     string
	families int
}{{"slots", slotsOnly}, {"coefficients", coefficientsOnly}}

// checkLinear runs a linear layer out x in over m tokens (decode if m = 1)
// on random inputs: the result equals W x mod t exactly, the counters of
// Run equal Estimate's, and the rotations are not below the bound.
func checkLinear(t *testing.T, e *hetest.Env, out, in, m int) {
	p := e.Params
	tm := p.PlaintextModulus()
	enc := Prefill
	if m == 1 {
		enc = Decode
	}
	l, err := NewLinear(p, e.Profile, out, in, m, enc)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := NewSession(p, l)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.SetServerCores(testServerCores); err != nil {
		t.Fatal(err)
	}
	if err := sess.SetClientCores(testClientCores); err != nil {
		t.Fatal(err)
	}
	w := randMatrix(t, tm, out, in)
	x := hetest.RandVec(tm, m*in)
	tally := cost.NewTally(e.Profile)
	y, err := l.Run(sess, tally, w, share(t, x, tm))
	if err != nil {
		t.Fatal(err)
	}
	got := y.Reveal(tm)
	for k := 0; k < m; k++ {
		want := w.MulVec(x[k*in:(k+1)*in], tm)
		if !slices.Equal(got[k*out:(k+1)*out], want) {
			t.Fatalf("token %d: W x differs from the plaintext product", k)
		}
	}
	hetest.CheckCounters(t, "linear", tally.Cost(), l.Estimate())
	// The weights encoded once: the same product, Run's counters without
	// the encodes, which EncodeWeights records instead.
	wt := cost.NewTally(e.Profile)
	lw, err := l.EncodeWeights(sess.Server, wt, w)
	if err != nil {
		t.Fatal(err)
	}
	hetest.CheckCounters(t, "encoding the weights", wt.Cost(), l.WeightsCost())
	if got, want := lw.Bytes(), l.WeightsBytes(); got != want {
		t.Errorf("encoded weights: %d bytes, WeightsBytes says %d", got, want)
	}
	x2 := hetest.RandVec(tm, m*in)
	tally = cost.NewTally(e.Profile)
	if y, err = l.RunEncoded(sess, tally, lw, share(t, x2, tm)); err != nil {
		t.Fatal(err)
	}
	got = y.Reveal(tm)
	for k := 0; k < m; k++ {
		if !slices.Equal(got[k*out:(k+1)*out], w.MulVec(x2[k*in:(k+1)*in], tm)) {
			t.Fatalf("encoded weights, token %d: W x differs from the plaintext product", k)
		}
	}
	hetest.CheckCounters(t, "linear with encoded weights", tally.Cost(), l.EstimateEncoded())
	if r, lb := l.RotationCount(), l.RotationLowerBound(); r < lb {
		t.Errorf("%d rotations, below the lower bound %d", r, lb)
	}
	t.Logf("%v: %d rotations (bound %d), %d keys, setup %d bytes", l, l.RotationCount(), l.RotationLowerBound(), sess.GaloisKeys, sess.Setup.BytesC2S)
}

// TestLinearWeightsMismatch: weights encoded for another layer (or none)
// are refused before anything is sent, and the session stays usable.
func TestLinearWeightsMismatch(t *testing.T) {
	e := hetest.ForTest(t, hetest.Presets()[0])
	p := e.Params
	tm := p.PlaintextModulus()
	a, err := NewLinear(p, e.Profile, 64, 64, 1, Decode)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewLinear(p, e.Profile, 172, 64, 1, Decode)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := NewSession(p, a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	lb, err := b.EncodeWeights(sess.Server, hetest.NopTally(), randMatrix(t, tm, 172, 64))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.EncodeWeights(sess.Server, hetest.NopTally(), randMatrix(t, tm, 64, 65)); err == nil {
		t.Error("encoding a 64x65 matrix for a 64x64 layer: no error")
	}
	x := share(t, hetest.RandVec(tm, 64), tm)
	for name, w := range map[string]*LinearWeights{"none": nil, "another layer's": lb} {
		if _, err := a.RunEncoded(sess, hetest.NopTally(), w, x); err == nil {
			t.Errorf("%s weights: no error", name)
		}
	}
	if _, err := b.RunEncoded(sess, hetest.NopTally(), lb, x); err != nil {
		t.Errorf("after the refusals: %v", err)
	}
}

// TestCoeffPackings runs every coefficient packing the search prices (not
// only the one it chooses) on shapes whose input width divides into
// chunks unevenly (172 = 29 chunks of 6, ...): each chunk non-empty, the
// rows fitting the ring, W x exact and Run's counters Estimate's.
func TestCoeffPackings(t *testing.T) {
	e := hetest.ForTest(t, hetest.Presets()[0])
	p := e.Params
	tm := p.PlaintextModulus()
	pl, err := NewPlanner(p, e.Profile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ out, in, m int }{{64, 172, 1}, {64, 172, 5}, {172, 64, 3}, {7, 3, 2}} {
		enc := Prefill
		if c.m == 1 {
			enc = Decode
		}
		l, err := pl.Linear(c.out, c.in, c.m, enc)
		if err != nil {
			t.Fatal(err)
		}
		var pks []linearPacking
		l.coeffPackings(pl.NoiseModel(), func(pk linearPacking) { pks = append(pks, pk) })
		if len(pks) < 2 {
			t.Fatalf("%v: %d coefficient packings", c, len(pks))
		}
		sess, err := NewSession(p)
		if err != nil {
			t.Fatal(err)
		}
		w := randMatrix(t, tm, c.out, c.in)
		for _, pk := range pks {
			if (pk.chunks-1)*pk.n >= c.in || pk.chunks*pk.n < c.in || pk.b*pk.tok*pk.n > p.N() {
				t.Errorf("%v: packing %+v: an empty chunk, or rows beyond the ring", c, pk)
				continue
			}
			l.pack = pk
			x := hetest.RandVec(tm, c.m*c.in)
			tally := cost.NewTally(e.Profile)
			y, err := l.Run(sess, tally, w, share(t, x, tm))
			if err != nil {
				t.Fatalf("%v: packing %+v: %v", c, pk, err)
			}
			got := y.Reveal(tm)
			for k := 0; k < c.m; k++ {
				if !slices.Equal(got[k*c.out:(k+1)*c.out], w.MulVec(x[k*c.in:(k+1)*c.in], tm)) {
					t.Fatalf("%v: packing %+v, token %d: W x differs", c, pk, k)
				}
			}
			hetest.CheckCounters(t, fmt.Sprintf("%v %+v", c, pk), tally.Cost(), l.Estimate())
		}
		sess.Close()
	}
}
