package mpc

import (
	"fmt"
	"math/bits"

	"github.com/cgsim/cgsim/cost"
)

// Softmax: normalized exponentials of rows, causal or not.

// Softmax normalizes each row of a Rows x Cols shared matrix (row-major):
// exp(x - max) / Σ exp(x - max); with Nonlinear = LUT the exponential
// comes from a lookup table (exp_lut.go). Several heads are batched by stacking
// their rows. With Causal, the rows are Heads stacked blocks (0 means one)
// of q = Rows/Heads queries each, the last q positions of Cols keys: row i
// of a block only sees its first Cols - q + 1 + i entries; the others are
// output as 0 and cost nothing (a prefill's causal attention, all heads in
// one Run, handles about half the entries of full rows).
type Softmax struct {
	Config
	Rows, Cols int
	Causal     bool
	Heads      int
	// Scale is the scores' fractional bits beyond f: the score kernel's
	// products left untruncated (Scale = f); the maximum takes them as
	// they are and the exponential truncates in its own rounds.
	// Nonlinear = LUT only; 0: f bits.
	Scale int
	// Raw leaves the probabilities with Config.SoftmaxRawBits() more
	// fractional bits than f, their last truncation to the consumer (the
	// attention's values kernel, whose output is truncated anyway): one
	// round fewer. Nonlinear = LUT only.
	Raw bool
}

// SoftmaxRawBits is the fractional bits beyond f of a raw softmax's
// probabilities (Softmax.Raw): 2P - f, with P the reciprocal's precision
// lowered so that a product of the probabilities by values below
// 2^IntBits with f bits, summed over a row, stays in the truncation's
// range; 0 if c computes iteratively or its ring leaves P below f.
func (c Config) SoftmaxRawBits() int {
	if P := c.softmaxRawPrec(); P > 0 {
		return 2*P - c.Ring.frac
	}
	return 0
}

// softmaxRawPrec is P of a raw softmax, or 0 if there is none.
func (c Config) softmaxRawPrec() int {
	if c.Nonlinear != LUT || c.Ring == nil {
		return 0
	}
	r := c.Ring
	P := min(recipPrecLUT(r), (r.TruncBound()-r.frac-r.fp.IntBits-1)/2)
	if P < r.frac {
		return 0
	}
	return P
}

// queries is the number of rows of a causal block (at least 1, so that
// Need and Estimate of a shape Run would refuse do not divide by zero).
func (m Softmax) queries() int {
	if m.Heads <= 1 || m.Heads > m.Rows {
		return max(m.Rows, 1)
	}
	return m.Rows / m.Heads
}

func (m Softmax) lens() []int {
	lens := repeat(m.Cols, m.Rows)
	if m.Causal {
		q := m.queries()
		for i := range lens {
			lens[i] = m.Cols - q + 1 + i%q
		}
	}
	return lens
}

// runs are lens as runs of equal lengths, ascending: a causal block's
// row i has Cols - q + 1 + i entries, in every head.
func (m Softmax) runs() []rowRun {
	if !m.Causal {
		return []rowRun{{m.Cols, m.Rows}}
	}
	q := m.queries()
	runs := make([]rowRun, 0, q)
	for i := 0; i < q; i++ {
		runs = append(runs, rowRun{m.Cols - q + 1 + i, m.Rows / q})
	}
	if r := m.Rows % q; r > 0 { // only in shapes Run refuses: bill them as lens does
		for i := 0; i < r; i++ {
			runs[i].count++
		}
	}
	return runs
}

