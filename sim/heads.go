package sim

import "github.com/cgsim/cgsim/model"

// heads is how the protocol lays out the attention heads. The attention
// kernels sum each head's products by a folding sum, which needs heads of
// a power-of-two width; a model whose head width hd is not one (stories15M:
// 6 heads of 48) has each head's query, key and value zero-padded to
// stride = hd rounded up to a power of two. The padding is in the weights:
// the fused QKV projection gets stride-hd zero rows after each head, the
// output projection stride-hd zero columns, so every padded element is a
// sharing of 0 (±1 unit in the last place after a truncation): the scores
// move by at most (stride-hd)·2^-2f and the zero columns of the output
// projection drop the padded outputs; the scale 1/sqrt(hd) and the rotary
// frequencies stay those of the true width. For power-of-two heads (every
// built-in model) stride = hd and nothing changes.
type heads struct {
	hd, stride int // true and padded width of a head
	q, kv      int // padded widths of the queries (NumHeads heads) and of the keys or values (NumKVHeads)
}

func headsOf(c model.Config) heads {
	hd := c.HeadDim()
	s := 1
	for s < hd {
		s *= 2
	}
	return heads{hd: hd, stride: s, q: c.NumHeads * s, kv: c.NumKVHeads * s}
}

// padded reports whether the heads are padded.
func (h heads) padded() bool { return h.stride != h.hd }

// isPad reports whether element j of a run of heads is padding.
func (h heads) isPad(j int) bool { return j%h.stride >= h.hd }

// padRows returns m (n heads of hd rows each, stacked) with stride-hd zero
// rows after each head.
func (h heads) padRows(m model.Matrix, n int) model.Matrix {
	if !h.padded() {
		return m
	}
	out := model.NewMatrix(n*h.stride, m.Cols)
	for i := range n * h.hd {
		copy(out.Row(i/h.hd*h.stride+i%h.hd), m.Row(i))
	}
	return out
}

// padVec pads a vector of n heads (a bias) like padRows.
func (h heads) padVec(v []float64, n int) []float64 {
	if !h.padded() {
		return v
	}
	out := make([]float64, n*h.stride)
	for i, x := range v {
		out[i/h.hd*h.stride+i%h.hd] = x
	}
	return out
}

// padCols returns m (columns: n heads of hd) with stride-hd zero columns
// after each head.
func (h heads) padCols(m model.Matrix, n int) model.Matrix {
	if !h.padded() {
		return m
	}
	out := model.NewMatrix(m.Rows, n*h.stride)
	for r := range m.Rows {
		src, dst := m.Row(r), out.Row(r)
		for i, x := range src {
			dst[i/h.hd*h.stride+i%h.hd] = x
		}
	}
	return out
}
