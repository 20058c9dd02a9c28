package mpc

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sync"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
)

// Config is what every protocol value needs besides its shape: the ring of
// the shares and the profile that prices share operations
// ([cost.OpShareProtocol], which a profile without it prices as
// [cost.OpShare], at level 0).
type Config struct {
	Ring    *Ring
	Profile *cost.Profile
	// Nonlinear is how the activations (SiLU, GELU), the norms (RMSNorm,
	// LayerNorm), the softmax (its maximum, exponential and reciprocal),
	// Max and Argmax compute: Iterative (the zero value) or LUT. The
	// elementwise Exp, Reciprocal and Rsqrt compute iteratively whatever
	// it says.
	Nonlinear Nonlinear
	// GatedTerms bounds the terms of a step's gated products in one round
	// (gated.go: the octave lookups' gating and the products that use
	// their guess): a step with more gates in one round and multiplies in
	// the next. Zero: the default bound, 2^18; negative: never in one
	// round. The fused round saves a round trip and sends about one
	// element each way per term more: package sim sets the bound from the
	// network (where a round trip costs less than those bytes, the two
	// rounds are cheaper).
	GatedTerms int
	// RoundCompares is the comparisons a round trip is worth to the
	// grouped tournaments that find maxima by lookup (max_groups.go): a
	// row's levels, tree levels (a round) or all-pairs groups (two), are
	// the plan of least rounds·RoundCompares/rows + comparisons, the
	// rows of a step sharing its rounds; a level, or the exponential's
	// gate, uses selects (select.go) only where their extra payloads cost
	// less than the round they save. Zero: the default, 2^12; negative:
	// none (the plan of fewest comparisons, the tree, and no selects). A
	// comparison costs a key to evaluate and an element each way: package
	// sim sets it from the network and the profile.
	RoundCompares int
}

// gatedBound is the bound GatedTerms sets.
func (c Config) gatedBound() int {
	switch {
	case c.GatedTerms < 0:
		return 0
	case c.GatedTerms == 0:
		return maxGatedTerms
	}
	return min(c.GatedTerms, maxGatedTerms)
}

// roundCompares is the worth RoundCompares sets.
func (c Config) roundCompares() int {
	switch {
	case c.RoundCompares < 0:
		return 0
	case c.RoundCompares == 0:
		return defaultRoundCompares
	}
	return c.RoundCompares
}

// Nonlinear is a method of the non-linear protocols.
type Nonlinear int

const (
	// Iterative computes from comparisons, Beaver products and
	// truncations: limit formulas, Goldschmidt and Newton steps. Its
	// dealer material is small; its rounds are many.
	Iterative Nonlinear = iota
	// LUT reads tables at an index from the dealer's one-hot vectors
	// (Lookup), finds maxima by grouped tournaments and fuses
	// truncations with the products they feed: fewer rounds, more dealer
	// material.
	LUT
)

func (m Nonlinear) String() string {
	switch m {
	case Iterative:
		return "iterative"
	case LUT:
		return "lut"
	}
	return fmt.Sprintf("Nonlinear(%d)", int(m))
}

// LookupsFit is an error if c reads lookup tables (Nonlinear = LUT) that
// its ring cannot serve for a model whose norms' rows have normDim values
// and whose softmax rows have up to cols scores, with inputs of f
// fractional bits or of f + RawScale (untruncated products): an Estimate
// of such a shape would price what a Run refuses.
func (c Config) LookupsFit(normDim, cols int) error {
	if c.Nonlinear != LUT || c.Ring == nil {
		return nil
	}
	lo, hi := lutNormRange(c, normDim, 0, 0)
	if _, err := c.Ring.normLUT(normDim, lo, hi); err != nil {
		return fmt.Errorf("mpc: norms by lookup: %w", err)
	}
	var errs []error
	for _, scale := range []int{0, c.RawScale()} {
		errs = append(errs, lutErr(c, siluLUT, scale), lutErr(c, geluLUT, scale), expLUTErr(c, scale))
	}
	return firstErr(append(errs, recipLUTErr(c, bits.Len(uint(cols))))...)
}

// RawScale is the extra fractional bits of an untruncated product of two
// fixed-point values (f) that the protocols by lookup (Nonlinear = LUT)
// take as inputs, truncating them in their own rounds (their Scale
// fields); 0 for the iterative ones, which take f bits only.
func (c Config) RawScale() int {
	if c.Nonlinear != LUT || c.Ring == nil {
		return 0
	}
	return c.Ring.frac
}

