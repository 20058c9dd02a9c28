package exec

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/montanaflynn/stats"
	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
)

// benchCase is one primitive at one shape: a name, its plan, and a
// closure that runs it once (after its own setup).
type benchCase struct {
	name  string
	prim  Primitive
	run   func(s *Session, tally *cost.Tally) error
	extra cost.Cost // estimated cost of untimed-away setup inside run
}

func benchCases(b *testing.B, e *hetest.Env) []benchCase {
	p := e.Params
	tm := p.PlaintextModulus()
	var cases []benchCase
	// Share conversion of one full ciphertext.
	{
		c2s := NewC2S(p, e.Profile, p.MaxSlots())
		x := share(b, hetest.RandVec(tm, p.MaxSlots()), tm)
		cases = append(cases, benchCase{"C2S", c2s, func(s *Session, tally *cost.Tally) error {
			_, err := c2s.Run(s, tally, x)
			return err
		}, cost.Cost{}})
		h2s, err := NewH2S(p, e.Profile, p.MaxSlots(), c2s.Level, NewNoiseModel(p).FreshSK())
		if err != nil {
			b.Fatal(err)
		}
		// The H2S case needs fresh ciphertexts each time: it runs a C2S
		// first, and its estimate includes the C2S.
		cases = append(cases, benchCase{"C2S+H2S", h2s, func(s *Session, tally *cost.Tally) error {
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
			b.Fatal(err)
		}
		w := randMatrix(b, tm, out, in)
		x := share(b, hetest.RandVec(tm, m*in), tm)
		cases = append(cases, benchCase{fmt.Sprintf("Linear/%s/%dx%d/m=%d", label, out, in, m), l, func(s *Session, tally *cost.Tally) error {
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
	for _, a := range []struct {
		label string
		sh    AttentionShape
	}{
		{"stories260K", AttentionShape{Heads: 8, KVHeads: 4, HeadDim: 8, Context: 256}},
		{"gpt2", AttentionShape{Heads: 12, KVHeads: 12, HeadDim: 64, Context: 128}},
	} {
		sh := a.sh
		kv := sh.KVHeads * sh.HeadDim
		sc, vk := decodeKernels(b, e, sh)
		K := share(b, hetest.RandVec(tm, sh.Context*kv), tm)
		q := share(b, hetest.RandVec(tm, sh.Heads*sh.HeadDim), tm)
		P := share(b, hetest.RandVec(tm, sh.Heads*sh.Context), tm)
		var cache []*rlwe.Ciphertext
		cases = append(cases, benchCase{fmt.Sprintf("DecodeScores/%s/ctx=%d", a.label, sh.Context), sc, func(s *Session, tally *cost.Tally) error {
			if cache == nil {
				cache = encryptVecs(b, s, sc.Level, sc.Layout.Vectors(K.C))
			}
			_, err := sc.Run(s, tally, cache, K.S, q)
			return err
		}, cost.Cost{}})
		var vcache []*rlwe.Ciphertext
		cases = append(cases, benchCase{fmt.Sprintf("DecodeValues/%s/ctx=%d", a.label, sh.Context), vk, func(s *Session, tally *cost.Tally) error {
			if vcache == nil {
				vcache = encryptVecs(b, s, vk.Level, vk.Layout.Vectors(K.C))
			}
			_, err := vk.Run(s, tally, vcache, K.S, P)
			return err
		}, cost.Cost{}})
	}
	for _, a := range []struct {
		label string
		sh    AttentionShape
	}{
		{"stories260K", AttentionShape{Heads: 8, KVHeads: 4, HeadDim: 8, Context: 32}},
		{"gpt2", AttentionShape{Heads: 12, KVHeads: 12, HeadDim: 64, Context: 8}},
	} {
		sh := a.sh
		kv := sh.KVHeads * sh.HeadDim
		m := sh.Context
		ps, pv := prefillKernels(b, e, sh)
		K := share(b, hetest.RandVec(tm, m*kv), tm)
		q := share(b, hetest.RandVec(tm, m*sh.Heads*sh.HeadDim), tm)
		P := share(b, hetest.RandVec(tm, sh.Heads*m*m), tm)
		var keys, vals []*rlwe.Ciphertext
		cases = append(cases, benchCase{fmt.Sprintf("PrefillScores/%s/m=%d", a.label, m), ps, func(s *Session, tally *cost.Tally) error {
			if keys == nil {
				keys = encryptVecs(b, s, ps.Level, ps.Layout.Vectors(K.C))
			}
			_, err := ps.Run(s, tally, keys, K.S, q)
			return err
		}, cost.Cost{}})
		cases = append(cases, benchCase{fmt.Sprintf("PrefillValues/%s/m=%d", a.label, m), pv, func(s *Session, tally *cost.Tally) error {
			if vals == nil {
				vals = encryptVecs(b, s, pv.Level, pv.Layout.Vectors(K.C))
			}
			_, err := pv.Run(s, tally, vals, K.S, P)
			return err
		}, cost.Cost{}})
	}
	{
		emb, err := NewEmbedding(p, e.Profile, 512, 64)
		if err != nil {
			b.Fatal(err)
		}
		tableT := randMatrix(b, tm, 64, 512)
		cases = append(cases, benchCase{"Embedding/stories260K", emb, func(s *Session, tally *cost.Tally) error {
			_, err := emb.Run(s, tally, tableT, 7)
			return err
		}, cost.Cost{}})
	}
	return cases
}

// BenchmarkPrimitives runs every primitive at log N 13 and 14 and reports,
// besides ns/op, the Estimate's compute seconds (est-s/op) and the ratio
// of the estimate to the measured median (est/measured). With
// CGSIM_BENCH_TABLE=1 it also prints, once all have run, a markdown table
// row per primitive from its last (largest b.N) run: the testing package
// runs each sub-benchmark with b.N = 1 before the requested count, and
// that single run's median is noise.
func BenchmarkPrimitives(b *testing.B) {
	var rows []string
	for _, preset := range []string{"bgv-n13", "bgv-n14"} {
		e := hetest.ForBench(b, preset)
		for _, bc := range benchCases(b, e) {
			rows = append(rows, "")
			row := &rows[len(rows)-1]
			b.Run(preset+"/"+bc.name, func(b *testing.B) {
				sess, err := NewSession(e.Params, bc.prim)
				if err != nil {
					b.Fatal(err)
				}
				defer sess.Close()
				// Warm-up (and cache setup): at least one run and a quarter
				// of a second, so that the heap and the allocator reach the
				// state they keep over many runs (a single warm-up left the
				// millisecond cases 20-40% slow over their first ten runs).
				for warm := time.Now(); ; {
					if err := bc.run(sess, hetest.NopTally()); err != nil {
						b.Fatal(err)
					}
					if time.Since(warm) > time.Second/4 {
						break
					}
				}
				// The garbage of the session's key generation (and of the
				// previous cases) is not the primitive's: collect it before
				// timing. The Runs' own garbage is collected while they run.
				runtime.GC()
				times := make([]float64, 0, b.N)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					start := time.Now()
					if err := bc.run(sess, hetest.NopTally()); err != nil {
						b.Fatal(err)
					}
					times = append(times, time.Since(start).Seconds())
				}
				b.StopTimer()
				med, err := stats.Median(times)
				if err != nil {
					b.Fatal(err)
				}
				est := bc.prim.Estimate().Add(bc.extra).ComputeSeconds
				b.ReportMetric(est, "est-s/op")
				b.ReportMetric(est/med, "est/measured")
				*row = fmt.Sprintf("| %s | %s | %.4f | %.4f | %+.0f%% |", preset, bc.name, med, est, 100*(est/med-1))
			})
		}
	}
	if os.Getenv("CGSIM_BENCH_TABLE") != "" {
		fmt.Printf("\n| preset | primitive | measured s (median of b.N) | estimated s | est/meas - 1 |\n|---|---|---|---|---|\n")
		for _, r := range rows {
			if r != "" {
				fmt.Println(r)
			}
		}
	}
}
