package exec

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// valuesKernel is the mirror ARCC kernel over a packing: o_{i,h} =
// Σ_j p[h][i][j]·v_j over the keys j query i sees, v_j being the value of
// head h's key/value head, for shared attention weights p (Heads x Queries
// x Keys, row-major; the entries a query does not see are ignored).
//
// For each query group g, offset a and value ciphertext c the group sees,
// the client sends a ciphertext holding p[kv·G+a][g·R+r][c·S+jj] in every
// slot of sub-block kv of position jj of copy r (zero where the query does
// not see the key). The server multiplies it with value ciphertext c, adds
// over c, and sums the positions of each copy by folding: log2(F) column
// rotations by W, 2W, ..., with F = fold(g) blocks (a row rotation
// replaces the last fold when F = B). Output o_{g·R+r, kv·G+a} is at slots
// (r, 0, kv·HeadDim) .. of output ciphertext (a, g).
//
// The inputs are one per product, far more than the outputs: the server
// multiplies them as they arrive, in batches of inputBatch on its cores,
// adds each product into its (a, g) sum in order and folds the sums a
// batch completes, so that it holds a batch of inputs and the G·Groups
// sums, never the whole flight.
//
// G·P ct-ct products and ciphertexts up, G·Σ_g foldRotations(g)
// rotations, G·Groups ciphertexts down.
type valuesKernel struct{ arccRun }

var _ arccKind = valuesKernel{}

func (k valuesKernel) inputLen() int { return k.Shape.Heads * k.pk.queries * k.pk.keys }

func (k valuesKernel) inputCts() int { return k.Shape.group() * k.pk.products() }

func (k valuesKernel) outputCts() int { return k.Shape.group() * k.pk.groups() }

// valueTerms is the number of products a value kernel's output sums, as
// the noise model counts them: group g sums groupCts(g) products, then
// folds them over fold(g) blocks (the payload is a polynomial: zero slots
// do not make zero coefficients, and every fold doubles the bound).
func valueTerms(_ AttentionShape, pk arccPacking) int {
	terms := 1
	for g := 0; g < pk.groups(); g++ {
		terms = max(terms, pk.groupCts(g)*pk.fold(g))
	}
	return terms
}

// rotations are W·2^i for the folds within a slot row.
func (k valuesKernel) rotations() []int {
	pk := k.pk
	top := pk.maxFold()
	var r []int
	for s := 1; s < top && s < pk.blocksPerRow; s *= 2 {
		r = append(r, s*pk.block)
	}
	return r
}

// rowRotation reports whether a fold spans a whole ciphertext (and run
// swaps the two slot rows).
func (k valuesKernel) rowRotation() bool { return k.pk.maxFold() > k.pk.blocksPerRow }

// rotationCount is G·Σ_g foldRotations(g).
func (k valuesKernel) rotationCount() int64 {
	n := 0
	for g := 0; g < k.pk.groups(); g++ {
		n += k.pk.foldRotations(g)
	}
	return int64(k.Shape.group() * n)
}

// estimate prices one runARCC. On several cores the products run in
// batches of inputBatch and the folds of the G·Groups sums side by side
// (the folds a batch completes run together: there it approximates); the
// sums are added in order on one.
func (k valuesKernel) estimate() cost.Cost {
	pk := k.pk
	G, P, Q, C := int64(k.Shape.group()), int64(pk.products()), int64(pk.groups()), int64(pk.keyCts())
	lvl := k.Level
	prof := k.Profile
	f := k.rotationCount()
	products := func() cost.Cost { return prof.Charge(cost.OpMulCipher, lvl, G*P) }
	folds := func() cost.Cost {
		return cost.Sum(prof.Charge(cost.OpRotate, lvl, f), prof.Charge(cost.OpAdd, lvl, f))
	}
	c := cost.Sum(
		sendInputCost(prof, k.Params.LogN(), lvl, Slots, G*P, k.clientCores),
		plainCost(prof, k.Params.LogN(), lvl, Slots, G*P+C), // server shares of p and V
		prof.Charge(cost.OpMulCipher, lvl, G*P),
		prof.Charge(cost.OpAdd, lvl, G*(P-Q)),
		prof.Charge(cost.OpRotate, lvl, f), // the folds, in the order of the goldens' sums
		prof.Charge(cost.OpAdd, lvl, f),
		returnCostBatched(prof, k.Params.LogN(), k.send, Slots, G*Q, returnBatch, k.cores, k.clientCores),
		cost.Cost{Rounds: 1},
	)
	c = onCoresBatched(c, G*P, int64(inputBatch), k.cores, products)
	return onCores(c, G*Q, k.cores, folds)
}

