package kv

import (
	"fmt"
	"slices"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
)

// The feature-major cache (exec.FeatureLayout): what the decode kernels
// exec.FeatureScores and exec.FeatureValues read. The keys and values are
// shared, K = K_C + K_S: the client keeps its share K_C in the clear, the
// server keeps K_S in the clear and holds Enc(K_C) in the feature layout,
// a group of D = Layout.Diagonals() ciphertexts per Layout.TokensPerCt()
// tokens. No ciphertext of the cache is ever computed on: the client
// encrypts its share of a whole group afresh whenever the group changes
// (the prompt's groups at the switch, the open group at each append), so
// every cache ciphertext is a fresh encryption at the kernel's level: no
// noise grows, no refresh is due, and the kernels are planned for a fresh
// cache (exec.AttentionShape.CacheBits 0).

// FeatureConfig is the shape of a feature-major cache: the layout, the
// levels the decode kernels read the keys (kind 0) and the values (kind 1)
// at, and the layers. Build it with NewFeatureConfig.
type FeatureConfig struct {
	Params  bgv.Parameters
	Profile *cost.Profile
	Layers  int
	Layout  exec.FeatureLayout
	Level   [2]int
	// MaxContext is the longest context the kernels were planned for.
	MaxContext int
	// ClientCores are the client's cores its uploads are priced for (the
	// kernels', exec.Planner.ClientCores).
	ClientCores int
	// Public is the tokens of a public prefix every layer starts with
	// (WithPublic; 0: none): the server holds their keys and values in
	// the clear and the diagonals of the groups they fill encoded once,
	// with no ciphertext; the client's shares of them are zero.
	Public int
}

// WithPublic is the configuration of a cache whose layers start with a
// public prefix of tokens tokens (LoadPublic).
func (c FeatureConfig) WithPublic(tokens int) (FeatureConfig, error) {
	if tokens < 0 || tokens > c.MaxContext {
		return FeatureConfig{}, fmt.Errorf("kv: a public prefix of %d tokens in a cache planned for %d", tokens, c.MaxContext)
	}
	c.Public = tokens
	return c, nil
}

// publicGroups is the number of groups the public prefix fills: they have
// no ciphertext.
func (c FeatureConfig) publicGroups() int { return c.Public / c.Layout.TokensPerCt() }

// PublicBytes is the server's memory of one layer's encoded public
// diagonals, both kinds (exec.FeaturePublic.Bytes).
func (c FeatureConfig) PublicBytes() int64 {
	n := int64(c.publicGroups() * c.Layout.Diagonals())
	return n * int64(c.Params.N()) * 8 * int64(c.Level[kindK]+1+c.Level[kindV]+1)
}

// NewFeatureConfig is the cache that the decode kernels sc and vk (planned
// for the same layout, for a fresh cache) read, for layers layers.
func NewFeatureConfig(layers int, sc *exec.FeatureScores, vk *exec.FeatureValues) (FeatureConfig, error) {
	if layers < 1 {
		return FeatureConfig{}, fmt.Errorf("kv: a feature-major cache of %d layers", layers)
	}
	if sc.Layout != vk.Layout {
		return FeatureConfig{}, fmt.Errorf("kv: the feature kernels' layouts differ: %+v and %+v", sc.Layout, vk.Layout)
	}
	if sc.Shape.CacheBits != 0 || vk.Shape.CacheBits != 0 {
		return FeatureConfig{}, fmt.Errorf("kv: the feature kernels must be planned for a fresh cache (payload bound 0, got %v and %v)", sc.Shape.CacheBits, vk.Shape.CacheBits)
	}
	return FeatureConfig{Params: sc.Params, Profile: sc.Profile, Layers: layers, Layout: sc.Layout, Level: [2]int{sc.Level, vk.Level},
		MaxContext: min(sc.Shape.Context, vk.Shape.Context), ClientCores: sc.ClientCores()}, nil
}

// KVDim is KVHeads·HeadDim.
func (c FeatureConfig) KVDim() int { return c.Layout.KVHeads * c.Layout.HeadDim }

