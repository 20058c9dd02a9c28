package exec

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
)

// featureShapes are stories260K's attention (8 heads over 4 key/value
// heads of 8: grouped-query), a GPT-2 layer (12 heads of 64: the lanes
// padded to 16) and a multi-query shape (4 heads over one of 16).
var featureShapes = []struct {
	name string
	sh   AttentionShape
}{
	{"stories260K", AttentionShape{Heads: 8, KVHeads: 4, HeadDim: 8}},
	{"gpt2-layer", AttentionShape{Heads: 12, KVHeads: 12, HeadDim: 64}},
	{"mqa", AttentionShape{Heads: 4, KVHeads: 1, HeadDim: 16}},
}

// TestFeatureAttention checks both feature-major kernels against the
// plaintext attention at the contexts the issue lists (1, 7, B-1, B, B+1
// and 200, B the tokens of a cache ciphertext group), with one class, half
// the most the ring allows and the most: results exact modulo t, Run's
// counters equal to its Estimate's, the rotations those RotationCount
// states.
func TestFeatureAttention(t *testing.T) {
	for _, name := range hetest.Presets() {
		e := hetest.ForTest(t, name)
		slots := e.Params.MaxSlots()
		for _, fs := range featureShapes {
			top := MaxFeatureClasses(slots, fs.sh.Heads, fs.sh.HeadDim)
			if top < 1 {
				continue
			}
			for _, classes := range slices.Compact([]int{1, max(1, top/2), top}) {
				lay, err := NewFeatureLayout(slots, fs.sh.Heads, fs.sh.KVHeads, fs.sh.HeadDim, classes)
				if err != nil {
					t.Fatal(err)
				}
				B := lay.TokensPerCt()
				for _, ctx := range slices.Compact([]int{1, 7, B - 1, B, B + 1, 200}) {
					if ctx < 1 || testing.Short() && ctx > 2*B {
						continue
					}
					sh := fs.sh
					sh.Context = ctx
					t.Run(fmt.Sprintf("%s/%s/classes=%d/ctx=%d", name, fs.name, classes, ctx), func(t *testing.T) {
						checkFeature(t, e, sh, classes)
					})
				}
			}
		}
	}
}

// checkFeature runs both kernels of shape sh on random shares.
func checkFeature(t *testing.T, e *hetest.Env, sh AttentionShape, classes int) {
	sc, vk := featureKernels(t, e, sh, classes)
	runFeature(t, e, sc, vk, 1)
}

// featureKernels plans both feature kernels of a shape.
func featureKernels(tb testing.TB, e *hetest.Env, sh AttentionShape, classes int) (*FeatureScores, *FeatureValues) {
	tb.Helper()
	pl := Planner{Params: e.Params, Profile: e.Profile, StatSecurity: StatisticalSecurity}
	sc, err := pl.FeatureScores(sh, classes)
	if err != nil {
		tb.Fatal(err)
	}
	vk, err := pl.FeatureValues(sh, classes)
	if err != nil {
		tb.Fatal(err)
	}
	return sc, vk
}

// TestFeatureWithContext runs the kernels planned for 300 tokens (five
// stories260K groups of 64 at the test preset with 4 classes, values
// summing several per result) at shorter contexts, as a decode does while
// its cache grows.
func TestFeatureWithContext(t *testing.T) {
	e := hetest.ForTest(t, hetest.Presets()[0])
	sh := AttentionShape{Heads: 8, KVHeads: 4, HeadDim: 8, Context: 300}
	sc, vk := featureKernels(t, e, sh, 4)
	for _, ctx := range []int{1, 63, 64, 65, 200, 300} {
		s, err := sc.WithContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v, err := vk.WithContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("ctx=%d", ctx), func(t *testing.T) { runFeature(t, e, s, v, 1) })
	}
	if _, err := sc.WithContext(301); err == nil {
		t.Error("a kernel planned for 300 tokens served 301")
	}
	// Results of fewer groups than the flooding allows (a smaller sum:
	// safe) exercise several results and a last partial one: 2 + 2 + 1.
	two := *vk
	two.perResult = 2
	if two.results() != 3 {
		t.Fatalf("%d results, want 3", two.results())
	}
	t.Run("perResult=2", func(t *testing.T) { runFeature(t, e, sc, &two, 1) })
}