func (m Softmax) shape() error {
	_, hi := m.sumRange()
	if err := firstErr(positive("rows", m.Rows), positive("columns", m.Cols), m.methodErr(), expLUTErr(m.Config, m.Scale), recipLUTErr(m.Config, hi)); err != nil {
		return err
	}
	if m.Raw && m.SoftmaxRawBits() == 0 {
		return fmt.Errorf("a softmax with raw probabilities computes by lookup (Nonlinear = lut) in a ring whose truncation range holds them")
	}
	if m.Heads < 0 || (m.Heads > 1 && (!m.Causal || m.Rows%m.Heads != 0)) {
		return fmt.Errorf("softmax of %d rows in %d heads (causal %v): Heads must divide the rows of a causal softmax", m.Rows, m.Heads, m.Causal)
	}
	if q := m.queries(); m.Causal && q > m.Cols {
		return fmt.Errorf("causal softmax of %d rows over %d columns: more queries than keys", q, m.Cols)
	}
	return nil
}

// sumRange is the octave range of a row sum: [1, Cols] ⊂ [2^0, 2^Hi).
func (m Softmax) sumRange() (int, int) { return 0, bits.Len(uint(m.Cols)) }

func (m Softmax) bill() *bill {
	p := newBill(m.Config)
	runs := m.runs()
	n, blocks := 0, 0
	for _, r := range runs {
		n += r.len * r.count
		blocks += ceilDiv(r.len, gatedSlots) * r.count
	}
	w := p.cfg.Ring.work
	p.rowMax(runs, false)
	p.affine(n)
	lo, hi := m.sumRange()
	if m.Nonlinear == LUT {
		p.expLUT(n, m.Scale)
		p.softmaxTailLUT(m.Rows, gatedShape{n, blocks}, hi, m.prec())
		return p
	}
	p.exp(n, w)
	p.sumRows(n)
	p.reciprocal(m.Rows, w, lo, hi, w)
	p.mulTrunc(n, 2*w-p.cfg.Ring.frac)
	return p
}

// prec is the precision P of the reciprocal by lookup and whether the
// probabilities stay at 2P bits: the raw one, or recipPrecLUT.
func (m Softmax) prec() tailPrec {
	if m.Raw {
		return tailPrec{P: m.softmaxRawPrec(), raw: true}
	}
	return tailPrec{P: recipPrecLUT(m.Ring)}
}

// Need is the dealer material of one Run.
func (m Softmax) Need() Need { return m.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (m Softmax) Estimate() cost.Cost { return m.bill().estimate() }

// Run returns shares of the Rows x Cols probabilities.
func (m Softmax) Run(s *Session, x Pair) (Pair, error) {
	return run(s, m.Config, "softmax", m, m.shape(), []Pair{x}, []int{m.Rows * m.Cols}, m.play)
}

// play is one party's Softmax.
func (m Softmax) play(p *party, mine ...[]uint64) ([]uint64, error) {
	r := p.r
	lens := m.lens()
	x := mine[0]
	var parts [][]uint64
	for i, l := range lens {
		parts = append(parts, x[i*m.Cols:i*m.Cols+l])
	}
	v := concat(parts...)
	mx, _, err := p.rowMax(m.Nonlinear, v, lens, false)
	if err != nil {
		return nil, err
	}
	w := r.work
	d := p.affine(1, v, r.Neg(1), broadcast(mx, lens), 0)
	var e []uint64
	if m.Nonlinear == LUT {
		e, err = p.expLUT(d, m.Scale, w)
	} else {
		e, err = p.exp(d, w)
	}
	if err != nil {
		return nil, err
	}
	lo, hi := m.sumRange()
	var pr []uint64
	if m.Nonlinear == LUT {
		pr, err = p.softmaxTailLUT(e, lens, hi, m.prec())
	} else {
		var inv []uint64
		if inv, err = p.reciprocal(p.sumRows(e, lens), w, lo, hi, w); err == nil {
			pr, err = p.mulTrunc(e, broadcast(inv, lens), 2*w-r.frac)
		}
	}
	if err != nil {
		return nil, err
	}
	// Scatter back into the full matrix; masked entries are 0.
	out := make([]uint64, m.Rows*m.Cols)
	off := 0
	for i, l := range lens {
		copy(out[i*m.Cols:], pr[off:off+l])
		off += l
	}
	return out, nil
}
