package sim

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/params"
)

// planner builds the primitives of a forward pass for a model shape, a
// preset and a profile, memoized by shape: both engines take their
// primitives from it, so that what the run engine runs is exactly what the
// estimate engine prices. A planner is not safe for concurrent use.
type planner struct {
	cfg    model.Config
	preset params.Preset
	params bgv.Parameters
	prof   *cost.Profile
	mpc    mpc.Config

	// The attention kernels planned once for the longest context (the
	// noise of the value kernel grows with the context; the level and the
	// return plan of the longest one serve every shorter one), copied with
	// the actual shape for each use.
	scores *exec.DecodeScores
	values *exec.DecodeValues

	linears map[linKey]*exec.Linear
	costs   map[costKey]cost.Cost

	embedWidth int // vocabulary slice of the embedding (0: not yet found)
}

type linKey struct{ out, in, rows int }

// costKey identifies a memoized Estimate: a protocol name and up to three
// sizes.
type costKey struct {
	name    string
	a, b, c int
}

func newPlanner(cfg model.Config, preset params.Preset, prof *cost.Profile) (*planner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if preset.Scheme != params.BGV {
		return nil, fmt.Errorf("sim: preset %s is %v; the hybrid protocol needs a BGV preset", preset.Name, preset.Scheme)
	}
	bp, err := preset.BGV()
	if err != nil {
		return nil, err
	}
	if prof == nil {
		if prof, err = cost.Default(preset.Name); err != nil {
			return nil, err
		}
	}
	if prof.Params != preset.Name || prof.MaxLevel != bp.MaxLevel() || prof.LogN != bp.LogN() {
		return nil, fmt.Errorf("sim: profile for %s (log N %d, max level %d) does not fit preset %s (log N %d, max level %d)",
			prof.Params, prof.LogN, prof.MaxLevel, preset.Name, bp.LogN(), bp.MaxLevel())
	}
	mc, err := mpc.NewConfig(preset.FixedPoint, prof)
	if err != nil {
		return nil, err
	}
	p := &planner{cfg: cfg, preset: preset, params: bp, prof: prof, mpc: mc,
		linears: map[linKey]*exec.Linear{}, costs: map[costKey]cost.Cost{}}
	sh := exec.AttentionShape{Heads: cfg.NumHeads, KVHeads: cfg.NumKVHeads, HeadDim: cfg.HeadDim(), Context: cfg.SeqLen}
	if p.scores, err = exec.NewDecodeScores(bp, prof, sh); err != nil {
		return nil, fmt.Errorf("sim: %s at %s: %w", cfg.Name, preset.Name, err)
	}
	if p.values, err = exec.NewDecodeValues(bp, prof, sh); err != nil {
		return nil, fmt.Errorf("sim: %s at %s: %w", cfg.Name, preset.Name, err)
	}
	return p, nil
}

// linear is the HE linear layer out x in over rows tokens: the decode
// encoding for one token, the prefill encoding for more.
func (p *planner) linear(out, in, rows int) (*exec.Linear, error) {
	k := linKey{out, in, rows}
	if l, ok := p.linears[k]; ok {
		return l, nil
	}
	enc := exec.Decode
	if rows > 1 {
		enc = exec.Prefill
	}
	l, err := exec.NewLinear(p.params, p.prof, out, in, rows, enc)
	if err != nil {
		return nil, err
	}
	p.linears[k] = l
	return l, nil
}

// matShape is the shape (out, in) of a weight as the protocol uses it.
func (p *planner) matShape(m Mat) (out, in int) {
	c := p.cfg
	switch m {
	case MatQKV:
		return c.Dim + 2*c.KVDim(), c.Dim
	case MatOut:
		return c.Dim, c.Dim
	case MatUp:
		if c.Arch == model.ArchLlama {
			return 2 * c.HiddenDim, c.Dim
		}
		return c.HiddenDim, c.Dim
	case MatDown:
		return c.Dim, c.HiddenDim
	case MatClassifier:
		return c.VocabSize, c.Dim
	}
	return 0, 0
}

// memo returns the memoized cost of key, computing it with f once.
func (p *planner) memo(k costKey, f func() cost.Cost) cost.Cost {
	if c, ok := p.costs[k]; ok {
		return c
	}
	c := f()
	p.costs[k] = c
	return c
}

// The 2PC protocols, by shape.