// TestFeatureCacheScale runs the kernels over cache ciphertexts at a
// scale other than the client's input's (as package kv's rescaled
// ciphertexts are): the products are brought to the input's scale, so the
// results are exact and the returned payloads those of a cache at the
// input's scale, within 3 bits (lattigo would otherwise match the scales
// by multiplying the noise by about sqrt(t): 14 bits here).
func TestFeatureCacheScale(t *testing.T) {
	e := hetest.ForTest(t, hetest.Presets()[0])
	sh := AttentionShape{Heads: 8, KVHeads: 4, HeadDim: 8, Context: 300}
	sc, vk := featureKernels(t, e, sh, 2)
	same := runFeature(t, e, sc, vk, 1)
	other := runFeature(t, e, sc, vk, 12345)
	if other > same+3 {
		t.Errorf("payloads up to %.1f bits over a cache at another scale, %.1f at the input's", other, same)
	}
}

// runFeature runs a scores and a values kernel of one shape on random
// shares, the cache ciphertexts at the given scale, and checks every
// returned payload against its plan; it returns the largest.
func runFeature(t *testing.T, e *hetest.Env, sc *FeatureScores, vk *FeatureValues, scale uint64) float64 {
	sh := sc.Shape
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
	largest := math.Inf(-1)
	sess.InspectReturns(func(cts []*rlwe.Ciphertext, plan ReturnPlan) {
		for _, ct := range cts {
			got := sess.client.PayloadBits(ct)
			if got > plan.Payload {
				t.Errorf("a returned payload of %.1f bits, planned %.1f", got, plan.Payload)
			}
			largest = math.Max(largest, got)
		}
	})
	tm := e.Params.PlaintextModulus()
	kv := sh.KVHeads * sh.HeadDim
	K, V := hetest.RandVec(tm, sh.Context*kv), hetest.RandVec(tm, sh.Context*kv)
	q, p := hetest.RandVec(tm, sh.Heads*sh.HeadDim), hetest.RandVec(tm, sh.Heads*sh.Context)
	kSh, vSh := share(t, K, tm), share(t, V, tm)
	// A cache ciphertext of scale s holding x·s decodes to x.
	encryptCache := func(level int, vecs [][]uint64) []*rlwe.Ciphertext {
		for _, v := range vecs {
			for i := range v {
				v[i] = hetest.MulMod(v[i], scale, tm)
			}
		}
		cts := encryptVecs(t, sess, level, vecs)
		for _, ct := range cts {
			ct.Scale = e.Params.NewScale(scale)
		}
		return cts
	}

	keys := encryptCache(sc.Level, sc.Layout.KeyVectors(kSh.C))
	tally := cost.NewTally(e.Profile)
	s, err := sc.Run(sess, tally, keys, nil, kSh.C, kSh.S, share(t, q, tm))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Reveal(tm), scoresRef(sh, 1, sh.Context, q, K, tm)) {
		t.Fatal("scores differ from the plaintext q·k")
	}
	hetest.CheckCounters(t, sc.what, tally.Cost(), sc.Estimate())
	if got := tally.Cost().Rotations; got != sc.RotationCount() {
		t.Errorf("scores: %d rotations, RotationCount says %d", got, sc.RotationCount())
	}

	if _, err := sc.Run(sess, hetest.NopTally(), keys[1:], nil, kSh.C, kSh.S, share(t, q, tm)); err == nil {
		t.Error("scores over a cache missing a ciphertext: no error")
	}
	if _, err := sc.Run(sess, hetest.NopTally(), keys, nil, kSh.C[1:], kSh.S, share(t, q, tm)); err == nil {
		t.Error("scores over a short client share: no error")
	}
	zero := keys[0].CopyNew()
	zero.Scale = e.Params.NewScale(0)
	if _, err := sc.Run(sess, hetest.NopTally(), append([]*rlwe.Ciphertext{zero}, keys[1:]...), nil, kSh.C, kSh.S, share(t, q, tm)); err == nil {
		t.Error("scores over a cache ciphertext at scale 0: no error")
	}

	values := encryptCache(vk.Level, vk.Layout.ValueVectors(vSh.C))
	tally = cost.NewTally(e.Profile)
	o, err := vk.Run(sess, tally, values, nil, vSh.C, vSh.S, share(t, p, tm))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Reveal(tm), valuesRef(sh, 1, sh.Context, p, V, tm)) {
		t.Fatal("outputs differ from the plaintext p·V")
	}
	hetest.CheckCounters(t, vk.what, tally.Cost(), vk.Estimate())
	if got := tally.Cost().Rotations; got != vk.RotationCount() {
		t.Errorf("values: %d rotations, RotationCount says %d", got, vk.RotationCount())
	}
	return largest
}