// vectors lays out a kind's rows (tokens x KVDim) in the feature layout.
func (c FeatureConfig) vectors(kind int, rows []uint64) [][]uint64 {
	if kind == kindK {
		return c.Layout.KeyVectors(rows)
	}
	return c.Layout.ValueVectors(rows)
}

// uploads are the client's encryptions of v vectors of each kind: one
// exec.C2S (one flight) when the two kinds' levels agree, else one per
// kind, keys first.
func (c FeatureConfig) uploads(v int) []exec.C2S {
	N := c.Params.MaxSlots()
	if c.Level[kindK] == c.Level[kindV] {
		return []exec.C2S{{Params: c.Params, Profile: c.Profile, Len: 2 * v * N, Level: c.Level[kindK], ClientOnly: true, ClientCores: c.ClientCores}}
	}
	return []exec.C2S{
		{Params: c.Params, Profile: c.Profile, Len: v * N, Level: c.Level[kindK], ClientOnly: true, ClientCores: c.ClientCores},
		{Params: c.Params, Profile: c.Profile, Len: v * N, Level: c.Level[kindV], ClientOnly: true, ClientCores: c.ClientCores},
	}
}

// EstimateSwitch prices one layer's Switch of m prompt tokens: the client
// encrypts Cts(m)·D ciphertexts of each kind.
func (c FeatureConfig) EstimateSwitch(m int) cost.Cost {
	var total cost.Cost
	for _, up := range c.uploads(c.Layout.Cts(m) * c.Layout.Diagonals()) {
		total = total.Add(up.Estimate())
	}
	return total
}

// EstimateAppend prices one layer's Append: the client encrypts the open
// group afresh, D ciphertexts of each kind.
func (c FeatureConfig) EstimateAppend() cost.Cost { return c.EstimateAppendRows(0, 1) }

// EstimateAppendRows prices one layer's AppendRows of m tokens to a layer
// holding p: the client encrypts each group they touch once, D ciphertexts
// of each kind per group.
func (c FeatureConfig) EstimateAppendRows(p, m int) cost.Cost {
	T := c.Layout.TokensPerCt()
	var total cost.Cost
	for _, up := range c.uploads(((p+m-1)/T - p/T + 1) * c.Layout.Diagonals()) {
		total = total.Add(up.Estimate())
	}
	return total
}

// Memory is the server's bytes of one layer holding p tokens: the
// ciphertexts of both kinds (none for the groups a public prefix fills,
// whose encoded diagonals it holds instead) and its shares as 8-byte
// words.
//
// A layer holds either nothing or at least the public prefix: its
// ciphertexts are the groups of its tokens past the prefix, from the
// first group the prefix does not fill.
func (c FeatureConfig) Memory(p int) int64 {
	var g int64
	if p > c.Public {
		g = int64((c.Layout.Cts(p) - c.publicGroups()) * c.Layout.Diagonals())
	}
	m := g*(CiphertextBytes(c.Params, c.Level[kindK])+CiphertextBytes(c.Params, c.Level[kindV])) + int64(2*p*c.KVDim())*8
	if p > 0 && c.Public > 0 {
		m += c.PublicBytes()
	}
	return m
}

// Boundary is the memory record a Run makes after layer's step from old
// to cur tokens: layers 0..layer at cur, the others still at old.
func (c FeatureConfig) Boundary(layer, old, cur int) cost.Cost {
	return cost.Cost{PeakMemoryBytes: int64(layer+1)*c.Memory(cur) + int64(c.Layers-1-layer)*c.Memory(old)}
}

// BytesPerToken is the server's memory per token, all layers, as the
// context grows: both kinds' ciphertexts over the tokens of a group, and
// the shares.
func (c FeatureConfig) BytesPerToken() float64 {
	g := float64(c.Layout.Diagonals()) * float64(CiphertextBytes(c.Params, c.Level[kindK])+CiphertextBytes(c.Params, c.Level[kindV]))
	return float64(c.Layers) * (g/float64(c.Layout.TokensPerCt()) + float64(2*c.KVDim()*8))
}

