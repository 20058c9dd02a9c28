package exec

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/cost"
)

// FeatureValues is the decode values kernel over the feature-major cache:
// o[h] = Σ_j p[h][j]·v_j for the new token's attention weights p (Heads x
// Context) over the Context cached values, v_j of head h's key/value head.
// The server holds Enc(V_C) as D = HeadDim/Classes value ciphertexts per group
// of TokensPerCt tokens (FeatureLayout.ValueVectors) and its share V_S;
// the client holds V_C.
//
// The client sends one ciphertext per group: its share of the weights,
// slot (ρ, u, c, h) holding p_C[h][token (u + c·D) mod Row of row ρ]. The
// server makes each group's baby steps and sums, over perResult groups at
// a time (as many as the flooding leaves room for), the products of the
// rotated weights with the diagonals of V_S and of the value ciphertexts
// with the matching layouts of p_S (featureProducts): one result per run
// of groups, returned unfolded; each party sums, for output element e of
// head h, the slots (ρ, u, c, h) with u mod HeadDim = e of its share of
// every result, and adds its local term.
//
// Per Run: 2·D·groups ct-pt products, groups·(baby-1) + results·(giant-1)
// rotations, groups ciphertexts up, results down, one round. RunQueries
// runs several queries' weights in that one round.
type FeatureValues struct{ featureKernel }

var _ Primitive = (*FeatureValues)(nil)

// FeatureValues plans the values kernel of shape sh over a feature-major
// layout of classes classes.
func (pl Planner) FeatureValues(sh AttentionShape, classes int) (*FeatureValues, error) {
	k, err := pl.planFeature("feature values", sh, classes, func(groups int) int { return groups },
		func(k featureKernel) cost.Cost { return (&FeatureValues{k}).Estimate() })
	if err != nil {
		return nil, err
	}
	return &FeatureValues{k}, nil
}

// WithContext is the kernel for a shorter context (see withContext).
func (k *FeatureValues) WithContext(ctx int) (*FeatureValues, error) {
	f, err := k.withContext(ctx)
	if err != nil {
		return nil, err
	}
	return &FeatureValues{f}, nil
}

// results is the number of returned results: groups in runs of perResult.
func (k *FeatureValues) results() int { return ceilDiv(k.groups(), k.perResult) }

// RotationCount is groups·(baby-1) + results·(giant-1).
func (k *FeatureValues) RotationCount() int64 {
	return int64(k.groups()*(k.prod.baby-1)) + int64(k.results()*(k.prod.giant-1))
}

// Estimate prices one Run.
func (k *FeatureValues) Estimate() cost.Cost { return k.EstimateQueries(1) }

// EstimateQueries prices RunQueries of m queries: the client encrypts
// every query's groups together, the server makes each query's results
// and then returns them, query after query, in batches; one round.
func (k *FeatureValues) EstimateQueries(m int) cost.Cost {
	prof, logN, C, R := k.Profile, k.Params.LogN(), k.groups(), k.results()
	per, pg := k.perResult, k.publicGroups()
	query := cost.Sum(
		k.babyCost(C),
		returnCostBatched(prof, logN, k.send, Slots, int64(R), returnBatch, k.cores, k.clientCores),
		k.localCost(C),
	)
	for from := 0; from < C; from += per { // a result's groups: the public ones first
		to := min(C, from+per)
		pub := max(0, min(to, pg)-from)
		query = query.Add(k.prod.estimate(prof, logN, pub, to-from-pub, k.cores))
	}
	return cost.Sum(sendInputCost(prof, logN, k.Level, Slots, int64(m*C), k.clientCores), query.Scale(int64(m)), cost.Cost{Rounds: 1})
}

// Run computes the shared outputs (Heads x HeadDim) of the shared weights
// p (Heads x Context) over the cache: values holds Enc(V_C) (at Level,
// server side) but for the public groups, whose diagonals pub holds (nil
// without a public prefix), vC and vS the parties' shares of the values
// (Context x KVDim).
func (k *FeatureValues) Run(s *Session, tally *cost.Tally, values []*rlwe.Ciphertext, pub *FeaturePublic, vC, vS []uint64, p Shared) (Shared, error) {
	out, err := k.RunQueries(s, tally, values, pub, vC, vS, []Shared{p})
	if err != nil {
		return Shared{}, err
	}
	return out[0], nil
}