// methodErr is an error if c names no method.
func (c Config) methodErr() error {
	if c.Nonlinear != Iterative && c.Nonlinear != LUT {
		return fmt.Errorf("unknown non-linear method %v", c.Nonlinear)
	}
	return nil
}

// ParseNonlinear reads a method by its name: "iterative" or "lut".
func ParseNonlinear(s string) (Nonlinear, error) {
	for _, m := range []Nonlinear{Iterative, LUT} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("mpc: unknown non-linear method %q (want iterative or lut)", s)
}

// NewConfig builds the ring of a fixed-point setting (a preset's
// params.Preset.FixedPoint) and checks that prof prices share operations.
func NewConfig(fp params.FixedPoint, prof *cost.Profile) (Config, error) {
	r, err := NewRing(fp)
	if err != nil {
		return Config{}, err
	}
	if prof == nil {
		return Config{}, fmt.Errorf("mpc: nil profile")
	}
	if row := prof.Seconds[cost.OpShare]; len(row) == 0 {
		return Config{}, fmt.Errorf("mpc: profile %s does not price %q", prof.Params, cost.OpShare)
	}
	return Config{Ring: r, Profile: prof}, nil
}

// Session is the two parties of a Run: their ends of an in-process pipe and
// its meter, their stocks of dealer material, and the tally that records
// what the Runs cost. Each Run plays both parties, one goroutine each for
// the whole protocol: a party's code is a function of its own party (role,
// connection, stock) and its own shares only, and the Run assembles the
// parties' outputs into a Pair after both finish.
//
// A Session runs one protocol at a time: it is not safe for concurrent
// Runs. An error in the middle of a protocol closes the pipe (so that the
// other party cannot wait forever) and every later Run fails.
type Session struct {
	cfg     Config
	dealer  Dealer
	meter   *net.Meter
	closer  func()
	tally   *cost.Tally
	parties [2]*party
	steps   *stepBarrier
	broken  error

	// Manual, when set, stops Runs from fetching their own material from
	// the dealer: they draw on what Preprocess dealt and fail if it is
	// short. By default every Run deals exactly its Need first, and its
	// offline bytes are part of its cost.
	Manual bool
}

// NewSession connects a client and a server through net.Pipe.
func NewSession(cfg Config, d Dealer) *Session {
	c, s, meter, closer := net.Pipe()
	return NewSessionConns(cfg, d, c, s, meter, closer)
}

// NewSessionConns is NewSession over given connections: the client's and
// the server's ends of one transport and its meter (for net.Pipe, what it
// returns), which another protocol may share (exec.NewSessionConns: the HE
// primitives of the same run). Every step brackets its traffic with
// meter.Begin/Since; one protocol at a time may use the transport.
// closePipe, if not nil, closes the transport when a step fails (so that
// the other party stops waiting) and on Close; with nil a failed step may
// leave the other party waiting.
func NewSessionConns(cfg Config, d Dealer, clientConn, serverConn net.Conn, meter *net.Meter, closePipe func()) *Session {
	c, s, closer := clientConn, serverConn, closePipe
	if closer == nil {
		closer = func() {}
	}
	tally := cost.NewTally(cfg.Profile)
	ss := &Session{cfg: cfg, dealer: d, meter: meter, closer: closer, tally: tally, steps: newStepBarrier(meter, tally)}
	for role, conn := range []net.Conn{c, s} {
		ss.parties[role] = &party{role: role, r: cfg.Ring, conn: conn, stock: &Stock{}, tally: tally, steps: ss.steps}
	}
	return ss
}

// Close closes the pipe.
func (s *Session) Close() { s.closer() }

// Cost is everything recorded so far: share operations, triples, bytes
// and rounds of every Run, and the offline bytes of every dealing.
func (s *Session) Cost() cost.Cost { return s.tally.Cost() }

// Left is the material left in the parties' stocks (the client's count;
// the server's is the same).
func (s *Session) Left() Need { return s.parties[Client].stock.Left() }

