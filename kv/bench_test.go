package kv

import (
	"fmt"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
)

// BenchmarkPerToken measures one decode step's cache work at contexts 64
// to 512: appending the token (K and V), the refreshes the policy does,
// bringing the cache to the kernels' level and exec's decode attention
// kernels (scores and values) over it, for one layer of stories260K's
// attention (8 heads over 4 KV heads of 8; a model's cost is Layers times
// this). The cache is first filled by a prefill switch. Metrics: ns/op is
// per token; cache-B/token the resident cache bytes (ciphertexts and
// server shares, keys excluded) per cached token; plain-B/token the fp16
// K/V of a plaintext inference; est-s/token the Estimate of the same work.
func BenchmarkPerToken(b *testing.B) {
	for _, bc := range []struct {
		preset string
		m      Method
		pol    Policy
	}{
		{"bgv-test-insecure", ClientEncrypt, Never{}},
		{"bgv-test-insecure", Homomorphic, Lazy{Tau: 0}},
		{"bgv-n13", ClientEncrypt, Lazy{Tau: 0}}, // Never does not fit: see Config.CacheBits
		{"bgv-n14", ClientEncrypt, Never{}},
		{"bgv-n14", Homomorphic, Lazy{Tau: 0}},
	} {
		for _, ctx := range []int{64, 128, 256, 512} {
			b.Run(fmt.Sprintf("%s/%s/%s/ctx=%d", bc.preset, bc.m, bc.pol, ctx), func(b *testing.B) {
				sh := storiesShape
				sh.layers = 1
				const extra = 32 // tokens a cache takes before it is rebuilt
				cfg := newConfig(b, bc.preset, sh, ctx+extra, bc.m, bc.pol)
				s := newSession(b, cfg)
				defer s.Close()
				tm := cfg.Params.PlaintextModulus()
				var c *Cache
				var est float64
				fill := func() {
					var err error
					if c, err = NewCache(cfg); err != nil {
						b.Fatal(err)
					}
					var pk plainKV
					in := prefillOf(b, s, cfg, ctx, &pk)
					if err := c.Switch(s, hetest.NopTally(), 0, in); err != nil {
						b.Fatal(err)
					}
					_, tr, err := cfg.EstimateSwitch(ctx, in.Level, in.Bits)
					if err != nil {
						b.Fatal(err)
					}
					st, err := tr.Step()
					if err != nil {
						b.Fatal(err)
					}
					sc, vk := kernels(b, cfg, ctx+1)
					est = st.Add(tr.Prepare()).Add(sc.Estimate()).Add(vk.Estimate()).ComputeSeconds
				}
				fill()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if c.Len() == cfg.MaxContext {
						b.StopTimer()
						fill()
						b.StartTimer()
					}
					b.StopTimer()
					k, v := share(b, hetest.RandVec(tm, cfg.KVDim()), tm), share(b, hetest.RandVec(tm, cfg.KVDim()), tm)
					var src *Source
					if cfg.Method == Homomorphic {
						var err error
						if src, err = NewSource(s, hetest.NopTally(), cfg, k, v); err != nil {
							b.Fatal(err)
						}
					}
					n := c.Len() + 1
					q := hetest.RandVec(tm, cfg.Heads*cfg.HeadDim)
					w := hetest.RandVec(tm, cfg.Heads*n)
					b.StartTimer()
					tally := cost.NewTally(cfg.Profile)
					var err error
					if src != nil {
						err = c.AppendSource(s, tally, 0, src)
					} else {
						err = c.Append(s, tally, 0, k, v)
					}
					if err != nil {
						b.Fatal(err)
					}
					decodeAttention(b, s, tally, c, 0, q, w)
				}
				b.StopTimer()
				b.ReportMetric(float64(c.Memory()-cfg.KeyBytes)/float64(c.Len()), "cache-B/token")
				b.ReportMetric(float64(cfg.PlaintextBytesPerToken()), "plain-B/token")
				b.ReportMetric(est, "est-s/token")
			})
		}
	}
}
