// Package sim is cgsim's generation loop: one loop, two engines, the
// strategies as plug-ins.
//
// # The loop
//
// [Generate] is the only generation loop in cgsim. It runs a prefill over
// the prompt, which produces the first token, then decode steps, each
// feeding back the last token and producing the next one, greedily or
// sampled (below). It is
// written against the [Engine] interface, whose methods are the semantic
// secure operations of a Transformer on opaque secret-shared activations
// ([Value]): Embed, Norm, Linear, Attention, Activation, Mul, the free
// local operations Add, Split and Last, and an Argmax revealed to the
// client. [Forward] is one forward pass of the protocol below; the loop
// calls it once for the prefill and once per decode step.
//
// Sampling. With RunOptions.Sampler at a temperature T (model.Sampler),
// the run engine's Argmax adds the step's Gumbel noise T·g_i to the
// server's share of the logits, encoded at the logits' scale, and the
// argmax protocol reveals the argmax of logits + T·g, a draw from
// softmax(logits/T), to the client only. The noise is the server's and
// the addition is local, so a sampled step costs what a greedy one does:
// the estimate engine has nothing to add, and its counters stay equal to
// the run's. The noise of the s-th generated token depends on the seed
// and s only: the run picks the tokens of model.GenerateSampled with the
// same sampler (up to the fixed point's error on near ties).
//
// Passes over the cache. With the feature-major cache, Forward also runs a
// pass of several new tokens at a position p > 0 (a chunk of a prompt, or
// the tokens a speculative step verifies): its linear layers, norms and
// activations take the m rows at once; its attention appends the m tokens,
// runs the m queries' decode kernels over all p + m of them in one round
// each (the scores, then the values: exec's RunQueries) around one causal
// softmax of the m queries (query i's row covers the p + i + 1 keys up to
// itself: passAttnStep), so that a pass's attention takes the rounds of
// one token's. The run engine
// prepares the keys of such passes from RunOptions.PassRows. The pass's
// tokens are appended at once (each cache group they touch encrypted
// once).
//
// A public prefix. With RunOptions.Public (EstimateOptions.Public for
// its length) the prompt's first tokens are public text: the server
// computes their keys and values in plaintext (ComputePublicKV, or a
// PrefixStore keeps them between sessions), every layer's feature-major
// cache starts with them (kv.FeatureCache.LoadPublic), and Generate runs
// the private rest of the prompt as a pass over that cache instead of a
// prefill from position 0 (Engine.Public). Only the strategies that keep
// the feature-major cache take one.
//
// Strategies ([Strategy], [Strategies]) are plug-ins: each is a type in a
// file of its own, registered by name, that says what a decode step runs
// on an engine and what it provisions:
//
//   - Cryptogen (strategy_cryptogen.go): the encrypted KV cache (package
//     kv) is kept across steps; a decode step processes one token,
//     appending its key and value to the cache and attending over it.
//     [CacheOptions] chooses the cache's layout (feature-major, the
//     default, or token-major) and the token layout's append method and
//     refresh policy.
//   - Recompute (strategy_recompute.go): the discriminative baseline (BOLT,
//     BumbleBee): the engine is Reset before each step and the whole
//     prefix, prompt plus the tokens generated so far, is run again with
//     the prefill encodings.
//   - Speculative (strategy_speculative.go): POST's speculative decoding,
//     greedy or sampled, over Cryptogen's feature-major cache: a step
//     takes the client's draft (Engine.Propose: RunOptions.Draft in the
//     run engine, placeholders in the estimate), runs one pass over the
//     last token and the proposals keeping every row's logits, verifies
//     them on shares (Engine.Verify: mpc.Accept when greedy,
//     mpc.AcceptSampled at a temperature; the client learns the accepted
//     count and the model's next token) and drops the rejected ones from
//     the cache (Engine.Rollback). Sampled, the pass's coins are
//     model.Sampler.SpecRand's of the tokens chosen so far, so the run
//     draws model.GenerateSpeculative's tokens with the same sampler (up
//     to the fixed point's error near a boundary). The estimate engine's accepted counts
//     come from EstimateOptions.Acceptance (or Accepted, a run's), and a
//     session's flooding is sized for none accepted, the most passes.
//     It is registered apart (DefaultStrategies leaves it out): it needs
//     a draft or an acceptance.
//
// # Composite steps
//
// The engines do not compose primitives themselves: the planner returns
// composite steps, each a value that holds the planned exec and exec/mpc
// primitives of one operation of the loop and has Estimate (their costs,
// per kind) beside Run (the same primitive values run on the two
// parties), in one file: linearStep and embedStep (step_linear.go:
// the HE product, bias, truncation, RoPE on shares), prefillAttnStep and
// decodeAttnStep (step_attention.go: upload, kernels, truncations,
// softmax), and the two-party unaryStep (norms, activations, softmax),
// mulStep, argmaxStep and truncStep (step_mpc.go). The estimate engine
// records a step's Estimate, the run engine calls its Run under the same
// kinds; a truncation's Run refuses a length other than the planned one.
// The cache's own steps (append, refresh, switch) are package kv's
// Run/Estimate pairs (FeatureCache and FeatureConfig; Cache and
// Trajectory for the token layout).
//
// Adding a primitive: plan it in exec or exec/mpc with its own Run and
// Estimate (and their contract test there), then add it to the step that
// uses it, in both its Estimate and its Run, or write a new step type in
// a step_*.go file with a planner constructor. Adding a strategy: write a
// type implementing the strategy interface (strategy.go: doc,
// keepsCache, decode, passes) in a strategy_*.go file and register it in
// that file's init; if it needs an engine operation that does not exist,
// add it to [Engine] and to both engines through a step. Plan, the CLI's
// --strategy and --strategies, and experiments/scaling iterate over the
// registry.
//
// # The engines
//
// [NewEstimator] returns the estimate engine: its values carry only shapes,
// every operation records the Estimate of the exec and exec/mpc primitives
// the run engine would run, priced by a cost.Profile and a net.Network. No
// ciphertext is created; primitive plans and step estimates are memoized
// by shape, so a Llama-3-8B generation over thousands of tokens is costed
// in a fraction of a second ([Estimate] wraps it; BenchmarkEstimateLlama3).
//
// [NewRunner] returns the run engine: its values are the two parties'
// additive shares modulo the preset's plaintext prime, linear layers and
// attention run on lattigo ciphertexts between an exec.Client and an
// exec.Server, non-linear layers run the mpc protocols with a trusted
// dealer, and every byte between the parties crosses one metered
// in-process pipe, which the HE primitives (exec.NewSessionConns), the
// cache's operations (on the same exec session) and the mpc protocols
// (mpc.NewSessionConns) take in turns, each metering its own stretch, so
// that their rounds add up and nothing is counted twice ([Run] wraps it).
// The two engines take the same composite steps from one planner, so that
// their counters are equal by construction; the tests assert it phase by
// phase and kind by kind.
//
// Both engines record costs per phase ([Phase]: the prefill, each decode
// step) and per [Kind] of operation (embedding, linear, cache_append,
// attention, softmax, norm, activation, mul, argmax); [Engine.Breakdown] returns them. Each recorded cost has its
// network seconds priced with net.Network.Price. The run engine's compute
// seconds are measured CPU time (both parties in one process; wall time
// with more than one server or client core); the estimate engine's come
// from the profile. Offline seconds are measured and taken out of the
// run's compute seconds: the dealer's work, which a Run does inline before
// each two-party protocol, and the server's pads for the ciphertexts it
// returns, which a Run makes inline before returning them, each as the
// process's CPU time while it is done. The estimate engine prices the dealer's from each protocol's Need
// through the profile's dealer operations (mpc.Need.Offline; a profile
// without them estimates zero) and the pads from the HE operations they
// are made of. A [Report] summarizes a
// generation in the JSON form of the CLI: "tokens", "text", "prefill",
// "decode" (one cost.Cost per decode step), "total".
//
// # The protocol
//
// Activations are shared modulo t in fixed point with f fractional bits
// (the preset's params.FixedPoint). Weights are encoded with f bits; a
// product carries 2f bits and is truncated by mpc.Trunc, counted with the
// operation it follows. Per llama layer:
//
//	RMSNorm (mpc; its gain folded into the next matrix)
//	QKV: one fused linear layer [Wq/sqrt(d); Wk; Wv]·diag(g) (HE), truncation;
//	     RoPE at the rows' public positions: folded into the weights for one
//	     token (the server rotates the rows of Wq and Wk), applied to the
//	     shares with a second truncation for several tokens
//	attention (below)
//	Wo (HE), truncation; residual add (local)
//	RMSNorm; fused [W1; W3]·diag(g) (HE), truncation; SiLU (mpc) on the
//	     W1 half; product with the W3 half (mpc Mul, truncated); W2 (HE),
//	     truncation; residual add
//
// then the final RMSNorm on the last row, the classifier C·diag(g) (HE),
// truncation and the argmax (mpc), which only the client learns. GPT-2
// differs by LayerNorm (gain and bias folded into the next layer: W·diag(g)
// and b + W·beta), biases (the server adds them to its share), GELU, and
// learned positions (the server adds them to its share of the embedding).
//
// With the protocols by lookup (mpc.LUT) the consumers truncate: the
// scores go untruncated into the softmax (its Scale), the outputs of Wo
// and W2 into the residual stream, which keeps 2f bits (the embeddings
// lifted by 2^f at the first residual add) and which each norm truncates
// in its first round, the [W1; W3] output into the gated activation
// (mpc.SwiGLU: SiLU(g)·u in 4 rounds, 3 raw; GPT-2's GELU takes it alike), the
// classifier's into the argmax, whose comparisons take it as it is; only the QKV
// output and the attention's values are truncated as above (they go into
// HE kernels). A GPT-2 LayerNorm takes the residual stream untruncated
// where its row sums stay in the truncation's range (mpc's
// LayerNormTakesRaw: at the 60-bit t, not at bgv-n13's). Where the ring
// holds them (bgv-n14's 60-bit t), two HE steps take their input
// untruncated too and the truncation after them drops the extra bits:
// the softmax leaves its probabilities with mpc's SoftmaxRawBits more
// (Softmax.Raw), which the attention's values truncation drops beside f,
// and llama's gated activation leaves f more (SwiGLU.Raw, gatedScale),
// which W2 keeps into the residual stream, then 3f bits, which the next
// norm truncates in its first round (mpc's MaxNormScale): one round each.
//
// The maxima of the softmax and the argmax plan their tournaments by what
// a round trip is worth in comparisons on the session's network
// (mpc.Config.RoundCompares, roundComparesOn): groups on the WAN, the
// tree on the LAN; the gated products' bound is set alike
// (gatedTermsOn).
//
// Flights shared. Two transfers with nothing between them travel in one
// flight, with either method: the truncation of the QKV output (without
// a rotary step on shares) and of the attention's values sits between an
// HE call's reply and the client's next upload, and its opening's halves
// ride those two flights (the server's with the reply, the client's with
// its upload); the feature-major cache's append (the client's uploads of
// the new token's key and value groups, no reply) rides the scores
// kernel's upload of the query that follows it. Neither adds a round;
// their bytes count as before (truncStep, appendRides).
//
// The embedding is the HE lookup exec.Embedding: the client's share is the
// one-hot rows of its tokens, the server's is zero; when the vocabulary is
// too wide for the preset's noise budget (GPT-2 at bgv-n13) it is split in
// slices whose shares the parties add.
//
// The server encodes the plaintexts (diagonals, or weight polynomials
// for a layer packed in the coefficients) of every one-token linear layer
// once, at setup (weights_encoded.go): the embedding's slices, every
// layer's matrices but a llama QKV (its one-token rows carry RoPE at the
// token's position, so it is encoded per token) and the classifier; their
// packings are chosen for that use (exec.Planner.LinearEncodedOnce) and
// for the session's network. Reports carry their memory and the cost of
// encoding them (Report.Weights), outside the totals. Passes of several
// tokens encode their weights per pass.
//
// Attention of layer l has two forms.
//
// A pass from position 0 over m tokens (the prefill, and every step of
// Recompute):
//
//  1. upload: the client encrypts its shares of the m keys and values in
//     the prefill layout (exec.PromptLayout) at the prefill kernels'
//     levels (one exec.C2S when they agree); the server keeps its shares
//     in the clear;
//  2. scores: the ARCC matrix-matrix kernel exec.PrefillScores, one round
//     for all heads and queries; the causal scores (on and below the
//     diagonal) are truncated;
//  3. causal softmax (mpc, all heads in one run) over the Heads·m rows,
//     row i covering its i+1 visible entries; the masked ones come out 0;
//  4. values: exec.PrefillValues, truncation;
//  5. Cryptogen only, the layer's encrypted KV cache. With the
//     feature-major layout (CacheOptions.Layout, the default): the client
//     encrypts its shares of the m keys and values in exec.FeatureLayout
//     (kv.FeatureCache.Switch), keeping them in the clear too; the server
//     keeps its own. With the token-major layout, the heterogeneous-
//     encoding switch: the client encrypts its shares in kv's switch
//     layout (at the lowest level whose switch fits) and kv.Cache.Switch
//     moves them, through one masked round trip, into fresh ciphertexts
//     in the decode layout.
//
// One new token at position p > 0 (a Cryptogen decode step):
//
//  1. append. Feature-major: kv.FeatureCache.Append, the client
//     re-encrypts the open group of the cache (D = HeadDim/classes
//     ciphertexts per kind) with the token's shares, which replaces the
//     server's; nothing is ever refreshed. Token-major: kv.Cache.Append
//     (CacheOptions.Append = kv.ClientEncrypt: the client encrypts its
//     share at the token's slot, the server adds) or kv.NewSource and
//     Cache.AppendSource (kv.Homomorphic), then the refresh round of the
//     policy (CacheOptions.Refresh: kv.Eager, kv.Lazy{Tau}, kv.Never), and
//     the cache brought to the kernels' levels (kv.Cache.KernelInputs);
//  2. scores over the p+1 cached tokens (exec.FeatureScores, every product
//     ciphertext-plaintext; or exec.DecodeScores), truncation; softmax
//     over Heads rows; values (exec.FeatureValues or exec.DecodeValues),
//     truncation. These are the decode kernels of CryptoGen.
//
// The estimate engine prices the same steps: the kernels' Estimate, and
// for the cache kv's own estimates: kv.FeatureConfig.EstimateSwitch and
// EstimateAppend with the memory each layer's step leaves (Boundary), or
// kv.Config.EstimateSwitch after the prefill and kv.Trajectory.Step and
// Prepare at each decode step (each for all layers, recorded at layer 0),
// so that the cache's counters, refresh rounds, peak memory and lost
// levels are kv's exactly. Refresh rounds are
// counted in the cache_append kind (Cost.Refreshes counts the refreshed
// ciphertexts). Cost.PeakMemoryBytes is the encrypted cache (ciphertexts
// at their levels and the server's plaintext shares), not the evaluation
// keys (the run's setup reports their transfer).
//
// # Planning
//
// [DecodeStep] estimates one decode step at any context (beyond the
// model's own, as if it had been trained for it); [Plan] sweeps contexts
// for each strategy and finds the longest context within a latency and
// a memory budget; [TuneRefresh] sweeps the cache's layout and, for the
// token-major one, its append method and refresh threshold over a whole
// generation and picks the fastest valid one. They are cgsim plan and cgsim tune refresh.
//
// # Errors and concurrency
//
// Errors are single lines starting with "sim: "; a context longer than the
// model's, an empty prompt, an unknown strategy or a non-BGV preset are
// errors, never panics. Engines and planners are not safe for concurrent
// use: one generation at a time per engine.
package sim
