package exec

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// Rotation patterns shared by the kernels: hoisted batches (the linear
// layer's baby steps) and folding sums (the linear layer's folds, the
// attention kernels' head and token sums).

// hoistedCost prices batches of k rotations of one ciphertext sharing its
// decomposition (hoistedRotations): the first rotation of a batch pays the
// decomposition and is priced as an OpRotate, the k-1 others as
// OpRotateHoisted (calibrated as the marginal rotation of a batch).
func hoistedCost(prof *cost.Profile, lvl int, batches, k int64) cost.Cost {
	if k < 1 {
		return cost.Cost{}
	}
	return prof.Charge(cost.OpRotate, lvl, batches).Add(prof.Charge(cost.OpRotateHoisted, lvl, batches*(k-1)))
}

// hoistedRotationsOn sets out[h] to ct rotated by h·step for h < len(out)
// (out[0] = ct itself; out[1:] are overwritten), sharing one decomposition
// of ct (hoisting), the rotations on the server's cores (the workers only
// read the decomposition). It records the first rotation as an OpRotate
// (it pays the decomposition) and the others as OpRotateHoisted (see
// hoistedCost).
func hoistedRotationsOn(sv *Server, tally *cost.Tally, ct *rlwe.Ciphertext, step int, out []*rlwe.Ciphertext) error {
	out[0] = ct
	if len(out) == 1 {
		return nil
	}
	ev := sv.eval
	p := ev.GetParameters()
	lvl := ct.Level()
	buf := ev.GetBuffDecompQP()
	ev.DecomposeNTT(lvl, p.MaxLevelP(), p.PCount(), ct.Value[1], ct.IsNTT, buf)
	return sv.forEach(len(out)-1, func(i int, w *Server) error {
		h := i + 1
		if err := w.eval.AutomorphismHoisted(lvl, ct, buf, p.GaloisElement(h*step), out[h]); err != nil {
			return fmt.Errorf("exec: server: hoisted rotation: %w", err)
		}
		*out[h].MetaData = *ct.MetaData
		op := cost.OpRotateHoisted
		if h == 1 {
			op = cost.OpRotate
		}
		tally.Op(op, lvl, 1)
		return nil
	})
}

// foldRotations are the rotations by 1, 2, ..., n/2 of a folding sum over
// n consecutive slots.
func foldRotations(n int) []int {
	var r []int
	for s := 1; s < n; s *= 2 {
		r = append(r, s)
	}
	return r
}

// foldSum adds ct to its rotations by from, 2·from, ..., until:
// log2(until/from) rotations and additions; afterwards slot p holds the sum
// of slots p, p+from, ..., p+until-from.
func foldSum(ev *bgv.Evaluator, tally *cost.Tally, ct *rlwe.Ciphertext, from, until int) error {
	if from >= until {
		return nil
	}
	return foldSumWith(ev, tally, ct, bgv.NewCiphertext(*ev.GetParameters(), 1, ct.Level()), from, until)
}

// foldSumWith is foldSum with tmp (a ciphertext at ct's level) as its
// work space.
func foldSumWith(ev *bgv.Evaluator, tally *cost.Tally, ct, tmp *rlwe.Ciphertext, from, until int) error {
	for s := from; s < until; s *= 2 {
		if err := ev.RotateColumns(ct, s, tmp); err != nil {
			return fmt.Errorf("exec: server: folding rotation: %w", err)
		}
		tally.Op(cost.OpRotate, ct.Level(), 1)
		if err := ev.Add(ct, tmp, ct); err != nil {
			return err
		}
		tally.Op(cost.OpAdd, ct.Level(), 1)
	}
	return nil
}
