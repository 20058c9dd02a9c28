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
// and evaluates W on them: one ciphertext per (group, output index).
func (l *Linear) serverCompute(sv *Server, tally *cost.Tally, w Matrix, xS []uint64) ([]*rlwe.Ciphertext, error) {
	pk := l.pack
	p := l.Params
	lvl := pk.level
	cts, err := sv.recvInputs(tally, pk.groups*pk.chunks)
	if err != nil {
		return nil, err
	}
	for gr, v := range l.inputVectors(xS) {
		if cts[gr].Level() != lvl {
			return nil, fmt.Errorf("exec: server: input at level %d, planned %d", cts[gr].Level(), lvl)
		}
		if err := sv.addPlain(tally, cts[gr], v); err != nil {
			return nil, err
		}
	}
	L := pk.laneStride()
	// Diagonals, pre-rotated by -j·g·L, encoded once per output index and
	// chunk. With one token group each is used once: it is encoded just
	// before its product into a reused plaintext; otherwise they are kept
	// for all groups.
	cache := pk.groups > 1
	var diags [][][]*rlwe.Plaintext
	scratch := bgv.NewPlaintext(p, lvl)
	dvec := make([]uint64, p.MaxSlots()) // each diagonal is laid out here, then encoded
	diag := func(o, k, i int) (*rlwe.Plaintext, error) {
		if cache && diags[o][k][i] != nil {
			return diags[o][k][i], nil
		}
		pt := scratch
		if cache {
			pt = bgv.NewPlaintext(p, lvl)
		}
		if err := sv.ecd.Encode(l.diagonal(dvec, w, o, k, i, (i/pk.g)*pk.g*L), pt); err != nil {
			return nil, fmt.Errorf("exec: server: encoding a diagonal: %w", err)
		}
		tally.Op(cost.OpShare, 0, int64(p.MaxSlots()))
		tally.Op(cost.OpEncode, lvl, 1)
		if cache {
			diags[o][k][i] = pt
		}
		return pt, nil
	}
	if cache {
		diags = make([][][]*rlwe.Plaintext, pk.outs)
		for o := range diags {
			diags[o] = make([][]*rlwe.Plaintext, pk.chunks)
			for k := range diags[o] {
				diags[o][k] = make([]*rlwe.Plaintext, pk.b)
			}
		}
	}
	ev := sv.eval
	out := make([]*rlwe.Ciphertext, 0, pk.groups*pk.outs)
	// Work ciphertexts, allocated once and reused for every group and
	// output: the baby steps of each chunk, a product, a giant step, a fold.
	baby := make([][]*rlwe.Ciphertext, pk.chunks)
	for k := range baby {
		baby[k] = make([]*rlwe.Ciphertext, pk.g)
		for h := 1; h < pk.g; h++ {
			baby[k][h] = bgv.NewCiphertext(p, 1, lvl)
		}
	}
	tmp := bgv.NewCiphertext(p, 1, lvl)
	giant := bgv.NewCiphertext(p, 1, lvl)
	for gr := 0; gr < pk.groups; gr++ {
		for k := range baby {
			if err := hoistedRotations(ev, tally, cts[gr*pk.chunks+k], L, baby[k]); err != nil {
				return nil, err
			}
		}
		for o := 0; o < pk.outs; o++ {
			acc := bgv.NewCiphertext(p, 1, lvl) // returned: fresh
			for j := 0; j < pk.b/pk.g; j++ {
				// Giant step j: Σ diag ⊙ baby into inner (acc itself for
				// j = 0, which needs no rotation), rotated, added to acc.
				inner := acc
				if j > 0 {
					inner = giant
				}
				first := true
				for k := 0; k < pk.chunks; k++ {
					for h := 0; h < pk.g; h++ {
						dst := tmp
						if first {
							dst = inner
						}
						pt, err := diag(o, k, j*pk.g+h)
						if err != nil {
							return nil, err
						}
						if err := ev.Mul(baby[k][h], pt, dst); err != nil {
							return nil, fmt.Errorf("exec: server: ct-pt product: %w", err)
						}
						tally.Op(cost.OpMulPlain, lvl, 1)
						if !first {
							if err := ev.Add(inner, tmp, inner); err != nil {
								return nil, err
							}
							tally.Op(cost.OpAdd, lvl, 1)
						}
						first = false
					}
				}
				if j > 0 {
					if err := ev.RotateColumns(inner, j*pk.g*L, inner); err != nil {
						return nil, fmt.Errorf("exec: server: giant step: %w", err)
					}
					tally.Op(cost.OpRotate, lvl, 1)
					if err := ev.Add(acc, inner, acc); err != nil {
						return nil, err
					}
					tally.Op(cost.OpAdd, lvl, 1)
				}
			}
			if err := foldSumWith(ev, tally, acc, tmp, pk.b*L, pk.n*L); err != nil {
				return nil, err
			}
			out = append(out, acc)
		}
	}
	return out, nil
}
