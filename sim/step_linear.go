package sim

import (
	"fmt"
	"math"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/model"
)

// linearStep is a linear layer of the protocol: the HE product
// (exec.Linear: the client's share encrypted, the server's weights, the
// result masked and shared), the bias added to the server's share, the
// truncation back to the fixed point, and for a llama QKV over several
// tokens the rotary embedding on the shares with a second truncation (for
// one token it is folded into the weights). A one-token layer whose
// weights do not depend on the position (all but that llama QKV) uses
// weights the server encoded once at setup (see encodedWeights).
type linearStep struct {
	mat     Mat
	out     int
	lin     *exec.Linear
	trunc   truncStep  // noTrunc when scale > 0
	scale   int        // the output's fractional bits beyond f (planner.linearScale)
	rope    *truncStep // the query and key columns of every row
	encoded bool       // the weights are encoded once, not per call
}

// linearStep plans the linear layer of weight m over rows tokens.
func (p *planner) linearStep(m Mat, rows int) (*linearStep, error) {
	k := [2]int{int(m), rows}
	if s, ok := p.linSteps[k]; ok {
		return s, nil
	}
	out, in := p.matShape(m)
	once := p.encodedOnce(m, rows)
	l, err := p.linear(out, in, rows, once)
	if err != nil {
		return nil, err
	}
	s := &linearStep{mat: m, out: out, lin: l, trunc: p.truncStep(rows * out), scale: p.linearScale(m), encoded: once}
	if s.scale > 0 {
		s.trunc = noTrunc
	}
	if m == MatQKV && p.cfg.Arch == model.ArchLlama && rows > 1 {
		hs := headsOf(p.cfg)
		tr := p.truncStep(rows * (hs.q + hs.kv))
		s.rope = &tr
	} else if m == MatQKV && s.scale == 0 {
		s.trunc = p.ridingTrunc(rows * out) // the attention's first flight is the client's upload
	}
	p.linSteps[k] = s
	return s, nil
}

// linearScale is the fractional bits beyond f that the output of weight
// m keeps, its truncation left to its consumer: with the protocols by
// lookup (mpc.Config.RawScale), the first feed-forward projection's (the
// activation and the gated product truncate it in their own rounds), the
// classifier's (the argmax compares untruncated logits) and those of the
// attention's output and the second feed-forward projection, which go
// into the residual stream: it then keeps those bits (Add lifts the
// embeddings) and the norms truncate it in their first round (for
// LayerNorm where its row sums stay in range: mpc's LayerNormTakesRaw).
// None otherwise.
func (p *planner) linearScale(m Mat) int {
	switch m {
	case MatUp, MatClassifier:
		return p.mpc.RawScale()
	case MatOut, MatDown:
		if p.cfg.Arch == model.ArchGPT2 && !p.mpc.LayerNormTakesRaw(p.cfg.Dim) {
			return 0
		}
		return p.mpc.RawScale()
	}
	return 0
}

// scoresTrunc is the truncation of n attention scores: none with the
// protocols by lookup, whose softmax takes them untruncated (its Scale).
func (p *planner) scoresTrunc(n int) truncStep {
	if p.mpc.RawScale() > 0 {
		return noTrunc
	}
	return p.truncStep(n)
}

// ropeFolded is whether the one-token weights of m carry the rotary
// embedding of the token's position (a llama QKV), so that they are
// encoded per call.
func (p *planner) ropeFolded(m Mat) bool { return m == MatQKV && p.cfg.Arch == model.ArchLlama }

// Estimate is the product's, the truncation's and the rotary embedding's.
func (s *linearStep) Estimate() cost.Cost {
	lin := s.lin.Estimate()
	if s.encoded {
		lin = s.lin.EstimateEncoded()
	}
	c := lin.Add(s.trunc.Estimate())
	if s.rope != nil {
		c = c.Add(s.rope.Estimate())
	}
	return c
}

// Run computes x·W^T + bias on shares (wm: the quantized weights, with
// RoPE folded in for a one-token llama QKV, or lw: the weights encoded at
// setup if the step is encoded; bias: encoded at twice the fractional
// bits plus the input's extra ones, or nil) and records it under KindLinear.
func (s *linearStep) Run(r *Runner, wm exec.Matrix, lw *exec.LinearWeights, bias []uint64, x *shares) (*shares, error) {
	y := &shares{rows: x.rows, cols: s.out, pos: x.pos, scale: s.scale + x.scale} // an input's extra bits stay (planner.linearInScale)
	err := r.timed(KindLinear, func(cc *cost.Cost) error {
		var z exec.Shared
		if err := r.heRun(cc, func(t *cost.Tally) error {
			var err error
			if s.encoded {
				z, err = s.lin.RunEncoded(r.he, t, lw, x.exec())
			} else {
				z, err = s.lin.Run(r.he, t, wm, x.exec())
			}
			return err
		}); err != nil {
			return err
		}
		y.c, y.s = z.C, z.S
		if bias != nil {
			for i := range y.s {
				y.s[i] = r.q.add(y.s[i], bias[i%s.out])
			}
		}
		if err := s.trunc.Run(r, cc, y.c, y.s); err != nil {
			return err
		}
		if s.rope != nil {
			return s.ropeShares(r, cc, y)
		}
		return nil
	})
	return y, err
}

