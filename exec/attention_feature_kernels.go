package exec

import (
	"fmt"
	"math"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// The two decode kernels over the feature-major layout (FeatureLayout):
// every product ciphertext-plaintext, the results returned unfolded and
// summed by each party on its share.

// featureKernel is what FeatureScores and FeatureValues share: the plan of
// one layer's decode attention over Shape.Context cached tokens.
type featureKernel struct {
	Params  bgv.Parameters
	Profile *cost.Profile
	Shape   AttentionShape // CacheBits: the payload of the Enc(K_C) (or Enc(V_C)) ciphertexts
	Layout  FeatureLayout
	Level   int // of the cache ciphertexts and of the client's encryptions
	prod    featureProducts
	// perResult is how many cache groups one returned result sums (the
	// values kernel's; the scores kernel returns one per group): as many
	// as the flooding leaves room for.
	perResult int
	send      returnPath
	noise     float64
	what      string
	cores     int
	// clientCores are the client's, for the price (Planner.ClientCores).
	clientCores int
}

// ClientCores are the client's cores the kernel is priced for (at least
// 1): a cache that uploads for it prices its uploads alike.
func (k featureKernel) ClientCores() int { return max(k.clientCores, 1) }

// planFeature plans a feature kernel of shape sh over a layout of classes
// classes whose results sum up to maxPerResult(groups) cache groups each:
// of the plans (groups per result, baby-step giant-step split) whose
// results the flooding leaves room for, the one price prices lowest on
// one core, online and offline seconds together (workSeconds). Fewer
// groups per result make more output ciphertexts; fewer baby steps, more
// giant steps. The plan does not depend on the cores.
func (pl Planner) planFeature(what string, sh AttentionShape, classes int, maxPerResult func(groups int) int,
	price func(featureKernel) cost.Cost) (featureKernel, error) {
	if err := pl.Check(); err != nil {
		return featureKernel{}, err
	}
	if err := sh.validate(); err != nil {
		return featureKernel{}, err
	}
	lay, err := NewFeatureLayout(pl.Params.MaxSlots(), sh.Heads, sh.KVHeads, sh.HeadDim, classes)
	if err != nil {
		return featureKernel{}, err
	}
	nm := pl.NoiseModel()
	cache := sh.CacheBits
	if cache == 0 {
		cache = nm.FreshSK()
	}
	C, D := lay.Cts(sh.Context), lay.Diagonals()
	var (
		best      featureKernel
		bestPrice = math.Inf(1)
		last      error
	)
	for per := maxPerResult(C); per >= 1; per-- {
		for _, baby := range bsgsSplits(D) {
			prod := featureProducts{params: pl.Params, baby: baby, giant: D / baby, step: lay.step()}
			nu := prod.noise(nm, nm.FreshSK(), cache, per, D)
			level, sp, err := nm.inputLevel(func(float64) float64 { return nu })
			if err != nil {
				last = err
				continue
			}
			prod.level = level
			k := featureKernel{Params: pl.Params, Profile: pl.Profile, Shape: sh, Layout: lay, Level: level, prod: prod, perResult: per,
				send: sp, noise: nu, what: what, cores: 1}
			if p := workSeconds(price(k)); p < bestPrice {
				best, bestPrice = k, p
			}
		}
	}
	if math.IsInf(bestPrice, 1) {
		return featureKernel{}, fmt.Errorf("exec: %s %+v: %w", what, sh, last)
	}
	best.cores, best.clientCores = pl.cores(), pl.clientCores()
	return best, nil
}

// Noise is the noise model's payload of the results before they are
// masked and flooded, in bits.
func (k *featureKernel) Noise() float64 { return k.noise }

// Rotations lists the baby and the giant steps.
func (k *featureKernel) Rotations() []int { return k.prod.rotations() }

// withContext is the kernel for a context of ctx <= Shape.Context tokens
// with this plan (level, flooding, split, groups per result): a kernel
// planned for the longest context serves every shorter one, its bound
// only growing with the context.
func (k featureKernel) withContext(ctx int) (featureKernel, error) {
	if ctx < 1 || ctx > k.Shape.Context {
		return featureKernel{}, fmt.Errorf("exec: %s planned for %d tokens used for %d", k.what, k.Shape.Context, ctx)
	}
	k.Shape.Context = ctx
	return k, nil
}

// groups is the number of cache ciphertext groups the context fills.
func (k *featureKernel) groups() int { return k.Layout.Cts(k.Shape.Context) }

// checkSizes checks a Run's inputs: the cache ciphertexts' count, level
// and scale (invertible modulo t), both shares of the cache (Context x KVDim) and the shared input
// (xLen).
func (k *featureKernel) checkSizes(cache []*rlwe.Ciphertext, cC, cS []uint64, x Shared, xLen int) error {
	if len(cache) != k.groups()*k.Layout.Diagonals() {
		return fmt.Errorf("exec: %s: %d cache ciphertexts, want %d", k.what, len(cache), k.groups()*k.Layout.Diagonals())
	}
	t := k.Params.PlaintextModulus()
	for _, ct := range cache {
		if ct.Level() != k.Level {
			return fmt.Errorf("exec: %s: cache ciphertext at level %d, want %d", k.what, ct.Level(), k.Level)
		}
		if ct.Scale.Uint64()%t == 0 {
			return fmt.Errorf("exec: %s: cache ciphertext at scale 0 mod t", k.what)
		}
	}
	sh := k.Shape
	if len(cC) != sh.Context*sh.KVHeads*sh.HeadDim || len(cS) != len(cC) || len(x.C) != xLen || len(x.S) != xLen {
		return fmt.Errorf("exec: %s %+v: wrong input sizes", k.what, sh)
	}
	return nil
}

// localCost is both parties' local terms: Heads·Context·HeadDim share
// products each.
func (k *featureKernel) localCost() cost.Cost {
	n := int64(k.Shape.Heads) * int64(k.Shape.Context) * int64(k.Shape.HeadDim)
	return k.Profile.Charge(cost.OpShare, 0, 2*n)
}

// babyCost prices the baby steps of n input ciphertexts, on the
// server's cores.
func (k *featureKernel) babyCost(n int) cost.Cost {
	b := int64(k.prod.baby - 1)
	c := hoistedCost(k.Profile, k.Level, int64(n), b)
	return onCoresBatched(c, int64(n)*b, b, k.cores, func() cost.Cost { return k.Profile.Charge(cost.OpRotateHoisted, k.Level, int64(n)*b) })
}

// token is the token at position t of row ρ of group g.
func (k *featureKernel) token(g, rho, t int) int {
	return g*k.Layout.TokensPerCt() + rho*k.Layout.Row + t
}

// FeatureScores is the decode scores kernel over the feature-major cache:
// s[h][j] = q_h · k_j for the new token's query (Heads x HeadDim) against
// the Context cached keys, k_j of head h's key/value head. The server
// holds Enc(K_C) as D = HeadDim/Classes key ciphertexts per group of
// TokensPerCt tokens (FeatureLayout.KeyVectors) and its share K_S; the
// client holds K_C.
//
// The client sends one ciphertext: its share of the query, laid out so
// that slot (ρ, t, c, h) holds q_C[h][(t + c·D) mod d]. The server makes
// its baby steps once and, per group, sums the D products of the rotated
// query with the diagonals of K_S and the D products of the key
// ciphertexts with the matching layouts of q_S (featureProducts), and
// returns the sum unfolded; each party sums the classes of its share of
// a score and adds its local term.
//
// Per Run: 2·D·groups ct-pt products, baby-1 + groups·(giant-1)
// rotations, one ciphertext up, groups down, one round.
type FeatureScores struct{ featureKernel }

var _ Primitive = (*FeatureScores)(nil)

// FeatureScores plans the scores kernel of shape sh over a feature-major
// layout of classes classes (MaxFeatureClasses bounds them).
func (pl Planner) FeatureScores(sh AttentionShape, classes int) (*FeatureScores, error) {
	k, err := pl.planFeature("feature scores", sh, classes, func(int) int { return 1 },
		func(k featureKernel) cost.Cost { return (&FeatureScores{k}).Estimate() })
	if err != nil {
		return nil, err
	}
	return &FeatureScores{k}, nil
}

// WithContext is the kernel for a shorter context (see withContext).
func (k *FeatureScores) WithContext(ctx int) (*FeatureScores, error) {
	f, err := k.withContext(ctx)
	if err != nil {
		return nil, err
	}
	return &FeatureScores{f}, nil
}

// RotationCount is baby-1 + groups·(giant-1).
func (k *FeatureScores) RotationCount() int64 {
	return int64(k.prod.baby-1) + int64(k.groups()*(k.prod.giant-1))
}

// Estimate prices one Run.
func (k *FeatureScores) Estimate() cost.Cost {
	prof, logN, C := k.Profile, k.Params.LogN(), k.groups()
	return cost.Sum(
		sendInputCost(prof, logN, k.Level, Slots, 1, k.clientCores),
		k.babyCost(1),
		k.prod.estimate(prof, logN, 1, k.cores).Scale(int64(C)),
		returnCostBatched(prof, logN, k.send, Slots, int64(C), 1, k.cores, k.clientCores), // one group at a time
		k.localCost(),
		cost.Cost{Rounds: 1},
	)
}

// Run computes the shared scores (Heads x Context) of the shared query q
// (Heads x HeadDim) against the cache: keys holds Enc(K_C) (at Level,
// server side), kC and kS the parties' shares of the keys (Context x
// KVDim).
func (k *FeatureScores) Run(s *Session, tally *cost.Tally, keys []*rlwe.Ciphertext, kC, kS []uint64, q Shared) (Shared, error) {
	sizes := k.checkSizes(keys, kC, kS, q, k.Shape.Heads*k.Shape.HeadDim)
	qC, qS := q.C, q.S
	return runShared(s, tally, sizes,
		func(cl *Client) ([]uint64, error) { return k.client(cl, tally, qC, kC) },
		func(sv *Server) ([]uint64, error) { return k.server(sv, tally, keys, qS, kS) })
}

// client is the client's half of Run: only the client's shares.
func (k *FeatureScores) client(cl *Client, tally *cost.Tally, qC, kC []uint64) ([]uint64, error) {
	l, d := k.Layout, k.Shape.HeadDim
	err := cl.sendInputsEach(tally, k.Level, 1, func(_ int, v []uint64) {
		l.each(func(_, t, c, h, s int) { v[s] = qC[h*d+l.scoreElement(t, c, 0)] })
	})
	if err != nil {
		return nil, err
	}
	out := make([]uint64, k.Shape.Heads*k.Shape.Context)
	if err := cl.recvOutputsEach(tally, k.groups(), func(g int, v []uint64) { k.extract(out, g, v) }); err != nil {
		return nil, err
	}
	k.local(tally, out, qC, kC)
	return out, nil
}

// server is the server's half of Run: only the server's shares.
func (k *FeatureScores) server(sv *Server, tally *cost.Tally, keys []*rlwe.Ciphertext, qS, kS []uint64) ([]uint64, error) {
	l, sh := k.Layout, k.Shape
	d, G, kv, D := sh.HeadDim, sh.group(), sh.KVHeads*sh.HeadDim, l.Diagonals()
	ins, err := sv.recvInputs(tally, 1)
	if err != nil {
		return nil, err
	}
	if ins[0].Level() != k.Level {
		return nil, fmt.Errorf("exec: server: input at level %d, planned %d", ins[0].Level(), k.Level)
	}
	babyRot, err := k.prod.babySteps(sv, tally, ins[0])
	if err != nil {
		return nil, err
	}
	plain := func(kk int, v []uint64) {
		l.each(func(_, t, c, h, s int) { v[s] = qS[h*d+l.scoreElement(t, c, kk)] })
	}
	out := make([]uint64, sh.Heads*sh.Context)
	for g := 0; g < k.groups(); g++ {
		diag := func(kk int, v []uint64) { // pre-rotated by -(kk/baby)·baby positions
			shift := (kk / k.prod.baby) * k.prod.baby
			l.each(func(rho, t, c, h, _ int) {
				if j := k.token(g, rho, t); j < sh.Context {
					v[l.slot(rho, (t+shift)%l.Row, c, h)] = kS[j*kv+(h/G)*d+l.scoreElement(t, c, kk)]
				}
			})
		}
		sum := k.prod.newSum()
		if err := sum.add(sv, tally, featureTerms{babyRot: babyRot, cache: keys[g*D : (g+1)*D], diag: diag, plain: plain}); err != nil {
			return nil, err
		}
		acc, err := sum.result(sv, tally)
		if err != nil {
			return nil, err
		}
		masks, err := sv.sendOutputs(tally, []*rlwe.Ciphertext{acc}, k.send)
		if err != nil {
			return nil, err
		}
		k.extract(out, g, masks[0])
	}
	k.local(tally, out, qS, kS)
	return out, nil
}

// extract adds the classes of group g's returned vector (or the server's
// mask) v into the scores.
func (k *FeatureScores) extract(out []uint64, g int, v []uint64) {
	t := k.Params.PlaintextModulus()
	ctx := k.Shape.Context
	k.Layout.each(func(rho, pos, _, h, s int) {
		if j := k.token(g, rho, pos); j < ctx {
			out[h*ctx+j] = (out[h*ctx+j] + v[s]) % t
		}
	})
}

// local adds a party's local term q·K over its own shares into out.
func (k *FeatureScores) local(tally *cost.Tally, out, q, keys []uint64) {
	sh, t := k.Shape, k.Params.PlaintextModulus()
	d, G, kv := sh.HeadDim, sh.group(), sh.KVHeads*sh.HeadDim
	for h := 0; h < sh.Heads; h++ {
		for j := 0; j < sh.Context; j++ {
			acc := out[h*sh.Context+j]
			for e := 0; e < d; e++ {
				acc = (acc + mulModT(q[h*d+e], keys[j*kv+(h/G)*d+e], t)) % t
			}
			out[h*sh.Context+j] = acc
		}
	}
	tally.Op(cost.OpShare, 0, int64(sh.Heads)*int64(sh.Context)*int64(d))
}

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
// rotations, groups ciphertexts up, results down, one round.
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
func (k *FeatureValues) Estimate() cost.Cost {
	prof, logN, C, R := k.Profile, k.Params.LogN(), k.groups(), k.results()
	per := k.perResult
	c := cost.Sum(
		sendInputCost(prof, logN, k.Level, Slots, int64(C), k.clientCores),
		k.babyCost(C),
		k.prod.estimate(prof, logN, per, k.cores).Scale(int64(C/per)),
		returnCostBatched(prof, logN, k.send, Slots, int64(R), returnBatch, k.cores, k.clientCores),
		k.localCost(),
		cost.Cost{Rounds: 1},
	)
	if rest := C % per; rest > 0 {
		c = c.Add(k.prod.estimate(prof, logN, rest, k.cores))
	}
	return c
}

// Run computes the shared outputs (Heads x HeadDim) of the shared weights
// p (Heads x Context) over the cache: values holds Enc(V_C) (at Level,
// server side), vC and vS the parties' shares of the values (Context x
// KVDim).
func (k *FeatureValues) Run(s *Session, tally *cost.Tally, values []*rlwe.Ciphertext, vC, vS []uint64, p Shared) (Shared, error) {
	sizes := k.checkSizes(values, vC, vS, p, k.Shape.Heads*k.Shape.Context)
	pC, pS := p.C, p.S
	return runShared(s, tally, sizes,
		func(cl *Client) ([]uint64, error) { return k.client(cl, tally, pC, vC) },
		func(sv *Server) ([]uint64, error) { return k.server(sv, tally, values, pS, vS) })
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

// client is the client's half of Run: only the client's shares.
func (k *FeatureValues) client(cl *Client, tally *cost.Tally, pC, vC []uint64) ([]uint64, error) {
	if err := cl.sendInputsEach(tally, k.Level, k.groups(), func(g int, v []uint64) { k.weights(pC, g, 0, v) }); err != nil {
		return nil, err
	}
	out := make([]uint64, k.Shape.Heads*k.Shape.HeadDim)
	if err := cl.recvOutputsEach(tally, k.results(), func(_ int, v []uint64) { k.extract(out, v) }); err != nil {
		return nil, err
	}
	k.local(tally, out, pC, vC)
	return out, nil
}

// server is the server's half of Run: only the server's shares. It takes
// the groups' weights one at a time, as they come, into a result of
// perResult groups: it holds one group's baby steps and a result's pieces.
func (k *FeatureValues) server(sv *Server, tally *cost.Tally, values []*rlwe.Ciphertext, pS, vS []uint64) ([]uint64, error) {
	l, sh := k.Layout, k.Shape
	d, G, kv, D := sh.HeadDim, sh.group(), sh.KVHeads*sh.HeadDim, l.Diagonals()
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
		babyRot, err := k.prod.babySteps(sv, tally, x)
		if err != nil {
			return nil, err
		}
		terms := featureTerms{
			babyRot: babyRot,
			cache:   values[g*D : (g+1)*D],
			diag: func(kk int, v []uint64) { // pre-rotated by -(kk/baby)·baby positions
				shift := (kk / k.prod.baby) * k.prod.baby
				l.each(func(rho, u, c, h, _ int) {
					if j := k.token(g, rho, l.valuePosition(u, c, kk)); j < sh.Context {
						v[l.slot(rho, (u+shift)%l.Row, c, h)] = vS[j*kv+(h/G)*d+u%d]
					}
				})
			},
			plain: func(kk int, v []uint64) { k.weights(pS, g, kk, v) },
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
	out := make([]uint64, sh.Heads*d)
	for from := 0; from < len(accs); from += returnBatch {
		masks, err := sv.sendOutputs(tally, accs[from:min(len(accs), from+returnBatch)], k.send)
		if err != nil {
			return nil, err
		}
		for _, m := range masks {
			k.extract(out, m)
		}
	}
	k.local(tally, out, pS, vS)
	return out, nil
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

// local adds a party's local term p·V over its own shares into out.
func (k *FeatureValues) local(tally *cost.Tally, out, p, values []uint64) {
	sh, t := k.Shape, k.Params.PlaintextModulus()
	d, G, kv := sh.HeadDim, sh.group(), sh.KVHeads*sh.HeadDim
	for h := 0; h < sh.Heads; h++ {
		for e := 0; e < d; e++ {
			acc := out[h*d+e]
			for j := 0; j < sh.Context; j++ {
				acc = (acc + mulModT(p[h*sh.Context+j], values[j*kv+(h/G)*d+e], t)) % t
			}
			out[h*d+e] = acc
		}
	}
	tally.Op(cost.OpShare, 0, int64(sh.Heads)*int64(sh.Context)*int64(d))
}
