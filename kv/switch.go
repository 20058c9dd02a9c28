package kv

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/net"
)

// PrefillLayout is the prefill layout of m tokens' keys (or values):
// feature-major, element e of token j at flat slot index e·M + j of the
// concatenated ciphertexts, with M = m rounded up to a power of two: each
// feature is a contiguous run of the tokens, as the matrix-matrix kernels
// of prefill consume it (a rotation by i shifts every feature's tokens by
// i). It holds ceil(KVDim·M / N) ciphertexts.
type PrefillLayout struct {
	N, Tokens, KVDim int
	M                int // tokens rounded up to a power of two
}

// NewPrefillLayout is the prefill layout of tokens tokens of kvDim
// elements for N slots.
func NewPrefillLayout(slots, tokens, kvDim int) (PrefillLayout, error) {
	if tokens < 1 || kvDim < 1 {
		return PrefillLayout{}, fmt.Errorf("kv: prefill layout of %d tokens of %d", tokens, kvDim)
	}
	M := 1
	for M < tokens {
		M *= 2
	}
	if M > slots {
		return PrefillLayout{}, fmt.Errorf("kv: %d prefill tokens do not fit %d slots", tokens, slots)
	}
	return PrefillLayout{N: slots, Tokens: tokens, KVDim: kvDim, M: M}, nil
}

// Cts is the number of ciphertexts.
func (l PrefillLayout) Cts() int { return (l.KVDim*l.M + l.N - 1) / l.N }

// Index is the ciphertext and slot of element e of token j.
func (l PrefillLayout) Index(j, e int) (ct, slot int) {
	i := e*l.M + j
	return i / l.N, i % l.N
}

// Vectors lays out rows (Tokens x KVDim, row-major) in slot vectors.
func (l PrefillLayout) Vectors(rows []uint64) [][]uint64 {
	vecs := make([][]uint64, l.Cts())
	for i := range vecs {
		vecs[i] = make([]uint64, l.N)
	}
	for j := 0; j < l.Tokens; j++ {
		for e := 0; e < l.KVDim; e++ {
			c, s := l.Index(j, e)
			vecs[c][s] = rows[j*l.KVDim+e]
		}
	}
	return vecs
}

// Prefill is one layer's keys and values as the prefill kernels left them
// on the server: encryptions of the client's shares in the prefill layout
// at Level with payload at most Bits, and the server's shares (Tokens x
// KVDim each).
type Prefill struct {
	Layout PrefillLayout
	K, V   []*rlwe.Ciphertext
	KS, VS []uint64
	Level  int
	Bits   float64
}

// switchPlan is the switch of one layer.
type switchPlan struct {
	h2s   exec.H2S
	homes map[int][]int // home level -> kinds
	after ledger
}

func (c Config) planSwitch(lay PrefillLayout, level int, bits float64) (switchPlan, error) {
	if lay.KVDim != c.KVDim() || lay.N != c.Params.MaxSlots() {
		return switchPlan{}, fmt.Errorf("kv: prefill layout of %d-element tokens over %d slots, the cache has %d over %d", lay.KVDim, lay.N, c.KVDim(), c.Params.MaxSlots())
	}
	if lay.Tokens > c.MaxContext {
		return switchPlan{}, fmt.Errorf("kv: %d prefill tokens, the cache is configured for %d", lay.Tokens, c.MaxContext)
	}
	h2s, err := exec.NewH2S(c.Params, c.Profile, 2*lay.Cts()*lay.N, level, bits)
	if err != nil {
		return switchPlan{}, fmt.Errorf("kv: switching the prefill cache: %w", err)
	}
	pl := switchPlan{h2s: h2s, homes: map[int][]int{}}
	D := c.Layout.Cts(lay.Tokens)
	for k := 0; k < 2; k++ {
		pl.homes[c.HomeLevel[k]] = append(pl.homes[c.HomeLevel[k]], k)
		for i := 0; i < D; i++ {
			pl.after.states[k] = append(pl.after.states[k], refreshedState(c.HomeLevel[k]))
		}
	}
	pl.after.tokens = lay.Tokens
	// The open ciphertext must take the next append.
	for k := 0; k < 2; k++ {
		if sl := c.model.KernelSlack(pl.after.states[k][D-1], c.KernelLevel[k], c.sumTerms[k]); sl < 0 {
			return switchPlan{}, fmt.Errorf("kv: a switched cache leaves %.1f bits to the next product: %w", sl, ErrBudget)
		}
	}
	return pl, nil
}

func (c Config) switchCost(lay PrefillLayout, pl switchPlan) cost.Cost {
	D := c.Layout.Cts(lay.Tokens)
	total := noRounds(pl.h2s.Estimate())
	for _, h := range levelGroups(pl.homes) {
		total = total.Add(noRounds(exec.C2S{Params: c.Params, Profile: c.Profile, Len: len(pl.homes[h]) * D * c.Params.MaxSlots(), Level: h}.Estimate()))
	}
	return total.Add(cost.Cost{Rounds: net.RoundsOf(int64(1 + len(pl.homes)))})
}

