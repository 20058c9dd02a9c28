package sim

import (
	"fmt"
	"math"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec/mpc"
	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
)

// Security is the statistical security of a session: the budget its
// flooding was sized for. Every ciphertext the server returns to the
// client is flooded for FloodBits bits (exec.NoiseModel.FloodBits: its
// statistical distance to a simulated one is at most 2^-FloodBits), and the
// distances of a transcript add up, so a session that returns d
// ciphertexts is within d·2^-FloodBits of a view that depends only on the
// client's outputs: Bits(d) = FloodBits - log2 d bits of statistical
// security. FloodBits is Kappa + ceil(log2 Ciphertexts), Ciphertexts being
// what the declared session returns (its prompt and the longest generation
// it may reach), so Bits(d) >= Kappa for every d <= Ciphertexts.
type Security struct {
	// Kappa is the statistical security the whole session keeps, in bits:
	// the preset's (params.FixedPoint.StatSecurity).
	Kappa int `json:"kappa"`
	// FloodBits is the statistical security of each returned ciphertext.
	FloodBits int `json:"flood_bits"`
	// Ciphertexts is the number of ciphertexts the declared session
	// returns to the client (its budget); DeclaredTokens the tokens it may
	// reach (prompt and generated).
	Ciphertexts    int64 `json:"ciphertexts"`
	DeclaredTokens int   `json:"declared_tokens"`
}

// Bits is the statistical security, in bits, of a transcript of d
// returned ciphertexts: FloodBits - log2 d (FloodBits for d <= 1).
func (s Security) Bits(d int64) float64 {
	if d <= 1 {
		return float64(s.FloodBits)
	}
	return float64(s.FloodBits) - math.Log2(float64(d))
}

// Check is an error if a transcript of d returned ciphertexts falls below
// Kappa: more than the session was declared for.
func (s Security) Check(d int64) error {
	if b := s.Bits(d); b < float64(s.Kappa) {
		return fmt.Errorf("sim: the session returned %d ciphertexts, more than the %d its flooding was sized for: %.1f bits of statistical security, below %d",
			d, s.Ciphertexts, b, s.Kappa)
	}
	return nil
}

// sessionDecl is a session as declared for its security budget: a prompt
// and the number of tokens it may generate.
type sessionDecl struct {
	model    model.Config
	preset   params.Preset
	prof     *cost.Profile
	strat    Strategy
	cache    CacheOptions
	prompt   int // the prompt's tokens, public prefix included
	public   int // the public prefix's
	gen      int
	provided int // the context the cache and kernels are provisioned for (0: prompt + gen - 1)
	cores    int // the server's cores its HE primitives are priced for (0: one)
	// clientCores are the client's (0: one).
	clientCores int
	// nonlinear is the method of the non-linear two-party protocols.
	nonlinear mpc.Nonlinear
	// gamma is the draft tokens a Speculative step proposes, temperature
	// the speculative sampling's (0: greedy verification).
	gamma       int
	temperature float64
	// topK, if not zero, keeps only the topK largest logits before the
	// token's choice (a sampler's filter, model.Sampler.FilterK).
	topK int
	// shared, if not nil, is the protocol of preset, prof, both parties'
	// cores and the network (which chooses the linear packings), resolved
	// by the caller for several sessions (see protocolMemo); nil: the
	// session resolves its own.
	shared *protocol
}

// protocol is the session's resolved protocol over nw: the shared one
// (resolved for nw by the caller), or its own.
func (d sessionDecl) protocol(nw net.Network) (protocol, error) {
	if d.shared != nil {
		return d.shared.forSession(), nil
	}
	return resolveProtocol(d.preset, d.prof, d.cores, d.clientCores, nw, d.nonlinear)
}

// declare is the declared session of a generation of gen tokens after a
// prompt, or, with maxTokens > 0, of one that may go on until it holds
// maxTokens tokens (prompt and generated); maxTokens below prompt + gen is
// an error.
func declare(d sessionDecl, maxTokens int) (sessionDecl, error) {
	if maxTokens == 0 {
		return d, nil
	}
	if maxTokens < d.prompt+d.gen {
		return d, fmt.Errorf("sim: a session of at most %d tokens cannot hold a prompt of %d and %d generated", maxTokens, d.prompt, d.gen)
	}
	if maxTokens-1 > d.model.SeqLen {
		return d, fmt.Errorf("sim: a session of %d tokens needs %d positions, the context of %s is %d", maxTokens, maxTokens-1, d.model.Name, d.model.SeqLen)
	}
	d.gen = maxTokens - d.prompt
	return d, nil
}

