package exec

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
)

// The test skeleton of the four ARCC kernels, as the kernels have one
// (attention_kernels.go): a scores and a values kernel of one layout, run
// on random inputs against the plaintext attention.

// arccUnderTest is an ARCC kernel as the tests drive it.
type arccUnderTest interface {
	Primitive
	Run(s *Session, tally *cost.Tally, keys []*rlwe.Ciphertext, kS []uint64, x Shared) (Shared, error)
	RotationCount() int64
	RotationLowerBound() int64
	testKind() arccKind
}

func (k *DecodeScores) testKind() arccKind  { return k.kernel() }
func (k *DecodeValues) testKind() arccKind  { return k.kernel() }
func (k *PrefillScores) testKind() arccKind { return k.kernel() }
func (k *PrefillValues) testKind() arccKind { return k.kernel() }

// decodeKernels plans both decode kernels of a shape.
func decodeKernels(tb testing.TB, e *hetest.Env, sh AttentionShape) (*DecodeScores, *DecodeValues) {
	tb.Helper()
	return planPair(tb, e, sh, NewDecodeScores, NewDecodeValues)
}

// prefillKernels plans both prefill kernels of a shape (Context is the
// prompt length m).
func prefillKernels(tb testing.TB, e *hetest.Env, sh AttentionShape) (*PrefillScores, *PrefillValues) {
	tb.Helper()
	return planPair(tb, e, sh, NewPrefillScores, NewPrefillValues)
}

// planPair plans the scores and the values kernel of a layout.
func planPair[S, V any](tb testing.TB, e *hetest.Env, sh AttentionShape,
	newScores func(bgv.Parameters, *cost.Profile, AttentionShape) (S, error),
	newValues func(bgv.Parameters, *cost.Profile, AttentionShape) (V, error)) (S, V) {
	tb.Helper()
	sc, err := newScores(e.Params, e.Profile, sh)
	if err != nil {
		tb.Fatal(err)
	}
	vk, err := newValues(e.Params, e.Profile, sh)
	if err != nil {
		tb.Fatal(err)
	}
	return sc, vk
}

// checkARCC runs a scores and a values kernel of one layout on random
// inputs: the scores equal the plaintext q·k over the keys each query
// sees and are zero in both shares elsewhere; the outputs equal the
// plaintext p·V over the same keys (the weights are random everywhere:
// the kernel must ignore the others); the counters of each Run equal its
// Estimate's, and the rotations are not below the bounds.
func checkARCC(t *testing.T, e *hetest.Env, sc, vk arccUnderTest) {
	t.Helper()
	tm := e.Params.PlaintextModulus()
	sess, err := NewSession(e.Params, sc, vk)
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
	a, pk := sc.testKind().base()
	sh := a.Shape
	nq, nk, kv := pk.queries, pk.keys, sh.KVHeads*sh.HeadDim
	K, V := hetest.RandVec(tm, nk*kv), hetest.RandVec(tm, nk*kv)
	q, P := hetest.RandVec(tm, nq*sh.Heads*sh.HeadDim), hetest.RandVec(tm, sh.Heads*nq*nk)

	s := runARCCKernel(t, e, sess, sc, K, q)
	if !slices.Equal(s.Reveal(tm), scoresRef(sh, nq, nk, q, K, tm)) {
		t.Fatal("scores differ from the plaintext q·k")
	}
	for i, x := range s.C {
		if r := i % (nq * nk); r%nk > r/nk+nk-nq && (x != 0 || s.S[i] != 0) {
			t.Fatalf("head %d: masked score (%d, %d) has non-zero shares", i/(nq*nk), r/nk, r%nk)
		}
	}
	o := runARCCKernel(t, e, sess, vk, V, P)
	if !slices.Equal(o.Reveal(tm), valuesRef(sh, nq, nk, P, V, tm)) {
		t.Fatal("outputs differ from the plaintext p·V")
	}
	for _, k := range []arccUnderTest{sc, vk} {
		if k.RotationCount() < k.RotationLowerBound() {
			t.Errorf("rotations %d below the bound %d", k.RotationCount(), k.RotationLowerBound())
		}
	}
}

