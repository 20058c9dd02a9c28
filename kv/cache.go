package kv

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
)

// Cache is the server's side of the encrypted KV cache: per layer, the
// ciphertexts Enc(K_C) and Enc(V_C) of the client's shares in the decode
// layout, the server's plaintext shares K_S and V_S, and the noise state
// of every ciphertext. It holds a key-less evaluator and encoder: no field
// or method reaches a secret key (the client's part of appends, refreshes
// and switches runs inside exec.C2S and exec.Reencrypt, on exec.Client).
//
// A Cache belongs to one goroutine at a time; with an exec.Session, one Run
// at a time.
type Cache struct {
	cfg    Config
	eval   *bgv.Evaluator
	ecd    *bgv.Encoder
	layers []*layerCache
	id     SessionID
}

type layerCache struct {
	led    ledger
	cts    [2][]*rlwe.Ciphertext
	shares [2][]uint64 // server's shares, tokens x KVDim, row-major
}

// NewCache is an empty cache for cfg (which must come from NewConfig).
func NewCache(cfg Config) (*Cache, error) {
	if cfg.validatedFor == 0 {
		return nil, fmt.Errorf("kv: the config was not checked by NewConfig")
	}
	c := &Cache{cfg: cfg, eval: bgv.NewEvaluator(cfg.Params, nil), ecd: bgv.NewEncoder(cfg.Params), id: newSessionID()}
	for i := 0; i < cfg.Layers; i++ {
		c.layers = append(c.layers, &layerCache{})
	}
	return c, nil
}

// Config is the cache's configuration.
func (c *Cache) Config() Config { return c.cfg }

// Len is the number of tokens every layer holds.
func (c *Cache) Len() int {
	n := c.layers[0].led.tokens
	for _, l := range c.layers {
		if l.led.tokens < n {
			n = l.led.tokens
		}
	}
	return n
}

// States returns a copy of the noise states of a layer's key (kind 0) or
// value (kind 1) ciphertexts.
func (c *Cache) States(layer, kind int) []NoiseState {
	return append([]NoiseState(nil), c.layers[layer].led.states[kind]...)
}

// Ciphertexts returns the cache ciphertexts of a layer and kind, as they
// are (for tests and inspection; do not modify them).
func (c *Cache) Ciphertexts(layer, kind int) []*rlwe.Ciphertext { return c.layers[layer].cts[kind] }

// Memory is the resident bytes of the cache: every ciphertext at its level
// (marshalled size), the server's shares as 8-byte words, and the keys
// (Config.KeyBytes).
func (c *Cache) Memory() int64 {
	b := c.cfg.KeyBytes
	for _, l := range c.layers {
		b += residentBytes(l.cts, l.shares)
	}
	return b
}

// residentBytes is the memory of one layer's ciphertexts of both kinds
// (marshalled size) and the server's shares as 8-byte words.
func residentBytes(cts [2][]*rlwe.Ciphertext, shares [2][]uint64) int64 {
	var b int64
	for k := range cts {
		for _, ct := range cts[k] {
			b += int64(ct.BinarySize())
		}
		b += int64(len(shares[k])) * 8
	}
	return b
}

func (c *Cache) levelsLost() int64 {
	var m int64
	for _, l := range c.layers {
		for k := range l.cts {
			for _, ct := range l.cts[k] {
				if d := int64(c.cfg.HomeLevel[k] - ct.Level()); d > m {
					m = d
				}
			}
		}
	}
	return m
}

func (c *Cache) layer(i int) (*layerCache, error) {
	if i < 0 || i >= len(c.layers) {
		return nil, fmt.Errorf("kv: layer %d of %d", i, len(c.layers))
	}
	l := c.layers[i]
	if l.led.tokens != c.Len() {
		return nil, fmt.Errorf("kv: layer %d already holds token %d; append to the other layers first", i, l.led.tokens-1)
	}
	return l, nil
}

// metered runs f as one metered stretch: the primitives inside record
// their operations and bytes into a private tally; the stretch's rounds
// are counted from its flights.
func metered(s *exec.Session, tally *cost.Tally, f func(sub *cost.Tally) error) error {
	start := s.Meter.Begin()
	sub := cost.NewTally(tally.Profile())
	err := f(sub)
	comm := s.Meter.Since(start)
	tally.Add(noRounds(sub.Cost()))
	tally.Add(cost.Cost{Rounds: comm.Rounds})
	return err
}

