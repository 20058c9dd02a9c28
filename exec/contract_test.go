package exec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
)

// The table of every primitive of the package, as exec/mpc has one of its
// protocols (contract_test.go there): TestContract checks that each Run
// records exactly the counters its Estimate predicts, BenchmarkPrimitives
// times each against its Estimate's seconds.

// primitiveCase is one primitive at one shape: a name, the primitive, and
// a closure that runs it once on a session with its keys (after its own
// setup, which it does not record in tally).
type primitiveCase struct {
	name  string
	prim  Primitive
	run   func(s *Session, tally *cost.Tally) error
	extra cost.Cost // estimated cost of untimed-away setup inside run
}

func primitiveCases(tb testing.TB, e *hetest.Env) []primitiveCase {
	p := e.Params
	tm := p.PlaintextModulus()
	var cases []primitiveCase
	// Share conversion of one full ciphertext.
	{
		c2s := NewC2S(p, e.Profile, p.MaxSlots())
		x := share(tb, hetest.RandVec(tm, p.MaxSlots()), tm)
		cases = append(cases, primitiveCase{"C2S", c2s, func(s *Session, tally *cost.Tally) error {
			_, err := c2s.Run(s, tally, x)
			return err
		}, cost.Cost{}})
		h2s, err := NewH2S(p, e.Profile, p.MaxSlots(), c2s.Level, NewNoiseModel(p).FreshSK())
		if err != nil {
			tb.Fatal(err)
		}
		// The H2S case needs fresh ciphertexts each time: it runs a C2S
		// first, and its estimate includes the C2S.
		cases = append(cases, primitiveCase{"C2S+H2S", h2s, func(s *Session, tally *cost.Tally) error {
			cts, err := c2s.Run(s, hetest.NopTally(), x)
			if err != nil {
				return err
			}
			_, err = h2s.Run(s, tally, cts)
			return err
		}, c2s.Estimate()})
	}
	lin := func(label string, out, in, m int) {
		enc := Decode
		if m > 1 {
			enc = Prefill
		}
		l, err := NewLinear(p, e.Profile, out, in, m, enc)
		if err != nil {
			tb.Fatal(err)
		}
		w := randMatrix(tb, tm, out, in)
		x := share(tb, hetest.RandVec(tm, m*in), tm)
		cases = append(cases, primitiveCase{fmt.Sprintf("Linear/%s/%dx%d/m=%d", label, out, in, m), l, func(s *Session, tally *cost.Tally) error {
			_, err := l.Run(s, tally, w, x)
			return err
		}, cost.Cost{}})
	}
	lin("stories260K-dxd", 64, 64, 1)
	lin("stories260K-hiddenxd", 172, 64, 1)
	lin("stories260K-dxhidden", 64, 172, 1)
	lin("stories260K-vocabxd", 512, 64, 1)
	lin("stories260K-dxd", 64, 64, 16)
	lin("gpt2-dxd", 768, 768, 1)
	lin("gpt2-hiddenxd", 3072, 768, 1)
	lin("gpt2-dxhidden", 768, 3072, 1)
	lin("gpt2-dxd", 768, 768, 8)
	// The attention kernels: decode over a context of ctx tokens, prefill
	// of a prompt of m.
	for _, a := range []struct {
		label  string
		sh     AttentionShape
		ctx, m int
	}{
		{"stories260K", AttentionShape{Heads: 8, KVHeads: 4, HeadDim: 8}, 256, 32},
		{"gpt2", AttentionShape{Heads: 12, KVHeads: 12, HeadDim: 64}, 128, 8},
	} {
		dec, pre := a.sh, a.sh
		dec.Context, pre.Context = a.ctx, a.m
		sc, vk := decodeKernels(tb, e, dec)
		ps, pv := prefillKernels(tb, e, pre)
		cases = append(cases,
			arccCase(tb, e, fmt.Sprintf("DecodeScores/%s/ctx=%d", a.label, a.ctx), sc),
			arccCase(tb, e, fmt.Sprintf("DecodeValues/%s/ctx=%d", a.label, a.ctx), vk),
			arccCase(tb, e, fmt.Sprintf("PrefillScores/%s/m=%d", a.label, a.m), ps),
			arccCase(tb, e, fmt.Sprintf("PrefillValues/%s/m=%d", a.label, a.m), pv))
		cases = append(cases, featureCases(tb, e, a.label, dec)...)
	}
	{
		emb, err := NewEmbedding(p, e.Profile, 512, 64)
		if err != nil {
			tb.Fatal(err)
		}
		tableT := randMatrix(tb, tm, 64, 512)
		cases = append(cases, primitiveCase{"Embedding/stories260K", emb, func(s *Session, tally *cost.Tally) error {
			_, err := emb.Run(s, tally, tableT, 7)
			return err
		}, cost.Cost{}})
	}
	// A refresh of two ciphertexts (the KV cache's, package kv): the H2S,
	// then the client's fresh encryption one level lower, laid out as it
	// came. It runs a C2S first, as the H2S case does.
	{
		N := p.MaxSlots()
		c2s := NewC2S(p, e.Profile, 2*N)
		x := share(tb, hetest.RandVec(tm, 2*N), tm)
		ret, err := NewH2S(p, e.Profile, 2*N, c2s.Level, NewNoiseModel(p).FreshSK())
		if err != nil {
			tb.Fatal(err)
		}
		g := ReencryptGroup{Level: max(0, p.MaxLevel()-1), Cts: 2, Map: make([]int, 2*N), Scale: []uint64{1, 1}}
		for j := range g.Map {
			g.Map[j] = j
		}
		re := Reencrypt{Return: ret, Groups: []ReencryptGroup{g}}
		cases = append(cases, primitiveCase{"C2S+Reencrypt", re, func(s *Session, tally *cost.Tally) error {
			cts, err := c2s.Run(s, hetest.NopTally(), x)
			if err != nil {
				return err
			}
			_, err = re.Run(s, tally, cts)
			return err
		}, c2s.Estimate()})
	}
	return cases
}