// planSession builds the planner of a declared session: it floods every
// returned ciphertext for κ + ceil(log2 D) bits, D being the ciphertexts
// the declared session returns, counted by the estimate engine (D depends
// on the flooding only through the refreshes a lazy policy makes, so a
// second count confirms the budget, rarely a third). It also returns the
// estimator that made the last count, over the declared session, priced
// on nw. A session whose flooding does not fit the preset is refused.
func planSession(d sessionDecl, nw net.Network) (*planner, *Estimator, Security, error) {
	pr, err := d.protocol(nw)
	if err != nil {
		return nil, nil, Security{}, err
	}
	kappa := pr.he.StatSecurity // the preset's κ
	maxCtx := d.provided
	if maxCtx == 0 {
		maxCtx = d.prompt + d.gen - 1
	}
	if d.topK > 0 && d.topK < d.model.VocabSize {
		if err := topKFits(pr.mpc, d.model.VocabSize, d.topK); err != nil {
			return nil, nil, Security{}, err
		}
	}
	if d.strat == Speculative {
		if err := samplingFits(pr.mpc, d.model, d.preset.Name, d.temperature); err != nil {
			return nil, nil, Security{}, err
		}
	}
	if err := pr.mpc.LookupsFit(d.model.Dim, maxCtx+1); err != nil {
		return nil, nil, Security{}, fmt.Errorf("sim: --nonlinear %v for %s at %s: %w", d.nonlinear, d.model.Name, d.preset.Name, err)
	}
	extra := 0
	for iter := 0; ; iter++ {
		p, err := newPlanner(d.model, pr, d.strat, d.cache, maxCtx, kappa+extra)
		if err != nil {
			if extra > 0 {
				return nil, nil, Security{}, fmt.Errorf("sim: this session floods each returned ciphertext for %d bits (κ = %d plus %d for the ciphertexts it returns), which %s cannot fit; use a larger preset or a shorter session: %w",
					kappa+extra, kappa, extra, d.preset.Name, err)
			}
			return nil, nil, Security{}, err
		}
		p.topK = d.topK
		if err := p.withPublic(d.public); err != nil {
			return nil, nil, Security{}, err
		}
		if d.strat == Speculative {
			p.temperature = d.temperature
		}
		// A speculative session is sized for no accepted proposal: the
		// most passes, tokens processed and ciphertexts returned.
		e := newEstimator(p, nw, specModel{gamma: d.gamma})
		if _, err := Generate(e, d.model, d.strat, make([]int, d.prompt), d.gen, nil); err != nil {
			return nil, nil, Security{}, err
		}
		n := returned(e.Breakdown())
		need := 0
		if n > 1 {
			need = int(math.Ceil(math.Log2(float64(n))))
		}
		if need <= extra {
			return p, e, Security{Kappa: kappa, FloodBits: kappa + extra, Ciphertexts: n, DeclaredTokens: d.prompt + d.gen}, nil
		}
		if iter >= 4 {
			return nil, nil, Security{}, fmt.Errorf("sim: internal error: the session's security budget did not converge (%d ciphertexts at %d bits)", n, kappa+extra)
		}
		extra = need
	}
}

// returned is the number of ciphertexts the client decrypted over the
// phases of a breakdown.
func returned(bd []PhaseCost) int64 {
	var n int64
	for _, ph := range bd {
		n += ph.Total().Decryptions
	}
	return n
}

// samplingFits refuses speculative sampling at temperature (none when 0)
// that the ring of cfg cannot verify for model's vocabulary
// (mpc.AcceptSampled.Fits).
func samplingFits(cfg mpc.Config, m model.Config, preset string, temperature float64) error {
	if temperature == 0 {
		return nil
	}
	if err := (mpc.AcceptSampled{Config: cfg, Rows: 2, N: m.VocabSize, Temperature: temperature}).Fits(); err != nil {
		return fmt.Errorf("sim: speculative sampling of %s at %s: %w", m.Name, preset, err)
	}
	return nil
}

// maxTopKCompares bounds the comparisons of a top-k filter: its dealer
// material is dealt at once, a few kilobytes a comparison (2^18 of them
// is about a gigabyte at bgv-n14).
const maxTopKCompares = 1 << 18

// topKFits refuses a top-k filter of k over a vocabulary of n whose
// comparisons exceed maxTopKCompares.
func topKFits(cfg mpc.Config, n, k int) error {
	c := mpc.TopK{Config: cfg, N: n, K: k}.Need()
	if got := c.Compares + c.Selects[1] + c.Selects[2]; got > maxTopKCompares {
		return fmt.Errorf("sim: a top-k filter of %d over a vocabulary of %d makes %d comparisons a token, more than the %d whose dealer material is held at once: use a smaller --top-k", k, n, got, maxTopKCompares)
	}
	return nil
}
