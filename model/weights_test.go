package model

import (
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestMatrixIsGonum checks that a Matrix works in gonum's routines as the
// matrix it is: the same elements and transpose, and a raw form that shares
// Data (a weight is not copied to be used by gonum).
func TestMatrixIsGonum(t *testing.T) {
	m := Matrix{Rows: 2, Cols: 3, Data: []float64{1, 2, 3, 4, 5, 6}}
	if r, c := m.Dims(); r != 2 || c != 3 {
		t.Errorf("Dims = %d, %d", r, c)
	}
	if !mat.Equal(m, mat.NewDense(2, 3, []float64{1, 2, 3, 4, 5, 6})) {
		t.Errorf("Matrix differs from the Dense of the same data:\n%v", mat.Formatted(m))
	}
	if !mat.Equal(m.T(), mat.NewDense(3, 2, []float64{1, 4, 2, 5, 3, 6})) {
		t.Errorf("T() is not the transpose:\n%v", mat.Formatted(m.T()))
	}
	// (m mᵀ)[i][j] is row i . row j: 1+4+9 = 14, 4+10+18 = 32, 16+25+36 = 77.
	var p mat.Dense
	p.Mul(m, m.T())
	if !mat.Equal(&p, mat.NewDense(2, 2, []float64{14, 32, 32, 77})) {
		t.Errorf("m mᵀ =\n%v", mat.Formatted(&p))
	}
	raw := m.RawMatrix()
	raw.Data[4] = 50
	if m.At(1, 1) != 50 || raw.Stride != 3 {
		t.Errorf("RawMatrix does not share Data: At(1, 1) = %v, stride %d", m.At(1, 1), raw.Stride)
	}
}

// TestMatVecShapes checks the products gonum has no vectors for (no rows,
// no columns) and the panic on a mismatched length.
func TestMatVecShapes(t *testing.T) {
	MatVec(nil, Matrix{Cols: 3}, []float64{1, 2, 3}) // no rows: nothing to do
	dst := []float64{7, 7}
	MatVec(dst, Matrix{Rows: 2}, nil) // no columns: the empty sum
	if !slices.Equal(dst, []float64{0, 0}) {
		t.Errorf("MatVec with no columns = %v, want zeros", dst)
	}
	defer func() {
		if recover() == nil {
			t.Error("MatVec with a 2-value x for 3 columns did not panic")
		}
	}()
	MatVec(make([]float64, 2), Matrix{Rows: 2, Cols: 3, Data: make([]float64, 6)}, []float64{1, 2})
}
