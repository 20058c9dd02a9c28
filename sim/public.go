package sim

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/params"
)

// A public prefix is the first tokens of a prompt that the client sends to
// the server in the clear (a system prompt, a public document, few-shot
// examples): the server computes their keys and values with the plaintext
// forward pass (PublicKV), and every layer's feature-major cache starts
// with them (kv.FeatureCache.LoadPublic): the private tokens' queries
// attend to them with ciphertext-plaintext products only, the softmax
// covering both parts, and the positions of the private part continue
// after the prefix. The prefix itself, and so the fact that the prompt
// starts with it, is revealed to the server; the private tokens and
// everything generated stay as secret as without it.

// PublicKV is the keys and values of a public prefix as the server holds
// them: per layer, tokens x (KVHeads x the padded head width) elements of
// Z_t at the fixed point (f fractional bits), the heads padded as the
// protocol's QKV projection pads them.
type PublicKV struct {
	Tokens []int
	K, V   [][]uint64
	// Source is "computed" (ComputePublicKV) or "stored" (the prefix
	// store), and Seconds the server's CPU seconds to obtain them (the
	// plaintext forward pass, or reading the file), for the report.
	Source  string
	Seconds float64
}

// Len is the prefix's tokens.
func (p *PublicKV) Len() int {
	if p == nil {
		return 0
	}
	return len(p.Tokens)
}

// ComputePublicKV runs the plaintext forward pass of m over the prefix
// tokens and rounds its keys and values (after RoPE for llama) to the
// fixed point of preset. The secure pass would compute the same values up
// to its truncations' roundings (a few units in the last place).
func ComputePublicKV(m *model.Model, preset params.Preset, tokens []int) (*PublicKV, error) {
	c := m.Config
	if len(tokens) < 1 || len(tokens) >= c.SeqLen {
		return nil, fmt.Errorf("sim: a public prefix of %d tokens: want 1 to %d (the context of %s, less one position for the private prompt)", len(tokens), c.SeqLen-1, c.Name)
	}
	cpu := cost.CPUSeconds()
	st := m.NewState()
	for _, tok := range tokens {
		if _, err := m.Forward(st, tok); err != nil {
			return nil, fmt.Errorf("sim: public prefix: %w", err)
		}
	}
	q := fixed{fp: preset.FixedPoint, t: preset.FixedPoint.T}
	hs := headsOf(c)
	out := &PublicKV{Source: "computed", Tokens: append([]int(nil), tokens...), K: make([][]uint64, c.NumLayers), V: make([][]uint64, c.NumLayers)}
	for l := range c.NumLayers {
		for kind, src := range [2][]float64{st.Key[l], st.Value[l]} {
			rows := make([]uint64, len(tokens)*hs.kv)
			for t := range tokens {
				for h := range c.NumKVHeads {
					for e := range hs.hd {
						v, err := q.enc(src[t*c.KVDim()+h*hs.hd+e], preset.FixedPoint.FracBits)
						if err != nil {
							return nil, fmt.Errorf("sim: public prefix: layer %d: %w", l, err)
						}
						rows[t*hs.kv+h*hs.stride+e] = v
					}
				}
			}
			if kind == 0 {
				out.K[l] = rows
			} else {
				out.V[l] = rows
			}
		}
	}
	out.Seconds = cost.CPUSeconds() - cpu
	return out, nil
}

// check is an error if p does not fit the model's shape.
func (p *PublicKV) check(c model.Config) error {
	n := len(p.Tokens) * headsOf(c).kv
	if len(p.K) != c.NumLayers || len(p.V) != c.NumLayers {
		return fmt.Errorf("sim: a public prefix of %d layers for %s's %d", len(p.K), c.Name, c.NumLayers)
	}
	for l := range c.NumLayers {
		if len(p.K[l]) != n || len(p.V[l]) != n {
			return fmt.Errorf("sim: public prefix: layer %d holds %d and %d elements, want %d", l, len(p.K[l]), len(p.V[l]), n)
		}
	}
	return nil
}

// withPublic provisions the planner for a public prefix of tokens tokens:
// the feature-major cache starts with them and the decode kernels read
// them as public groups. Only a strategy that keeps the feature-major
// cache takes one.
func (p *planner) withPublic(tokens int) error {
	if tokens == 0 {
		return nil
	}
	if !p.keepsCache || p.layout != FeatureLayout {
		return fmt.Errorf("sim: a public prefix needs the feature-major cache (strategy %s, layout %v): the private part attends to it over the cache", p.strat, p.layout)
	}
	f, err := p.feature.WithPublic(tokens)
	if err != nil {
		return err
	}
	p.feature = f
	return nil
}

// public is the tokens of the public prefix the cache starts with
// (withPublic; 0: none).
func (p *planner) public() int { return p.feature.Public }

// PublicSetup is what a public prefix costs the server at a session's
// setup, outside the phases' totals: the encoding of the diagonals of the
// groups it fills (estimated, or measured by a run).
type PublicSetup struct {
	Tokens int `json:"tokens"`
	// Source is where a run's keys and values came from: "computed" (the
	// plaintext forward pass) or "stored" (the prefix store), and
	// KVSeconds the server's CPU seconds to obtain them; empty in an
	// estimate.
	Source    string  `json:"source,omitempty"`
	KVSeconds float64 `json:"kv_seconds,omitempty"`
	// Encode is the encoding of every layer's public diagonals.
	Encode cost.Cost `json:"encode"`
	// Bytes is the server's memory of them, all layers.
	Bytes int64 `json:"bytes"`
}

// publicSetup is the estimate of a public prefix's setup.
func (p *planner) publicSetup() *PublicSetup {
	if p.public() == 0 {
		return nil
	}
	c := cost.Sum(p.fscores.PublicCost(p.public()), p.fvalues.PublicCost(p.public())).Scale(int64(p.cfg.NumLayers))
	return &PublicSetup{Tokens: p.public(), Encode: c, Bytes: int64(p.cfg.NumLayers) * p.feature.PublicBytes()}
}

// Public is the tokens of the public prefix the cache started with.
func (r *Runner) Public() int { return r.plan.public() }

func (r *Runner) publicTokens() []int { return r.pubTokens }

// loadPublic starts every layer's cache with the public prefix pub (none
// when nil): the server encodes its diagonals, measured as setup.
func (r *Runner) loadPublic(pub *PublicKV) error {
	if pub.Len() == 0 {
		return nil
	}
	t := cost.NewTally(r.plan.prof)
	cpu := cost.CPUSeconds()
	for l := range r.ctx {
		if err := r.fcache.LoadPublic(r.he, t, l, r.plan.fscores, r.plan.fvalues, pub.K[l], pub.V[l]); err != nil {
			return fmt.Errorf("sim: public prefix: layer %d: %w", l, err)
		}
		r.ctx[l] = pub.Len()
	}
	c := t.Cost()
	c.ComputeSeconds = cost.CPUSeconds() - cpu
	c.PeakMemoryBytes = 0
	r.pubTokens = append([]int(nil), pub.Tokens...)
	r.public = &PublicSetup{Tokens: pub.Len(), Source: pub.Source, KVSeconds: pub.Seconds, Encode: r.net.Price(c), Bytes: int64(len(r.ctx)) * r.plan.feature.PublicBytes()}
	return nil
}
