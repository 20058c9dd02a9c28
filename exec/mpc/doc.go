// Package mpc evaluates the non-linear layers of a Transformer on additive
// secret shares between the client and the server of cgsim: Beaver
// multiplication, truncation, comparison, and from them exp, reciprocal,
// inverse square root, softmax, SiLU, GELU, RMSNorm, LayerNorm and an
// argmax revealed to the client only. Every protocol is a value that knows
// its shape and has Estimate (pure arithmetic) and Run (real shares, real
// messages over a metered in-process pipe), whose counters agree exactly.
//
// # Shares and fixed point
//
// A vector x is shared as x = x_C + x_S mod t, t the BGV plaintext prime of
// the HE side (the tests use a 50-bit and a 61-bit prime ≡ 1 mod 2^17, see
// [FindPrime]). Reals are fixed point with f fractional bits, centered:
// elements above (t-1)/2 are negative ([Ring.Encode], [Ring.Decode]). A
// [Share] carries its modulus; a [Pair] holds both parties' shares and is
// what Run takes and returns. [Params] holds t and f (to be replaced by
// params.FixedPoint once that package settles).
//
// # Parties, sessions and metering
//
// A [Session] is a client and a server joined by net.Pipe. A Run plays both
// parties: each communication step runs the client's and the server's code
// concurrently, each touching only its own share, its own dealer material
// and its own connection; in an exchange each party sends its part as one
// message. Every step is bracketed with net.Meter.Begin/Since, so a Run's
// rounds are the sum of its steps' rounds (an exchange is 2 flights = 1
// round, a one-way message 1 round). Local work is counted in share_ops
// (priced by cost.OpShare), arithmetic Beaver triples in triples, and the
// dealer's bytes in offline_bytes. An Estimate is the same sequence of
// steps written down with the same cost helpers; TestRunMatchesEstimate
// checks cost.CounterDiff(run, estimate) is empty for every protocol, both
// primes and lengths 1, 7, 64 and 500.
//
// # The dealer
//
// A [Dealer] produces correlated randomness for a [Need] before the inputs
// exist. [TrustedDealer] (a trusted third party, as CrypTen's) uses seed
// compression: the client gets a 32-byte PRG seed only (AES-256-CTR, one
// stream per component, uniform elements by rejection sampling); the server
// gets a seed for its random components and, explicitly, the components the
// correlation fixes: per triple one element, per truncation mask two, per
// daBit one, per sign mask bits(t) bits and per boolean triple one bit
// ([Need.OfflineBytes]). By default each Run deals exactly its Need; with
// Session.Manual a Run draws on material dealt earlier by
// Session.Preprocess, and a stock that runs short is an error. A
// dealer-free generator (triples from HE) can replace the dealer by
// implementing Dealer.
//
// # Protocols
//
// Mul: Beaver product, one exchange of (x - a, y - b). Fixed-point products
// are then truncated.
//
// Trunc (division by 2^f) is exact up to its rounding for |x| < 2^ℓ, ℓ =
// bits(t) - 3, with perfect hiding: the dealer gives shares of a uniform r
// in Z_t, of ⌊r/2^f⌋ and of the bit w_r = [r > (t-1)/2]. The parties open
// c = x + 2^ℓ + r mod t (uniform, independent of x). Since x' = x + 2^ℓ
// lies in [0, 2^(ℓ+1)), the integer identity x' = c - r + t·w holds with
// the wrap w = [c < 2^(ℓ+1)]·w_r, which is linear in the shared bit once c
// is public, so ⌊x'/2^f⌋ = ⌊c/2^f⌋ - ⌊r/2^f⌋ + w·⌊t/2^f⌋ + δ, δ ∈ {-1, 0, 1}.
// One round, no failure probability: the result is within 2 units of the
// last place (2^-f), and within 1 except when the opening wraps. Values
// outside |x| < 2^ℓ give garbage, silently. With f = 16 and a 50-bit t the
// product of two values must stay below 2^(47-32) = 32768 in magnitude.
// Methods that open x + r for r with 40 bits of statistical slack would
// need t > 2^(ℓ+41), which a BGV plaintext prime of 50-60 bits cannot give
// for products with 2f = 32 fractional bits; this one costs the same one
// round and two offline elements per value.
//
// Sign returns shares of [x >= 0] as a plain 0/1 element. x < 0 exactly
// when 2x mod t is odd; with c = 2x + r opened for a uniform r whose bits
// are XOR-shared, lsb(2x) = lsb(c) ⊕ lsb(r) ⊕ [r > c]. The comparison of the
// shared bits of r with the public c is a tree of boolean Beaver ANDs, one
// level per round, with the bits of all elements packed; a daBit converts
// the result to Z_t. It is exact on the whole field: 1 + ceil(log2 bits(t))
// + 1 rounds (8 for 33-64-bit t). Comparisons a >= b are signs of a - b.
//
// Max and Argmax: a tournament of ceil(log2 n) levels, each one batched
// Sign and one batched product by the bits (9 rounds per level). Argmax
// carries shares of the positions and reveals the winner's to the client
// only (one more round); ties go to the lowest position, as model.Argmax.
//
// Exp (x <= 0): e^x ≈ (1 + u + u²/2)^64 with u = x/64, then times
// [x >= -16]. Reciprocal and Rsqrt on [2^Lo, 2^Hi): one batched Sign
// against the powers of two gives a piecewise-constant initial guess
// (linear in the bits, so local), then 4 Newton steps. Softmax: row maxima,
// exp of the differences, a reciprocal of the row sums on [1, Cols], and a
// product; causal rows only touch their visible entries. SiLU and GELU are
// x·σ(z) (z = x, resp. 2·sqrt(2/π)(x + 0.044715x³)) with σ from e^-|z| and
// a reciprocal on [1, 2], and saturation beyond |x| >= 16 (SiLU) or 8
// (GELU) decided by the same batched Sign. RMSNorm and LayerNorm output
// the unit-gain normalization: their gains (and LayerNorm's bias) are to
// be folded into the next linear layer.
//
// Several steps run one after the other although they are independent
// (exp's clipping comparison and its squarings; the comparisons and the
// products of a tournament level are dependent, the rest are not): the
// rounds of Exp, SiLU, GELU and Softmax exceed the depth of their circuits
// by the 8 rounds of one Sign, the price of the per-step metering that
// keeps Run and Estimate exact.
//
// # Costs per element
//
// Estimates at n = 512, 50-bit t (7-byte elements), f = 16 (go test -run
// TestCostTable -v); bytes are per direction, the two directions are equal:
//
//	protocol              bytes/elem  rounds  triples/elem  offline B/elem
//	mul (fixed)                 21.0       2           1.0            21.1
//	trunc                        7.0       1           0               14.1
//	sign                        33.1       8           0               26.4
//	max (1 row)                 47.0      81           1.0            33.3
//	argmax                      61.0      82           2.0            40.3
//	exp                        208.1      24           8.0           208.4
//	reciprocal [1, 2^10)       466.1      24           8.0           404.4
//	rsqrt [2^-10, 2^16)       1087.1      33          12.0           922.4
//	softmax (1 row)            277.1     131          10.0           263.3
//	silu                       491.4      44          19.0           463.9
//	gelu                       540.4      49          21.0           519.9
//	rmsnorm (1 row)             44.2      39           2.0            44.0
//	layernorm (1 row)           44.2      41           2.0            44.0
//
// Rounds of Max, Argmax and Softmax grow as 9·ceil(log2 n); those of the
// per-row norms do not depend on the width. Benchmarks (go test -bench .)
// report bytes/elem (both directions together) and rounds.
//
// # Accuracy
//
// Max and mean absolute error against float64 on the shared (quantized)
// inputs, f = 16, over 1000 values or the stated matrix (go test -run
// TestAccuracyTable -v); the ranges cover what stories260K produces (softmax
// inputs down to -132 below the row maximum, SiLU inputs in [-4.5, 4.9],
// mean x² + eps in [0.033, 5.5], logits in [-19, 22]) and GPT-2-width
// LayerNorm rows:
//
//	protocol     inputs                      t       max abs     mean abs
//	trunc(x·y)   x, y ∈ [-8, 8]              50-bit  1.5e-05     5.3e-06
//	exp          [-20, 0]                    50-bit  1.1e-03     2.9e-05
//	reciprocal   [1, 1024)                   50-bit  1.5e-05     5.1e-06
//	rsqrt        [0.01, 64)                  50-bit  9.8e-05     1.5e-05
//	silu         [-8, 8]                     50-bit  5.4e-04     1.3e-04
//	gelu         [-8, 8]                     50-bit  2.4e-04     3.2e-05
//	softmax      8 rows x 128, [-20, 20]     50-bit  1.9e-04     4.6e-06
//	rmsnorm      4 rows x 64, [-3, 3]        50-bit  4.2e-05     9.8e-06
//	layernorm    2 rows x 768, [-4, 6]       50-bit  1.0e-04     3.5e-05
//
// The 61-bit prime gives the same figures (the error is set by f, not t).
// End to end (TestStories260KEndToEnd), stories260K generating 16 tokens
// from BOS with every RMSNorm, softmax, SiLU, SwiGLU product and the final
// argmax on shares, the linear layers done by a test-only stand-in that
// reconstructs, multiplies in float64 and re-shares: max |logit - reference|
// = 0.0054 (50-bit t) and 0.0056 (61-bit t), and the greedy tokens are
// llama2.c's (403, 407, 261, 378, 432, ...).
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
