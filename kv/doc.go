// Package kv is cgsim's encrypted KV cache: per layer, the server's
// encryptions Enc(K_C), Enc(V_C) of the client's shares of the keys and
// values in a decode layout and the server's plaintext shares K_S, V_S
// (and, for the token-major cache, a noise state per ciphertext), so that
// a decode step costs work proportional to the context instead of
// recomputing the prefix.
//
// Like package exec, every operation has a Run, on real ciphertexts
// between the parties of an exec.Session, and an Estimate, pure arithmetic
// that predicts Run's counters exactly (cost.CounterDiff is empty, tested
// over context lengths, methods, policies and thresholds).
//
// Two caches share this package. [FeatureCache] is the feature-major one
// (exec.FeatureLayout, read by exec.FeatureScores and exec.FeatureValues,
// the default of package sim): the client keeps its shares K_C, V_C in
// the clear beside the server's Enc(K_C), Enc(V_C), K_S, V_S, and at every
// change of a group of ciphertexts (the prompt's groups at
// [FeatureCache.Switch], the open group at each [FeatureCache.Append]) it
// encrypts its share of the whole group afresh (D = HeadDim/classes
// ciphertexts per kind; exec.C2S with ClientOnly, one flight per layer, or
// one per kind should the kernels read the two kinds at different levels),
// which replaces the server's. Every cache ciphertext is then a fresh
// encryption at its kernel's level: no noise accumulates, nothing is
// refreshed, and the kernels are planned for a fresh cache.
// [FeatureConfig] estimates the switch and the append (their counters
// equal Run's exactly, TestFeatureCache) and the server's memory per layer
// and per token. The rest of this documentation is the token-major
// [Cache].
//
// # Parties
//
// A [Cache] is the server's side: ciphertexts, shares, noise states, a
// key-less evaluator. It cannot reach a secret key; the client's part of
// an append runs inside exec.C2S, and that of a refresh or a layout
// switch inside exec.Reencrypt, on the session's exec.Client: the client's
// half decrypts what it receives, lays it out by the public map the cache
// planned, encrypts it fresh and sends it, with nothing but the Client and
// the received ciphertexts; the server's half (mask, flood, send; receive;
// add the mask laid out the same way) has the Server, the cache's
// ciphertexts and its own masks. The cache never sees the client's
// decrypted share.
//
// # Layouts
//
// Decode layout (exec.CacheLayout, the matrix-vector kernels'
// exec.DecodeScores and exec.DecodeValues input): token j's KVDim =
// KVHeads·HeadDim vector at the start of a block of W = KVDim rounded up
// to a power of two slots, B = N/W tokens per ciphertext (N slots), a
// ciphertext per B tokens. stories260K (KVDim 32): B = 64 at the test
// preset (N = 2048), 256 at bgv-n13, 512 at bgv-n14.
//
// Switch layout ([SwitchLayout]): feature-major, element e of token j at
// flat slot e·M + j (M = tokens rounded up to a power of two), the layout
// in which the client encrypts a prompt's keys and values for the cache
// (exec's prefill kernels read theirs in exec.PromptLayout).
// [Cache.Switch] moves a prefilled layer to the decode layout once: the
// server masks and floods the switch-layout ciphertexts (one H2S flight
// for K and V), the client decrypts its masked share, lays it out in the
// decode layout and encrypts it fresh, the server adds its mask laid out
// the same way (exec.Reencrypt). One round per layer:
// [Config.EstimateSwitch].
//
// # Appending a token
//
// [ClientEncrypt] ([Cache.Append]): the client encrypts its shares k_C,
// v_C at the token's slot offset (zeros elsewhere) at the cache level (an
// exec.C2S with ClientOnly: the server's share stays in the clear, so it
// adds nothing to the ciphertexts); the server adds the two ciphertexts
// into the open K and V ciphertexts (or starts new ones). Per layer and token: 2 ciphertexts up (one flight),
// 2 adds. The noise grows like a sum of fresh encryptions.
//
// [Homomorphic] ([Cache.AppendSource]): the server holds the token
// encrypted (a [Source]: the client's share in the broadcast layout, the
// token in every block, at Config.SourceLevel) and concatenates it: the
// source is rescaled to the open ciphertext's level, multiplied by the
// 0/1 mask of the token's block (a ct-pt product: 2T + n + 2 bits), added
// and the sum rescaled. Per kind: 1 encode, 1 ct-pt product, 1 add, 1 + (source
// level - target level) rescales, no traffic; the ciphertext loses one
// level. No rotation is needed with the broadcast source (a compact source
// at slot 0 would need log2(B/2) rotations by W·2^i, the keys
// DecodeValues already has, plus a row swap; exec does not export its
// server's evaluator, so the cache cannot rotate).
//
// Scales: a cache ciphertext of kind κ at level l carries the scale
// prod_{L_κ < i <= l} q_i mod t, so that rescaling it to the kernel level
// L_κ leaves scale 1: the value kernel sums products of different cache
// ciphertexts, and lattigo's scale matching would multiply the noise.
// Masks and refreshed ciphertexts are encoded at the scale that keeps the
// invariant.
//
// # Noise model, budget and refresh policies
//
// [Model] bounds the payload log2 ||m + t·e|| of every cache ciphertext
// from public information, in the worst case, with exec.NoiseModel's rules
// (which it uses rather than copies; their derivation is in exec's
// NoiseModel documentation). [NoiseState] keeps a sum of encryptions
// exact: Msgs messages of at most t - 1 each, Fresh fresh encryptions of
// error at most B_e (the sampler's bound) and an Extra part for what
// products and rescales added, so the bound of k summed client appends is
// Msgs·(t-1) + Fresh·B_e·t, linear in k and never below the truth.
// TestNoiseModelBounds follows the trajectories on ciphertexts under a key
// of its own and checks that the measured payload never exceeds it.
//
// The kernels over the cache. [NewConfig] follows the cache's whole life
// up to MaxContext (appends, the policy's refreshes, a prefill switch)
// and plans exec's decode kernels for the largest payload a key or value
// ciphertext reaches at the kernel level (Config.CacheBits,
// exec.AttentionShape), re-planning
// until the plan covers the trajectory: their flooding then gives κ bits
// of statistical security over the real cache, not over fresh
// ciphertexts. Use [Config.Kernels] (or [Config.KernelShape]) for the
// kernels over a cache. TestKernelNoiseOverCache (package exec) measures
// the kernels' pre-flooding payload over caches of many client appends and
// of homomorphic appends with refreshes: the model bounds it. At bgv-n13
// (B = 256 stories260K tokens per ciphertext) a ciphertext of 256 client
// appends still floods for a 512-token session's budget with Never, but
// no homomorphic append fits: NewConfig rejects them with ErrBudget.
//
// The kernel slack of a ciphertext ([Model.KernelSlack]) is what remains
// of log2 Q_L - 1 at the kernel level L after rescaling the ciphertext to
// L, a ct-ct product with a fresh query, the kernel's sum (HeadDim terms
// for keys; for values every token block of every cache ciphertext at
// MaxContext, Cts(MaxContext)·B, as exec.DecodeValues counts them) and
// κ-bit flooding. Its budget
// ([Config.Budget]) is the slack it will have after the next append into
// it (-Inf if a homomorphic append has no level left), or its slack if it
// is full. The policies, applied in one batched refresh round per layer
// after the layer's append:
//
//   - [Eager]: refresh every ciphertext touched by a homomorphic append.
//   - [Lazy]{Tau}: refresh a touched ciphertext whose budget is below Tau.
//   - [Never]: no refresh.
//
// A refresh: the due ciphertexts are rescaled to a common level, masked
// with uniform r and flooded (one H2S flight), the client re-encrypts
// y - r fresh at the home level, the server adds r: Enc(y) again, fresh
// (exec.Reencrypt, whose client uploads every home level in one flight).
// One round for the whole layer, also when K and V have different home
// levels (until this change such a round was counted as two, one per
// upload); Cost.Refreshes counts ciphertexts.
//
// [NewConfig] simulates the whole trajectory up to MaxContext and rejects,
// with [ErrBudget], any configuration in which a ciphertext would fall
// below what the next product needs (Never with homomorphic appends beyond
// two tokens per ciphertext, Lazy with Tau < 0, homomorphic appends at
// bgv-n13, whose single level has no room); Run checks again before every
// operation and refuses it with ErrBudget, leaving the cache unchanged.
// The simulation is linear in MaxContext: a step changes one ciphertext of
// each kind, so the noise bound notes only that one and a [Trajectory]
// keeps a census of its ciphertexts' levels for the memory and lost
// levels (TestCacheBoundLinear compares both with the quadratic
// simulation they replaced; BenchmarkNewConfig).
//
// Choosing tau. With homomorphic appends the budget is driven by levels:
// at bgv-n14 a refreshed ciphertext sits at level 5 with a budget of 46.9
// bits for keys (40.9 for values at MaxContext 512), one append leaves it
// at level 4 with 40.9 (34.9), a second at the kernel level 3 with no room
// for a third append (budget -Inf). Tau in [0, 40.9] refreshes every other
// append (the minimum: 2550 ciphertexts over 512 tokens and 5 layers),
// Tau above the post-append budget refreshes after every append (Eager's
// 5120), Tau above a fresh ciphertext's budget refreshes every step for
// nothing. With client appends the budget falls by about log2 of the
// tokens summed: no refresh is needed at bgv-n14 and the test preset for
// B <= 512 (Never, which the model proves safe); at bgv-n13 with B = 256
// use Lazy{0}. Estimate gives the count and the
// seconds of each choice without running anything ([Config.Refreshes]).
//
// # Memory
//
// A ciphertext at level l marshals to [CiphertextBytes] = 2·(8 + (l+1)·
// (8 + 8N)) + 1 + metadata + 8 bytes. Per token, over all layers, at the
// home level H:
//
//	BytesPerToken = Layers·(CiphertextBytes(H_K) + CiphertextBytes(H_V))/B + 2·Layers·KVDim·8
//
// against 2·Layers·KVDim·2 bytes for a plaintext fp16 cache. stories260K
// (5 layers, KVDim 32, plaintext 640 bytes/token): client appends 23,047
// bytes/token at bgv-n14 (36x), 17,933 at bgv-n13 (28x); homomorphic
// appends keep ciphertexts at the top level, 33,287 at bgv-n14 (52x). The
// evaluation keys ([KeyBytes]: (1 + Galois keys) gadget ciphertexts over
// Q·P) come on top: 15 MB at the test preset for the kernels' keys.
// Cost.PeakMemoryBytes is the resident cache plus Config.KeyBytes after
// each layer's step, Cost.LevelsConsumed the largest number of levels a
// cache ciphertext is below its home level.
//
// # Per-token cost
//
// BenchmarkPerToken measures one decode step of one stories260K layer
// (append, refreshes, rescales to the kernel level, both decode kernels)
// at contexts 64 to 512. The work is affine in the number of cache
// ciphertexts ceil(context/B): estimated compute seconds per token and
// layer, client appends,
//
//	context                      64      128     256     512
//	bgv-test-insecure (B = 64)   0.049   0.064   0.094   0.154
//	bgv-n13 (B = 256)            0.120   0.120   0.169   0.217
//	bgv-n14 (B = 512)            0.376   0.376   0.376   0.520
//
// (homomorphic appends with Lazy{0} at bgv-n14: 0.368 ... 0.520). The
// measured times follow within the noise of a shared 2-core machine.
//
// # Files
//
// [Cache.Save] and [LoadCache] (the server: ciphertexts, shares, noise
// states, configuration, an opaque evaluation-keys section),
// [SaveClient] and [LoadClient] (the client: session id, tokens, an opaque
// key section; the secret key never enters the server's file). Format,
// little-endian: magic ("CGSIMKVS" or "CGSIMKVC"), version (uint32, 1),
// body length (uint64), body, SHA-256 of all that precedes. Files are
// written to a temporary file in the same directory, fsynced, renamed over
// the old one, and the directory fsynced: a failed save leaves the old
// file intact. Loading checks length and checksum first, then every field
// against the configuration and every ciphertext's structure before
// lattigo parses it: a truncated or corrupted file is an error, never a
// panic. [Cache.SaveWithKeys] fills the server file's key section with
// the server's public and evaluation keys (exec.Server.MarshalBinary),
// [Cache.ClientStateOf] the client's with its secret and public key
// (exec.Client.MarshalBinary); [Restore] loads both files and rebuilds the
// session with the same keys (exec.RestoreSession), so that decoding
// continues in a new process (TestRestoredSessionContinues).
//
// # Concurrency
//
// Configs, Models and Trajectories are values; a Trajectory and a Cache
// belong to one goroutine at a time, and a Cache runs on one
// exec.Session at a time.
package kv
