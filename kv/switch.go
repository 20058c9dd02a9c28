package kv

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
)

// SwitchLayout is the layout of m prompt tokens' keys (or values) that
// Cache.Switch takes from the prefill (the client encrypts them in it):
// feature-major, element e of token j at flat slot index e·M + j of the
// concatenated ciphertexts, each feature a contiguous run of M slots. M is
// m rounded up to a power of two while that fits one ciphertext (M <= N:
// a feature never straddles two ciphertexts, and a rotation by i shifts
// every feature's tokens by i), and m rounded up to a multiple of N beyond
// (a prompt longer than N tokens: each feature spans M/N whole
// ciphertexts). It holds ceil(KVDim·M / N) ciphertexts.
type SwitchLayout struct {
	N, Tokens, KVDim int
	M                int // slots per feature: a power of two <= N, or a multiple of N
}

// NewSwitchLayout is the switch layout of tokens tokens of kvDim
// elements for N slots (a power of two).
func NewSwitchLayout(slots, tokens, kvDim int) (SwitchLayout, error) {
	if tokens < 1 || kvDim < 1 || slots < 1 || slots&(slots-1) != 0 {
		return SwitchLayout{}, fmt.Errorf("kv: switch layout of %d tokens of %d over %d slots", tokens, kvDim, slots)
	}
	M := 1
	for M < tokens && M < slots {
		M *= 2
	}
	if M < tokens {
		M = (tokens + slots - 1) / slots * slots
	}
	return SwitchLayout{N: slots, Tokens: tokens, KVDim: kvDim, M: M}, nil
}

// Cts is the number of ciphertexts.
func (l SwitchLayout) Cts() int { return (l.KVDim*l.M + l.N - 1) / l.N }

// Index is the ciphertext and slot of element e of token j.
func (l SwitchLayout) Index(j, e int) (ct, slot int) {
	i := e*l.M + j
	return i / l.N, i % l.N
}