// FeatureCache is a feature-major cache: the server's side (Enc(K_C),
// Enc(V_C), K_S, V_S per layer) and the client's (K_C, V_C), as the
// in-process run engine holds both parties. The server's side is only
// ever given ciphertexts and the server's shares; the client's rows enter
// the protocol only through exec.C2S's client half (and the kernels'
// client halves, KernelInputs).
type FeatureCache struct {
	cfg    FeatureConfig
	server []*featureServer
	client []*featureClient
}

// featureServer is one layer of the server's side.
type featureServer struct {
	tokens int
	cts    [2][]*rlwe.Ciphertext // from the first group past the public ones
	shares [2][]uint64           // tokens x KVDim, row-major
	public [2]*exec.FeaturePublic
}

// featureClient is one layer of the client's side: its shares in the
// clear.
type featureClient struct {
	shares [2][]uint64
}

// NewFeatureCache is an empty cache of cfg.
func NewFeatureCache(cfg FeatureConfig) *FeatureCache {
	c := &FeatureCache{cfg: cfg}
	for i := 0; i < cfg.Layers; i++ {
		c.server = append(c.server, &featureServer{})
		c.client = append(c.client, &featureClient{})
	}
	return c
}

// Config is the cache's configuration.
func (c *FeatureCache) Config() FeatureConfig { return c.cfg }

// Len is the tokens of layer (0 for a layer the cache does not have).
func (c *FeatureCache) Len(layer int) int {
	sv, _, err := c.layer(layer)
	if err != nil {
		return 0
	}
	return sv.tokens
}

// Memory is the server's resident bytes: every ciphertext (marshalled
// size), its shares and the public prefix's encoded diagonals.
func (c *FeatureCache) Memory() int64 {
	var b int64
	for _, l := range c.server {
		b += residentBytes(l.cts, l.shares)
		for _, p := range l.public {
			if p != nil {
				b += p.Bytes()
			}
		}
	}
	return b
}

// LoadPublic fills an empty layer with the public prefix of the cache's
// configuration (Config.Public tokens): k and v are its keys and values
// (Public x KVDim, in Z_t), which the server keeps as its shares; the
// client's shares are zero; the server encodes the diagonals of the
// groups they fill with the kernels sc and vk (planned for the cache, at
// its MaxContext). No ciphertext, no message.
func (c *FeatureCache) LoadPublic(s *exec.Session, tally *cost.Tally, layer int, sc *exec.FeatureScores, vk *exec.FeatureValues, k, v []uint64) error {
	sv, cl, err := c.layer(layer)
	if err != nil {
		return err
	}
	n := c.cfg.Public * c.KVDim()
	switch {
	case sv.tokens != 0:
		return fmt.Errorf("kv: loading a public prefix into layer %d, which holds %d tokens", layer, sv.tokens)
	case c.cfg.Public == 0 || len(k) != n || len(v) != n:
		return fmt.Errorf("kv: a public prefix of %d and %d elements, want %d tokens of %d", len(k), len(v), c.cfg.Public, c.KVDim())
	}
	if sv.public[kindK], err = sc.EncodePublic(s.Server, tally, k); err != nil {
		return err
	}
	if sv.public[kindV], err = vk.EncodePublic(s.Server, tally, v); err != nil {
		return err
	}
	sv.tokens = c.cfg.Public
	sv.shares = [2][]uint64{append([]uint64(nil), k...), append([]uint64(nil), v...)}
	cl.shares = [2][]uint64{make([]uint64, n), make([]uint64, n)}
	tally.Add(cost.Cost{PeakMemoryBytes: c.Memory()})
	return nil
}

func (c *FeatureCache) layer(i int) (*featureServer, *featureClient, error) {
	if i < 0 || i >= len(c.server) {
		return nil, nil, fmt.Errorf("kv: layer %d of %d", i, len(c.server))
	}
	return c.server[i], c.client[i], nil
}