// TestValuesStreamed reruns the exact checks of both layouts' kernels with
// the values kernel's inputs taken 3 at a time, on 1 and on 2 server
// cores: sums that straddle batches, batches that complete several sums,
// folds within a slot row and across both (the decode layout's whole
// fold). The estimate prices the batches, so its counters must still be
// the Run's.
func TestValuesStreamed(t *testing.T) {
	defer func(b, c int) { inputBatch, testServerCores = b, c }(inputBatch, testServerCores)
	inputBatch = 3
	e := hetest.ForTest(t, hetest.Presets()[0])
	gqa := AttentionShape{Heads: 8, KVHeads: 4, HeadDim: 8, Context: 300} // 2 offsets of several value cts
	gpt2 := AttentionShape{Heads: 12, KVHeads: 12, HeadDim: 64, Context: 7}
	for _, cores := range []int{1, 2} {
		testServerCores = cores
		t.Run(fmt.Sprintf("decode/cores=%d", cores), func(t *testing.T) {
			sc, vk := decodeKernels(t, e, gqa)
			if vk.testKind().inputCts() <= 2*inputBatch {
				t.Fatalf("%d inputs: too few for the test", vk.testKind().inputCts())
			}
			checkARCC(t, e, sc, vk)
		})
		t.Run(fmt.Sprintf("prefill/cores=%d", cores), func(t *testing.T) {
			sc, vk := prefillKernels(t, e, gpt2)
			checkARCC(t, e, sc, vk)
		})
	}
}

// runARCCKernel has the client encrypt its share of rows (keys or values)
// in the kernel's layout at its level, runs the kernel on the shared input
// x and checks its counters; it returns the shared output.
func runARCCKernel(t *testing.T, e *hetest.Env, sess *Session, k arccUnderTest, rows, x []uint64) Shared {
	t.Helper()
	tm := e.Params.PlaintextModulus()
	a, pk := k.testKind().base()
	r := share(t, rows, tm)
	cts := encryptVecs(t, sess, a.Level, pk.vectors(r.C, a.Shape.KVHeads*a.Shape.HeadDim))
	tally := cost.NewTally(e.Profile)
	out, err := k.Run(sess, tally, cts, r.S, share(t, x, tm))
	if err != nil {
		t.Fatal(err)
	}
	hetest.CheckCounters(t, a.what, tally.Cost(), k.Estimate())
	return out
}

// scoresRef is the plaintext q·k (Heads x nq x nk) of nq queries (nq x
// Heads x HeadDim) against nk keys (nk x KVDim), query i seeing the keys
// j <= i + nk - nq (the last nq positions of a causal attention), zero
// elsewhere.
func scoresRef(sh AttentionShape, nq, nk int, q, k []uint64, tm uint64) []uint64 {
	d, G := sh.HeadDim, sh.Heads/sh.KVHeads
	kv := sh.KVHeads * d
	s := make([]uint64, sh.Heads*nq*nk)
	for h := 0; h < sh.Heads; h++ {
		for i := 0; i < nq; i++ {
			for j := 0; j <= i+nk-nq; j++ {
				var acc uint64
				for c := 0; c < d; c++ {
					acc = (acc + hetest.MulMod(q[(i*sh.Heads+h)*d+c], k[j*kv+(h/G)*d+c], tm)) % tm
				}
				s[(h*nq+i)*nk+j] = acc
			}
		}
	}
	return s
}

// valuesRef is the plaintext p·V (nq x Heads x HeadDim) of weights p
// (Heads x nq x nk) over nk values (nk x KVDim), query i summing the
// values j <= i + nk - nq.
func valuesRef(sh AttentionShape, nq, nk int, p, v []uint64, tm uint64) []uint64 {
	d, G := sh.HeadDim, sh.Heads/sh.KVHeads
	kv := sh.KVHeads * d
	o := make([]uint64, nq*sh.Heads*d)
	for i := 0; i < nq; i++ {
		for h := 0; h < sh.Heads; h++ {
			for c := 0; c < d; c++ {
				var acc uint64
				for j := 0; j <= i+nk-nq; j++ {
					acc = (acc + hetest.MulMod(p[(h*nq+i)*nk+j], v[j*kv+(h/G)*d+c], tm)) % tm
				}
				o[(i*sh.Heads+h)*d+c] = acc
			}
		}
	}
	return o
}