// RunQueries is Run of several queries' weights over the same cache, in
// one round.
func (k *FeatureValues) RunQueries(s *Session, tally *cost.Tally, values []*rlwe.Ciphertext, pub *FeaturePublic, vC, vS []uint64, ps []Shared) ([]Shared, error) {
	n := k.Shape.Heads * k.Shape.Context
	p, err := joinQueries(k.what, ps, n)
	if err != nil {
		return nil, err
	}
	m := len(ps)
	sizes := k.checkSizes(values, pub, vC, vS, p, m*n)
	out, err := runShared(s, tally, sizes,
		func(cl *Client) ([]uint64, error) { return k.client(cl, tally, m, p.C, vC) },
		func(sv *Server) ([]uint64, error) { return k.server(sv, tally, m, values, pub, p.S, vS) })
	if err != nil {
		return nil, err
	}
	return splitQueries(out, m, k.Shape.Heads*k.Shape.HeadDim), nil
}

// weights lays out a party's share of the weights of group g in v: slot
// (ρ, u, c, h) holds p[h][token of position valuePosition(u, c, kk) of
// row ρ] (zero past the context).
func (k *FeatureValues) weights(p []uint64, g, kk int, v []uint64) {
	l, ctx := k.Layout, k.Shape.Context
	l.each(func(rho, u, c, h, s int) {
		if j := k.token(g, rho, l.valuePosition(u, c, kk)); j < ctx {
			v[s] = p[h*ctx+j]
		}
	})
}

// client is the client's half of RunQueries of m queries: only the
// client's shares.
func (k *FeatureValues) client(cl *Client, tally *cost.Tally, m int, pC, vC []uint64) ([]uint64, error) {
	n, C, R := k.Shape.Heads*k.Shape.Context, k.groups(), k.results()
	if err := cl.sendInputsEach(tally, k.Level, m*C, func(j int, v []uint64) { k.weights(pC[j/C*n:], j%C, 0, v) }); err != nil {
		return nil, err
	}
	hd := k.Shape.Heads * k.Shape.HeadDim
	out := make([]uint64, m*hd)
	if err := cl.recvOutputsEach(tally, m*R, func(j int, v []uint64) { k.extract(out[j/R*hd:], v) }); err != nil {
		return nil, err
	}
	for i := range m {
		k.local(tally, out[i*hd:(i+1)*hd], pC[i*n:(i+1)*n], vC, k.from(true))
	}
	return out, nil
}

// server is the server's half of RunQueries of m queries: only the
// server's shares. It makes every query's results, then returns them,
// query after query, in batches.
func (k *FeatureValues) server(sv *Server, tally *cost.Tally, m int, values []*rlwe.Ciphertext, pub *FeaturePublic, pS, vS []uint64) ([]uint64, error) {
	n, hd := k.Shape.Heads*k.Shape.Context, k.Shape.Heads*k.Shape.HeadDim
	accs := make([][]*rlwe.Ciphertext, m)
	for i := range m {
		var err error
		if accs[i], err = k.serverResults(sv, tally, values, pub, pS[i*n:(i+1)*n], vS); err != nil {
			return nil, err
		}
	}
	out := make([]uint64, m*hd)
	for i, a := range accs {
		o := out[i*hd : (i+1)*hd]
		for from := 0; from < len(a); from += returnBatch {
			masks, err := sv.sendOutputs(tally, a[from:min(len(a), from+returnBatch)], k.send)
			if err != nil {
				return nil, err
			}
			for _, mk := range masks {
				k.extract(o, mk)
			}
		}
		if !k.folds(k.groups()) {
			k.local(tally, o, pS[i*n:(i+1)*n], vS, 0)
		}
	}
	return out, nil
}