// TestFeatureCryptoGenCounts pins the counts the README compares with
// CryptoGen's Table I (GPT-2, one layer, all 12 heads, 128 cached tokens,
// one new token; its cache: 64 ct-pt products, 5 rotations, 1
// ciphertext): both feature kernels' products, rotations (hoisted ones
// among them) and ciphertexts exchanged (up and down), with the most
// classes each ring allows and the baby-step giant-step split the planner
// prices lowest (at bgv-n13, 8 baby and 2 giant steps per kernel: 16
// rotations, 12 of them hoisted, priced below 4 and 4 with 12, 4 hoisted).
func TestFeatureCryptoGenCounts(t *testing.T) {
	sh := AttentionShape{Heads: 12, KVHeads: 12, HeadDim: 64, Context: 128}
	for _, c := range []struct {
		preset                   string
		classes                  int   // MaxFeatureClasses: N/2 / (16 lanes x 64)
		products, rotations, cts int64 // 2·D·2, 2·(baby-1 + giant-1), 2 up + 2 down
		baby, giant              int   // each kernel's split (baby-2 of its rotations hoisted)
	}{
		{"bgv-n13", 4, 64, 16, 4, 8, 2},
		{"bgv-n14", 8, 32, 8, 4, 4, 2},
	} {
		t.Run(c.preset, func(t *testing.T) {
			e := hetest.ForTest(t, c.preset)
			if got := MaxFeatureClasses(e.Params.MaxSlots(), sh.Heads, sh.HeadDim); got != c.classes {
				t.Fatalf("%d classes at most, want %d", got, c.classes)
			}
			sc, vk := featureKernels(t, e, sh, c.classes)
			total := sc.Estimate().Add(vk.Estimate())
			var cts int64
			for _, k := range []struct {
				*featureKernel
				c cost.Cost
			}{{&sc.featureKernel, sc.Estimate()}, {&vk.featureKernel, vk.Estimate()}} {
				c := k.c
				cts += c.BytesC2S/seededBytes(e.Params.LogN(), k.Level) + c.BytesS2C/ctBytes(e.Params.LogN(), k.send.to)
			}
			if total.CtPtMul != c.products || total.CtCtMul != 0 || total.Rotations != c.rotations || cts != c.cts {
				t.Errorf("%d ct-pt and %d ct-ct products, %d rotations, %d ciphertexts; want %d, 0, %d, %d",
					total.CtPtMul, total.CtCtMul, total.Rotations, cts, c.products, c.rotations, c.cts)
			}
			t.Logf("%d classes: %d ct-pt and %d ct-ct products, %d rotations, %d ciphertexts up and down",
				c.classes, total.CtPtMul, total.CtCtMul, total.Rotations, cts)
			for _, k := range []featureProducts{sc.prod, vk.prod} {
				if k.baby != c.baby || k.giant != c.giant {
					t.Errorf("%d baby and %d giant steps, want %d and %d", k.baby, k.giant, c.baby, c.giant)
				}
			}
		})
	}
}