// EstimateSwitch is the cost of Cache.Switch of m prefill tokens held at
// level with payload bits, for every layer, and the trajectory of the
// cache after it (for the cost of the appends that follow).
func (c Config) EstimateSwitch(m, level int, bits float64) (cost.Cost, *Trajectory, error) {
	lay, err := NewPrefillLayout(c.Params.MaxSlots(), m, c.KVDim())
	if err != nil {
		return cost.Cost{}, nil, err
	}
	pl, err := c.planSwitch(lay, level, bits)
	if err != nil {
		return cost.Cost{}, nil, err
	}
	var empty ledger
	total := c.switchCost(lay, pl).Scale(int64(c.Layers)).Add(c.boundaryCost(&empty, &pl.after))
	return total, &Trajectory{cfg: c, led: pl.after.clone()}, nil
}

// Switch builds an empty layer of the cache from the prefill kernels'
// ciphertexts: the heterogeneous-encoding switch after prefill. The server
// masks and floods the prefill ciphertexts and sends them (one H2S flight
// for K and V); the client decrypts its masked share y - r, lays it out in
// the decode layout (scaled for the home level) and encrypts it fresh at
// the home level (C2S); the server lays out r the same way and adds it.
// One round per layer; the cache ciphertexts come out fresh.
func (c *Cache) Switch(s *exec.Session, tally *cost.Tally, layer int, in *Prefill) error {
	cfg := c.cfg
	if layer < 0 || layer >= len(c.layers) {
		return fmt.Errorf("kv: layer %d of %d", layer, len(c.layers))
	}
	l := c.layers[layer]
	if l.led.tokens != 0 {
		return fmt.Errorf("kv: switch into layer %d, which already holds %d tokens", layer, l.led.tokens)
	}
	lay := in.Layout
	P := lay.Cts()
	if len(in.K) != P || len(in.V) != P || len(in.KS) != lay.Tokens*lay.KVDim || len(in.VS) != len(in.KS) {
		return fmt.Errorf("kv: prefill of %d tokens: want %d ciphertexts and %d shares per kind", lay.Tokens, P, lay.Tokens*lay.KVDim)
	}
	pl, err := cfg.planSwitch(lay, in.Level, in.Bits)
	if err != nil {
		return err
	}
	p := cfg.Params
	N := p.MaxSlots()
	tm := p.PlaintextModulus()
	D := cfg.Layout.Cts(lay.Tokens)
	cts := append(append([]*rlwe.Ciphertext{}, in.K...), in.V...)
	for i, ct := range cts {
		if ct.Level() != in.Level {
			return fmt.Errorf("kv: prefill ciphertext %d at level %d, declared %d", i, ct.Level(), in.Level)
		}
		cts[i] = ct.CopyNew() // H2S masks in place
	}
	var out [2][]*rlwe.Ciphertext
	err = metered(s, tally, func(sub *cost.Tally) error {
		y, err := pl.h2s.Run(s, sub, cts)
		if err != nil {
			return err
		}
		// relayout: y.C (client) and y.S (server) are each in the prefill
		// layout, K then V.
		relay := func(flat []uint64, kind int, scale uint64) []uint64 {
			rows := make([]uint64, lay.Tokens*lay.KVDim)
			for j := 0; j < lay.Tokens; j++ {
				for e := 0; e < lay.KVDim; e++ {
					ci, sl := lay.Index(j, e)
					rows[j*lay.KVDim+e] = mulMod(flat[(kind*P+ci)*N+sl], scale, tm)
				}
			}
			var v []uint64
			for _, vec := range cfg.Layout.Vectors(rows) {
				v = append(v, vec...)
			}
			return v
		}
		for _, h := range levelGroups(pl.homes) {
			var x exec.Shared
			for _, kind := range pl.homes[h] {
				S := scaleAt(p, cfg.KernelLevel[kind], h)
				x.C = append(x.C, relay(y.C, kind, S)...)
				x.S = append(x.S, relay(y.S, kind, S)...)
			}
			res, err := exec.C2S{Params: p, Profile: cfg.Profile, Len: len(x.C), Level: h}.Run(s, sub, x)
			if err != nil {
				return err
			}
			for i, kind := range pl.homes[h] {
				S := scaleAt(p, cfg.KernelLevel[kind], h)
				for _, ct := range res[i*D : (i+1)*D] {
					ct.Scale = p.NewScale(S)
				}
				out[kind] = append([]*rlwe.Ciphertext(nil), res[i*D:(i+1)*D]...)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kv: switching layer %d: %w", layer, err)
	}
	l.cts = out
	l.shares = [2][]uint64{append([]uint64(nil), in.KS...), append([]uint64(nil), in.VS...)}
	l.led = pl.after.clone()
	tally.Add(cost.Cost{PeakMemoryBytes: c.Memory(), LevelsConsumed: c.levelsLost()})
	return nil
}