// Preprocess fetches n from the dealer into both stocks and records the
// offline bytes.
func (s *Session) Preprocess(n Need) error {
	if n.IsZero() {
		return nil
	}
	if s.dealer == nil {
		return fmt.Errorf("mpc: session has no dealer")
	}
	start := cost.CPUSeconds()
	cm, sm, err := s.dealer.Deal(s.cfg.Ring, n)
	if err != nil {
		return err
	}
	// Expand both before stocking either, so that a failure leaves the two
	// stocks in step.
	var stocks [2]*Stock
	for role, m := range []Material{cm, sm} {
		if stocks[role], err = m.Expand(s.cfg.Ring); err != nil {
			return err
		}
	}
	for role, st := range stocks {
		s.parties[role].stock.append(st)
	}
	// The dealing and the seed expansion are offline work, even when a Run
	// does them inline (the default): their CPU time is offline seconds,
	// which a caller timing the Run subtracts from its online compute.
	s.tally.Add(cost.Cost{OfflineBytes: cm.Bytes() + sm.Bytes(), OfflineSeconds: cost.CPUSeconds() - start})
	return nil
}

// begin is the common start of every Run: the session must be usable and
// work modulo the protocol's ring, and must hold the protocol's material.
func (s *Session) begin(what string, cfg Config, n Need) error {
	if s.broken != nil {
		return fmt.Errorf("mpc: %s: session unusable after an earlier error: %w", what, s.broken)
	}
	if cfg.Ring == nil {
		return fmt.Errorf("mpc: %s: the protocol has no ring (build its Config with NewConfig)", what)
	}
	if s.cfg.Ring.fp != cfg.Ring.fp {
		return fmt.Errorf("mpc: %s: the protocol's ring (%+v) is not the session's (%+v)", what, cfg.Ring.fp, s.cfg.Ring.fp)
	}
	if !s.Manual {
		if err := s.Preprocess(n); err != nil {
			return fmt.Errorf("mpc: %s: %w", what, err)
		}
	}
	if left := s.Left(); !left.covers(n) {
		return fmt.Errorf("mpc: %s: dealer material exhausted: the protocol needs %v; the stock holds %v", what, n, left)
	}
	return nil
}

// each runs body once per party, concurrently, for the whole protocol:
// body gets only its party (its role, connection, stock) and is the code of
// that party alone; the caller hands each party its own inputs (see run).
// The parties meet at every communication step (party.step), so that the
// meter brackets each step. If a party fails, the pipe is closed and the
// step barrier released, so that the other party stops waiting; the
// session is then broken and the error names the party that failed first.
func (s *Session) each(body func(p *party) error) error {
	s.steps.reset()
	var errs [2]error
	var wg sync.WaitGroup
	for role := range s.parties {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[role] = body(s.parties[role]); errs[role] != nil {
				s.steps.stop()
				s.closer()
			}
		}()
	}
	wg.Wait()
	// Report the cause: a party that failed first closed the pipe, and the
	// other one then only saw net.ErrClosed.
	cause := -1
	for role, err := range errs {
		if err != nil && (cause < 0 || errors.Is(errs[cause], net.ErrClosed)) {
			cause = role
		}
	}
	if cause < 0 {
		return nil
	}
	s.broken = fmt.Errorf("%s: %w", [2]string{"client", "server"}[cause], errs[cause])
	return s.broken
}

// errPeerStopped is what a party sees at a step barrier when the other
// party has failed: a closed pipe.
var errPeerStopped = fmt.Errorf("the other party stopped: %w", net.ErrClosed)

// stepBarrier is where the two parties' goroutines meet at the start and
// at the end of every communication step. The second party to arrive runs
// the barrier's action (start the meter's stretch; record it), then both
// go on. It carries no data: the parties exchange nothing through it but
// the fact that both reached the step.
type stepBarrier struct {
	mu      sync.Mutex
	cond    *sync.Cond
	waiting int
	gen     uint64
	stopped bool
	meter   *net.Meter
	tally   *cost.Tally
	start   net.Counters
}

func newStepBarrier(meter *net.Meter, tally *cost.Tally) *stepBarrier {
	b := &stepBarrier{meter: meter, tally: tally}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *stepBarrier) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiting, b.stopped = 0, false
}

func (b *stepBarrier) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	b.cond.Broadcast()
}

// arrive blocks until both parties arrived; the second runs action.
func (b *stepBarrier) arrive(action func()) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return errPeerStopped
	}
	b.waiting++
	if b.waiting == 2 {
		action()
		b.waiting = 0
		b.gen++
		b.cond.Broadcast()
		return nil
	}
	g := b.gen
	for g == b.gen && !b.stopped {
		b.cond.Wait()
	}
	if g == b.gen {
		return errPeerStopped
	}
	return nil
}