// TestFeatureAppend checks that the vectors a client appends token by
// token add up to the layout of the whole cache, that each token's
// vectors touch only its own slots (every element of its key/value heads
// once per lane of their query heads: Heads·HeadDim slots over the D
// vectors) and that the slots of distinct tokens are disjoint.
func TestFeatureAppend(t *testing.T) {
	const tm = 1 << 20 // any modulus: the sums here never wrap
	for _, fs := range featureShapes {
		lay, err := NewFeatureLayout(2048, fs.sh.Heads, fs.sh.KVHeads, fs.sh.HeadDim, 1)
		if err != nil {
			t.Fatal(err)
		}
		p := lay.TokensPerCt() + 3 // two groups, the second partial
		kv := fs.sh.KVHeads * fs.sh.HeadDim
		rows := hetest.RandVec(tm, p*kv)
		for i := range rows {
			rows[i]++ // no zero element: a zero slot is an empty one
		}
		for _, c := range []struct {
			kind        string
			whole       [][]uint64
			appendToken func([]uint64, int) ([][]uint64, error)
		}{{"keys", lay.KeyVectors(rows), lay.KeyAppend}, {"values", lay.ValueVectors(rows), lay.ValueAppend}} {
			sum := make([][]uint64, len(c.whole))
			for i := range sum {
				sum[i] = make([]uint64, lay.N)
			}
			for j := 0; j < p; j++ {
				vecs, err := c.appendToken(rows, j)
				if err != nil {
					t.Fatal(err)
				}
				if len(vecs) != lay.Diagonals() {
					t.Fatalf("%s/%s: token %d: %d vectors, want %d", fs.name, c.kind, j, len(vecs), lay.Diagonals())
				}
				used := 0
				g := j / lay.TokensPerCt()
				for k, v := range vecs {
					for s, x := range v {
						if x == 0 {
							continue
						}
						used++
						if sum[g*lay.Diagonals()+k][s] != 0 {
							t.Fatalf("%s/%s: token %d writes a slot another token holds", fs.name, c.kind, j)
						}
						sum[g*lay.Diagonals()+k][s] = x
					}
				}
				if used != fs.sh.Heads*fs.sh.HeadDim {
					t.Fatalf("%s/%s: token %d fills %d slots, want %d", fs.name, c.kind, j, used, fs.sh.Heads*fs.sh.HeadDim)
				}
			}
			for i := range sum {
				if !slices.Equal(sum[i], c.whole[i]) {
					t.Fatalf("%s/%s: the appends of vector %d differ from the whole layout", fs.name, c.kind, i)
				}
			}
			if _, err := c.appendToken(rows, p); err == nil {
				t.Errorf("%s/%s: a token past the rows appended", fs.name, c.kind)
			}
		}
	}
}