// serverResults is the server's results of one query's weights (its share
// pS): it takes the groups' weights one at a time, as they come, into a
// result of perResult groups: it holds one group's baby steps and a
// result's pieces.
func (k *FeatureValues) serverResults(sv *Server, tally *cost.Tally, values []*rlwe.Ciphertext, pub *FeaturePublic, pS, vS []uint64) ([]*rlwe.Ciphertext, error) {
	D, pg, fold := k.Layout.Diagonals(), k.publicGroups(), k.folds(k.groups())
	accs := make([]*rlwe.Ciphertext, 0, k.results())
	var sum *featureSum
	for g := 0; g < k.groups(); g++ {
		x, err := sv.recvInput(tally, g, k.groups(), Slots)
		if err != nil {
			return nil, err
		}
		if x.Level() != k.Level {
			return nil, fmt.Errorf("exec: server: input at level %d, planned %d", x.Level(), k.Level)
		}
		if fold { // Enc(p_C) + p_S, laid out as the client's (diagonal 0)
			v := make([]uint64, k.Params.MaxSlots())
			k.weights(pS, g, 0, v)
			if err := sv.addPlain(tally, x, v); err != nil {
				return nil, err
			}
		}
		babyRot, err := k.prod.babySteps(sv, tally, x)
		if err != nil {
			return nil, err
		}
		terms := featureTerms{
			babyRot: babyRot,
			diag:    func(kk int, v []uint64) { k.valueDiagonal(vS, g, kk, v) },
			plain:   func(kk int, v []uint64) { k.weights(pS, g, kk, v) },
		}
		if g < pg {
			terms.pre = pub.diags[g*D : (g+1)*D]
		} else {
			terms.cache = values[(g-pg)*D : (g-pg+1)*D]
		}
		if g%k.perResult == 0 {
			sum = k.prod.newSum()
		}
		if err := sum.add(sv, tally, terms); err != nil {
			return nil, err
		}
		if g%k.perResult == k.perResult-1 || g == k.groups()-1 {
			acc, err := sum.result(sv, tally)
			if err != nil {
				return nil, err
			}
			accs = append(accs, acc)
		}
	}
	return accs, nil
}

// valueDiagonal lays out diagonal kk of group g of the values vS in v,
// pre-rotated by -(kk/baby)·baby positions.
func (k *FeatureValues) valueDiagonal(vS []uint64, g, kk int, v []uint64) {
	l, sh := k.Layout, k.Shape
	d, G, kv := sh.HeadDim, sh.group(), sh.KVHeads*sh.HeadDim
	shift := (kk / k.prod.baby) * k.prod.baby
	l.each(func(rho, u, c, h, _ int) {
		if j := k.token(g, rho, l.valuePosition(u, c, kk)); j < sh.Context {
			v[l.slot(rho, (u+shift)%l.Row, c, h)] = vS[j*kv+(h/G)*d+u%d]
		}
	})
}

// extract adds the returned vector (or the server's mask) v into the
// outputs: element e of head h sums the slots (ρ, u, c, h) with u mod
// HeadDim = e.
func (k *FeatureValues) extract(out []uint64, v []uint64) {
	t, d := k.Params.PlaintextModulus(), k.Shape.HeadDim
	k.Layout.each(func(_, u, _, h, s int) {
		out[h*d+u%d] = (out[h*d+u%d] + v[s]) % t
	})
}

// local adds a party's local term p·V over its own shares of the tokens
// from on into out.
func (k *FeatureValues) local(tally *cost.Tally, out, p, values []uint64, from int) {
	sh, t := k.Shape, k.Params.PlaintextModulus()
	d, G, kv := sh.HeadDim, sh.group(), sh.KVHeads*sh.HeadDim
	for h := 0; h < sh.Heads; h++ {
		for e := 0; e < d; e++ {
			acc := out[h*d+e]
			for j := from; j < sh.Context; j++ {
				acc = (acc + mulModT(p[h*sh.Context+j], values[j*kv+(h/G)*d+e], t)) % t
			}
			out[h*d+e] = acc
		}
	}
	tally.Op(cost.OpShare, 0, int64(sh.Heads)*int64(sh.Context-from)*int64(d))
}