// party is one side of a protocol: its role, its connection, its stock of
// dealer material. It holds no share: a party's shares are the arguments
// and results of its own methods, and nothing of the other party's.
type party struct {
	role          int
	r             *Ring
	gated         int // the protocol's bound on a step's gated terms (Config.GatedTerms)
	roundCompares int // the comparisons a round trip is worth (Config.RoundCompares)
	conn          net.Conn
	stock         *Stock
	tally         *cost.Tally
	steps         *stepBarrier // shared with the other party: synchronization only
	buf           stepBuffers
}

// stepBuffers are a party's buffers for the messages of its steps, kept
// from one step to the next: a step's messages are as long as its
// vectors, and allocating them afresh at every step costs more than the
// arithmetic when the heap is busy (fresh memory is zeroed and, once the
// runtime has returned it to the system, faulted in again). Outputs are
// allocated. Buffers above maxKeptElements are let go after their step.
type stepBuffers struct {
	sent, other, opened []uint64
	wire                []byte
}

// maxKeptElements bounds the elements a kept buffer may hold (8 MiB of
// uint64): a wider step (a norm or an activation over a long prefill)
// allocates its own and lets it go.
const maxKeptElements = 1 << 20

// trim lets go of the buffers that grew above maxKeptElements.
func (b *stepBuffers) trim() {
	for _, v := range []*[]uint64{&b.sent, &b.other, &b.opened} {
		if cap(*v) > maxKeptElements {
			*v = nil
		}
	}
	if cap(b.wire) > 8*maxKeptElements {
		b.wire = nil
	}
}

// charge records ops share operations.
func (p *party) charge(ops int) { p.tally.Op(cost.OpShareProtocol, 0, int64(ops)) }

// step runs fn as one communication step: the parties meet before it (the
// meter starts the step's stretch) and after it (the stretch is recorded),
// so that a step's rounds do not depend on what ran before.
func (p *party) step(fn func() error) error {
	b := p.steps
	if err := b.arrive(func() { b.start = b.meter.Begin() }); err != nil {
		return err
	}
	if err := fn(); err != nil {
		return err
	}
	return b.arrive(func() { b.tally.Add(b.meter.Since(b.start)) })
}

// exchange sends x as one message and receives the other party's vector of
// the same length, into the party's buffer: valid until its next
// exchange.
func (p *party) exchange(x []uint64) ([]uint64, error) {
	p.buf.wire = p.r.encode(p.buf.wire[:0], x)
	if err := p.conn.Send(p.buf.wire); err != nil {
		return nil, err
	}
	msg, err := p.conn.Recv()
	if err != nil {
		return nil, err
	}
	other, err := p.r.decodeInto(p.buf.other[:0], msg, len(x))
	net.Recycle(msg)
	if err != nil {
		return nil, err
	}
	p.buf.other = other
	return other, nil
}

// opening is one piece of a communication step, built by one party for
// itself: the party sends a masked vector (mask appends it to dst), the
// step opens the sum of the two parties' vectors, and use finishes the
// piece with the opened values (which it must not keep: they are the
// party's buffer). Pieces that do not depend on each other are batched
// into one step, one message per party.
type opening struct {
	mask func(dst []uint64) ([]uint64, error)
	use  func(c []uint64) error
}

// open runs pieces as one step: the party sends the masks of all pieces as
// one message, then finishes every piece with its part of the opened
// vector. Pieces with nothing to send cost nothing.
func (p *party) open(pieces ...opening) error {
	defer p.buf.trim()
	return p.step(func() error {
		msg := p.buf.sent[:0]
		var buf [8]int
		ends := buf[:0] // where each piece's part of msg ends
		for _, pc := range pieces {
			var err error
			if msg, err = pc.mask(msg); err != nil {
				return err
			}
			ends = append(ends, len(msg))
		}
		p.buf.sent = msg
		opened := slices.Grow(p.buf.opened[:0], len(msg))[:len(msg)]
		if len(msg) > 0 {
			other, err := p.exchange(msg)
			if err != nil {
				return err
			}
			for j := range opened {
				opened[j] = p.r.Add(msg[j], other[j])
			}
		}
		p.buf.opened = opened
		from := 0
		for i, pc := range pieces {
			if err := pc.use(opened[from:ends[i]:ends[i]]); err != nil {
				return err
			}
			from = ends[i]
		}
		return nil
	})
}