// TestFeatureQueries: RunQueries of three queries (a pass of three tokens)
// gives each query's scores and outputs as Run would, exact modulo t, in
// one round: its counters are EstimateQueries(3)'s (three Runs' work, one
// round) and its rotations three Runs'. No query, or one of the wrong
// length, is refused.
func TestFeatureQueries(t *testing.T) {
	e := hetest.ForTest(t, hetest.Presets()[0])
	tm := e.Params.PlaintextModulus()
	for _, ctx := range []int{7, 65, 200} {
		sh := AttentionShape{Heads: 8, KVHeads: 4, HeadDim: 8, Context: ctx}
		sc, vk := featureKernels(t, e, sh, 4)
		t.Run(fmt.Sprintf("ctx=%d", ctx), func(t *testing.T) {
			sess, err := NewSession(e.Params, sc, vk)
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			kv := sh.KVHeads * sh.HeadDim
			K, V := hetest.RandVec(tm, ctx*kv), hetest.RandVec(tm, ctx*kv)
			kSh, vSh := share(t, K, tm), share(t, V, tm)
			keys := encryptVecs(t, sess, sc.Level, sc.Layout.KeyVectors(kSh.C))
			values := encryptVecs(t, sess, vk.Level, vk.Layout.ValueVectors(vSh.C))
			const m = 3
			var qs, ps [][]uint64
			var qsh, psh []Shared
			for range m {
				q, p := hetest.RandVec(tm, sh.Heads*sh.HeadDim), hetest.RandVec(tm, sh.Heads*ctx)
				qs, ps, qsh, psh = append(qs, q), append(ps, p), append(qsh, share(t, q, tm)), append(psh, share(t, p, tm))
			}
			tally := cost.NewTally(e.Profile)
			s, err := sc.RunQueries(sess, tally, keys, nil, kSh.C, kSh.S, qsh)
			if err != nil {
				t.Fatal(err)
			}
			hetest.CheckCounters(t, sc.what, tally.Cost(), sc.EstimateQueries(m))
			if got := tally.Cost(); got.Rounds != 1 || got.Rotations != m*sc.RotationCount() {
				t.Errorf("scores of %d queries: %d rounds, %d rotations", m, got.Rounds, got.Rotations)
			}
			tally = cost.NewTally(e.Profile)
			o, err := vk.RunQueries(sess, tally, values, nil, vSh.C, vSh.S, psh)
			if err != nil {
				t.Fatal(err)
			}
			hetest.CheckCounters(t, vk.what, tally.Cost(), vk.EstimateQueries(m))
			if got := tally.Cost(); got.Rounds != 1 || got.Rotations != m*vk.RotationCount() {
				t.Errorf("values of %d queries: %d rounds, %d rotations", m, got.Rounds, got.Rotations)
			}
			for i := range m {
				if !slices.Equal(s[i].Reveal(tm), scoresRef(sh, 1, ctx, qs[i], K, tm)) {
					t.Errorf("query %d: scores differ from the plaintext q·k", i)
				}
				if !slices.Equal(o[i].Reveal(tm), valuesRef(sh, 1, ctx, ps[i], V, tm)) {
					t.Errorf("query %d: outputs differ from the plaintext p·V", i)
				}
			}
			if _, err := sc.RunQueries(sess, hetest.NopTally(), keys, nil, kSh.C, kSh.S, nil); err == nil {
				t.Error("scores of no query: no error")
			}
			short := Shared{C: qsh[1].C[1:], S: qsh[1].S[1:]}
			if _, err := sc.RunQueries(sess, hetest.NopTally(), keys, nil, kSh.C, kSh.S, []Shared{qsh[0], short}); err == nil {
				t.Error("scores of a short query: no error")
			}
		})
	}
}

