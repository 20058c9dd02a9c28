package mpc

import (
	"fmt"
	"testing"

	"github.com/cgsim/cgsim/cost"
)

// Prices of the dealer's operations in TestEstimateOfflineSeconds: powers
// of two, far enough apart that every sum of them times a count below
// 2^20 is exact in float64 (the test compares with ==).
const (
	priceDeal    = 0x1p-10
	priceTriple  = 0x1p-20
	priceTrunc   = 0x1p-21
	priceCompare = 0x1p-22
	priceLookup  = 0x1p-30 // per one-hot element
)

// offlineProfile is testProfile with the dealer's operations priced.
func offlineProfile() *cost.Profile {
	p := testProfile()
	for op, s := range map[cost.Op]float64{cost.OpDeal: priceDeal, cost.OpDealTriple: priceTriple,
		cost.OpDealTrunc: priceTrunc, cost.OpDealCompare: priceCompare, cost.OpDealLookup: priceLookup} {
		p.Seconds[op] = []float64{s}
	}
	return p
}

// offlineProtocols is one value of every protocol, of length n, plus an
// empty one (no dealing).
func offlineProtocols(cfg Config, n int) map[string]Protocol {
	lut := cfg
	lut.Nonlinear = LUT
	return map[string]Protocol{
		"lookup":         Lookup{Config: cfg, N: n, Shift: 4, Bits: 6, Tables: [][]uint64{IndexTable(6)}},
		"silu-lut":       SiLU{Config: lut, N: n},
		"gelu-lut":       GELU{Config: lut, N: n},
		"rmsnorm-lut":    RMSNorm{Config: lut, Rows: 2, Dim: n, Eps: 1e-5},
		"softmax-lut":    Softmax{Config: lut, Rows: 3, Cols: n + 2, Causal: true},
		"layernorm-lut":  LayerNorm{Config: lut, Rows: 2, Dim: n, Eps: 1e-5},
		"max-lut":        Max{Config: lut, Rows: 2, Cols: n},
		"truncmul":       TruncMul{Config: cfg, N: n, Shift: 7},
		"mul-scaled":     Mul{Config: cfg, N: n, Fixed: true, Scale: 9},
		"silu-lut-raw":   SiLU{Config: lut, N: n, Scale: lut.RawScale()},
		"swiglu-raw":     SwiGLU{Config: lut, N: n, Scale: lut.RawScale()},
		"softmax-raw":    Softmax{Config: lut, Rows: 3, Cols: n + 2, Causal: true, Scale: lut.RawScale()},
		"rmsnorm-raw":    RMSNorm{Config: lut, Rows: 2, Dim: n, Eps: 1e-5, Scale: lut.RawScale()},
		"layernorm-raw":  LayerNorm{Config: lut, Rows: 2, Dim: n, Eps: 1e-5, Scale: lut.RawScale()},
		"truncpair":      TruncPair{Config: cfg, N: n, Shift: 13},
		"argmax-lut":     Argmax{Config: lut, N: n},
		"mul":            Mul{Config: cfg, N: n, Fixed: true},
		"trunc":          Trunc{Config: cfg, N: n},
		"empty":          Trunc{Config: cfg, N: 0},
		"sign":           Sign{Config: cfg, N: n},
		"max":            Max{Config: cfg, Rows: 2, Cols: n},
		"argmax":         Argmax{Config: cfg, N: n},
		"exp":            Exp{Config: cfg, N: n},
		"reciprocal":     Reciprocal{Config: cfg, N: n, Lo: 0, Hi: 10},
		"rsqrt":          Rsqrt{Config: cfg, N: n, Lo: -4, Hi: 10},
		"softmax":        Softmax{Config: cfg, Rows: 3, Cols: n},
		"softmax-causal": Softmax{Config: cfg, Rows: 3, Cols: n + 2, Causal: true},
		"silu":           SiLU{Config: cfg, N: n},
		"gelu":           GELU{Config: cfg, N: n},
		"rmsnorm":        RMSNorm{Config: cfg, Rows: 2, Dim: n, Eps: 1e-5},
		"layernorm":      LayerNorm{Config: cfg, Rows: 2, Dim: n, Eps: 1e-5},
	}
}

// TestEstimateOfflineSeconds checks that every protocol's Estimate prices
// its Need as one dealing (Need.Offline): offline seconds are the
// profile's price of the Need, exactly, and offline bytes the Need's; and
// that a profile without the dealer's operations prices the seconds at
// zero and changes nothing else.
func TestEstimateOfflineSeconds(t *testing.T) {
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		priced := Config{Ring: cfg.Ring, Profile: offlineProfile()}
		for _, n := range []int{1, 64} {
			for name, proto := range offlineProtocols(priced, n) {
				t.Run(fmt.Sprintf("%s/t=%d-bit/n=%d", name, cfg.Ring.Bits(), n), func(t *testing.T) {
					need := proto.Need()
					want := 0.0
					if !need.IsZero() {
						compares := need.Compares
						for m, c := range need.Selects { // a select key of m values: 1 + m/2 comparison keys
							compares += (c*(2+m) + 1) / 2
						}
						want = priceDeal + float64(need.Triples)*priceTriple +
							float64(need.truncTotal())*priceTrunc + float64(compares)*priceCompare +
							float64(need.lookupEntries())*priceLookup
						muls, pairs := need.fusedTotals() // priced as their parts
						want += float64(muls+2*pairs) * (priceTriple + priceTrunc)
						want += float64((gatedSlots+1)*need.Gated) * priceTriple // a block of gated products
					}
					est := proto.Estimate()
					if est.OfflineSeconds != want {
						t.Errorf("offline seconds %v, want %v for %v", est.OfflineSeconds, want, need)
					}
					if got := need.Offline(priced); got != (cost.Cost{OfflineBytes: need.OfflineBytes(cfg.Ring), OfflineSeconds: want}) {
						t.Errorf("Need.Offline = %+v", got)
					}
					if est.OfflineBytes != need.OfflineBytes(cfg.Ring) {
						t.Errorf("offline bytes %d, want %d", est.OfflineBytes, need.OfflineBytes(cfg.Ring))
					}
					// The same protocol priced by a profile without the
					// dealer's operations.
					bare := offlineProtocols(cfg, n)[name].Estimate()
					if bare.OfflineSeconds != 0 {
						t.Errorf("offline seconds %v without the dealer's operations, want 0", bare.OfflineSeconds)
					}
					if d := cost.CounterDiff(bare, est); len(d) != 0 || bare.ComputeSeconds != est.ComputeSeconds {
						t.Errorf("pricing the dealer changed the online cost: %v, %v vs %v s", d, bare.ComputeSeconds, est.ComputeSeconds)
					}
				})
			}
		}
	}
}