// Switch fills an empty layer with a prompt's m tokens (k, v: m x KVDim
// shares): the client encrypts its shares in the feature layout, the
// server keeps its own.
func (c *FeatureCache) Switch(s *exec.Session, tally *cost.Tally, layer int, k, v exec.Shared) error {
	sv, cl, err := c.layer(layer)
	if err != nil {
		return err
	}
	if sv.tokens != 0 {
		return fmt.Errorf("kv: switching a prompt into layer %d, which holds %d tokens", layer, sv.tokens)
	}
	if c.cfg.Public > 0 {
		return fmt.Errorf("kv: switching a prompt into a cache that starts with a public prefix: append the private tokens after LoadPublic")
	}
	m, err := c.rows(k, v, 0)
	if err != nil {
		return err
	}
	if m > c.cfg.MaxContext {
		return fmt.Errorf("kv: a prompt of %d tokens in a cache planned for %d", m, c.cfg.MaxContext)
	}
	cts, err := c.encrypt(s, tally, [2][]uint64{k.C, v.C})
	if err != nil {
		return fmt.Errorf("kv: switching %d tokens into layer %d: %w", m, layer, err)
	}
	sv.cts, sv.tokens = cts, m
	sv.shares = [2][]uint64{append([]uint64(nil), k.S...), append([]uint64(nil), v.S...)}
	cl.shares = [2][]uint64{append([]uint64(nil), k.C...), append([]uint64(nil), v.C...)}
	tally.Add(cost.Cost{PeakMemoryBytes: c.Memory()})
	return nil
}

// Append appends one token (k, v: KVDim shares) to a layer: the client
// encrypts the token's group afresh (D ciphertexts of each kind), which
// replaces the server's (or starts a new group).
func (c *FeatureCache) Append(s *exec.Session, tally *cost.Tally, layer int, k, v exec.Shared) error {
	if _, err := c.rows(k, v, 1); err != nil {
		return err
	}
	return c.AppendRows(s, tally, layer, k, v)
}

// AppendRows appends m >= 1 tokens (k, v: m x KVDim shares) to a layer at
// once (a pass of several tokens): the client encrypts each group they
// touch afresh, once (D ciphertexts of each kind per group), which replace
// the server's open group and start the new ones.
func (c *FeatureCache) AppendRows(s *exec.Session, tally *cost.Tally, layer int, k, v exec.Shared) error {
	sv, cl, err := c.layer(layer)
	if err != nil {
		return err
	}
	m, err := c.rows(k, v, 0)
	if err != nil {
		return err
	}
	p := sv.tokens
	if p < c.cfg.Public {
		return fmt.Errorf("kv: appending to layer %d before its public prefix (LoadPublic)", layer)
	}
	if p+m > c.cfg.MaxContext {
		return fmt.Errorf("kv: the cache is full: %d tokens and %d more, planned for at most %d", p, m, c.cfg.MaxContext)
	}
	T, kv := c.cfg.Layout.TokensPerCt(), c.KVDim()
	g := p / T // not a public group: they are full
	var group [2][]uint64
	for kind, x := range [2]exec.Shared{k, v} {
		group[kind] = append(append([]uint64(nil), cl.shares[kind][g*T*kv:]...), x.C...)
	}
	cts, err := c.encrypt(s, tally, group)
	if err != nil {
		return fmt.Errorf("kv: appending tokens %d to %d to layer %d: %w", p, p+m-1, layer, err)
	}
	D, pg := c.cfg.Layout.Diagonals(), c.cfg.publicGroups()
	for kind, x := range [2]exec.Shared{k, v} {
		sv.cts[kind] = append(sv.cts[kind][:(g-pg)*D], cts[kind]...)
		sv.shares[kind] = append(sv.shares[kind], x.S...)
		cl.shares[kind] = append(cl.shares[kind], x.C...)
	}
	sv.tokens += m
	tally.Add(cost.Cost{PeakMemoryBytes: c.Memory()})
	return nil
}