// TestFeaturePublic: over a cache whose first tokens are a public prefix
// (client shares zero, the server's the prefix's keys and values, the
// groups the prefix fills encoded once and given no ciphertext), several
// queries' scores and outputs are exact modulo t, the counters are
// EstimateQueries', the encoding's PublicCost's, and the public groups make
// no cache product: a prefix that fills g groups saves g·D products per
// query and kernel. A missing or mismatched encoding is refused.
func TestFeaturePublic(t *testing.T) {
	e := hetest.ForTest(t, hetest.Presets()[0])
	tm := e.Params.PlaintextModulus()
	const ctx, m = 200, 2
	sh := AttentionShape{Heads: 8, KVHeads: 4, HeadDim: 8, Context: ctx}
	sc0, vk0 := featureKernels(t, e, sh, 4)
	tpc := sc0.Layout.TokensPerCt()
	sess, err := NewSession(e.Params, sc0, vk0)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	kv := sh.KVHeads * sh.HeadDim
	K, V := hetest.RandVec(tm, ctx*kv), hetest.RandVec(tm, ctx*kv)
	var qs, ps [][]uint64
	var qsh, psh []Shared
	for range m {
		q, p := hetest.RandVec(tm, sh.Heads*sh.HeadDim), hetest.RandVec(tm, sh.Heads*ctx)
		qs, ps, qsh, psh = append(qs, q), append(ps, p), append(qsh, share(t, q, tm)), append(psh, share(t, p, tm))
	}
	for _, pub := range []int{1, tpc - 1, tpc, tpc + 5, ctx} {
		t.Run(fmt.Sprintf("public=%d", pub), func(t *testing.T) {
			sc, err := sc0.WithPublic(pub)
			if err != nil {
				t.Fatal(err)
			}
			vk, err := vk0.WithPublic(pub)
			if err != nil {
				t.Fatal(err)
			}
			kSh, vSh, keys, values, kPub, vPub := publicCache(t, sess, sc, vk, K, V)
			pg, D := pub/tpc, sc.Layout.Diagonals()

			tally := cost.NewTally(e.Profile)
			s, err := sc.RunQueries(sess, tally, keys, kPub, kSh.C, kSh.S, qsh)
			if err != nil {
				t.Fatal(err)
			}
			hetest.CheckCounters(t, sc.what, tally.Cost(), sc.EstimateQueries(m))
			private := int64(m * 2 * D * sc.groups())
			if got, want := tally.Cost().CtPtMul, private-int64(m*pg*D); got != want {
				t.Errorf("scores: %d ct-pt products, want %d", got, want)
			}
			tally = cost.NewTally(e.Profile)
			o, err := vk.RunQueries(sess, tally, values, vPub, vSh.C, vSh.S, psh)
			if err != nil {
				t.Fatal(err)
			}
			hetest.CheckCounters(t, vk.what, tally.Cost(), vk.EstimateQueries(m))
			for i := range m {
				if !slices.Equal(s[i].Reveal(tm), scoresRef(sh, 1, ctx, qs[i], K, tm)) {
					t.Errorf("query %d: scores differ from the plaintext q·k", i)
				}
				if !slices.Equal(o[i].Reveal(tm), valuesRef(sh, 1, ctx, ps[i], V, tm)) {
					t.Errorf("query %d: outputs differ from the plaintext p·V", i)
				}
			}
			if pg > 0 {
				if _, err := sc.RunQueries(sess, hetest.NopTally(), keys, nil, kSh.C, kSh.S, qsh); err == nil {
					t.Error("a public prefix without its encoding: no error")
				}
			}
			if _, err := sc0.RunQueries(sess, hetest.NopTally(), keys, kPub, kSh.C, kSh.S, qsh); err == nil {
				t.Error("an encoding given to a kernel without a public prefix: no error")
			}
		})
	}
	if _, err := sc0.WithPublic(ctx + 1); err == nil {
		t.Error("a public prefix longer than the context: no error")
	}
}

