// Package mpc evaluates the non-linear layers of a Transformer on additive
// secret shares between the client and the server of cgsim: Beaver
// multiplication, truncation, a one-round comparison from function secret
// sharing, and from them exp, reciprocal,
// inverse square root, softmax, SiLU, GELU, RMSNorm, LayerNorm and an
// argmax revealed to the client only. Every protocol is a value that knows
// its shape and has Estimate (pure arithmetic) and Run (real shares, real
// messages over a metered in-process pipe), whose counters agree exactly.
//
// # Shares and fixed point
//
// A vector x is shared as x = x_C + x_S mod t, t the BGV plaintext prime of
// the HE side. A [Ring] is built from a params.FixedPoint, so the
// protocols run on exactly a preset's settings ([NewConfig] takes
// params.Preset.FixedPoint): bgv-n13's 41-bit t with f = 12 fractional
// bits and values in (-32, 32), or the 60-bit t with f = 14 and values in
// (-4096, 4096) of bgv-n14, n15, n16 and bgv-test-insecure. Reals are
// centered fixed point: elements above (t-1)/2 are negative
// ([Ring.Encode], [Ring.Decode]). A [Share] carries its modulus; a [Pair]
// holds both parties' shares and is what Run takes and returns. Inputs and
// outputs of every protocol have f fractional bits.
//
// Working precision. Exp and the sigmoid square their intermediate values
// 6 times, which multiplies a rounding error by 64: at f = 12 that alone is
// 0.016. They, the reciprocal and the inverse square root therefore compute
// with W > f fractional bits internally ([Ring.Work]):
// W = min(f + 6, ⌊(ℓ-2)/2⌋, ℓ - f - IntBits - 1), ℓ = bits(t) - 3 the
// truncation bound, so that products of working values below 2 and of an
// in-range value by a working constant stay truncatable: W = 18 for
// bgv-n13, 20 for bgv-n14. The reciprocal and the inverse square root
// lower it when their results are large (1/x for x near 2^Lo), the norms
// when the row sum times the coefficients would overflow; results are
// brought back to f by the last truncation of each protocol.
//
// # Parties, sessions and metering
//
// A [Session] is a client and a server joined by net.Pipe. A Run plays both
// parties, but each party's code is written for one party alone: every
// protocol has a play method, func(p *party, mine ...[]uint64) ([]uint64,
// error), that receives its party (role, connection, stock of dealer
// material) and that party's own shares of the inputs, and returns its own
// share of the output; the building blocks (mul, trunc, sign, exp,
// reciprocal, ...) are methods of *party on the party's shares. No party
// code has the other party's share in scope: Run hands index p.role of
// each input Pair to the party p (and only to it), runs the two plays
// concurrently for the whole protocol, and assembles their outputs into a
// Pair after both finish (TestPartyCodeSeesOneShare checks the source for
// it). The two goroutines meet at a barrier at the start and the end of
// each communication step, which carries no data, only the fact that both
// reached the step, so that the meter brackets each step. Every step opens
// masked vectors (a Beaver
// product's x - a and y - b, a truncation's x + 2^ℓ + r, a comparison's
// 2x + r): each party sends one message, both compute the opened values
// and finish locally. Independent openings share one step (one message per
// party, one round): a comparison with the first product of exp, GELU's
// comparisons with x·x, the rsqrt iteration's two truncations. Every step
// is bracketed with net.Meter.Begin/Since, so a Run's rounds are the sum of
// its steps' rounds (an exchange is 2 flights = 1 round, a one-way message
// 1 round). Local work is counted in share_ops (priced by
// cost.OpShareProtocol) and, for a comparison key's evaluation, in
// dcf_levels (one per bit of the ring per party, priced by cost.OpDCF),
// arithmetic Beaver triples in triples, and the dealer's bytes in
// offline_bytes. An Estimate
// is the same sequence of steps written down with the same cost helpers;
// TestRunMatchesEstimate checks cost.CounterDiff(run, estimate) is empty
// for every protocol, both presets and lengths 1, 7, 64 and 500.
//
// # The dealer
//
// A [Dealer] produces correlated randomness for a [Need] before the inputs
// exist. [TrustedDealer] (a trusted third party, as CrypTen's) uses seed
// compression: each party gets a 32-byte PRG seed (AES-256-CTR, one stream
// per component, uniform elements by rejection sampling) for its random
// components; the server also gets the components the correlation fixes,
// one element each: per triple the share of ab, per truncation mask the
// shares of ⌊r/2^k⌋ and of the wrap bit, per comparison the share of
// 1 ⊕ lsb(r), per lookup mask of a table of 2^k entries its share of the
// one-hot vector (2^k elements). The correction words of the comparison
// keys are common to both keys and go to both parties: per key bits(t)·(16 + w) + w bytes and
// 2·bits(t) bits (w = element bytes), 1842.6 bytes per comparison in all
// for the 41-bit t and 2934 for the 60-bit t ([Need.OfflineBytes]). By
// default each Run deals exactly its Need; with Session.Manual a Run draws
// on material dealt earlier by Session.Preprocess, and a stock that runs
// short is an error. A dealer-free generator can replace the dealer by
// implementing Dealer.
//
// The dealer's time is offline_seconds. A Run measures it (Preprocess: the
// wall time of Deal and of both parties' Material.Expand); an Estimate
// prices its Need as one dealing ([Need.Offline]) with the profile's
// dealer operations: cost.OpDeal once, plus cost.OpDealTriple,
// cost.OpDealTrunc and cost.OpDealCompare per item. Per item the work is a
// few PRG elements (about 10 for a triple, 8 for a truncation mask, with
// one modular product or shift at the dealer), and for a comparison key the
// DCF key generation, 8 AES blocks per level of bits(t) levels, which
// dominates (tens of µs per key against tenths of a µs per triple).
// Offline seconds are a timing, not a counter: cost.CounterDiff does not
// compare them, and offline_bytes stays exact.
//
// # Protocols
//
// Mul: Beaver product, one exchange of (x - a, y - b). Fixed-point products
// are then truncated (a second round).
//
// Truncation (division by 2^k, any 0 < k <= ℓ) is exact up to its rounding
// for |x| < 2^ℓ, ℓ = bits(t) - 3, with perfect hiding: the dealer gives
// shares of a uniform r in Z_t, of ⌊r/2^k⌋ and of the bit
// w_r = [r > (t-1)/2]. The parties open c = x + 2^ℓ + r mod t (uniform,
// independent of x). Since x' = x + 2^ℓ lies in [0, 2^(ℓ+1)), the integer
// identity x' = c - r + t·w holds with the wrap w = [c < 2^(ℓ+1)]·w_r,
// which is linear in the shared bit once c is public, so
// ⌊x'/2^k⌋ = ⌊c/2^k⌋ - ⌊r/2^k⌋ + w·⌊t/2^k⌋ + δ, δ ∈ {-1, 0, 1}. One round,
// no failure probability: the result is within 2 units of the last place
// (2^-k) of ⌊x/2^k⌋, within 1 except when the opening wraps. Values outside
// |x| < 2^ℓ give garbage, silently: a product of two values with f
// fractional bits must stay below 2^(ℓ-2f) = 2^14 (bgv-n13) or 2^29
// (60-bit t) in magnitude. Truncations with a statistical mask would need
// t > 2^(ℓ+41), which no BGV plaintext prime below 2^61 gives for products
// with 24 to 28 fractional bits.
//
// Sign returns shares of [x >= 0] as a plain 0/1 element, exactly on the
// whole field, in one round. x < 0 exactly when 2x mod t is odd; the
// parties open c = 2x + r for a uniform r (perfectly hiding), and since t
// is odd, lsb(2x) = lsb(c) ⊕ lsb(r) ⊕ [c < r]: subtracting r wraps around
// t exactly when c < r, which flips the parity. The dealer, who knows r,
// gives each party a key of a distributed comparison function (DCF;
// Boyle, Chandran, Gilboa, Gupta, Ishai, Kumar, Rathee, Eurocrypt 2021)
// for (1 - 2a)·[c < r] on bits(t)-bit inputs with outputs in Z_t, and
// shares of a = 1 ⊕ lsb(r); each party evaluates its key at c locally,
// and [x >= 0] = lsb(c) ⊕ a ⊕ [c < r] = lsb(c) ⊕ (a + (1 - 2a)[c < r]) is
// a local function of the shares since lsb(c) is public. The PRG of the
// keys is fixed-key AES (crypto/aes) in Matyas-Meyer-Oseas form; a key
// alone is pseudorandom, independent of r (the argument is in dcf.go), and
// block-to-Z_t conversions are within 2^-66 of uniform. Comparisons a >= b
// are signs of a - b; a batch of any size costs one round. TestDCF and
// TestSignEdges check the DCF and Sign against plaintext on 0, ±1, the
// elements around t/2, t-1, the fixed-point range limits and random
// elements, for both moduli.
//
// TopK keeps the K largest of N shared values (ties to the lower
// position, Argmax's order) and sinks the others by a public element: the
// filter of a top-k sampler before its argmax. It compares all pairs in
// one round and each position's rank (a local sum of its pairs' bits)
// against K in a second, or runs K tournaments with positions, each
// followed by the round of comparisons [i >= position] whose differences
// are the winner's one-hot vector; the method is planned like the maxima
// (comparisons + rounds·RoundCompares; the pairs up to 2^18).
//
// Accept verifies a draft of greedy speculative decoding: from shares of
// the model's logits before each draft token and after the last, and the
// client's draft tokens, it reveals to the client only the number of
// draft tokens equal to the model's argmax, from the first on, and the
// argmax after them: the rows' argmax positions stay shared, equalities
// are two comparisons of a difference, the count a prefix product (a
// scan of ceil(log2 gamma) rounds), the token a one-hot selection.
//
// AcceptSampled verifies a draft of speculative sampling (POST's private
// sampling): with p_i = softmax(logits_i/T), draft token x_i (drawn by the
// client from its draft's q_i) is accepted iff r_i·q_i(x_i) <= p_i(x_i),
// r_i the client's uniform, tested without a division as e_i(x_i) -
// r_i·q_i(x_i)·S_i >= 0 on the unnormalized exponentials e_i and their
// sum S_i; the count of accepted tokens before the first rejection is
// opened to both parties (the server rolls its cache back to it), and the
// token after them is drawn from the residual max(0, p_a - q_a) (or p
// after a full draft) by the inverse of its distribution function at the
// server's uniform: the count of its prefix sums below u·Σw, N-1
// comparisons summed locally, opened to the client only.
//
// Lookup reads public tables of 2^k entries (k <= MaxLookupBits) at an
// index taken from bits [s, s+k) of a shared value, in one round: the
// dealer gives shares of a uniform mask r and of the one-hot vector of
// ρ = bits [V-k, V) of r (V = Ring.LookupBits, the trailing zero bits of
// t - 1: 31 and 47 for the presets' moduli, chosen for it); the parties
// move the index bits to [V-k, V), open the masked value (uniform) and
// each reads every table against its share of the one-hot vector, 2^k
// products per table (lut_entries, priced by cost.OpLUT). Since
// t = 1 mod 2^V, the wrap of the opening modulo t moves only the bits
// below the index; their carry makes the index read i or a neighbour
// (lookup.go), which tables are built for. The one-hot vector is 2^k
// elements of dealer material per lookup (the server's share; the
// client's comes from its seed): Lookup trades rounds for offline bytes.
//
// With Config.Nonlinear = LUT, SiLU and GELU read a line per bin from a
// table of 1024 over [-R, R) (R = 16 for SiLU, 8 for GELU), fitted over
// each bin and its neighbours, gated by two comparisons made in the same
// round: 3 rounds (lookup and comparisons; the gating products with the
// slope times x; the truncation of that product fused with its gating,
// below) instead of 26 and 29. RMSNorm and LayerNorm read a guess of the
// inverse square root at the octave of the row's mean square (one lookup
// per octave of its range, the octave chosen by comparisons in the same
// round, which also truncates the row sums of squares: the squares are
// made at a precision that keeps their sums in the truncation's range, and
// the octaves whose lookups would read past the bits a lookup reads take
// their bins from coarser sums made beside them), gate it and multiply it
// by the row's values in one round (a product of three factors,
// gated.go), then correct it once, y = x·g·(1 + e/2) with e = 1 - (mean +
// eps)·g²: 5 rounds instead of 15 (norm_lut.go, octave_lut.go; 6 where a
// step's rows are too many for the gated products' one round, below).
// LayerNorm takes the same 5 instead of 17: it centres
// its rows without a division, d = dim·x - Σx (exact and local), and
// normalizes d/2^floor(log2 dim), whose square the tail's first round
// makes beside its truncation, with eps scaled alike; its default range
// of variances ends two octaves below RMSNorm's mean squares. The
// softmax's exponential reads lines over [-16, 0] the same way, gated by
// one comparison that multiplies its input in its own round (a select,
// below): 2 rounds instead of 15 (exp_lut.go), its last truncation left
// to the reciprocal's first round; the reciprocal of its row sums is a
// guess read at the sum's octave, gated and multiplied by the sum and the
// exponentials at once, corrected together with the final product: 4
// rounds (5 past the gated products' bound) instead of 11, 3 with
// Softmax.Raw, which leaves the last truncation to the attention's values
// kernel. Its maximum, and the argmax's, are grouped tournaments
// (max_groups.go): all pairs of a group of up to 32 compared at once, the
// group's winner found by a second comparison of its wins that selects
// its value in the same round, 2 rounds for a level that divides the row
// by the group size, and a tree level (a pair compared and selected at
// once) 1 per halving, where the iterative tree takes 2; each row's
// levels are the plan of least rounds·Config.RoundCompares/rows +
// comparisons (the rows of a step share its rounds)
// (a decode row of 64 scores over 8 heads on the WAN: a tree level and a
// group of 32, 3 rounds instead of 12; on the LAN, where a round trip is
// worth few comparisons, the tree). SwiGLU is SiLU(g)·u in 4 rounds,
// where SiLU and the product take 5: the product by u of each of SiLU's
// terms in its third round (swiglu.go); 3 with SwiGLU.Raw, which leaves
// the last truncation to the next norm's first round.
//
// Fused products (fused.go): a truncation and the product it feeds share
// a round. TruncMul opens the truncation's masked value and the other
// factor's Beaver mask at once; the product of the truncation's result
// (a public part plus shares of the dealer's ⌊r/2^k⌋ and wrap bit) by the
// factor needs the dealer's shares of those parts times the factor's mask
// and nothing opened later. TruncPair does the same for the product of
// two truncations by one shift. The protocols by lookup use them, and
// take inputs with Scale more fractional bits (an untruncated product:
// the attention scores, a linear layer's output, the residual stream
// after one): the comparisons, the maxima and the lookups read them as
// they are, and their truncation rides in a round the protocol makes
// anyway, so that the truncations after the score kernel and after every
// linear layer but the query, key and value projection cost no round.
//
// Selects (select.go): a comparison [x >= 0] and its products with
// shared values y_j in one round. The round opens y_j less uniform masks
// s_j beside the comparison's masked input, and the comparison's key
// carries the payloads (1 - 2a)·s_j on the same path as its bit (a DCF of
// several outputs, one more AES block per level and payload), so that the
// bit times y_j is local: function secret sharing's one-round ReLU. The
// maxima select their winners this way, and the exponential gates its
// input, where the selects pay: their extra payloads (half a comparison's
// evaluation each) must cost less than the round they save, a round being
// worth Config.RoundCompares comparisons (selectsPay); else a comparison
// round and a product round, as before.
//
// Gated products (gated.go): the octave lookups leave shares of one bit
// per octave (one of them 1) and of each octave's table values; a product
// of three shared factors b·T·z opens each factor less a uniform mask and
// uses the dealer's shares of the masks' pairwise and triple products, so
// that Σ_q b_q·T_q·z, the gated guess times a value z of the row, takes
// the gating's round. A norm's u·g²/dim and x·g and a softmax's s·g and
// e·g are made so, one round fewer each; the masks of b and T are shared
// by blocks of 16 elements z, and a step of more terms (octaves times
// elements) than Config.GatedTerms allows (at most 2^18: a prefill's many
// rows, a decode softmax of many heads over a long context; package sim
// sets a smaller bound on a fast link, where the bytes cost more than the
// round trip) gates and multiplies in two rounds instead.
//
// Max and Argmax, iteratively: a tournament of ceil(log2 n) levels, each
// one batched Sign and one batched product by the bits (2 rounds per
// level). Either way Argmax carries shares of the positions and reveals
// the winner's to the client only (one more round); ties go to the
// lowest position, as model.Argmax.
//
// Exp (x <= 0): e^x ≈ (1 + u + u²/2)^64 with u = x/64 (x read with f + 6
// bits is u with W = f + 6, no truncation), then times [x >= -16]; the
// clipping comparison shares its round with u·u. Reciprocal: comparisons
// with the powers of √2 (one round) give a guess within ±0.172, then 3
// Goldschmidt steps y ← y(1+e), e ← e², whose two products are
// independent (2 rounds a step, Newton's needs 4). Rsqrt: the same bins,
// then 2 third-order steps y ← y(1 + e/2 + 3e²/8), e ← (5/8)e³ + (15/64)e⁴
// (4 rounds a step). Softmax: row maxima, exp of the differences at W
// bits, a reciprocal of the row sums on [1, Cols], and a product; causal
// rows only touch their visible entries. SiLU and GELU are x·σ(z) (z = x,
// resp. 2·sqrt(2/π)(x + 0.044715x³)): one round of comparisons with 0 and
// ±t_x (16 for SiLU, 8 for GELU) gives the bit q with q·z = -|z| inside and
// 0 outside; the exponent -|z| + ln(2/3) inside and -64 outside gives
// y = (2/3)e^-|z| (0 outside), so that with the guess 2/3 the first error
// of the reciprocal of 1 + e^-|z| is 1/3 - y, local; 4 Goldschmidt steps
// and x·σ = (x - [x>=0]x) + (2[x>=0]x - x)·1/(1 + e^-|z|), one product.
// RMSNorm and LayerNorm output the unit-gain normalization (fold gains and
// bias into the next linear layer); the row sums of x² keep the resolution
// 2^-f/Dim, 1/Dim going into the public coefficients of the inverse square
// root, and are compared with the half-octave bounds scaled by Dim. Their
// default range of mean(x²) + Eps is [2^-10, 2^(2·IntBits+1)).
//
// # Costs per element
//
// Estimates at n = 512 with the 60-bit t (8-byte elements, f = 14) (go test
// -run TestCostTable -v; the 41-bit t has 6-byte elements, the same rounds
// and 63% of the offline bytes); bytes per direction, equal both ways;
// before: the previous comparison (bit decomposition of the mask and a
// tree of boolean ANDs, 8 rounds) and sequential steps, 50-bit t, f = 16:
//
//	protocol              rounds     bytes/elem      triples/elem  offline B/elem
//	                      before→now before→now     before→now    before→now
//	mul (fixed)            2 → 2      21.0 → 24.0    1.0 → 1.0       21 → 24
//	trunc                  1 → 1       7.0 → 8.0     0   → 0         14 → 16
//	sign                   8 → 1      33.1 → 8.0     0   → 0         26 → 2934
//	max (1 row)           81 → 18     47.0 → 24.0    1.0 → 1.0       33 → 2936
//	argmax                82 → 19     61.0 → 39.9    2.0 → 2.0       40 → 2944
//	exp                   24 → 15    208.1 → 192.0   8.0 → 8.0      208 → 3110
//	reciprocal [1, 2^10)  24 → 9     466.1 → 296.0   8.0 → 6.0      404 → 55890
//	rsqrt [2^-10, 2^16)   33 → 11   1087.1 → 568.0  12.0 → 7.0      922 → 149786
//	softmax (1 row)      131 → 44    277.1 → 240.5  10.0 → 10.0     263 → 6180
//	silu                  44 → 26    491.4 → 416.0  19.0 → 17.0     464 → 9178
//	gelu                  49 → 29    540.4 → 472.0  21.0 → 19.0     520 → 9242
//	rmsnorm (1 row)       39 → 15     44.2 → 49.4    2.0 → 2.0       44 → 444
//	layernorm (1 row)     41 → 17     44.2 → 49.4    2.0 → 2.0       44 → 444
//
// With Config.Nonlinear = LUT (before: the iterative form above; lookup: a
// table of 2^10 entries, any number of tables read at once; a norm's
// lookups are per row, one per octave of its range, hence per element
// here over 512, and so are its gated products' openings, one per
// octave and element; the fused steps are one truncation by 2^f and its
// product):
//
//	trunc·mul (fused)      —  → 1       —   → 16.0    —   → 0          —  → 32
//	trunc pair (fused)     —  → 1       —   → 16.0    —   → 0          —  → 64
//	lookup                 —  → 1       —   → 8.0     —   → 0          —  → 8192
//	max (1 row)           18 → 4      24.0 → 84.8    1.0 → 0.0     2936 → 29010
//	argmax                19 → 5      39.9 → 85.2    2.0 → 0.0     2944 → 29072
//	silu                  26 → 3     416.0 → 88.0   17.0 → 3.0     9178 → 14116
//	gelu                  29 → 3     472.0 → 88.0   19.0 → 3.0     9242 → 14116
//	silu·u (swiglu)       28 → 4     440.0 → 144.0  18.0 → 6.0     9202 → 14156
//	softmax (1 row)       44 → 10    240.5 → 263.5  10.0 → 2.0     6180 → 41697
//	rmsnorm (1 row)       15 → 5      49.4 → 355.6   2.0 → 0.0      444 → 1753
//	layernorm (1 row)     17 → 5      49.4 → 363.6   2.0 → 0.0      444 → 1769
//
// Rounds of Max, Argmax and Softmax grow as 2·ceil(log2 n) (Iterative)
// or, by lookup, 1 per tree level and 2 per level of groups (2 and 3
// where selects do not pay), as the plan of least rounds·RoundCompares/rows
// + comparisons has them (at the default
// worth of a round, 2^12 comparisons, one row of 512: two levels of
// groups); those of the per-row norms do not depend on the width. The one-round comparison costs
// the dealer about 100 times the bytes of the old one (two DCF keys of 60
// levels of 128-bit seeds and a Z_t correction each); online it sends one
// element each way. Reciprocal and Rsqrt as elementwise protocols pay
// 2(Hi-Lo)-1 comparisons per element; inside softmax and the norms they run
// once per row. Benchmarks (go test -bench .) report bytes/elem (both
// directions together), rounds and offline-B/elem.
//
// # Accuracy
//
// Max and mean absolute error against float64 on the shared (quantized)
// inputs (go test -run TestAccuracyTable -v). The ranges cover what
// stories260K produces (TestStories260KRanges: softmax inputs down to -132
// below the row maximum, SiLU inputs in [-4.5, 4.9], mean x² + eps in
// [0.033, 5.5], logits in [-19, 22]) and what a GPT-2-shaped random model
// (gpt2's width, 2 random layers, 32 tokens; TestGPT2Ranges) produces:
// LayerNorm variance + eps in [0.0012, 2.84], GELU inputs in [-3.9, 4.8],
// softmax inputs in [-3.6, 3.0], down to -4.8 below the row maximum.
// TestGPT2Ranges checks that both presets' fixed-point ranges and the
// norms' default range cover them.
//
//	protocol          inputs                              bgv-n13 (41-bit, f=12)  60-bit t, f=14
//	                                                      max abs    mean abs     max abs    mean abs
//	trunc(x·y)        x, y ∈ [-8, 8]                      2.4e-04    7.9e-05      6.1e-05    2.0e-05
//	exp               [-20, 0]                            2.9e-04    4.9e-05      1.0e-04    1.9e-05
//	reciprocal        [1, 1024)                           2.3e-04    8.1e-05      6.0e-05    2.1e-05
//	rsqrt             [0.01, 64)                          2.7e-04    8.2e-05      6.0e-05    2.0e-05
//	silu              [-8, 8]                             4.9e-04    1.6e-04      3.2e-04    1.5e-04
//	gelu              [-8, 8]                             3.8e-04    6.5e-05      1.8e-04    3.8e-05
//	softmax           8 rows x 128, [-20, 20]             2.8e-04    2.2e-05      1.5e-04    7.3e-06
//	softmax causal    4 heads of 16 x 16, [-20, 20]       2.7e-04    2.0e-05      1.7e-04    9.0e-06
//	rmsnorm           4 rows x 64, [-3, 3]                3.5e-04    1.0e-04      6.1e-05    2.0e-05
//	layernorm         2 rows x 768, [-4, 6]               2.7e-04    8.4e-05      7.1e-05    2.2e-05
//	layernorm         2 rows x 768, ±0.06                 4.7e-03    2.4e-03      7.9e-04    4.4e-04
//
// With Config.Nonlinear = LUT ("raw": the inputs with 2f fractional bits,
// as an untruncated product holds them, plus bits below f that the
// reference ignores; x·silu(x) is SwiGLU with g = u = x):
//
//	trunc(x·y) raw    x, y ∈ [-8, 8], y raw                2.1e-03    5.0e-04      5.2e-04    1.3e-04
//	silu lut          [-20, 20]                           3.8e-04    8.0e-05      2.7e-04    2.9e-05
//	gelu lut          [-10, 10]                           3.5e-04    5.3e-05      1.7e-04    1.7e-05
//	silu lut raw      [-20, 20]                           5.9e-04    1.2e-04      3.0e-04    3.9e-05
//	gelu lut raw      [-10, 10]                           5.9e-04    1.0e-04      1.9e-04    2.9e-05
//	x·silu(x) lut     [-8, 8]                             2.6e-03    4.3e-04      5.6e-04    1.1e-04
//	x·silu(x) raw     [-8, 8]                             5.8e-03    7.6e-04      1.3e-03    1.9e-04
//	softmax lut       8 rows x 128, [-20, 20]             2.5e-04    2.3e-05      6.5e-05    6.3e-06
//	softmax lut raw   8 rows x 128, [-20, 20]             2.3e-04    2.1e-05      6.1e-05    6.1e-06
//	rmsnorm lut       4 rows x 64, [-3, 3]                3.6e-04    1.3e-04      1.0e-04    3.0e-05
//	rmsnorm lut raw   4 rows x 64, [-3, 3]                5.1e-04    1.4e-04      1.4e-04    3.4e-05
//	layernorm lut raw 2 rows x 64, [-4, 6]                3.8e-04    1.3e-04      1.1e-04    3.1e-05
//	layernorm lut     2 rows x 768, [-4, 6]               6.0e-04    1.5e-04      1.1e-04    2.9e-05
//	layernorm lut     2 rows x 768, ±0.06                 5.0e-03    1.6e-03      1.2e-03    3.9e-04
//
// The outputs left for the consumer to truncate (Softmax.Raw's
// probabilities with 2P bits, SwiGLU.Raw's products with 2f) and the norm
// of rows with 2f extra bits are within the same bounds (TestRawOutputs).
// The raw product's error is its input's bits below f (under one unit of
// the last place) times |x| <= 8; x·silu(x) reaches 64, its error is
// SiLU's times |u|. The rows ±0.06 have the variance of GPT-2's first
// LayerNorm (0.0012, std 0.035): the iterative form's error is that of
// the mean, held with f bits (two truncations, within 4·2^-f, that is up
// to 0.028 std at f = 12; the figures vary from run to run, up to 1.0e-02
// seen with bgv-n13); the lookup form centres exactly, and its error is
// the centred values' rounding to f bits. End to end
// (TestStories260KEndToEnd), stories260K generating 16 tokens from BOS
// with every RMSNorm, softmax, SiLU, SwiGLU product and the final argmax
// on shares, the linear layers done by a test-only stand-in that
// reconstructs, multiplies in float64 and re-shares at f bits: max
// |logit - reference| = 0.0090 with bgv-n13's fixed point and 0.0056 with
// bgv-n14's (target 0.05; with f alone and no working precision bgv-n13
// gave 0.073), and the greedy tokens are llama2.c's (403, 407, 261, 378,
// 432, ...).
//
// # Errors and concurrency
//
// Wrong lengths, shares of another modulus or not reduced, a protocol built
// for another ring than the session's, bad shapes and exhausted dealer
// material are errors that start with "mpc: " and name the protocol; none
// panics. A failure in the middle of a protocol closes the pipe (the other
// party is never left waiting) and makes the session unusable. A Ring, a
// Config and the protocol values are immutable and safe for concurrent use;
// a Session runs one protocol at a time.
package mpc
