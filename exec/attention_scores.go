package exec

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// scoresKernel is the ARCC scores kernel over a packing: s[h][i][j] =
// q_{i,h} · k_j for every query head h, query i and key j query i sees,
// k_j being the key of head h / G (G = Heads/KVHeads query heads per
// key/value head). Input: the queries (Queries x Heads x HeadDim); output:
// the scores (Heads x Queries x Keys, row-major, zero where a query does
// not see the key).
//
// For each group g of R queries and query-head offset a < G, the client
// sends one ciphertext holding, in every block of copy r, the queries of
// heads kv·G + a of query g·R + r at sub-block kv. The server adds its
// shares, multiplies it with each key ciphertext the group sees and folds
// each head's HeadDim products by rotations 1, 2, ..., HeadDim/2: the
// score of query g·R+r, head kv·G+a, against key c·S + jj is at slot
// (r, jj, kv·HeadDim) of that product.
//
// With P = Σ_g groupCts(g) products per offset: G·P ct-ct products,
// G·P·log2(HeadDim) rotations, G·Groups ciphertexts up, G·P down.
type scoresKernel struct{ arccRun }

var _ arccKind = scoresKernel{}

func (k scoresKernel) inputLen() int { return k.pk.queries * k.Shape.Heads * k.Shape.HeadDim }

func (k scoresKernel) inputCts() int { return k.Shape.group() * k.pk.groups() }

func (k scoresKernel) outputCts() int { return k.Shape.group() * k.pk.products() }

// rotationCount is G·P·log2(HeadDim).
func (k scoresKernel) rotationCount() int64 {
	return int64(k.Shape.group()*k.pk.products()) * int64(log2Int(k.Shape.HeadDim))
}

// estimate prices one runARCC.
func (k scoresKernel) estimate() cost.Cost {
	pk := k.pk
	G, P, Q, C := int64(k.Shape.group()), int64(pk.products()), int64(pk.groups()), int64(pk.keyCts())
	lvl := k.Level
	prof := k.Profile
	f := int64(log2Int(k.Shape.HeadDim))
	products := func() cost.Cost { // one piece per product, with its fold
		return cost.Sum(
			prof.Charge(cost.OpMulCipher, lvl, G*P),
			prof.Charge(cost.OpRotate, lvl, G*P*f),
			prof.Charge(cost.OpAdd, lvl, G*P*f),
		)
	}
	c := cost.Sum(
		sendInputCost(prof, k.Params.LogN(), lvl, Slots, G*Q, k.clientCores),
		plainCost(prof, k.Params.LogN(), lvl, Slots, G*Q+C), // server shares of the queries and of K
		prof.Charge(cost.OpMulCipher, lvl, G*P),
		prof.Charge(cost.OpRotate, lvl, G*P*f),
		prof.Charge(cost.OpAdd, lvl, G*P*f),
		returnCostBatched(prof, k.Params.LogN(), k.send, Slots, G*P, returnBatch, k.cores, k.clientCores),
		cost.Cost{Rounds: 1},
	)
	return onCoresBatched(c, G*P, returnBatch, k.cores, products)
}

// serve takes the G·Groups query ciphertexts, then computes and returns
// the products in batches of returnBatch.
func (k scoresKernel) serve(sv *Server, tally *cost.Tally, in *inputStream, keys []*rlwe.Ciphertext, emit func([]*rlwe.Ciphertext) error) error {
	qs, err := in.take(k.inputCts())
	if err != nil {
		return err
	}
	for from := 0; from < k.outputCts(); from += returnBatch {
		outs, err := k.compute(sv, tally, qs, keys, from, min(k.outputCts(), from+returnBatch))
		if err != nil {
			return err
		}
		if err := emit(outs); err != nil {
			return err
		}
	}
	return nil
}

// compute multiplies each group's query ciphertext (qs[a·Groups + g]) with
// every key ciphertext the group sees and folds each product: one piece
// per product, on the server's cores.
func (k scoresKernel) compute(sv *Server, tally *cost.Tally, qs, keys []*rlwe.Ciphertext, from, to int) ([]*rlwe.Ciphertext, error) {
	prods := make([]*rlwe.Ciphertext, to-from)
	err := sv.forEach(to-from, func(i int, w *Server) error {
		a, g, c := k.product(from + i)
		pr := bgv.NewCiphertext(k.Params, 1, k.Level)
		if err := w.eval.MulRelin(qs[a*k.pk.groups()+g], keys[c], pr); err != nil {
			return fmt.Errorf("exec: server: ct-ct product: %w", err)
		}
		tally.Op(cost.OpMulCipher, k.Level, 1)
		prods[i] = pr
		return foldSum(w.eval, tally, pr, 1, k.Shape.HeadDim)
	})
	return prods, err
}

// inputVector lays out query ciphertext i = a·Groups + g: the queries
// (Queries x Heads x HeadDim) of group g, heads kv·G + a.
func (k scoresKernel) inputVector(q []uint64, idx int, v []uint64) {
	sh, pk := k.Shape, k.pk
	G, Q, d := sh.group(), pk.groups(), sh.HeadDim
	a, g := idx/Q, idx%Q
	qd := sh.Heads * d
	pk.queriesOf(g, func(r, i int) {
		for kv := 0; kv < sh.KVHeads; kv++ {
			h := kv*G + a
			src := q[i*qd+h*d : i*qd+(h+1)*d]
			for jj := 0; jj < pk.span; jj++ {
				copy(v[pk.slot(r, jj, kv*d):], src)
			}
		}
	})
}

// extract reads the scores (Heads x Queries x Keys) from the G·P output
// vectors (offset-major, then group, then key ciphertext), zero where a
// query does not see the key.
func (k scoresKernel) outputLen() int { return k.Shape.Heads * k.pk.queries * k.pk.keys }

func (k scoresKernel) extract(s []uint64, i int, v []uint64) {
	sh, pk := k.Shape, k.pk
	G, nq, nk, d := sh.group(), pk.queries, pk.keys, sh.HeadDim
	a, g, c := k.product(i)
	pk.window(g, c, func(r, i, jj, j int) {
		for kv := 0; kv < sh.KVHeads; kv++ {
			s[((kv*G+a)*nq+i)*nk+j] = v[pk.slot(r, jj, kv*d)]
		}
	})
}