// ropeShares rotates the query and key columns of each row of y by its
// position: each party multiplies its share by the public cos and sin in
// fixed point, then one truncation of the rotated columns.
func (s *linearStep) ropeShares(r *Runner, cc *cost.Cost, y *shares) error {
	c := r.m.Config
	hs := headsOf(c)
	n := hs.q + hs.kv // query and key columns
	f := r.q.fp.FracBits
	var rc, rs []uint64
	for i := range y.rows {
		row := i * y.cols
		for j := 0; j < n; j += 2 {
			if hs.isPad(j) {
				continue
			}
			k := (j % hs.stride) / 2
			freq := math.Pow(c.RopeTheta, -float64(2*k)/float64(hs.hd))
			sin, cos := math.Sincos(float64(y.pos+i) * freq)
			ec, err := r.q.enc(cos, f)
			if err != nil {
				return err
			}
			es, err := r.q.enc(sin, f)
			if err != nil {
				return err
			}
			ns := r.q.t - es // -sin
			for _, sh := range [][]uint64{y.c, y.s} {
				a, b := sh[row+j], sh[row+j+1]
				sh[row+j] = r.q.add(r.q.mul(a, ec), r.q.mul(b, ns))
				sh[row+j+1] = r.q.add(r.q.mul(a, es), r.q.mul(b, ec))
			}
		}
		rc = append(rc, y.c[row:row+n]...)
		rs = append(rs, y.s[row:row+n]...)
	}
	if err := s.rope.Run(r, cc, rc, rs); err != nil {
		return err
	}
	for i := range y.rows {
		copy(y.c[i*y.cols:], rc[i*n:(i+1)*n])
		copy(y.s[i*y.cols:], rs[i*n:(i+1)*n])
	}
	return nil
}

// embedStep is the token lookup: linear layers over vocabulary slices
// narrow enough for the preset's noise budget (embedChunks), the client's
// share of the input being the one-hot rows of its tokens and the
// server's zero; the parties add the slices' shares.
type embedStep struct {
	rows   int
	chunks []embedChunk
}

func (p *planner) embedStep(rows int) (embedStep, error) {
	chunks, err := p.embedChunks(rows)
	return embedStep{rows, chunks}, err
}

// encoded is whether the slices' weights are encoded once at setup: for
// one token (see encodedWeights).
func (s embedStep) encoded() bool { return s.rows == 1 }

// Estimate is the slices' products.
func (s embedStep) Estimate() cost.Cost {
	var c cost.Cost
	for _, ch := range s.chunks {
		if s.encoded() {
			c = c.Add(ch.lin.EstimateEncoded())
		} else {
			c = c.Add(ch.lin.Estimate())
		}
	}
	return c
}

// Run looks tokens up in the server's table (tableT: the transposed slices
// of the quantized table, one per chunk; encT: the one-token slices
// encoded at setup) and records it under KindEmbedding.
func (s embedStep) Run(r *Runner, tableT []exec.Matrix, encT []*exec.LinearWeights, tokens []int, dim, pos int) (*shares, error) {
	if len(tokens) != s.rows || len(tableT) != len(s.chunks) || s.encoded() && len(encT) != len(s.chunks) {
		return nil, fmt.Errorf("sim: internal error: an embedding of %d tokens in %d slices planned, %d tokens and %d slices given",
			s.rows, len(s.chunks), len(tokens), len(tableT))
	}
	x := &shares{rows: s.rows, cols: dim, pos: pos, c: make([]uint64, s.rows*dim), s: make([]uint64, s.rows*dim)}
	err := r.timed(KindEmbedding, func(cc *cost.Cost) error {
		for i, ch := range s.chunks {
			w := ch.hi - ch.lo
			in := exec.Shared{C: make([]uint64, s.rows*w), S: make([]uint64, s.rows*w)}
			for j, t := range tokens {
				if t >= ch.lo && t < ch.hi {
					in.C[j*w+t-ch.lo] = 1
				}
			}
			var y exec.Shared
			if err := r.heRun(cc, func(t *cost.Tally) error {
				var err error
				if s.encoded() {
					y, err = ch.lin.RunEncoded(r.he, t, encT[i], in)
				} else {
					y, err = ch.lin.Run(r.he, t, tableT[i], in)
				}
				return err
			}); err != nil {
				return err
			}
			for j := range x.c {
				x.c[j] = r.q.add(x.c[j], y.C[j])
				x.s[j] = r.q.add(x.s[j], y.S[j])
			}
		}
		return nil
	})
	return x, err
}