func (p *planner) trunc(n int) mpc.Trunc { return mpc.Trunc{Config: p.mpc, N: n} }

// norm is the architecture's norm, with the ring's default variance range.
func (p *planner) norm(rows int) mpc.Protocol {
	if p.cfg.Arch == model.ArchGPT2 {
		return mpc.LayerNorm{Config: p.mpc, Rows: rows, Dim: p.cfg.Dim, Eps: p.cfg.NormEps}
	}
	return mpc.RMSNorm{Config: p.mpc, Rows: rows, Dim: p.cfg.Dim, Eps: p.cfg.NormEps}
}

func (p *planner) activation(n int) mpc.Protocol {
	if p.cfg.Arch == model.ArchGPT2 {
		return mpc.GELU{Config: p.mpc, N: n}
	}
	return mpc.SiLU{Config: p.mpc, N: n}
}

func (p *planner) mul(n int) mpc.Mul { return mpc.Mul{Config: p.mpc, N: n, Fixed: true} }

func (p *planner) softmax(rows, cols int) mpc.Softmax {
	return mpc.Softmax{Config: p.mpc, Rows: rows, Cols: cols}
}

func (p *planner) argmax(n int) mpc.Argmax { return mpc.Argmax{Config: p.mpc, N: n} }

// Attention: the kernels for rows queries (the last rows of ctx tokens).
//
// The rows queries of one layer are processed in one call of each ARCC
// kernel by treating query head h of row i as head kv·G·rows + i·G + a of
// a kernel with Heads·rows heads (h = kv·G + a, G = Heads/KVHeads): one
// round for the scores and one for the values whatever rows is. Entries
// beyond a row's position (the causal mask) are computed and discarded.

func (p *planner) scoresKernel(rows, ctx int) *exec.DecodeScores {
	k := *p.scores
	k.Shape.Heads = p.cfg.NumHeads * rows
	k.Shape.Context = ctx
	return &k
}

func (p *planner) valuesKernel(rows, ctx int) *exec.DecodeValues {
	k := *p.values
	k.Shape.Heads = p.cfg.NumHeads * rows
	k.Shape.Context = ctx
	return &k
}

// appendPlan is the cache append of tokens pos .. ctx-1: the client
// re-encrypts its share of every cache ciphertext from the one holding
// token pos (the open one) to the last, for keys and values. A single C2S
// carries both when the two caches share a level.
type appendPlan struct {
	first, cts int        // first ciphertext index re-encrypted and how many
	convs      []exec.C2S // one (keys and values together) or two
}

func (p *planner) appendPlan(pos, ctx int) appendPlan {
	lay := p.scores.Layout
	first := pos / lay.TokensPerCt
	n := lay.Cts(ctx) - first
	slots := p.params.MaxSlots()
	ap := appendPlan{first: first, cts: n}
	if p.scores.Level == p.values.Level {
		c := exec.NewC2S(p.params, p.prof, 2*n*slots)
		c.Level = p.scores.Level
		ap.convs = []exec.C2S{c}
	} else {
		ck, cv := exec.NewC2S(p.params, p.prof, n*slots), exec.NewC2S(p.params, p.prof, n*slots)
		ck.Level, cv.Level = p.scores.Level, p.values.Level
		ap.convs = []exec.C2S{ck, cv}
	}
	return ap
}

// visible is the number of (query, key) pairs of rows queries at the last
// rows positions of ctx tokens that the causal mask lets through, per head.
func visible(rows, ctx int) int {
	p0 := ctx - rows
	return rows*p0 + rows*(rows+1)/2
}

// Estimates of the engine operations, memoized.

func (p *planner) estEmbed(rows int) (cost.Cost, error) {
	chunks, err := p.embedChunks(rows)
	if err != nil {
		return cost.Cost{}, err
	}
	return p.memo(costKey{"embed", rows, 0, 0}, func() cost.Cost {
		var c cost.Cost
		for _, ch := range chunks {
			c = c.Add(ch.lin.Estimate())
		}
		return c
	}), nil
}

// embedChunk is the lookup in the vocabulary rows lo .. hi-1 of the table.
type embedChunk struct {
	lo, hi int
	lin    *exec.Linear
}

