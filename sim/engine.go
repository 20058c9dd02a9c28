package sim

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
)

// Value is an activation matrix held by an Engine: Rows tokens (at
// consecutive positions starting at Pos) by Cols features. It is opaque to
// the generation loop: the estimate engine's values carry only this shape,
// the run engine's carry the two parties' additive shares.
type Value interface {
	// Rows is the number of tokens.
	Rows() int
	// Cols is the number of features per token.
	Cols() int
	// Pos is the position of the first token; row i is at position Pos+i.
	Pos() int
}

// Mat names one weight matrix of a layer, as the secure protocol uses it:
// norm gains, the attention scale and biases are folded in (see the
// package documentation).
type Mat int

// The matrices of a layer, and the model-wide ones (layer -1).
const (
	// MatQKV is the fused query, key and value projection (Dim + 2·KVDim
	// rows, each head padded with zero rows to a power-of-two width when
	// HeadDim is not one), with the attention norm's gain and
	// 1/sqrt(HeadDim) folded into the query rows; for llama it includes the
	// rotary position embedding.
	MatQKV Mat = iota + 1
	// MatOut is the attention output projection Wo (Dim x Dim, with zero
	// columns for padded heads).
	MatOut
	// MatUp is the first feed-forward projection: W1|W3 fused (2·Hidden
	// rows) for llama, FC (Hidden rows) for GPT-2, with the norm's gain
	// folded in.
	MatUp
	// MatDown is the second feed-forward projection (W2 or Proj).
	MatDown
	// MatClassifier is the classifier (Vocab x Dim), with the final norm's
	// gain folded in; its layer is -1.
	MatClassifier
)

var matNames = map[Mat]string{MatQKV: "qkv", MatOut: "out", MatUp: "up", MatDown: "down", MatClassifier: "classifier"}

func (m Mat) String() string {
	if s, ok := matNames[m]; ok {
		return s
	}
	return fmt.Sprintf("Mat(%d)", int(m))
}

// Weight refers to one of the server's matrices.
type Weight struct {
	Layer int // 0 .. NumLayers-1, or -1 for the classifier
	Mat   Mat
}

// Engine is what the generation loop runs on: the semantic secure
// operations of a Transformer forward pass on secret-shared activations.
// An Engine records the cost of every operation it performs under the
// current phase and the operation's Kind.
//
// Implementations: [NewEstimator] (shapes and primitives' Estimate only)
// and [NewRunner] (real shares, ciphertexts and messages).
type Engine interface {
	// Begin starts a phase: what follows is recorded under it.
	Begin(ph Phase)
	// Reset drops every cached key and value (the recompute strategy
	// calls it before each step).
	Reset() error
	// Public is the tokens of the public prefix the cache started with
	// (0: none): the prompt's first tokens, which the generation does not
	// process again.
	Public() int

	// Embed returns the shared embeddings of tokens (known to the client)
	// at positions pos, pos+1, ... (GPT-2 adds its learned positions).
	Embed(tokens []int, pos int) (Value, error)
	// Norm is the architecture's norm (RMSNorm or LayerNorm) of each row,
	// without gain or bias: those are folded into the next matrix.
	Norm(x Value) (Value, error)
	// Linear computes x·W^T plus the folded bias, truncated back to the
	// fixed point (and, for MatQKV of a llama model, rotated by RoPE at
	// the rows' public positions).
	Linear(w Weight, x Value) (Value, error)
	// Attention appends k and v (Rows x KVDim) to layer's cache and
	// returns, for each row of q (Rows x Dim), the causal attention over
	// every cached token up to that row's position.
	Attention(layer int, q, k, v Value) (Value, error)
	// Activation is the architecture's activation: SiLU (llama) or GELU
	// (GPT-2), element-wise.
	Activation(x Value) (Value, error)
	// Mul is the element-wise fixed-point product of a and b.
	Mul(a, b Value) (Value, error)
	// Gated is llama's gated activation SiLU(g)·u, element-wise: the
	// activation then the product, or one fused protocol (mpc.SwiGLU) with
	// the protocols by lookup.
	Gated(g, u Value) (Value, error)
	// Add is the element-wise sum: local, free.
	Add(a, b Value) (Value, error)
	// Split cuts the columns of x into consecutive pieces of the given
	// widths: local, free.
	Split(x Value, widths ...int) ([]Value, error)
	// Last keeps the last row of x: local, free.
	Last(x Value) (Value, error)
	// Argmax returns the index of the largest entry of the single row x,
	// revealed to the client only.
	Argmax(x Value) (int, error)

	// Speculative steps (strategy_speculative.go). Propose returns the
	// client's draft, at most min(gamma, most) tokens after prefix (an
	// estimate's are placeholders); Verify returns how many of drafts the
	// model accepts from the first on, given the logits before each draft
	// token and after the last (len(drafts) + 1 rows), and the model's
	// token after them, revealed to the client (the count to the server
	// too): greedy, the drafts equal to its greedy choices and its choice
	// (mpc.Accept); sampled, speculative sampling's (mpc.AcceptSampled);
	// Rollback drops every cached token at position pos and after.
	Propose(prefix []int, most int) ([]int, error)
	Verify(logits Value, drafts []int) (accepted, token int, err error)
	Rollback(pos int) error

	// Breakdown returns what was recorded so far, one entry per phase in
	// the order the phases began.
	Breakdown() []PhaseCost
}