// Vectors lays out rows (Tokens x KVDim, row-major) in slot vectors.
func (l SwitchLayout) Vectors(rows []uint64) [][]uint64 {
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

// Prefill is one layer's keys and values as the prefill left them on the
// server: encryptions of the client's shares in the switch layout at Level with payload at most Bits, and the server's shares (Tokens x
// KVDim each).
type Prefill struct {
	Layout SwitchLayout
	K, V   []*rlwe.Ciphertext
	KS, VS []uint64
	Level  int
	Bits   float64
}

// switchStep is the switch of one layer: an exec.Reencrypt of the K and V
// prefill ciphertexts, one group per distinct home level (levelGroups
// order) of D decode-layout ciphertexts per kind.
type switchStep struct {
	re    exec.Reencrypt
	homes map[int][]int // home level -> kinds
	after ledger
}

func (c Config) switchStepOf(lay SwitchLayout, level int, bits float64) (switchStep, error) {
	if lay.KVDim != c.KVDim() || lay.N != c.Params.MaxSlots() {
		return switchStep{}, fmt.Errorf("kv: switch layout of %d-element tokens over %d slots, the cache has %d over %d", lay.KVDim, lay.N, c.KVDim(), c.Params.MaxSlots())
	}
	if lay.Tokens > c.MaxContext {
		return switchStep{}, fmt.Errorf("kv: %d prefill tokens, the cache is configured for %d", lay.Tokens, c.MaxContext)
	}
	h2s, err := c.Planner.H2S(2*lay.Cts()*lay.N, level, bits)
	if err != nil {
		return switchStep{}, fmt.Errorf("kv: switching the prefill cache: %w", err)
	}
	sw := switchStep{re: exec.Reencrypt{Return: h2s}, homes: map[int][]int{}}
	D := c.Layout.Cts(lay.Tokens)
	for k := 0; k < 2; k++ {
		sw.homes[c.HomeLevel[k]] = append(sw.homes[c.HomeLevel[k]], k)
		for i := 0; i < D; i++ {
			sw.after.states[k] = append(sw.after.states[k], refreshedState(c.HomeLevel[k]))
		}
	}
	for _, h := range levelGroups(sw.homes) {
		sw.re.Groups = append(sw.re.Groups, exec.ReencryptGroup{Level: h, Cts: len(sw.homes[h]) * D})
	}
	sw.after.tokens = lay.Tokens
	// The open ciphertext must take the next append.
	for k := 0; k < 2; k++ {
		if sl := c.model.KernelSlack(sw.after.states[k][D-1], c.KernelLevel[k], c.sumTerms[k]); sl < 0 {
			return switchStep{}, fmt.Errorf("kv: a switched cache leaves %.1f bits to the next product: %w", sl, ErrBudget)
		}
	}
	return sw, nil
}

func (c Config) switchCost(sw switchStep) cost.Cost { return sw.re.Estimate() }

// switchMap fills the public map and scales of the switch's groups: slot
// s of the decode-layout ciphertext d of kind k holds element e of token
// j, which the returned vector (K's prefill ciphertexts, then V's) holds
// at (k·P + ci)·N + sl for (ci, sl) = lay.Index(j, e); times the scale of
// the kind's home level.
func (c Config) switchMap(lay SwitchLayout, sw switchStep) exec.Reencrypt {
	p := c.Params
	N := p.MaxSlots()
	P := lay.Cts()
	D := c.Layout.Cts(lay.Tokens)
	re := sw.re
	re.Groups = append([]exec.ReencryptGroup(nil), sw.re.Groups...)
	for gi, h := range levelGroups(sw.homes) {
		g := &re.Groups[gi]
		g.Map, g.Scale = make([]int, 0, N*g.Cts), make([]uint64, 0, g.Cts)
		for _, kind := range sw.homes[h] {
			// Lay out source indices (plus one: 0 marks an empty slot)
			// with the decode layout's own placement.
			rows := make([]uint64, lay.Tokens*lay.KVDim)
			for j := 0; j < lay.Tokens; j++ {
				for e := 0; e < lay.KVDim; e++ {
					ci, sl := lay.Index(j, e)
					rows[j*lay.KVDim+e] = uint64((kind*P+ci)*N+sl) + 1
				}
			}
			for _, vec := range c.Layout.Vectors(rows) {
				for _, v := range vec {
					g.Map = append(g.Map, int(v)-1)
				}
			}
			S := scaleAt(p, c.KernelLevel[kind], h)
			for range D {
				g.Scale = append(g.Scale, S)
			}
		}
	}
	return re
}

// EstimateSwitch is the cost of Cache.Switch of m prefill tokens held at
// level with payload bits, for every layer, and the trajectory of the
// cache after it (for the cost of the appends that follow).
func (c Config) EstimateSwitch(m, level int, bits float64) (cost.Cost, *Trajectory, error) {
	lay, err := NewSwitchLayout(c.Params.MaxSlots(), m, c.KVDim())
	if err != nil {
		return cost.Cost{}, nil, err
	}
	sw, err := c.switchStepOf(lay, level, bits)
	if err != nil {
		return cost.Cost{}, nil, err
	}
	var empty ledger
	total := c.switchCost(sw).Scale(int64(c.Layers)).Add(c.boundaryCost(&empty, &sw.after))
	return total, &Trajectory{cfg: c, led: sw.after.clone()}, nil
}

// Switch builds an empty layer of the cache from the prefill kernels'
// ciphertexts: the heterogeneous-encoding switch after prefill, an
// exec.Reencrypt with a public relayout map. The server masks and floods
// the prefill ciphertexts and sends them (one H2S flight for K and V); the
// client's half (on exec.Client, with what it received) decrypts its
// masked share y - r, lays it out in the decode layout (scaled for the
// home level) and encrypts it fresh at the home level; the server's half
// lays out r the same way and adds it. One round per layer; the cache
// ciphertexts come out fresh.
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
	sw, err := cfg.switchStepOf(lay, in.Level, in.Bits)
	if err != nil {
		return err
	}
	p := cfg.Params
	D := cfg.Layout.Cts(lay.Tokens)
	cts := append(append([]*rlwe.Ciphertext{}, in.K...), in.V...)
	for i, ct := range cts {
		if ct.Level() != in.Level {
			return fmt.Errorf("kv: prefill ciphertext %d at level %d, declared %d", i, ct.Level(), in.Level)
		}
		cts[i] = ct.CopyNew() // H2S masks in place
	}
	re := cfg.switchMap(lay, sw)
	res, err := re.Run(s, tally, cts)
	if err != nil {
		return fmt.Errorf("kv: switching layer %d: %w", layer, err)
	}
	var out [2][]*rlwe.Ciphertext
	for gi, h := range levelGroups(sw.homes) {
		for i, kind := range sw.homes[h] {
			cts := res[gi][i*D : (i+1)*D]
			for j, ct := range cts {
				ct.Scale = p.NewScale(re.Groups[gi].Scale[i*D+j])
			}
			out[kind] = append([]*rlwe.Ciphertext(nil), cts...)
		}
	}
	l.cts = out
	l.shares = [2][]uint64{append([]uint64(nil), in.KS...), append([]uint64(nil), in.VS...)}
	l.led = sw.after.clone()
	tally.Add(cost.Cost{PeakMemoryBytes: c.Memory(), LevelsConsumed: c.levelsLost()})
	return nil
}
