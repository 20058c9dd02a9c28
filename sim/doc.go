// Package sim is cgsim's generation loop: one loop, two engines, two
// strategies.
//
// # The loop
//
// [Generate] is the only generation loop in cgsim. It runs a prefill over
// the prompt, which produces the first token, then decode steps, each
// feeding back the last token and producing the next one greedily. It is
// written against the [Engine] interface, whose methods are the semantic
// secure operations of a Transformer on opaque secret-shared activations
// ([Value]): Embed, Norm, Linear, Attention, Activation, Mul, the free
// local operations Add, Split and Last, and an Argmax revealed to the
// client. [Forward] is one forward pass of the protocol below; the loop
// calls it once for the prefill and once per decode step.
//
// Strategies ([Strategy]):
//
//   - Cryptogen: the encrypted KV cache is kept across steps; a decode step
//     processes one token, appending its key and value to the cache and
//     attending over it.
//   - Recompute: the discriminative baseline (BOLT, BumbleBee): the engine
//     is Reset before each step and the whole prefix, prompt plus the tokens
//     generated so far, is run again with the prefill encodings.
//
// # The engines
//
// [NewEstimator] returns the estimate engine: its values carry only shapes,
// every operation records the Estimate of the exec and exec/mpc primitives
// the run engine would run, priced by a cost.Profile and a net.Network. No
// ciphertext is created; primitive plans are memoized by shape, so a
// Llama-3-8B generation over thousands of tokens is costed in well under a
// second ([Estimate] wraps it).
//
// [NewRunner] returns the run engine: its values are the two parties'
// additive shares modulo the preset's plaintext prime, linear layers and
// attention run on lattigo ciphertexts between an exec.Client and an
// exec.Server, non-linear layers run the mpc protocols with a trusted
// dealer, and every byte between the parties crosses a metered in-process
// pipe ([Run] wraps it). The two engines take their primitives from one
// planner, so that their counters are equal by construction; the tests
// assert it phase by phase and kind by kind.
//
// Both engines record costs per phase ([Phase]: the prefill, each decode
// step) and per [Kind] of operation (embedding, linear, cache_append,
// cache_refresh, attention, softmax, norm, activation, mul, argmax,
// conversion); [Engine.Breakdown] returns them. Each recorded cost has its
// network seconds priced with net.Network.Price. The run engine's compute
// seconds are measured wall time (both parties in one process); the
// estimate engine's come from the profile. A [Report] summarizes a
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
// The embedding is the HE lookup exec.Embedding: the client's share is the
// one-hot rows of its tokens, the server's is zero; when the vocabulary is
// too wide for the preset's noise budget (GPT-2 at bgv-n13) it is split in
// slices whose shares the parties add.
//
// Attention of m new rows at positions p..p+m-1 of layer l:
//
//  1. append: the client re-encrypts its share of the open cache
//     ciphertext (the one holding token p) and of any new one, for keys and
//     values (one conversion, exec.C2S, when their levels agree); the server
//     keeps its shares in the clear. A fresh encryption every time, so the
//     cache never needs a refresh (the encrypted KV cache package kv will
//     replace this with homomorphic appends and lazy refreshes);
//  2. scores: the ARCC kernel exec.DecodeScores with Heads·m heads (query
//     head h of row i is kernel head kvh·G·m + i·G + a, h = kvh·G + a), one
//     round for all m rows; the visible scores are truncated, the masked
//     ones (beyond a row's position) set to -t/4 by the server;
//  3. softmax (mpc) over Heads·m rows of p+m entries; masked entries get
//     weight 0;
//  4. values: exec.DecodeValues with Heads·m heads, truncation.
//
// The scale 1/sqrt(HeadDim) is folded into Wq. In decode (m = 1) no entry
// is masked: these are exactly the decode kernels of CryptoGen. For m > 1
// (prefill, and every step of Recompute) they are a matrix-matrix product
// made of matrix-vector kernels, until the prefill kernels of package exec
// are wired in.
//
// # Errors and concurrency
//
// Errors are single lines starting with "sim: "; a context longer than the
// model's, an empty prompt, an unknown strategy or a non-BGV preset are
// errors, never panics. Engines and planners are not safe for concurrent
// use: one generation at a time per engine.
package sim