// embedChunks splits the lookup Dim x Vocab into linear layers over
// vocabulary slices narrow enough for the preset's noise budget (the
// whole vocabulary when it fits); the parties add the slices' shares.
func (p *planner) embedChunks(rows int) ([]embedChunk, error) {
	v := p.cfg.VocabSize
	start := v
	if p.embedWidth > 0 {
		start = p.embedWidth
	}
	for width := start; ; width = (width + 1) / 2 {
		var chunks []embedChunk
		var err error
		for lo := 0; lo < v && err == nil; lo += width {
			hi := min(lo+width, v)
			var l *exec.Linear
			if l, err = p.linear(p.cfg.Dim, hi-lo, rows); err == nil {
				chunks = append(chunks, embedChunk{lo, hi, l})
			}
		}
		if err == nil {
			p.embedWidth = width
			return chunks, nil
		}
		if width == 1 {
			return nil, fmt.Errorf("sim: embedding of %s at %s: %w", p.cfg.Name, p.preset.Name, err)
		}
	}
}

func (p *planner) estLinear(m Mat, rows int) (cost.Cost, error) {
	out, in := p.matShape(m)
	l, err := p.linear(out, in, rows)
	if err != nil {
		return cost.Cost{}, err
	}
	return p.memo(costKey{"linear", int(m), rows, 0}, func() cost.Cost {
		c := l.Estimate().Add(p.trunc(rows * out).Estimate())
		if p.ropeOnShares(m, rows) {
			c = c.Add(p.trunc(rows * (p.cfg.Dim + p.cfg.KVDim())).Estimate())
		}
		return c
	}), nil
}

// ropeOnShares reports whether the rotary embedding of a QKV projection is
// applied to the shares (several tokens: one matrix serves all rows) with
// a truncation, rather than folded into the weights (one token).
func (p *planner) ropeOnShares(m Mat, rows int) bool {
	return m == MatQKV && p.cfg.Arch == model.ArchLlama && rows > 1
}

// estAttention returns the cost of the append, of the kernels with their
// truncations, and of the softmax, for rows new tokens making ctx cached.
func (p *planner) estAttention(rows, ctx int) (appendCost, kernels, softmax cost.Cost) {
	appendCost = p.memo(costKey{"append", ctx - rows, ctx, 0}, func() cost.Cost {
		var c cost.Cost
		for _, cv := range p.appendPlan(ctx-rows, ctx).convs {
			c = c.Add(cv.Estimate())
		}
		return c
	})
	kernels = p.memo(costKey{"kernels", rows, ctx, 0}, func() cost.Cost {
		h := p.cfg.NumHeads
		return cost.Sum(
			p.scoresKernel(rows, ctx).Estimate(),
			p.trunc(h*visible(rows, ctx)).Estimate(),
			p.valuesKernel(rows, ctx).Estimate(),
			p.trunc(h*rows*p.cfg.HeadDim()).Estimate(),
		)
	})
	softmax = p.memo(costKey{"softmax", rows, ctx, 0}, func() cost.Cost {
		return p.softmax(p.cfg.NumHeads*rows, ctx).Estimate()
	})
	return
}

func (p *planner) estNorm(rows int) cost.Cost {
	return p.memo(costKey{"norm", rows, 0, 0}, p.norm(rows).Estimate)
}

func (p *planner) estActivation(n int) cost.Cost {
	return p.memo(costKey{"act", n, 0, 0}, p.activation(n).Estimate)
}

func (p *planner) estMul(n int) cost.Cost {
	return p.memo(costKey{"mul", n, 0, 0}, p.mul(n).Estimate)
}

func (p *planner) estArgmax(n int) cost.Cost {
	return p.memo(costKey{"argmax", n, 0, 0}, p.argmax(n).Estimate)
}

// cacheBytes is the memory of the encrypted cache of every layer holding
// ctx tokens (keys and values, ciphertexts at the kernels' levels) plus
// the server's plaintext shares (one 8-byte word per element).
func (p *planner) cacheBytes(ctx int) int64 {
	if ctx == 0 {
		return 0
	}
	c := p.cfg
	cts := int64(p.scores.Layout.Cts(ctx))
	one := func(level int) int64 {
		cv := exec.NewC2S(p.params, p.prof, 1)
		cv.Level = level
		return cv.Estimate().BytesC2S
	}
	perLayer := cts*(one(p.scores.Level)+one(p.values.Level)) + 2*int64(ctx)*int64(c.KVDim())*8
	return int64(c.NumLayers) * perLayer
}
