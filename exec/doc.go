// Package exec holds the secure primitives of cgsim's hybrid protocol (BGV
// homomorphic encryption plus two-party additive secret sharing modulo the
// BGV plaintext prime t); package calibrate measures the profile that
// prices them.
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
// Every Run goes through one frame (run, in party.go): the primitive's
// size check, its client half and its server half on their own parties,
// the meter bracketing the whole exchange. Each primitive's file keeps
// its Estimate beside its Run.
//
// The tests assert cost.CounterDiff(run, estimate) is empty for every
// primitive over several shapes (TestContract runs one table of them all,
// the table BenchmarkPrimitives times), and that the result equals the
// plaintext computation modulo t exactly.
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
// (Shared.S, the weights, the cache) only to its server goroutine: each
// primitive's halves are methods that take only *Client and the client's
// inputs, or only *Server and the server's (Session.both hands each its
// own party). [NewSessionConns] runs a session over given connections and
// meter, so that the HE primitives and the mpc protocols of one run share
// one transport (mpc.NewSessionConns); [RestoreSession] rebuilds a session
// from saved keys ([Client.MarshalBinary], [Server.MarshalBinary]: the
// client's secret stays in the client's encoding). [RestoreClient] (and so
// RestoreSession) checks that the saved secret key belongs to the saved
// public key: b + a·s must be a public key's error, every coefficient
// within the error distribution's bound on every prime; another key's s
// leaves a uniform residue and is refused with an error
// (TestRestoreChecksKeyPair).
//
// # Planning and checks
//
// A [Planner] (parameters, profile, statistical security κ) is the checked
// constructor of every primitive; [PlannerFor] takes κ from a preset's
// FixedPoint.StatSecurity. The package-level constructors are a Planner
// with κ = 40. [CheckProfile] rejects a nil profile or one of another
// ring, scheme or with fewer levels: an error at construction, not a panic
// later.
//
// # Received bytes
//
// Every lattigo object that arrives from the other party or a file is
// checked against the layout lattigo produces for the parameters before
// lattigo parses it ([UnmarshalCiphertext], [UnmarshalPublicKey],
// [UnmarshalRelinearizationKey], [UnmarshalGaloisKey]; see wire.go): a
// well-framed but malformed payload is an error, never a crash
// (TestMalformedCiphertexts, TestSeededCiphertext, TestMalformedKeys,
// FuzzUnmarshalCiphertext).
// The key exchange sends the public key, the list of Galois elements
// (bounded), the relinearization key and one message per Galois key.
//
// # Share conversion
//
// [C2S]: the client encodes its share, encrypts it under its secret key
// and sends it seeded (one flight, one round): c0 and the 32-byte seed its
// uniform c1 was drawn from, which the server expands (seeded.go; half the
// bytes of a whole ciphertext); the server adds its own share: it holds
// Enc(x). [H2S]: the
// server adds a pad (pads.go): a public-key encryption of -r for a fresh
// mask r uniform modulo t (ChaCha8 keyed from crypto/rand, Lemire's
// unbiased method), which re-randomizes c1, with a flooding error uniform
// in [-2^f, 2^f) in its first component, where
// f = ceil(log2((2^nu + t)/t) + κ + log2 N - 1) and 2^nu bounds, in the
// worst case, the payload m + t·e of the padded result, the pad's
// encryption included (see NoiseModel). A pad depends on no input: the
// server makes it offline (a run, just before it is needed, timed as
// offline seconds). Over the N coefficients the statistical
// distance to a ciphertext that depends only on the result is at most
// N·2^(nu - log2 t)/2^(f+1) <= 2^-κ. κ is the Planner's: a session
// (package sim) plans with κ + ceil(log2 D) for the D ciphertexts it
// returns, so that the whole transcript keeps the preset's κ. It then
// rescales the flooded ciphertext down to the lowest level at which it
// still decrypts (fewer bytes; a public function of the flooded ciphertext
// cannot undo the flooding), and sends it. The client decrypts y - r; the
// server keeps r. [Session.InspectReturns] is the audit seam of this path:
// it shows every returned batch and its [ReturnPlan] before the pad, and
// [Client.PayloadBits] measures a payload with the client's key.
// The noise model ([NoiseModel], exported: package kv tracks its cache
// with it) and its constants are those of package params; every
// primitive plans its input level (the lowest that leaves room for the
// computation plus the flooding) and its return level from it.
//
// The attention kernels read a cache whose ciphertexts are not fresh
// (client appends sum encryptions, homomorphic appends and rescales add
// noise): AttentionShape.CacheBits bounds its payload, and the kernels
// plan their level and flooding for that bound (zero: fresh). A kernel
// planned for fresh ciphertexts over a real cache floods too little:
// package kv plans its kernels for the bound its noise model proves
// (kv.Config.Kernels), and the run and estimate engines use those.
// A [C2S] with ClientOnly set skips the server's share (the cache's client
// appends, whose server share stays in the clear).
//
// Per ciphertext: C2S costs 2 encodes, 1 encryption, 2 serializations (the
// client's marshalling, the server's unmarshalling), 1 add, 2N share
// operations (each party lays out a slot vector), N·(l+1) seed
// coefficients (the server expands the seed at level l, cost.OpExpand) and
// one seeded ciphertext up;
// H2S costs, offline, the pad: 1 encode (the mask), 1 encryption, the
// flooding error (N·(l+1)·(w+2) share operations at level l with w-word
// coefficients) and N share operations (sampling the mask and laying it
// out); online, 1 add (the pad), the rescales, 2 serializations, 1
// decryption and 1 decoding (counted in encodes, priced as cost.OpDecode)
// and one ciphertext down. The work that is not a homomorphic operation is priced through
// the cost.Op kinds (OpSerialize, OpShare, OpExpand; see layoutCost in
// transfer.go for the conventions and their measured accuracy), and Run
// records the same events at the same places. Every primitive below is
// C2S, server computation, H2S: two flights, one round.
//
// [Reencrypt] is an H2S followed by the client's fresh encryption of what
// it decrypted, laid out anew by a public map with public per-ciphertext
// factors (one C2S per output level): the KV cache's refresh and its
// prefill-to-decode switch (package kv). Its client half has the Client
// and the received ciphertexts only; its server half the Server, the
// ciphertexts and its masks. The client uploads every group in one flight:
// one round, and the counters of the H2S and of each group's C2S.
//
// Masks and flooding errors are drawn from ChaCha8 (math/rand/v2's
// cryptographically strong generator) keyed from crypto/rand, once per
// return.
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
// g - 1 hoisted baby rotations of the input (one decomposition shared: the
// first is priced as a rotation, the others as the marginal
// hoisted_rotation),
// diagonals pre-rotated in the clear, b/g - 1 giant rotations per output
// ciphertext; then log2(n/b) rotate-and-add folds by b·L, 2b·L, ... leave
// row r of lane λ at the slot of feature r. With G token groups and O
// output ciphertexts per group:
//
//	ct-pt products  G·O·b·K            encodes (diagonals)  O·b·K
//	rotations       G·(K·(g-1) + O·(b/g - 1 + log2(n/b)))
//	ciphertexts     G·K up, G·O down
//
// [Linear.Run] encodes the diagonals on the way; a server that multiplies
// the same W many times encodes them once ([Linear.EncodeWeights], priced
// by [Linear.WeightsCost], O·b·K plaintexts of [Linear.WeightsBytes]) and
// calls [Linear.RunEncoded], priced by [Linear.EstimateEncoded]: Run's
// cost without the diagonals' layout and encodes.
//
// A second family, the coefficient packing ([Linear.Domain] is
// [Coefficients]), needs no rotation at all: the messages are the
// coefficients of the plaintext polynomial, and a ciphertext-plaintext
// product is a product of polynomials modulo X^N + 1. The input is cut in
// K chunks of n = ceil(In/K) features; input ciphertext (group, chunk k)
// holds feature k·n + c of its token τ < T at coefficient τ·n + c; the
// weight polynomial of output ciphertext o and chunk k holds
// W[o·b + r][k·n + c] at coefficient r·T·n + n - 1 - c, with
// b = min(floor(N/(T·n)), Out) output rows per ciphertext. In the product, the
// coefficient (r·T + τ)·n + n - 1 collects exactly Σ_c W[row][k·n + c]·x[c]
// of token τ and row o·b + r: every other pair of terms lands elsewhere in
// the same block of n coefficients or at most n - 2 into the next, and
// b·T·n <= N keeps the negacyclic wrap below coefficient n - 1. The
// chunks' products add up. The other coefficients carry partial sums of
// W and x: the uniform mask over all N coefficients hides them, as it
// hides the unused slots of the slot packing. With G token groups and
// O = ceil(Out/b):
//
//	ct-pt products  G·O·K              encodes (weights)  O·K
//	rotations       0
//	ciphertexts     G·K up, G·O down
//
// The products stay about Out·In·T/N whatever K; more chunks trade input
// ciphertexts for fewer outputs. Small layers win most (stories260K's 64x64
// decode: one product, no rotation, where the slot packing needs 6);
// wide ones return many sparse ciphertexts. The noise is the slot
// packing's without its key switches. A received ciphertext says its
// domain in its metadata, and each party refuses one in the other domain.
// A coefficient encode or decode skips the slot transform: the profile
// prices it apart (cost.OpEncodeCoeffs, cost.OpDecodeCoeffs).
//
// [NewLinear] chooses the family, b, g and T (K, T) minimizing the
// estimated time (compute plus the transfer over the Planner's Network, the
// LAN by default) under the profile; [Planner.LinearEncodedOnce] does so
// for weights encoded once.
//
// Rotation lower bound of a slot packing ([Linear.RotationLowerBound]):
// every output slot depends on In/K input slots of one ciphertext, and a
// circuit of additions, slot-wise plaintext products and r rotations makes
// a slot depend on at most 2^r slots (a dependency path is a subset of the
// rotations), so at least ceil(log2(In/K)) rotations per token group. The
// small layers meet it (64x64 decode: 6 = log2 64); for large matrices the
// planner trades rotations for fewer products. The bound does not hold
// for the coefficient packing, whose products are not slot-wise.
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
// # Prefill attention kernels (ARCC matrix-matrix)
//
// A prompt of m tokens needs the causal Q·K^T and P·V over all m queries
// at once. Its keys and values are in the prefill layout [PromptLayout]:
// the blocks of the decode layout (W slots per token, B = N/W per
// ciphertext, B/2 per slot row), but when the prompt fits in half a row
// (m <= B/2) its m keys take a span of S = m rounded up to a power of two
// blocks and the ciphertext holds R = B/S copies of the span (no copy
// straddles a row); otherwise S = B, R = 1 and it is the decode layout,
// ceil(m/S) ciphertexts. The client encrypts its share K_C in this layout
// at the kernel's level, the server adds its plaintext share K_S (as the
// decode kernels do with the cache); the decode cache is then built once,
// in the decode layout, from the same shares (heterogeneous encodings,
// switched once: a second client encryption of B-token ciphertexts).
//
// Queries are taken in groups of R: query g·R + r sits in copy r,
// replicated over the S blocks of the copy (sub-block kv holding head
// kv·G + a, one ciphertext per group and query-head offset a < G).
//
//   - [PrefillScores]: one ct-ct product of each group's query ciphertext
//     with each key ciphertext its causal window reaches
//     (ceil((last query + 1)/S) of them), then a folding sum over HeadDim
//     (rotations 1, 2, ..., HeadDim/2): one product pairs R queries with S
//     keys each. With P = Σ_g ceil((last_g + 1)/S): G·P products,
//     G·P·log2(HeadDim) rotations, G·ceil(m/R) ciphertexts up, G·P down.
//   - [PrefillValues]: the client sends each group's weights spread over
//     the value slots of the keys in its window (zero after the query:
//     the causal mask), the server multiplies with the value ciphertexts,
//     adds over them and folds the blocks of each copy: log2(F) column
//     rotations by W, 2W, ..., F the group's window within a ciphertext
//     rounded up to a power of two (a row rotation for the last fold when
//     F = B). G·P products and ciphertexts up, G·ceil(m/R) down.
//
// The causal mask costs nothing: scores above the diagonal are computed
// where a product pairs a query with a later key, but they are masked by
// H2S like every slot, the client learns nothing from them, and both
// parties set those shares to zero (the positions are public).
//
// Rotation bounds. P·V meets its bound: each output ciphertext holds the
// output of its group's last query i, a sum over min(i+1, B) tokens in
// distinct blocks of one ciphertext, which needs ceil(log2(min(i+1, B)))
// rotations (the 2^r argument). For Q·K^T the bound is log2(HeadDim)
// rotations per output ciphertext times the fewest output ciphertexts any
// kernel on this layout can have, G·ceil(m(m+1)/(2B)) (one causal pair
// per block); the kernel is above it by the empty blocks of its packing.
// Measured (TestPrefillAttention, log N 13): stories260K m = 32 (S = 32,
// R = 8): 8 products, 24 rotations against a bound of 18 (P·V: 34, met);
// one GPT-2 head (HeadDim 64) m = 32: 8 products, 48 rotations, bound 30;
// m = 5: 6, the bound; a whole GPT-2 layer m = 5 (B = 8, so R = 1: one
// query per product): 30 rotations, bound 12. Within a row (m <= B/2) the
// gap is the upper triangle of each group's square, below a factor 2;
// beyond a row it is up to (B+1)/2 for short prompts and tends to 1 as
// m/B grows.
//
// One skeleton. The four kernels are two kinds (scores, values) over two
// layouts, written once (attention_kernels.go): a layout gives the
// kernels a packing (the S-position span of a key ciphertext, the R copies
// a query ciphertext holds, which keys each query sees and how far the
// value fold goes), and the decode kernels are the prefill skeleton with
// one query that sees every cached token (S = B, R = 1) and a value fold
// over the whole ciphertext whatever the context, so that a kernel planned
// for the longest context serves every shorter one with the same keys.
//
// Memory. Each of these four kernels' flights is one up and one down,
// whatever its length, but neither party holds a flight whole. The client lays out,
// encrypts and sends its inputs a batch at a time (one per client core)
// and waits while more than a bounded backlog waits unread (net.Pace, as
// a TCP window would); it decrypts and extracts the outputs a batch at a
// time as they arrive. The scores kernel has
// few inputs and one output per product: its server takes the inputs,
// then computes, masks and returns the products in batches. The values
// kernel has one input per product and few outputs: its server multiplies
// the inputs as they arrive, in batches, adds each product into its sum,
// folds the sums a batch completes, and returns the sums once every input
// is in. A 1000-token GPT-2 prefill's values kernel, about 250k inputs at
// a small ring, thus holds a batch of them, not the flight.
//
// # Feature-major decode kernels (ciphertext-plaintext only)
//
// [FeatureScores] and [FeatureValues] are decode kernels over a second
// cache layout, [FeatureLayout] (CryptoGen's heterogeneous cache): the
// cache is shared K = K_C + K_S, the client keeps K_C in the clear, the
// server keeps K_S in the clear and Enc(K_C). A score is two local terms
// and two cross terms, Enc(q_C)·K_S and Enc(K_C)·q_S, both
// ciphertext-plaintext: the server rotates the client's one query
// ciphertext by baby steps, multiplies with plaintext diagonals of K_S
// pre-rotated for the giant steps, and multiplies the cache's ciphertexts
// with layouts of q_S in the final frame. The slots hold token positions
// x classes x head lanes: the classes are rotations of the query the
// client lays out for free, and the sums left over (the classes, for the
// values the positions of one feature) each party makes on its share of
// the unfolded result. With D = HeadDim/Classes diagonals per cache group
// of 2·Row tokens: 2·D products per group and kernel, no relinearization,
// a few rotations (baby and giant steps only), one ciphertext up for the
// scores and down per result. The noise of a sum of ct-pt products grows
// by N·t per product, like a ct-ct product's, and a baby step's key
// switch is multiplied with it: the planner picks, among the numbers of
// groups a values result sums and the baby-step giant-step splits whose
// results the flooding leaves room for, the one its estimate prices
// lowest. The values kernel's server takes the groups' weights one at a
// time into the running result (a group's baby steps and the result's
// pieces, never the flight); cache ciphertexts at another scale than the
// input's (a rescaled cache) have their plaintexts encoded at the
// quotient, so that no scale matching multiplies the noise. They are the
// generation loop's default decode attention (package sim), over package
// kv's FeatureCache, which the client fills with FeatureLayout.KeyVectors
// and ValueVectors of its share, a group at a time. KeyAppend and
// ValueAppend are the vectors of one token, for a cache that adds a
// token's encryption into its group instead of re-encrypting the group.
//
// A public prefix (WithPublic): the first tokens of the cache are public
// text whose keys and values the server holds in the clear, the client's
// shares of them zero. The groups the prefix fills have no cache
// ciphertext and no cache product; their diagonals are encoded once
// (EncodePublic, priced by PublicCost) and given to every Run as a
// FeaturePublic. Where the profile prices it below the server's local
// term over the cache (folds: at long contexts), the server adds its
// share of the query, or of the weights, to the client's ciphertext, laid
// out as the client lays out its own, so that Enc(x_C) + x_S meets K_S in
// the products and no product of the server's own shares is left.
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
// with CGSIM_BENCH_TABLE=1 it prints, once all cases have run, a row per
// case: the median wall time of its b.N Runs (client and server in one
// process, no network; after at least a quarter of a second of warm-up and
// a garbage collection) against the Estimate's compute seconds, priced
// with the embedded profiles. Counters always agree exactly; the seconds
// depend on the machine and its load (the README quotes measured rows):
//
//	CGSIM_BENCH_TABLE=1 go test -run xxx -bench Primitives -benchtime 10x ./exec/
//
// # Concurrency
//
// Primitives are plain values, safe for concurrent use; a Session is not:
// its parties' lattigo evaluators, encoders and encryptors are not safe for
// concurrent use, and one Run at a time may use a session.
package exec
