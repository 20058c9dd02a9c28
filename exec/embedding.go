package exec

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// Embedding is the lookup of the row of the server's private table E
// (Vocab x Dim) for a token the client knows, without either party
// learning the other's input: the client's share of the input is the
// one-hot vector of its token (the server's share is zero), and the lookup
// is the linear layer E^T·onehot (Dim x Vocab) in the decode encoding, with
// its packing, cost and rotation bound (see Linear). The output is the
// embedding shared between the parties.
type Embedding struct {
	Vocab, Dim int
	*Linear
}

// NewEmbedding plans a lookup in a Vocab x Dim table.
func NewEmbedding(p bgv.Parameters, prof *cost.Profile, vocab, dim int) (*Embedding, error) {
	return planned(p, prof, func(pl Planner) (*Embedding, error) { return pl.Embedding(vocab, dim) })
}

// Embedding is the checked constructor of a lookup in a Vocab x Dim table.
func (pl Planner) Embedding(vocab, dim int) (*Embedding, error) {
	l, err := pl.Linear(dim, vocab, 1, Decode)
	if err != nil {
		return nil, fmt.Errorf("exec: embedding %dx%d: %w", vocab, dim, err)
	}
	return &Embedding{Vocab: vocab, Dim: dim, Linear: l}, nil
}

// Transpose returns E^T, the matrix the lookup multiplies (the server
// prepares it once per table).
func (m Matrix) Transpose() Matrix {
	out := Matrix{Rows: m.Cols, Cols: m.Rows, Data: make([]uint64, len(m.Data))}
	for i := 0; i < m.Rows; i++ {
		for j := 0; j < m.Cols; j++ {
			out.Data[j*m.Rows+i] = m.Data[i*m.Cols+j]
		}
	}
	return out
}

// Run returns shares of row token of the table; tableT is E^T (Dim x
// Vocab, see Transpose), known to the server only; token is known to the
// client only.
func (e *Embedding) Run(s *Session, tally *cost.Tally, tableT Matrix, token int) (Shared, error) {
	if token < 0 || token >= e.Vocab {
		return Shared{}, fmt.Errorf("exec: token %d outside a vocabulary of %d", token, e.Vocab)
	}
	x := Shared{C: make([]uint64, e.Vocab), S: make([]uint64, e.Vocab)}
	x.C[token] = 1
	return e.Linear.Run(s, tally, tableT, x)
}