// arccCase is the case of an ARCC kernel: random keys (or values),
// encrypted in its layout on the first run, and a random shared input.
func arccCase(tb testing.TB, e *hetest.Env, name string, k arccUnderTest) primitiveCase {
	tm := e.Params.PlaintextModulus()
	a, pk := k.testKind().base()
	kv := a.Shape.KVHeads * a.Shape.HeadDim
	K := share(tb, hetest.RandVec(tm, pk.keys*kv), tm)
	x := share(tb, hetest.RandVec(tm, k.testKind().inputLen()), tm)
	var cts []*rlwe.Ciphertext
	return primitiveCase{name, k, func(s *Session, tally *cost.Tally) error {
		if cts == nil {
			cts = encryptVecs(tb, s, a.Level, pk.vectors(K.C, kv))
		}
		_, err := k.Run(s, tally, cts, K.S, x)
		return err
	}, cost.Cost{}}
}

// featureCases are the feature-major decode kernels of shape sh with the
// most classes the ring allows: random shares of the keys (or values),
// their encrypted share laid out on the first run, a random shared input.
func featureCases(tb testing.TB, e *hetest.Env, label string, sh AttentionShape) []primitiveCase {
	tm := e.Params.PlaintextModulus()
	classes := MaxFeatureClasses(e.Params.MaxSlots(), sh.Heads, sh.HeadDim)
	sc, vk := featureKernels(tb, e, sh, classes)
	kv := sh.KVHeads * sh.HeadDim
	K, V := share(tb, hetest.RandVec(tm, sh.Context*kv), tm), share(tb, hetest.RandVec(tm, sh.Context*kv), tm)
	q, w := share(tb, hetest.RandVec(tm, sh.Heads*sh.HeadDim), tm), share(tb, hetest.RandVec(tm, sh.Heads*sh.Context), tm)
	var keys, values []*rlwe.Ciphertext
	name := fmt.Sprintf("%s/classes=%d/ctx=%d", label, classes, sh.Context)
	return []primitiveCase{
		{"FeatureScores/" + name, sc, func(s *Session, tally *cost.Tally) error {
			if keys == nil {
				keys = encryptVecs(tb, s, sc.Level, sc.Layout.KeyVectors(K.C))
			}
			_, err := sc.Run(s, tally, keys, nil, K.C, K.S, q)
			return err
		}, cost.Cost{}},
		{"FeatureValues/" + name, vk, func(s *Session, tally *cost.Tally) error {
			if values == nil {
				values = encryptVecs(tb, s, vk.Level, vk.Layout.ValueVectors(V.C))
			}
			_, err := vk.Run(s, tally, values, nil, V.C, V.S, w)
			return err
		}, cost.Cost{}},
	}
}

// TestContract runs every primitive of the table once and checks that its
// Run records exactly the counters its Estimate predicts (the setup inside
// a case is not recorded). The table is the benchmarks' (see
// BenchmarkPrimitives), which is what makes its shapes realistic.
func TestContract(t *testing.T) {
	for _, name := range hetest.Presets() {
		e := hetest.ForTest(t, name)
		for _, pc := range primitiveCases(t, e) {
			t.Run(name+"/"+pc.name, func(t *testing.T) {
				if testing.Short() && strings.Contains(pc.name, "gpt2") {
					t.Skip("the GPT-2 shapes run without -short (TestLinear and the attention tests have smaller ones)")
				}
				sess, err := NewSession(e.Params, pc.prim)
				if err != nil {
					t.Fatal(err)
				}
				defer sess.Close()
				tally := cost.NewTally(e.Profile)
				if err := pc.run(sess, tally); err != nil {
					t.Fatal(err)
				}
				hetest.CheckCounters(t, pc.name, tally.Cost(), pc.prim.Estimate())
			})
		}
	}
}