// Truncate drops the tokens at positions n and after from every layer (a
// rollback of rejected draft tokens): no cryptography. The open group's
// ciphertexts then still hold the dropped tokens' encrypted shares in
// their slots, until the next Append re-encrypts that group from the
// client's shares, as every Append does, before any kernel reads it; a
// group holding only dropped tokens is freed.
func (c *FeatureCache) Truncate(n int) error {
	D, kv := c.cfg.Layout.Diagonals(), c.KVDim()
	for i, sv := range c.server {
		if n < c.cfg.Public || n > sv.tokens {
			return fmt.Errorf("kv: truncating layer %d of %d tokens (a public prefix of %d) to %d", i, sv.tokens, c.cfg.Public, n)
		}
	}
	for i, sv := range c.server {
		cl := c.client[i]
		for kind := range 2 {
			sv.cts[kind] = sv.cts[kind][:max(0, c.cfg.Layout.Cts(n)-c.cfg.publicGroups())*D]
			sv.shares[kind] = sv.shares[kind][:n*kv]
			cl.shares[kind] = cl.shares[kind][:n*kv]
		}
		sv.tokens = n
	}
	return nil
}

// KVDim is the layout's KVHeads·HeadDim.
func (c *FeatureCache) KVDim() int { return c.cfg.KVDim() }

// rows checks the shares of k and v: want tokens each (0: any whole
// number of at least one), and returns the tokens.
func (c *FeatureCache) rows(k, v exec.Shared, want int) (int, error) {
	kv := c.KVDim()
	n := len(k.C)
	if want > 0 {
		n = want * kv
	}
	for i, x := range [2]exec.Shared{k, v} {
		if len(x.C) != n || len(x.S) != n || n == 0 || n%kv != 0 {
			return 0, fmt.Errorf("kv: %s shares of %d and %d elements (keys %d, values %d), want %d tokens of %d", kindName(i), len(x.C), len(x.S),
				len(k.C), len(v.C), max(want, 1), kv)
		}
	}
	return n / kv, nil
}

// encrypt runs the client's encryption of its rows of both kinds in the
// feature layout (the uploads) and returns the server's ciphertexts of
// each kind.
func (c *FeatureCache) encrypt(s *exec.Session, tally *cost.Tally, rows [2][]uint64) ([2][]*rlwe.Ciphertext, error) {
	var out [2][]*rlwe.Ciphertext
	vecs := [2][][]uint64{c.cfg.vectors(kindK, rows[kindK]), c.cfg.vectors(kindV, rows[kindV])}
	ups := c.cfg.uploads(len(vecs[kindK]))
	if len(ups) == 1 {
		x := exec.Shared{C: slices.Concat(append(vecs[kindK], vecs[kindV]...)...)}
		cts, err := ups[0].Run(s, tally, x)
		if err != nil {
			return out, err
		}
		n := len(vecs[kindK])
		out[kindK], out[kindV] = cts[:n:n], cts[n:] // capped: an append to the keys must not write over the values
		return out, nil
	}
	for kind, up := range ups {
		cts, err := up.Run(s, tally, exec.Shared{C: slices.Concat(vecs[kind]...)})
		if err != nil {
			return out, err
		}
		out[kind] = cts
	}
	return out, nil
}

// FeatureInputs is what a decode kernel over a layer reads for one kind:
// the server's ciphertexts Enc(K_C) past the public groups, the public
// groups' encoded diagonals (nil without a public prefix), the client's
// share K_C and the server's K_S.
type FeatureInputs struct {
	Cts    []*rlwe.Ciphertext
	Public *exec.FeaturePublic
	C, S   []uint64
}

// KernelInputs is what a decode kernel over layer reads for kind (0: the
// scores kernel's keys, 1: the values kernel's values). They are the
// cache's own, valid until its next Append or Switch of the layer: read
// them, do not keep them.
func (c *FeatureCache) KernelInputs(layer, kind int) (FeatureInputs, error) {
	sv, cl, err := c.layer(layer)
	if err != nil {
		return FeatureInputs{}, err
	}
	if kind != kindK && kind != kindV {
		return FeatureInputs{}, fmt.Errorf("kv: no kind %d", kind)
	}
	return FeatureInputs{Cts: sv.cts[kind], Public: sv.public[kind], C: cl.shares[kind], S: sv.shares[kind]}, nil
}