// Append appends one token to a layer with the ClientEncrypt method: the
// client encrypts its shares k.C, v.C (KVDim each) at the token's slot
// offset, the server adds them to the open cache ciphertexts (or starts
// new ones) and stores k.S, v.S. Then the policy's refresh round, if any.
// Layers must be appended in any order but each once per token.
func (c *Cache) Append(s *exec.Session, tally *cost.Tally, layer int, k, v exec.Shared) error {
	cfg := c.cfg
	if cfg.Method != ClientEncrypt {
		return fmt.Errorf("kv: Append is the client-encrypt method; this cache appends with %s (AppendSource)", cfg.Method)
	}
	l, err := c.layer(layer)
	if err != nil {
		return err
	}
	kv := cfg.KVDim()
	tok := [2]exec.Shared{k, v}
	for i, x := range tok {
		if len(x.C) != kv || len(x.S) != kv {
			return fmt.Errorf("kv: %s share of %d/%d elements, want %d", kindName(i), len(x.C), len(x.S), kv)
		}
	}
	ap, err := cfg.nextAppend(&l.led)
	if err != nil {
		return err
	}
	N := cfg.Params.MaxSlots()
	jj := ap.pos % cfg.Layout.TokensPerCt
	groups := map[int][]int{}
	for kind := 0; kind < 2; kind++ {
		groups[cfg.HomeLevel[kind]] = append(groups[cfg.HomeLevel[kind]], kind)
	}
	fresh := [2]*rlwe.Ciphertext{}
	err = metered(s, tally, func(sub *cost.Tally) error {
		for _, lvl := range levelGroups(groups) {
			kinds := groups[lvl]
			// The server's share stays in the clear (l.shares): the client
			// encrypts its own alone (ClientOnly), the server adds nothing.
			x := exec.Shared{C: make([]uint64, N*len(kinds))}
			for i, kind := range kinds {
				for e := 0; e < kv; e++ {
					x.C[i*N+cfg.Layout.Slot(jj, e)] = tok[kind].C[e]
				}
			}
			cts, err := exec.C2S{Params: cfg.Params, Profile: cfg.Profile, Len: len(x.C), Level: lvl, ClientOnly: true, ClientCores: cfg.Planner.ClientCores}.Run(s, sub, x)
			if err != nil {
				return err
			}
			for i, kind := range kinds {
				fresh[kind] = cts[i]
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kv: appending token %d to layer %d: %w", ap.pos, layer, err)
	}
	for kind := 0; kind < 2; kind++ {
		if ap.empty {
			l.cts[kind] = append(l.cts[kind], fresh[kind])
		} else {
			ct := l.cts[kind][ap.ct]
			if err := c.add(tally, ct, fresh[kind]); err != nil {
				return err
			}
		}
		l.shares[kind] = append(l.shares[kind], tok[kind].S...)
	}
	cfg.applyAppend(&l.led, ap)
	return c.finishStep(s, tally, l, ap.ct)
}

func (c *Cache) add(tally *cost.Tally, acc, x *rlwe.Ciphertext) error {
	if acc.Level() != x.Level() || acc.Scale.Cmp(x.Scale) != 0 {
		return fmt.Errorf("kv: adding ciphertexts at level %d/%d with scales %v/%v", acc.Level(), x.Level(), acc.Scale.Uint64(), x.Scale.Uint64())
	}
	if err := c.eval.Add(acc, x, acc); err != nil {
		return fmt.Errorf("kv: adding: %w", err)
	}
	tally.Op(cost.OpAdd, acc.Level(), 1)
	return nil
}

// finishStep runs the policy's refresh round for the ciphertexts touched
// by the step, checks that they can serve the next product, and records
// the cache's memory and lost levels.
func (c *Cache) finishStep(s *exec.Session, tally *cost.Tally, l *layerCache, touched int) error {
	cfg := c.cfg
	rr, err := cfg.dueRefresh(&l.led, touched)
	if err != nil {
		return err
	}
	if err := c.refresh(s, tally, l, rr); err != nil {
		return err
	}
	if err := cfg.checkSafe(&l.led, touched); err != nil {
		return err
	}
	tally.Add(cost.Cost{PeakMemoryBytes: c.Memory(), LevelsConsumed: c.levelsLost()})
	return nil
}

// refresh runs one layer's refresh round: the due ciphertexts are
// rescaled to a common level and re-encrypted by an exec.Reencrypt: the
// server masks them with uniform r and floods them (one H2S flight), the
// client's half decrypts y - r and encrypts it fresh at the home level,
// the server's half adds r: fresh encryptions of the same values. The
// cache (server-side state) only plans the public map and scales and
// keeps the server's outputs; the client's half runs on exec.Client with
// what it received. The shares are multiplied by the home level's scale
// and the ciphertexts relabelled with it, so that rescaling to the kernel
// level later leaves scale 1.
func (c *Cache) refresh(s *exec.Session, tally *cost.Tally, l *layerCache, rr refreshRound) error {
	if rr.empty() {
		return nil
	}
	cfg := c.cfg
	p := cfg.Params
	N := p.MaxSlots()
	cts := make([]*rlwe.Ciphertext, len(rr.due))
	for i, d := range rr.due {
		ct := l.cts[d[0]][d[1]]
		for ct.Level() > rr.level {
			lvl := ct.Level()
			if err := c.eval.Rescale(ct, ct); err != nil {
				return fmt.Errorf("kv: rescaling for refresh: %w", err)
			}
			tally.Op(cost.OpRescale, lvl, 1)
		}
		cts[i] = ct
	}
	// The public map: output ciphertext j of home level h is due
	// ciphertext homes[h][j], times the home level's scale.
	re := rr.re
	re.Groups = append([]exec.ReencryptGroup(nil), rr.re.Groups...)
	for gi, h := range levelGroups(rr.homes) {
		g := &re.Groups[gi]
		g.Map, g.Scale = make([]int, N*g.Cts), make([]uint64, g.Cts)
		for j, i := range rr.homes[h] {
			g.Scale[j] = scaleAt(p, cfg.KernelLevel[rr.due[i][0]], h)
			for e := 0; e < N; e++ {
				g.Map[j*N+e] = i*N + e
			}
		}
	}
	out, err := re.Run(s, tally, cts)
	if err != nil {
		return fmt.Errorf("kv: refresh round: %w", err)
	}
	for gi, h := range levelGroups(rr.homes) {
		for j, i := range rr.homes[h] {
			ct := out[gi][j]
			ct.Scale = p.NewScale(re.Groups[gi].Scale[j])
			d := rr.due[i]
			l.cts[d[0]][d[1]] = ct
		}
	}
	tally.Add(cost.Cost{Refreshes: int64(len(rr.due))})
	cfg.applyRefresh(&l.led, rr)
	return nil
}

// Source is a new token's key and value as the server holds them for a
// Homomorphic append: encryptions of the client's shares in the broadcast
// layout (the token's KVDim vector in every token block of the decode
// layout, as exec.DecodeScores lays out its queries) at Config.SourceLevel
// with payload at most Config.SourceBits, and the server's own shares.
type Source struct {
	K, V   *rlwe.Ciphertext
	KS, VS []uint64
}

// Broadcast lays out a token's vector (KVDim) in every token block.
func (c Config) Broadcast(x []uint64) []uint64 {
	v := make([]uint64, c.Params.MaxSlots())
	for j := 0; j < c.Layout.TokensPerCt; j++ {
		for e, a := range x {
			v[c.Layout.Slot(j, e)] = a
		}
	}
	return v
}

// NewSource has the client encrypt its shares of a token's key and value
// in the broadcast layout at the source level (one C2S of two
// ciphertexts): a stand-in for a source the server computed itself. Its
// cost is EstimateSource.
func NewSource(s *exec.Session, tally *cost.Tally, cfg Config, k, v exec.Shared) (*Source, error) {
	N := cfg.Params.MaxSlots()
	x := exec.Shared{C: append(cfg.Broadcast(k.C), cfg.Broadcast(v.C)...)}
	cts, err := exec.C2S{Params: cfg.Params, Profile: cfg.Profile, Len: 2 * N, Level: cfg.SourceLevel, ClientOnly: true, ClientCores: cfg.Planner.ClientCores}.Run(s, tally, x)
	if err != nil {
		return nil, err
	}
	return &Source{K: cts[0], V: cts[1], KS: k.S, VS: v.S}, nil
}

// EstimateSource is the cost of NewSource.
func (c Config) EstimateSource() cost.Cost {
	return exec.C2S{Params: c.Params, Profile: c.Profile, Len: 2 * c.Params.MaxSlots(), Level: c.SourceLevel, ClientOnly: true, ClientCores: c.Planner.ClientCores}.Estimate()
}

// AppendSource appends one token to a layer with the Homomorphic method:
// for K and V, a copy of the source is rescaled to the open cache
// ciphertext's level, multiplied by the 0/1 mask of the token's block
// (encoded at the scale that keeps the cache's scale invariant), added to
// the cache ciphertext and the sum rescaled: one level and a ct-pt
// product's noise. Then the policy's refresh round, if any. No rotation
// is needed because the source is in the broadcast layout.
func (c *Cache) AppendSource(s *exec.Session, tally *cost.Tally, layer int, src *Source) error {
	cfg := c.cfg
	if cfg.Method != Homomorphic {
		return fmt.Errorf("kv: AppendSource is the homomorphic method; this cache appends with %s (Append)", cfg.Method)
	}
	l, err := c.layer(layer)
	if err != nil {
		return err
	}
	kv := cfg.KVDim()
	srcs := [2]*rlwe.Ciphertext{src.K, src.V}
	shares := [2][]uint64{src.KS, src.VS}
	for kind := 0; kind < 2; kind++ {
		ct := srcs[kind]
		if ct == nil || ct.Level() != cfg.SourceLevel || ct.Degree() != 1 || len(shares[kind]) != kv {
			return fmt.Errorf("kv: %s source: want a degree-1 ciphertext at level %d and %d server shares", kindName(kind), cfg.SourceLevel, kv)
		}
	}
	ap, err := cfg.nextAppend(&l.led)
	if err != nil {
		return err
	}
	jj := ap.pos % cfg.Layout.TokensPerCt
	for kind := 0; kind < 2; kind++ {
		var acc *rlwe.Ciphertext
		if !ap.empty {
			acc = l.cts[kind][ap.ct]
		}
		out, err := c.homStep(tally, kind, srcs[kind], acc, ap.srcTo[kind], jj)
		if err != nil {
			return err
		}
		if ap.empty {
			l.cts[kind] = append(l.cts[kind], out)
		}
		l.shares[kind] = append(l.shares[kind], shares[kind]...)
	}
	cfg.applyAppend(&l.led, ap)
	return c.finishStep(s, tally, l, ap.ct)
}

// homStep is the server's homomorphic append of the source src into the
// cache ciphertext acc (nil: a new ciphertext) at block jj: a copy of src
// rescaled to lvl, times the block's 0/1 mask encoded at the scale that
// keeps the cache invariant, plus acc, rescaled. acc is updated in place;
// the result is returned.
func (c *Cache) homStep(tally *cost.Tally, kind int, src, acc *rlwe.Ciphertext, lvl, jj int) (*rlwe.Ciphertext, error) {
	cfg := c.cfg
	p := cfg.Params
	t := p.PlaintextModulus()
	mask := make([]uint64, p.MaxSlots())
	for e := 0; e < cfg.KVDim(); e++ {
		mask[cfg.Layout.Slot(jj, e)] = 1
	}
	x := src.CopyNew()
	for x.Level() > lvl {
		at := x.Level()
		if err := c.eval.Rescale(x, x); err != nil {
			return nil, fmt.Errorf("kv: rescaling the source: %w", err)
		}
		tally.Op(cost.OpRescale, at, 1)
	}
	want := scaleAt(p, cfg.KernelLevel[kind], lvl)
	pt := bgv.NewPlaintext(p, lvl)
	pt.Scale = p.NewScale(mulMod(want, invMod(x.Scale.Uint64(), t), t))
	if err := c.ecd.Encode(mask, pt); err != nil {
		return nil, fmt.Errorf("kv: encoding the selection mask: %w", err)
	}
	tally.Op(cost.OpEncode, lvl, 1)
	if err := c.eval.Mul(x, pt, x); err != nil {
		return nil, fmt.Errorf("kv: masking: %w", err)
	}
	tally.Op(cost.OpMulPlain, lvl, 1)
	if acc == nil {
		acc = x
	} else if err := c.add(tally, acc, x); err != nil {
		return nil, err
	}
	if err := c.eval.Rescale(acc, acc); err != nil {
		return nil, fmt.Errorf("kv: rescaling the cache ciphertext: %w", err)
	}
	tally.Op(cost.OpRescale, lvl, 1)
	return acc, nil
}

// KernelInputs returns what the decode attention kernel of a layer
// consumes: copies of the cache ciphertexts of a kind (0 = keys for
// exec.DecodeScores, 1 = values for exec.DecodeValues) at the kernel's
// level (Config.KernelLevel; ciphertexts above it are rescaled, scale 1),
// and the server's shares (Len() x KVDim; do not modify). Its cost is
// Trajectory.Prepare's share for that layer and kind.
func (c *Cache) KernelInputs(tally *cost.Tally, layer, kind int) ([]*rlwe.Ciphertext, []uint64, error) {
	if layer < 0 || layer >= len(c.layers) || kind < 0 || kind > 1 {
		return nil, nil, fmt.Errorf("kv: no layer %d kind %d", layer, kind)
	}
	l := c.layers[layer]
	want := c.cfg.KernelLevel[kind]
	out := make([]*rlwe.Ciphertext, len(l.cts[kind]))
	for i, ct := range l.cts[kind] {
		if ct.Level() < want {
			return nil, nil, fmt.Errorf("kv: %s ciphertext %d at level %d, below the kernel's %d: %w", kindName(kind), i, ct.Level(), want, ErrBudget)
		}
		x := ct
		if ct.Level() > want {
			x = ct.CopyNew()
			for x.Level() > want {
				at := x.Level()
				if err := c.eval.Rescale(x, x); err != nil {
					return nil, nil, err
				}
				tally.Op(cost.OpRescale, at, 1)
			}
		}
		if x.Scale.Uint64() != 1 {
			return nil, nil, fmt.Errorf("kv: internal error: %s ciphertext %d at the kernel level with scale %d", kindName(kind), i, x.Scale.Uint64())
		}
		out[i] = x
	}
	return out, l.shares[kind], nil
}
