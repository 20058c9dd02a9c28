package exec

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// The server's evaluation of a linear layer: the diagonals of W against
// the baby steps of its input, giant steps and folds.

// serverCompute receives the client's ciphertexts, adds the server's share
// and evaluates W on them: one ciphertext per (group, output index). The
// diagonals come from diag: encoded per call (Run) or once (RunEncoded).
func (l *Linear) serverCompute(sv *Server, tally *cost.Tally, diag diagonals, xS []uint64) ([]*rlwe.Ciphertext, error) {
	pk := l.pack
	if pk.coeffs {
		return l.coeffCompute(sv, tally, diag, xS)
	}
	p := l.Params
	lvl := pk.level
	cts, err := l.receiveInputs(sv, tally, xS)
	if err != nil {
		return nil, err
	}
	L := pk.laneStride()
	out := make([]*rlwe.Ciphertext, pk.groups*pk.outs)
	// The baby steps of each chunk (the server's, reused by every group
	// and call; h = 0 is the input itself).
	steps := sv.buf.babySteps(p, lvl, pk.chunks*(pk.g-1))
	baby := make([][]*rlwe.Ciphertext, pk.chunks)
	for k := range baby {
		baby[k] = make([]*rlwe.Ciphertext, pk.g)
		copy(baby[k][1:], steps[k*(pk.g-1):])
	}
	nj := pk.b / pk.g // giant steps per output
	for gr := 0; gr < pk.groups; gr++ {
		for k := range baby {
			if err := hoistedRotationsOn(sv, tally, cts[gr*pk.chunks+k], L, baby[k]); err != nil {
				return nil, err
			}
		}
		// One piece per (output, giant step), then one per output: the
		// sum of its giant steps and the folds; each on the server's cores.
		giants := make([]*rlwe.Ciphertext, pk.outs*nj)
		if err := sv.forEach(len(giants), func(i int, w *Server) error {
			var err error
			giants[i], err = l.giantStep(w, tally, diag, baby, i/nj, i%nj)
			return err
		}); err != nil {
			return nil, err
		}
		if err := sv.forEach(pk.outs, func(o int, w *Server) error {
			acc := giants[o*nj] // giant step 0: fresh, returned
			for j := 1; j < nj; j++ {
				if err := w.eval.Add(acc, giants[o*nj+j], acc); err != nil {
					return err
				}
				tally.Op(cost.OpAdd, lvl, 1)
			}
			out[gr*pk.outs+o] = acc
			return foldSumWith(w.eval, tally, acc, w.buf.temp(p, lvl), pk.b*L, pk.n*L)
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// receiveInputs receives the client's input ciphertexts (in the
// packing's domain, at its level) and adds the server's share to each.
func (l *Linear) receiveInputs(sv *Server, tally *cost.Tally, xS []uint64) ([]*rlwe.Ciphertext, error) {
	pk := l.pack
	cts, err := sv.recvInputsIn(tally, pk.groups*pk.chunks, pk.domain())
	if err != nil {
		return nil, err
	}
	for i, v := range l.inputVectors(xS) {
		if cts[i].Level() != pk.level {
			return nil, fmt.Errorf("exec: server: input at level %d, planned %d", cts[i].Level(), pk.level)
		}
		if err := sv.addPlain(tally, cts[i], v); err != nil {
			return nil, err
		}
	}
	return cts, nil
}

// giantStep is giant step j of output ciphertext o of a token group: the
// g·K products of its diagonals with the baby steps, summed, rotated by
// j·g·L (j > 0), with w's evaluator (one piece of serverCompute's first
// parallel section).
func (l *Linear) giantStep(w *Server, tally *cost.Tally, diag diagonals, baby [][]*rlwe.Ciphertext, o, j int) (*rlwe.Ciphertext, error) {
	pk := l.pack
	p, lvl := l.Params, pk.level
	ev := w.eval
	sum := bgv.NewCiphertext(p, 1, lvl)
	tmp := w.buf.temp(p, lvl)
	first := true
	for k := 0; k < pk.chunks; k++ {
		for h := 0; h < pk.g; h++ {
			dst := tmp
			if first {
				dst = sum
			}
			pt, err := diag.at(w, o, k, j*pk.g+h)
			if err != nil {
				return nil, err
			}
			if err := ev.Mul(baby[k][h], pt, dst); err != nil {
				return nil, fmt.Errorf("exec: server: ct-pt product: %w", err)
			}
			tally.Op(cost.OpMulPlain, lvl, 1)
			if !first {
				if err := ev.Add(sum, tmp, sum); err != nil {
					return nil, err
				}
				tally.Op(cost.OpAdd, lvl, 1)
			}
			first = false
		}
	}
	if j > 0 {
		if err := ev.RotateColumns(sum, j*pk.g*pk.laneStride(), sum); err != nil {
			return nil, fmt.Errorf("exec: server: giant step: %w", err)
		}
		tally.Op(cost.OpRotate, lvl, 1)
	}
	return sum, nil
}

// diagonals hands serverCompute the plaintext diagonal i of chunk k for
// output index o, pre-rotated by -j·g·L for its giant step j.
// A piece of the parallel section calls it with its worker, whose encoder,
// scratch plaintext and slot vector it may use (never the scratch
// ciphertexts, which the caller holds across calls; the plaintext returned
// is the caller's until its next call); pieces never share an output
// index.
type diagonals interface {
	at(w *Server, o, k, i int) (*rlwe.Plaintext, error)
}

// perCall encodes the diagonals during a Run, once per output index and
// chunk: with one token group each is used once and is encoded just
// before its product into the worker's scratch plaintext; otherwise they
// are kept for all groups (each output index's row of the table is only
// touched by the piece computing that index).
type perCall struct {
	l     *Linear
	tally *cost.Tally
	w     Matrix
	kept  [][][]*rlwe.Plaintext // nil with one group
}

func newPerCall(l *Linear, tally *cost.Tally, w Matrix) *perCall {
	d := &perCall{l: l, tally: tally, w: w}
	if l.pack.groups > 1 {
		d.kept = newDiagonalTable(l.pack)
	}
	return d
}

func newDiagonalTable(pk linearPacking) [][][]*rlwe.Plaintext {
	t := make([][][]*rlwe.Plaintext, pk.outs)
	for o := range t {
		t[o] = make([][]*rlwe.Plaintext, pk.chunks)
		for k := range t[o] {
			t[o][k] = make([]*rlwe.Plaintext, pk.plaintexts())
		}
	}
	return t
}

func (d *perCall) at(w *Server, o, k, i int) (*rlwe.Plaintext, error) {
	if d.kept != nil && d.kept[o][k][i] != nil {
		return d.kept[o][k][i], nil
	}
	dvec, pt := w.buf.slots(d.l.Params), w.buf.plaintext(d.l.Params, d.l.pack.level)
	if d.kept != nil {
		pt = bgv.NewPlaintext(d.l.Params, d.l.pack.level)
	}
	if err := d.l.encodeDiagonal(w, d.tally, dvec, d.w, o, k, i, pt); err != nil {
		return nil, err
	}
	if d.kept != nil {
		d.kept[o][k][i] = pt
	}
	return pt, nil
}

// encodeDiagonal lays out diagonal i of chunk k for output index o,
// pre-rotated for its giant step, and encodes it into pt (for a
// coefficient packing: the weight polynomial of o and k, i = 0).
func (l *Linear) encodeDiagonal(sv *Server, tally *cost.Tally, dvec []uint64, w Matrix, o, k, i int, pt *rlwe.Plaintext) error {
	pk := l.pack
	var v []uint64
	if pk.coeffs {
		v = l.weightPoly(dvec, w, o, k)
	} else {
		v = l.diagonal(dvec, w, o, k, i, (i/pk.g)*pk.g*pk.laneStride())
	}
	pt.IsBatched = !pk.coeffs
	if err := sv.ecd.Encode(v, pt); err != nil {
		return fmt.Errorf("exec: server: encoding a diagonal: %w", err)
	}
	tally.Op(cost.OpShare, 0, int64(l.Params.MaxSlots()))
	tally.Op(pk.domain().encodeOp(), pk.level, 1)
	return nil
}

// LinearWeights are the server's weights of one Linear, its diagonals
// encoded once (Linear.EncodeWeights, at the server's setup) for every
// RunEncoded. They are built from the server's encoder and its private W
// and never leave the server.
type LinearWeights struct {
	pack    linearPacking
	out, in int
	diags   [][][]*rlwe.Plaintext // [output index][chunk][diagonal]
}

func (lw *LinearWeights) at(_ *Server, o, k, i int) (*rlwe.Plaintext, error) {
	return lw.diags[o][k][i], nil
}

// Bytes is the memory of the encoded diagonals (Linear.WeightsBytes).
func (lw *LinearWeights) Bytes() int64 {
	var n int64
	for _, byChunk := range lw.diags {
		for _, ds := range byChunk {
			for _, pt := range ds {
				n += int64(pt.Value.N()) * int64(pt.Level()+1) * 8
			}
		}
	}
	return n
}

// EncodeWeights encodes the diagonals of w (Out x In) for l on the server
// (sv's encoder), recording the layouts and encodes in tally: what Run
// does per call, done once. WeightsCost is its estimate.
func (l *Linear) EncodeWeights(sv *Server, tally *cost.Tally, w Matrix) (*LinearWeights, error) {
	if w.Rows != l.Out || w.Cols != l.In || len(w.Data) != l.Out*l.In {
		return nil, fmt.Errorf("exec: %v given a %dx%d matrix to encode", l, w.Rows, w.Cols)
	}
	pk := l.pack
	lw := &LinearWeights{pack: pk, out: l.Out, in: l.In, diags: newDiagonalTable(pk)}
	dvec := make([]uint64, l.Params.MaxSlots())
	for o := range lw.diags {
		for k := range lw.diags[o] {
			for i := range lw.diags[o][k] {
				pt := bgv.NewPlaintext(l.Params, pk.level)
				if err := l.encodeDiagonal(sv, tally, dvec, w, o, k, i, pt); err != nil {
					return nil, err
				}
				lw.diags[o][k][i] = pt
			}
		}
	}
	return lw, nil
}
