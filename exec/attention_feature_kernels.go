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
	// public is the tokens of the public prefix (WithPublic): the client's
	// shares of them are zero and the server's are the prefix's keys or
	// values in the clear.
	public int
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
	if ctx < 1 || ctx > k.Shape.Context || ctx < k.public {
		return featureKernel{}, fmt.Errorf("exec: %s planned for %d tokens (a public prefix of %d) used for %d", k.what, k.Shape.Context, k.public, ctx)
	}
	k.Shape.Context = ctx
	return k, nil
}

// groups is the number of cache ciphertext groups the context fills.
func (k *featureKernel) groups() int { return k.Layout.Cts(k.Shape.Context) }

// checkSizes checks a Run's inputs: the cache ciphertexts' count (none
// for the public groups), level and scale (invertible modulo t), the
// public groups' diagonals, both shares of the cache (Context x KVDim) and
// the shared input (xLen).
func (k *featureKernel) checkSizes(cache []*rlwe.Ciphertext, pub *FeaturePublic, cC, cS []uint64, x Shared, xLen int) error {
	if want := (k.groups() - k.publicGroups()) * k.Layout.Diagonals(); len(cache) != want {
		return fmt.Errorf("exec: %s: %d cache ciphertexts, want %d", k.what, len(cache), want)
	}
	if err := k.checkPublic(pub); err != nil {
		return err
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

// localCost is both parties' local terms of a query whose client sends
// inputs ciphertexts: Heads·HeadDim share products per token, the
// client's over the private tokens only (its shares of the public ones
// are zero), and the server's over every token or, when it folds, its
// share of the input added to each of them instead (folds).
func (k *featureKernel) localCost(inputs int) cost.Cost {
	hd := int64(k.Shape.Heads) * int64(k.Shape.HeadDim)
	c := k.Profile.Charge(cost.OpShare, 0, hd*int64(k.Shape.Context-k.public))
	if k.folds(inputs) {
		return c.Add(plainCost(k.Profile, k.Params.LogN(), k.Level, Slots, int64(inputs)))
	}
	return c.Add(k.Profile.Charge(cost.OpShare, 0, hd*int64(k.Shape.Context)))
}

// folds reports whether the server adds its share of a query's input,
// laid out as the client lays out its own, to each of the inputs
// ciphertexts the client sends (Server.addPlain) rather than computing its
// local term over the cache: Enc(x_C) + x_S = Enc(x) then meets the
// server's share of the cache in the products, and no product of the
// server's shares is left. It does whichever the profile prices lower: at
// long contexts the plaintexts, at short ones the local term.
func (k *featureKernel) folds(inputs int) bool {
	fold := plainCost(k.Profile, k.Params.LogN(), k.Level, Slots, int64(inputs))
	local := k.Profile.Charge(cost.OpShare, 0, int64(k.Shape.Heads)*int64(k.Shape.Context)*int64(k.Shape.HeadDim))
	return workSeconds(fold) < workSeconds(local)
}

// from is the first token whose share the party's local term reads: the
// client's shares of the public tokens are zero.
func (k *featureKernel) from(client bool) int {
	if client {
		return k.public
	}
	return 0
}

// babyCost prices the baby steps of n input ciphertexts, on the
// server's cores.
func (k *featureKernel) babyCost(n int) cost.Cost {
	b := int64(k.prod.baby - 1)
	c := hoistedCost(k.Profile, k.Level, int64(n), b)
	return onCoresBatched(c, int64(n)*b, b, k.cores, func() cost.Cost { return k.Profile.Charge(cost.OpRotateHoisted, k.Level, int64(n)*b) })
}

// joinQueries concatenates m queries' shares of n elements each, checked.
func joinQueries(what string, qs []Shared, n int) (Shared, error) {
	if len(qs) == 0 {
		return Shared{}, fmt.Errorf("exec: %s of no query", what)
	}
	var x Shared
	for i, q := range qs {
		if len(q.C) != n || len(q.S) != n {
			return Shared{}, fmt.Errorf("exec: %s: query %d has %d and %d elements, want %d", what, i, len(q.C), len(q.S), n)
		}
		x.C, x.S = append(x.C, q.C...), append(x.S, q.S...)
	}
	return x, nil
}

// splitQueries cuts m results of n elements each out of x.
func splitQueries(x Shared, m, n int) []Shared {
	out := make([]Shared, m)
	for i := range out {
		out[i] = Shared{C: x.C[i*n : (i+1)*n : (i+1)*n], S: x.S[i*n : (i+1)*n : (i+1)*n]}
	}
	return out
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
// rotations, one ciphertext up, groups down, one round. RunQueries runs
// several queries over the same cache in that one round (a pass of
// several tokens): their ciphertexts go up in one flight, their results
// come down in the next.
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
func (k *FeatureScores) Estimate() cost.Cost { return k.EstimateQueries(1) }

// EstimateQueries prices RunQueries of m queries: the client encrypts
// their ciphertexts together, the server makes each query's baby steps
// and products and returns each group's result as it is made; one round.
func (k *FeatureScores) EstimateQueries(m int) cost.Cost {
	prof, logN, C := k.Profile, k.Params.LogN(), k.groups()
	return cost.Sum(
		sendInputCost(prof, logN, k.Level, Slots, int64(m), k.clientCores),
		k.babyCost(1).Scale(int64(m)),
		k.prod.estimate(prof, logN, 1, 0, k.cores).Scale(int64(m*k.publicGroups())),
		k.prod.estimate(prof, logN, 0, 1, k.cores).Scale(int64(m*(C-k.publicGroups()))),
		returnCostBatched(prof, logN, k.send, Slots, int64(m*C), 1, k.cores, k.clientCores), // one group at a time
		k.localCost(1).Scale(int64(m)),
		cost.Cost{Rounds: 1},
	)
}

// Run computes the shared scores (Heads x Context) of the shared query q
// (Heads x HeadDim) against the cache: keys holds Enc(K_C) (at Level,
// server side) but for the public groups, whose diagonals pub holds (nil
// without a public prefix), kC and kS the parties' shares of the keys
// (Context x KVDim).
func (k *FeatureScores) Run(s *Session, tally *cost.Tally, keys []*rlwe.Ciphertext, pub *FeaturePublic, kC, kS []uint64, q Shared) (Shared, error) {
	out, err := k.RunQueries(s, tally, keys, pub, kC, kS, []Shared{q})
	if err != nil {
		return Shared{}, err
	}
	return out[0], nil
}

// RunQueries is Run of several queries over the same cache, in one round.
func (k *FeatureScores) RunQueries(s *Session, tally *cost.Tally, keys []*rlwe.Ciphertext, pub *FeaturePublic, kC, kS []uint64, qs []Shared) ([]Shared, error) {
	n := k.Shape.Heads * k.Shape.HeadDim
	q, err := joinQueries(k.what, qs, n)
	if err != nil {
		return nil, err
	}
	m := len(qs)
	sizes := k.checkSizes(keys, pub, kC, kS, q, m*n)
	out, err := runShared(s, tally, sizes,
		func(cl *Client) ([]uint64, error) { return k.client(cl, tally, m, q.C, kC) },
		func(sv *Server) ([]uint64, error) { return k.server(sv, tally, m, keys, pub, q.S, kS) })
	if err != nil {
		return nil, err
	}
	return splitQueries(out, m, k.Shape.Heads*k.Shape.Context), nil
}

// client is the client's half of RunQueries of m queries: only the
// client's shares.
func (k *FeatureScores) client(cl *Client, tally *cost.Tally, m int, qC, kC []uint64) ([]uint64, error) {
	l, d, n := k.Layout, k.Shape.HeadDim, k.Shape.Heads*k.Shape.HeadDim
	err := cl.sendInputsEach(tally, k.Level, m, func(i int, v []uint64) {
		l.each(func(_, t, c, h, s int) { v[s] = qC[i*n+h*d+l.scoreElement(t, c, 0)] })
	})
	if err != nil {
		return nil, err
	}
	hc, C := k.Shape.Heads*k.Shape.Context, k.groups()
	out := make([]uint64, m*hc)
	if err := cl.recvOutputsEach(tally, m*C, func(j int, v []uint64) { k.extract(out[j/C*hc:], j%C, v) }); err != nil {
		return nil, err
	}
	for i := range m {
		k.local(tally, out[i*hc:(i+1)*hc], qC[i*n:(i+1)*n], kC, k.from(true))
	}
	return out, nil
}

// server is the server's half of RunQueries of m queries: only the
// server's shares.
func (k *FeatureScores) server(sv *Server, tally *cost.Tally, m int, keys []*rlwe.Ciphertext, pub *FeaturePublic, qS, kS []uint64) ([]uint64, error) {
	sh := k.Shape
	ins, err := sv.recvInputs(tally, m)
	if err != nil {
		return nil, err
	}
	n, hc := sh.Heads*sh.HeadDim, sh.Heads*sh.Context
	out := make([]uint64, m*hc)
	for i, in := range ins {
		if err := k.serverQuery(sv, tally, in, keys, pub, qS[i*n:(i+1)*n], kS, out[i*hc:(i+1)*hc]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// serverQuery is the server's work on one query: its products with every
// group, each returned as it is made, and its local term, into out.
func (k *FeatureScores) serverQuery(sv *Server, tally *cost.Tally, in *rlwe.Ciphertext, keys []*rlwe.Ciphertext, pub *FeaturePublic, qS, kS, out []uint64) error {
	l, sh := k.Layout, k.Shape
	d, D := sh.HeadDim, l.Diagonals()
	if in.Level() != k.Level {
		return fmt.Errorf("exec: server: input at level %d, planned %d", in.Level(), k.Level)
	}
	plain := func(kk int, v []uint64) {
		l.each(func(_, t, c, h, s int) { v[s] = qS[h*d+l.scoreElement(t, c, kk)] })
	}
	fold := k.folds(1)
	if fold { // Enc(q_C) + q_S, laid out as the client's (diagonal 0)
		v := make([]uint64, k.Params.MaxSlots())
		plain(0, v)
		if err := sv.addPlain(tally, in, v); err != nil {
			return err
		}
	}
	babyRot, err := k.prod.babySteps(sv, tally, in)
	if err != nil {
		return err
	}
	pg := k.publicGroups()
	for g := 0; g < k.groups(); g++ {
		terms := featureTerms{babyRot: babyRot, diag: func(kk int, v []uint64) { k.keyDiagonal(kS, g, kk, v) }, plain: plain}
		if g < pg {
			terms.pre = pub.diags[g*D : (g+1)*D]
		} else {
			terms.cache = keys[(g-pg)*D : (g-pg+1)*D]
		}
		sum := k.prod.newSum()
		if err := sum.add(sv, tally, terms); err != nil {
			return err
		}
		acc, err := sum.result(sv, tally)
		if err != nil {
			return err
		}
		masks, err := sv.sendOutputs(tally, []*rlwe.Ciphertext{acc}, k.send)
		if err != nil {
			return err
		}
		k.extract(out, g, masks[0])
	}
	if !fold {
		k.local(tally, out, qS, kS, 0)
	}
	return nil
}

// keyDiagonal lays out diagonal kk of group g of the keys kS in v,
// pre-rotated by -(kk/baby)·baby positions.
func (k *FeatureScores) keyDiagonal(kS []uint64, g, kk int, v []uint64) {
	l, sh := k.Layout, k.Shape
	d, G, kv := sh.HeadDim, sh.group(), sh.KVHeads*sh.HeadDim
	shift := (kk / k.prod.baby) * k.prod.baby
	l.each(func(rho, t, c, h, _ int) {
		if j := k.token(g, rho, t); j < sh.Context {
			v[l.slot(rho, (t+shift)%l.Row, c, h)] = kS[j*kv+(h/G)*d+l.scoreElement(t, c, kk)]
		}
	})
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

// local adds a party's local term q·K over its own shares of the tokens
// from on into out.
func (k *FeatureScores) local(tally *cost.Tally, out, q, keys []uint64, from int) {
	sh, t := k.Shape, k.Params.PlaintextModulus()
	d, G, kv := sh.HeadDim, sh.group(), sh.KVHeads*sh.HeadDim
	for h := 0; h < sh.Heads; h++ {
		for j := from; j < sh.Context; j++ {
			acc := out[h*sh.Context+j]
			for e := 0; e < d; e++ {
				acc = (acc + mulModT(q[h*d+e], keys[j*kv+(h/G)*d+e], t)) % t
			}
			out[h*sh.Context+j] = acc
		}
	}
	tally.Op(cost.OpShare, 0, int64(sh.Heads)*int64(sh.Context-from)*int64(d))
}
