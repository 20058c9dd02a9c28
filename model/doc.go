// Package model is the plaintext side of cgsim: Transformer shapes, weights,
// the llama2.c checkpoint and tokenizer formats, and a float64 reference
// forward pass with a key/value cache. The secure implementations elsewhere
// in cgsim compute the same functions on ciphertexts and secret shares and
// are tested against this package; it imports nothing else from cgsim.
//
// # Configs
//
// A [Config] is the shape of a model (widths, layers, heads, vocabulary,
// context length) plus its architecture ([ArchLlama] or [ArchGPT2]) and the
// norm epsilon and RoPE base. [ConfigByName] returns the built-in shapes:
// gpt2, gpt2-medium, gpt2-large, gpt2-xl, llama3-8b and stories260K
// ([ConfigNames] lists them). [Config.Validate] rejects nonsensical shapes and
// sizes beyond the Max* limits; [Config.ParamCount] counts the weights.
// Configs are plain values: copy one and change a field to get a variant,
// for example fewer layers:
//
//	c, _ := model.ConfigByName("gpt2")
//	c.NumLayers = 1
//
// # Weights and models
//
// A [Model] is a Config with its [Weights]. Weights are float64; a matrix is
// a row-major [Matrix] stored out x in, so that y = W x (the convention of
// llama2.c and of the secure linear layers); a Matrix is a gonum mat.Matrix
// whose raw form shares its data, so that gonum's linear algebra works on
// the weights in place. Per-layer tensors live in
// [Layer]; which fields are set depends on the architecture (see its doc).
// When the classifier is shared with the token embedding, both fields hold
// the same Matrix.
//
// [LoadLlama2C] and [ReadLlama2C] read the legacy llama2.c float32 format
// (stories260K.bin). They check the header, the exact file size implied by
// the header and the finiteness of every weight; [WriteLlama2C] writes a
// llama model in that format. [NewRandom] builds deterministic random
// weights of plausible scale for any config; it is how GPT-2-shaped models
// are obtained, since no GPT-2 checkpoint is loaded, and, written with
// WriteLlama2C, how llama2.c files of any shape are made for tests.
//
// # Sampling
//
// [Generate] decodes greedily; [GenerateSampled] chooses each token with
// a [Sampler]: greedy when its temperature is 0, else a draw from
// softmax(logits/T) by the Gumbel-max rule (the argmax of the logits plus
// T times Gumbel noise that depends on the sampler's seed and the step
// only), the rule the secure protocol runs on shares.
//
// # Tokenizer
//
// [Tokenizer] reads llama2.c tokenizer files ([LoadLlama2CTokenizer]) and
// encodes exactly as llama2.c does: a dummy-prefix space, UTF-8 code points
// looked up as pieces or split into byte-fallback ids (byte + 3), then greedy
// merges of the adjacent pair with the best-scoring merged piece. Ids 0, 1,
// 2 are [UNK], [BOS] and [EOS]. [NewTokenizer] builds one from pieces and
// scores and [WriteLlama2CTokenizer] writes one as a file. There is no GPT-2
// BPE tokenizer here.
//
// # Forward pass
//
// [Model.Forward] processes one token at position [State].Pos, appends its
// keys and values to the cache held in the [State] and returns the logits
// for the next token. Positions start at 0 and the context holds at most
// Config.SeqLen tokens. Llama: RMSNorm, RoPE rotating pairs (2i, 2i+1)
// within each head at angle pos·RopeTheta^(-2i/HeadDim), grouped-query
// attention, SwiGLU W2(SiLU(W1 x) ⊙ W3 x), final RMSNorm, classifier. GPT-2:
// token plus learned position embedding, pre-LN LayerNorm with gain and bias,
// multi-head attention with biases, GELU (tanh approximation) MLP, final
// LayerNorm, tied classifier. Both scale attention scores by 1/sqrt(HeadDim).
// The linear algebra is gonum's: matrix-vector products with mat and, for
// attention over the cache in place, blas64; vector sums and dot products
// with floats; LayerNorm's mean and variance with stat.
//
// [Generate] decodes greedily (ties go to the lowest id) and returns only the
// generated ids. The prompt is the full token sequence and, for llama models,
// starts with BOS as in llama2.c: llama2.c's run with an empty prompt is
// Generate(m, []int{BOS}, n).
//
// The building blocks [MatVec], [RMSNorm], [LayerNorm], [Softmax], [SiLU],
// [GELU], [ApplyRoPE] and [Argmax] are exported: they are the definitions
// that the secure protocols approximate.
//
// # Errors and concurrency
//
// Errors are single lines that start with "model: " and name what failed,
// the file or the model, for example
//
//	model: stories260K.bin: truncated: header implies 1056540 bytes, file has 1000
//
// and wrap underlying errors (errors.Is(err, io.ErrUnexpectedEOF) and
// os.ErrNotExist work). Input from files, and tokens or positions given to
// Forward and Generate, never cause a panic. The exported building blocks
// panic on mismatched slice lengths, which is a programming error, and so
// does NewRandom on an invalid config.
//
// A Model and a Tokenizer are read-only once built and may be used by many
// goroutines; a State belongs to one sequence and one goroutine at a time.
package model