// serve takes the inputs in batches of inputBatch, multiplies each with
// its value ciphertext on the server's cores, adds the products of each
// (offset, group) in order, folds every sum once its last product is in,
// and returns the G·Groups sums in batches of returnBatch.
func (k valuesKernel) serve(sv *Server, tally *cost.Tally, in *inputStream, values []*rlwe.Ciphertext, emit func([]*rlwe.Ciphertext) error) error {
	pk := k.pk
	Q := pk.groups()
	sums := make([]*rlwe.Ciphertext, 0, k.outputCts())
	folded := 0 // sums folded so far
	for lo := 0; lo < k.inputCts(); lo += inputBatch {
		ins, err := in.take(min(inputBatch, k.inputCts()-lo))
		if err != nil {
			return err
		}
		err = sv.forEach(len(ins), func(j int, w *Server) error {
			_, _, c := k.product(lo + j)
			if err := w.eval.MulRelin(ins[j], values[c], ins[j]); err != nil {
				return fmt.Errorf("exec: server: ct-ct product: %w", err)
			}
			tally.Op(cost.OpMulCipher, k.Level, 1)
			return nil
		})
		if err != nil {
			return err
		}
		done := folded // sums whose last product is in
		for j, pr := range ins {
			_, g, c := k.product(lo + j)
			if c == 0 {
				sums = append(sums, pr) // the sum starts as its first product
			} else {
				if err := sv.eval.Add(sums[len(sums)-1], pr, sums[len(sums)-1]); err != nil {
					return fmt.Errorf("exec: server: adding: %w", err)
				}
				tally.Op(cost.OpAdd, k.Level, 1)
			}
			if c == pk.groupCts(g)-1 {
				done = len(sums)
			}
		}
		err = sv.forEach(done-folded, func(j int, w *Server) error {
			i := folded + j
			return k.fold(w, tally, sums[i], pk.fold(i%Q))
		})
		if err != nil {
			return err
		}
		folded = done
	}
	if folded != k.outputCts() {
		return fmt.Errorf("exec: %s: internal error: %d of %d sums folded", k.what, folded, k.outputCts())
	}
	for from := 0; from < len(sums); from += returnBatch {
		to := min(len(sums), from+returnBatch)
		if err := emit(sums[from:to]); err != nil {
			return err
		}
		clear(sums[from:to]) // returned: the client has them
	}
	return nil
}

// fold sums the first f blocks of acc into its first block: column
// rotations by W, 2W, ... within a slot row, and a row rotation when the f
// blocks span both rows.
func (k valuesKernel) fold(sv *Server, tally *cost.Tally, acc *rlwe.Ciphertext, f int) error {
	pk := k.pk
	if f <= pk.blocksPerRow {
		return foldSum(sv.eval, tally, acc, pk.block, f*pk.block)
	}
	tmp := bgv.NewCiphertext(k.Params, 1, acc.Level())
	if err := foldSumWith(sv.eval, tally, acc, tmp, pk.block, pk.row); err != nil {
		return err
	}
	if err := sv.eval.RotateRows(acc, tmp); err != nil {
		return fmt.Errorf("exec: server: row rotation: %w", err)
	}
	tally.Op(cost.OpRotate, k.Level, 1)
	if err := sv.eval.Add(acc, tmp, acc); err != nil {
		return fmt.Errorf("exec: server: adding: %w", err)
	}
	tally.Op(cost.OpAdd, k.Level, 1)
	return nil
}

// inputVector lays out input ciphertext i, product (offset a, group g,
// value ciphertext c) of p (Heads x Queries x Keys).
func (k valuesKernel) inputVector(p []uint64, idx int, v []uint64) {
	sh, pk := k.Shape, k.pk
	G, nq, nk, d := sh.group(), pk.queries, pk.keys, sh.HeadDim
	a, g, c := k.product(idx)
	pk.window(g, c, func(r, i, jj, j int) {
		for kv := 0; kv < sh.KVHeads; kv++ {
			w := p[((kv*G+a)*nq+i)*nk+j]
			base := pk.slot(r, jj, kv*d)
			for e := 0; e < d; e++ {
				v[base+e] = w
			}
		}
	})
}

// extract reads the outputs (Queries x Heads x HeadDim) from the G·Groups
// output vectors (offset-major, then group).
func (k valuesKernel) outputLen() int { return k.pk.queries * k.Shape.Heads * k.Shape.HeadDim }

func (k valuesKernel) extract(o []uint64, i int, v []uint64) {
	sh, pk := k.Shape, k.pk
	G, d := sh.group(), sh.HeadDim
	a, g := i/pk.groups(), i%pk.groups()
	pk.queriesOf(g, func(r, q int) {
		for kv := 0; kv < sh.KVHeads; kv++ {
			h := kv*G + a
			copy(o[(q*sh.Heads+h)*d:(q*sh.Heads+h+1)*d], v[pk.slot(r, 0, kv*d):])
		}
	})
}