// TestFeatureFold: the server folds its share of a query's input into the
// client's ciphertexts (Enc(x_C) + x_S) where the profile prices that
// below its local term over the cache: not at a short context, at a long
// one (for this shape: 16 heads of 64 over 8). Either way the scores and
// outputs of several queries are exact modulo t, with and without a
// public prefix, and the counters are EstimateQueries'.
func TestFeatureFold(t *testing.T) {
	e := hetest.ForTest(t, hetest.Presets()[0])
	tm := e.Params.PlaintextModulus()
	for _, tc := range []struct {
		ctx, public int
		fold        bool
	}{{7, 0, false}, {200, 0, true}, {200, 150, true}} {
		sh := AttentionShape{Heads: 16, KVHeads: 8, HeadDim: 64, Context: tc.ctx}
		sc, vk := featureKernels(t, e, sh, MaxFeatureClasses(e.Params.MaxSlots(), sh.Heads, sh.HeadDim))
		t.Run(fmt.Sprintf("ctx=%d/public=%d", tc.ctx, tc.public), func(t *testing.T) {
			var err error
			if sc, err = sc.WithPublic(tc.public); err != nil {
				t.Fatal(err)
			}
			if vk, err = vk.WithPublic(tc.public); err != nil {
				t.Fatal(err)
			}
			if sc.folds(1) != tc.fold || vk.folds(vk.groups()) != tc.fold {
				t.Fatalf("folds: scores %v, values %v, want %v", sc.folds(1), vk.folds(vk.groups()), tc.fold)
			}
			sess, err := NewSession(e.Params, sc, vk)
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			kv := sh.KVHeads * sh.HeadDim
			K, V := hetest.RandVec(tm, tc.ctx*kv), hetest.RandVec(tm, tc.ctx*kv)
			kSh, vSh, keys, values, kPub, vPub := publicCache(t, sess, sc, vk, K, V)
			const m = 2
			var qs, ps [][]uint64
			var qsh, psh []Shared
			for range m {
				q, p := hetest.RandVec(tm, sh.Heads*sh.HeadDim), hetest.RandVec(tm, sh.Heads*tc.ctx)
				qs, ps, qsh, psh = append(qs, q), append(ps, p), append(qsh, share(t, q, tm)), append(psh, share(t, p, tm))
			}
			tally := cost.NewTally(e.Profile)
			s, err := sc.RunQueries(sess, tally, keys, kPub, kSh.C, kSh.S, qsh)
			if err != nil {
				t.Fatal(err)
			}
			hetest.CheckCounters(t, sc.what, tally.Cost(), sc.EstimateQueries(m))
			tally = cost.NewTally(e.Profile)
			o, err := vk.RunQueries(sess, tally, values, vPub, vSh.C, vSh.S, psh)
			if err != nil {
				t.Fatal(err)
			}
			hetest.CheckCounters(t, vk.what, tally.Cost(), vk.EstimateQueries(m))
			for i := range m {
				if !slices.Equal(s[i].Reveal(tm), scoresRef(sh, 1, tc.ctx, qs[i], K, tm)) {
					t.Errorf("query %d: scores differ from the plaintext q·k", i)
				}
				if !slices.Equal(o[i].Reveal(tm), valuesRef(sh, 1, tc.ctx, ps[i], V, tm)) {
					t.Errorf("query %d: outputs differ from the plaintext p·V", i)
				}
			}
		})
	}
}

// publicCache is the inputs of kernels sc and vk (WithPublic) over the
// keys K and values V of their context, the first of them a public
// prefix: the shares (the client's zero and the server's the prefix's
// own on the prefix), the client's encryptions of the groups past the
// ones the prefix fills, and the server's encodings of those (nil
// without a prefix), whose counters must be PublicCost's.
func publicCache(t *testing.T, sess *Session, sc *FeatureScores, vk *FeatureValues, K, V []uint64) (kSh, vSh Shared, keys, values []*rlwe.Ciphertext, kPub, vPub *FeaturePublic) {
	t.Helper()
	tm, pub := sc.Params.PlaintextModulus(), sc.public
	kv := sc.Shape.KVHeads * sc.Shape.HeadDim
	kSh, vSh = share(t, K, tm), share(t, V, tm)
	for i := range pub * kv {
		kSh.C[i], kSh.S[i], vSh.C[i], vSh.S[i] = 0, K[i], 0, V[i]
	}
	pg, D := sc.publicGroups(), sc.Layout.Diagonals()
	keys = encryptVecs(t, sess, sc.Level, sc.Layout.KeyVectors(kSh.C)[pg*D:])
	values = encryptVecs(t, sess, vk.Level, vk.Layout.ValueVectors(vSh.C)[pg*D:])
	if pub == 0 {
		return kSh, vSh, keys, values, nil, nil
	}
	enc := cost.NewTally(sc.Profile)
	var err error
	if kPub, err = sc.EncodePublic(sess.Server, enc, K[:pub*kv]); err == nil {
		vPub, err = vk.EncodePublic(sess.Server, enc, V[:pub*kv])
	}
	if err != nil {
		t.Fatal(err)
	}
	hetest.CheckCounters(t, "public encoding", enc.Cost(), sc.PublicCost(pub).Add(vk.PublicCost(pub)))
	return kSh, vSh, keys, values, kPub, vPub
}
