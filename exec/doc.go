// Package exec holds the secure primitives of cgsim's hybrid protocol (BGV
// homomorphic encryption plus two-party additive secret sharing modulo the
// BGV plaintext prime t) and the calibration that prices them.
//
// Every primitive is a value that knows its shape (dimensions, encoding,
// levels, parameters, profile) and has two methods:
//
//   - Estimate() cost.Cost: pure arithmetic, no ciphertext, no randomness;
//   - Run(...): the real computation between a client and a server, which
//     records every homomorphic operation into a cost.Tally (the same
//     cost.Op names and levels as Estimate) and its traffic through the
//     session's net.Meter (Begin/Since around the whole exchange).
//
// The tests assert cost.CounterDiff(run, estimate) is empty for every
// primitive over several shapes, and that the result equals the plaintext
// computation modulo t exactly.
//
// # Parties and sessions
//
// A [Client] owns the secret key (its encryptions are secret-key ones). A
// [Server] holds the public key, the evaluation keys and an evaluator, and
// nothing else: its only constructor, [AcceptKeys], builds it from what
// arrives on its connection, so no path from a Server reaches a secret key.
// [NewSession] joins the two with net.Pipe, generates a relinearization key
// and the Galois keys of exactly the rotations the given primitives list
// ([Primitive].Rotations), sends them over the metered pipe and records that
// traffic in Session.Setup: setup cost, not per-token cost. A Run hands the
// client's inputs (Shared.C) only to its client goroutine and the server's
// (Shared.S, the weights, the cache) only to its server goroutine.
//
// # Share conversion
//
// [C2S]: the client encodes its share, encrypts it and sends it (one flight,
// one round); the server adds its own share: it holds Enc(x). [H2S]: the
// server adds Encode(-r) for a fresh mask r uniform modulo t (crypto/rand,
// rejection sampling), adds a public-key encryption of zero (re-randomizes
// c1) and a flooding error uniform in [-2^f, 2^f) with
// f = nu - log2 t + 40 + log2 N - 1, where 2^nu bounds the payload m + t·e
// of the computation (see noiseModel): over the N coefficients the
// statistical distance to a ciphertext that depends only on the result is
// at most N·2^(nu - log2 t)/2^(f+1) = 2^-40. It then rescales the flooded
// ciphertext down to the lowest level at which it still decrypts (fewer
// bytes; a public function of the flooded ciphertext cannot undo the
// flooding), and sends it. The client decrypts y - r; the server keeps r.
// The noise model and its constants are those of package params; every
// primitive plans its input level (the lowest that leaves room for the
// computation plus the flooding) and its return level from it.
//
// Per ciphertext: C2S costs 2 encodes, 1 encryption, 1 serialization, 1 add
// and one ciphertext up; H2S costs 1 encode (the mask), 2 adds, 1 encryption
// (of zero), the rescales, 1 serialization, 1 decryption and 1 decoding
// (counted as an encode: same transform, same price) and one ciphertext
// down. Every primitive below is C2S, server computation, H2S: two flights,
// one round.
//
// # Linear layers
//
// [Linear] computes Y = X W^T for the server's W (Out x In) and a shared X
// (Tokens x In). A slot row of N/2 slots is cut into lanes: the input width
// is padded to a power of two n <= N/2 (inputs wider than a row are cut in
// K = ceil(In/n) chunks, one ciphertext each), there are N/n lanes, and
// feature c of lane λ is at slot (λ div L)·N/2 + c·L + (λ mod L) with
// L = N/(2n): a rotation by i·L shifts every lane cyclically by i. Lane
// λ = ρ·T + τ holds token τ of its group and computes row block ρ: T tokens
// per ciphertext and R = floor(N/(n·T)) blocks of b rows each.
//
//   - Decode encoding (one token): T = 1, the token is replicated in all
//     N/n lanes, each computing a different block of b rows.
//   - Prefill encoding (m tokens): T tokens per ciphertext (the planner
//     tries powers of two and min(m, N/n)), the remaining lane factor
//     computing different row blocks.
//
// With generalized diagonals diag_i[λ, c] = W[row(λ, c mod b), (c+i) mod n]
// (i < b), z = Σ_i diag_i ⊙ rot(x, i·L) is evaluated baby-step giant-step:
// g - 1 hoisted baby rotations of the input (one decomposition shared),
// diagonals pre-rotated in the clear, b/g - 1 giant rotations per output
// ciphertext; then log2(n/b) rotate-and-add folds by b·L, 2b·L, ... leave
// row r of lane λ at the slot of feature r. With G token groups and O
// output ciphertexts per group:
//
//	ct-pt products  G·O·b·K            encodes (diagonals)  O·b·K
//	rotations       G·(K·(g-1) + O·(b/g - 1 + log2(n/b)))
//	ciphertexts     G·K up, G·O down
//
// [NewLinear] chooses b, g and T minimizing the estimated time (compute
// plus a LAN transfer) under the profile. Rotation lower bound
// ([Linear.RotationLowerBound]): every output slot depends on In/K input
// slots of one ciphertext, and a circuit of additions, plaintext products
// and r rotations makes a slot depend on at most 2^r slots (a dependency
// path is a subset of the rotations), so at least ceil(log2(In/K))
// rotations per token group. The small stories260K layers meet it (64x64
// decode: 6 = log2 64); for large matrices the planner trades rotations
// for fewer products (GPT-2 768x768 decode at log N 13: 25 rotations, bound
// 10, 128 products where the bound-meeting plan needs 768).
//
// # Attention kernels (ARCC)
//
// The key and value caches are in the decode layout [CacheLayout]: token
// j's KVDim = KVHeads·HeadDim vector at the start of a block of W slots
// (KVDim rounded up to a power of two), B = N/W tokens per ciphertext. The
// cache's ciphertexts Enc(K_C) and the server's plaintext share K_S are
// inputs (the cache itself belongs to package kv).
//
// [DecodeScores] (one query against the cache, matrix-vector): for each of
// the G = Heads/KVHeads query heads sharing a key head (grouped-query
// attention) the client sends the query replicated in every token block;
// the server adds its shares to the query and to each cache ciphertext,
// multiplies (one ct-ct product per cache ciphertext and head offset) and
// folds each head's HeadDim products by rotations 1, 2, ..., HeadDim/2.
// With C = ceil(Context/B): G·C ct-ct products, G·C·log2(HeadDim)
// rotations, G ciphertexts up, G·C down. Lower bound: log2(HeadDim)
// rotations per product ciphertext (each score sums HeadDim slots): met.
//
// [DecodeValues] is the mirror kernel o_h = Σ_j p[h][j]·v_j: the client
// sends the attention weights spread over each token's value slots (G·C
// ciphertexts), the server multiplies with the value cache, adds over the
// cache ciphertexts, and sums the B tokens of a ciphertext by folding across
// token blocks (log2(B/2) column rotations by W, 2W, ... and one row swap).
// G·C ct-ct products, G·log2(B) rotations, G ciphertexts down. Lower bound:
// log2(B) rotations per output ciphertext: met.
//
// In decode the causal mask is implicit: the cache holds exactly the
// Context tokens up to the query's position.
//
// # Embedding
//
// [Embedding] looks up the row of the server's table for a token the client
// knows: the client's share is the one-hot vector of the token, the
// server's is zero, and the lookup is the Dim x Vocab linear layer E^T in
// the decode encoding (same cost formula and bound).
//
// # Measured against estimated
//
// BenchmarkPrimitives runs each primitive at bgv-n13 and bgv-n14 and reports
// the Estimate's compute seconds (est-s/op) and est/measured beside ns/op;
// with CGSIM_BENCH_TABLE=1 it prints the rows of the table below: the
// median wall time of a Run (client and server in one process, no network)
// against the Estimate's compute seconds, with a profile calibrated on the
// same machine (2 cores, shared with other jobs: a few percent of jitter)
// with 5 repetitions. Counters always agree exactly; seconds:
//
//	preset   primitive                          measured s  estimated s   est/meas - 1
//	bgv-n13  C2S (one ciphertext)                   0.0034       0.0036      +6%
//	bgv-n13  C2S+H2S                                0.0080       0.0078      -3%
//	bgv-n13  Linear stories260K 64x64 decode        0.0288       0.0243     -16%
//	bgv-n13  Linear stories260K 172x64 decode       0.0273       0.0243     -11%
//	bgv-n13  Linear stories260K 64x172 decode       0.0355       0.0300     -16%
//	bgv-n13  Linear stories260K 512x64 decode       0.0281       0.0251     -11%
//	bgv-n13  Linear stories260K 64x64 prefill m=16  0.0303       0.0266     -12%
//	bgv-n13  Linear GPT-2 768x768 decode            0.1312       0.1090     -17%
//	bgv-n13  Linear GPT-2 3072x768 decode           0.3426       0.2662     -22%
//	bgv-n13  Linear GPT-2 768x3072 decode           0.3612       0.2834     -22%
//	bgv-n13  Linear GPT-2 768x768 prefill m=8       0.5129       0.4198     -18%
//	bgv-n13  DecodeScores stories260K ctx 256       0.0422       0.0396      -6%
//	bgv-n13  DecodeValues stories260K ctx 256       0.0722       0.0681      -6%
//	bgv-n13  DecodeScores GPT-2 ctx 128             0.4591       0.4024     -12%
//	bgv-n13  DecodeValues GPT-2 ctx 128             0.1095       0.1281     +17%
//	bgv-n13  Embedding stories260K                  0.0370       0.0336      -9%
//	bgv-n14  C2S (one ciphertext)                   0.0126       0.0131      +3%
//	bgv-n14  C2S+H2S                                0.0336       0.0321      -4%
//	bgv-n14  Linear stories260K 64x64 decode        0.0802       0.0725     -10%
//	bgv-n14  Linear stories260K 172x64 decode       0.0807       0.0725     -10%
//	bgv-n14  Linear stories260K 64x172 decode       0.1264       0.0905     -28%
//	bgv-n14  Linear stories260K 512x64 decode       0.0819       0.0725     -11%
//	bgv-n14  Linear stories260K 64x64 prefill m=16  0.0819       0.0736     -10%
//	bgv-n14  Linear GPT-2 768x768 decode            0.2485       0.2135     -14%
//	bgv-n14  Linear GPT-2 3072x768 decode           0.5934       0.5029     -15%
//	bgv-n14  Linear GPT-2 768x3072 decode           0.6300       0.5209     -17%
//	bgv-n14  Linear GPT-2 768x768 prefill m=8       0.8905       0.7456     -16%
//	bgv-n14  DecodeScores stories260K ctx 256       0.1294       0.1164     -10%
//	bgv-n14  DecodeValues stories260K ctx 256       0.2294       0.2248      -2%
//	bgv-n14  DecodeScores GPT-2 ctx 128             0.7071       0.6194     -12%
//	bgv-n14  DecodeValues GPT-2 ctx 128             0.2168       0.2071      -4%
//	bgv-n14  Embedding stories260K                  0.1090       0.0996      -9%
//
// The estimate is low by the work no profile entry prices: laying out and
// deserializing vectors and ciphertexts, sampling masks and flooding
// errors, allocating. It stays within 20% except for the largest GPT-2
// linear layers at log N 13 (-22%) and rows whose runs vary under load:
// stories260K 64x172 at log N 14 (-10% to -28%) and 64x64 prefill at log N
// 13 (-12% in the run shown, -42% in another).
//
// # Concurrency
//
// Primitives are plain values, safe for concurrent use; a Session is not:
// its parties' lattigo evaluators, encoders and encryptors are not safe for
// concurrent use, and one Run at a time may use a session.
package exec