// Kind classifies the operations an Engine records, for the per-kind
// breakdown that cgsim validate prints.
type Kind string

// The kinds. Truncations are part of the kind of the product they follow.
const (
	KindEmbedding  Kind = "embedding"    // the token lookup
	KindLinear     Kind = "linear"       // linear layers (HE), with truncation and RoPE
	KindAppend     Kind = "cache_append" // uploading keys and values, the layout switch, appends and refresh rounds
	KindAttention  Kind = "attention"    // the score and value kernels, with truncation
	KindSoftmax    Kind = "softmax"      // the attention softmax
	KindNorm       Kind = "norm"         // RMSNorm / LayerNorm
	KindActivation Kind = "activation"   // SiLU / GELU
	KindMul        Kind = "mul"          // element-wise products (SwiGLU)
	KindArgmax     Kind = "argmax"       // the greedy choice, revealed to the client
)

// Kinds lists every Kind in the order of the breakdown tables.
func Kinds() []Kind { return append([]Kind(nil), kindOrder[:]...) }

// PhaseKind is whether a phase is the prefill or a decode step.
type PhaseKind int

// The phases of a generation.
const (
	Prefill PhaseKind = iota + 1
	Decode
)

// Phase is one phase of a generation: the prefill (the prompt, producing
// the first token) or decode step Step (producing generated token Step+1).
type Phase struct {
	Kind PhaseKind
	Step int // decode steps count from 0; 0 for the prefill
}

func (p Phase) String() string {
	if p.Kind == Prefill {
		return "prefill"
	}
	return fmt.Sprintf("decode %d", p.Step)
}

// PhaseCost is what one phase cost, per Kind, priced on the engine's
// network (NetworkSeconds set per kind from its bytes and rounds).
type PhaseCost struct {
	Phase Phase
	Kinds map[Kind]cost.Cost
}

// Total is the sum over kinds.
func (p PhaseCost) Total() cost.Cost {
	var t cost.Cost
	for _, k := range Kinds() {
		t = t.Add(p.Kinds[k])
	}
	return t
}

// recorder accumulates costs per phase and kind; both engines embed it.
// The current phase is kept in an array indexed by kind (the estimate
// engine records hundreds of thousands of operations per estimate) and
// turned into a PhaseCost when the next phase begins or on Breakdown.
type recorder struct {
	phases []PhaseCost
	open   bool
	cur    Phase
	kinds  [len(kindOrder)]cost.Cost
}

var kindOrder = [...]Kind{KindEmbedding, KindLinear, KindAppend, KindAttention, KindSoftmax,
	KindNorm, KindActivation, KindMul, KindArgmax}

func kindIndex(k Kind) int {
	for i, o := range kindOrder {
		if o == k {
			return i
		}
	}
	panic("sim: unknown kind " + string(k)) // the kinds are this package's constants
}

// close turns the open phase into a PhaseCost.
func (r *recorder) close() {
	if !r.open {
		return
	}
	m := make(map[Kind]cost.Cost, len(kindOrder))
	for i, c := range r.kinds {
		if c != (cost.Cost{}) {
			m[kindOrder[i]] = c
		}
	}
	r.phases = append(r.phases, PhaseCost{Phase: r.cur, Kinds: m})
	r.open = false
}

// current is the phase being recorded (the last one begun), if any.
func (r *recorder) current() (Phase, bool) {
	if r.open {
		return r.cur, true
	}
	if n := len(r.phases); n > 0 {
		return r.phases[n-1].Phase, true
	}
	return Phase{}, false
}

func (r *recorder) Begin(ph Phase) {
	r.close()
	r.open, r.cur, r.kinds = true, ph, [len(kindOrder)]cost.Cost{}
}

func (r *recorder) record(k Kind, c cost.Cost) {
	if !r.open && len(r.phases) == 0 {
		r.Begin(Phase{Kind: Prefill})
	}
	if !r.open { // after Breakdown: reopen the last phase
		last := r.phases[len(r.phases)-1]
		r.phases = r.phases[:len(r.phases)-1]
		r.open, r.cur, r.kinds = true, last.Phase, [len(kindOrder)]cost.Cost{}
		for kk, kc := range last.Kinds {
			r.kinds[kindIndex(kk)] = kc
		}
	}
	i := kindIndex(k)
	r.kinds[i] = r.kinds[i].Add(c)
}

// Breakdown returns a copy of the phases recorded so far.
func (r *recorder) Breakdown() []PhaseCost {
	r.close()
	out := make([]PhaseCost, len(r.phases))
	for i, p := range r.phases {
		m := make(map[Kind]cost.Cost, len(p.Kinds))
		for k, c := range p.Kinds {
			m[k] = c
		}
		out[i] = PhaseCost{Phase: p.Phase, Kinds: m}
	}
	return out
}
