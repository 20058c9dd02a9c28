package mpc

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
)

// Config is what every protocol value needs besides its shape: the ring of
// the shares and the profile that prices share operations
// ([cost.OpShare], at level 0).
type Config struct {
	Ring    *Ring
	Profile *cost.Profile
}

// NewConfig builds the ring of p and checks that prof prices share
// operations.
func NewConfig(p Params, prof *cost.Profile) (Config, error) {
	r, err := NewRing(p)
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
// what the Runs cost. Each Run plays both parties, one goroutine each per
// communication step; a party's code only touches its own share, its own
// stock and its own connection.
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
	tally := cost.NewTally(cfg.Profile)
	ss := &Session{cfg: cfg, dealer: d, meter: meter, closer: closer, tally: tally}
	for role, conn := range []net.Conn{c, s} {
		ss.parties[role] = &party{role: role, r: cfg.Ring, conn: conn, stock: &Stock{}, tally: tally}
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
	if n == (Need{}) {
		return nil
	}
	if s.dealer == nil {
		return fmt.Errorf("mpc: session has no dealer")
	}
	cm, sm, err := s.dealer.Deal(s.cfg.Ring, n)
	if err != nil {
		return err
	}
	for role, m := range []Material{cm, sm} {
		st, err := m.Expand(s.cfg.Ring)
		if err != nil {
			return err
		}
		s.parties[role].stock.append(st)
	}
	s.tally.Add(cost.Cost{OfflineBytes: cm.Bytes() + sm.Bytes()})
	return nil
}

// begin is the common start of every Run: the session must be usable and
// work modulo the protocol's ring, and must hold the protocol's material.
func (s *Session) begin(what string, cfg Config, n Need) error {
	if s.broken != nil {
		return fmt.Errorf("mpc: %s: session unusable after an earlier error: %w", what, s.broken)
	}
	if cfg.Ring == nil || s.cfg.Ring.t != cfg.Ring.t || s.cfg.Ring.frac != cfg.Ring.frac {
		return fmt.Errorf("mpc: %s: the protocol's ring (%v) is not the session's (%v)", what, cfg.Ring.Params(), s.cfg.Ring.Params())
	}
	if !s.Manual {
		if err := s.Preprocess(n); err != nil {
			return fmt.Errorf("mpc: %s: %w", what, err)
		}
	}
	if left := s.Left(); left.Triples < n.Triples || left.Truncs < n.Truncs || left.SignMasks < n.SignMasks ||
		left.BitTriples < n.BitTriples || left.DaBits < n.DaBits {
		return fmt.Errorf("mpc: %s: dealer material exhausted: the protocol needs %v; the stock holds %v", what, n, left)
	}
	return nil
}

// step runs one communication step: fn for both parties concurrently,
// bracketed by the meter so that the step's rounds do not depend on what
// ran before. On error the pipe is closed and the session is broken.
func (s *Session) step(fn func(p *party) error) error {
	start := s.meter.Begin()
	var errs [2]error
	var wg sync.WaitGroup
	for role := range s.parties {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[role] = fn(s.parties[role]); errs[role] != nil {
				s.closer()
			}
		}()
	}
	wg.Wait()
	s.tally.Add(s.meter.Since(start))
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

// party is one side of a protocol.
type party struct {
	role  int
	r     *Ring
	conn  net.Conn
	stock *Stock
	tally *cost.Tally
}

// charge records ops share operations.
func (p *party) charge(ops int) { p.tally.Op(cost.OpShare, 0, int64(ops)) }

// exchange sends x as one message and receives the other party's vector of
// the same length.
func (p *party) exchange(x []uint64) ([]uint64, error) {
	if err := p.conn.Send(p.r.encode(nil, x)); err != nil {
		return nil, err
	}
	msg, err := p.conn.Recv()
	if err != nil {
		return nil, err
	}
	return p.r.decode(msg, len(x))
}

// exchangeBits sends the low w bits of every word of x, packed, as one
// message and receives the other party's words.
func (p *party) exchangeBits(x []uint64, w int) ([]uint64, error) {
	if err := p.conn.Send(packBits(x, w)); err != nil {
		return nil, err
	}
	msg, err := p.conn.Recv()
	if err != nil {
		return nil, err
	}
	return unpackBits(msg, len(x), w)
}

// packBits packs the low w bits of each word, little-endian, into
// ceil(len(x)·w/8) bytes.
func packBits(x []uint64, w int) []byte {
	out := make([]byte, (len(x)*w+7)/8)
	pos := 0
	for _, v := range x {
		v &= lowMask(w)
		for b := 0; b < w; b++ {
			if v>>b&1 == 1 {
				out[pos/8] |= 1 << (pos % 8)
			}
			pos++
		}
	}
	return out
}

func unpackBits(msg []byte, n, w int) ([]uint64, error) {
	if len(msg) != (n*w+7)/8 {
		return nil, fmt.Errorf("bit message of %d bytes, want %d words of %d bits", len(msg), n, w)
	}
	x := make([]uint64, n)
	pos := 0
	for i := range x {
		for b := 0; b < w; b++ {
			x[i] |= uint64(msg[pos/8]>>(pos%8)&1) << b
			pos++
		}
	}
	return x, nil
}

// append adds the unused part of o to s.
func (s *Stock) append(o *Stock) {
	for _, pair := range []struct{ dst, src *queue }{
		{&s.tripleA, &o.tripleA}, {&s.tripleB, &o.tripleB}, {&s.tripleC, &o.tripleC},
		{&s.truncR, &o.truncR}, {&s.truncHi, &o.truncHi}, {&s.truncWrap, &o.truncWrap},
		{&s.signR, &o.signR}, {&s.signBits, &o.signBits},
		{&s.daBool, &o.daBool}, {&s.daArith, &o.daArith},
	} {
		pair.dst.v = append(pair.dst.v[pair.dst.pos:], pair.src.v[pair.src.pos:]...)
		pair.dst.pos = 0
		pair.dst.name = pair.src.name
	}
	for _, pair := range []struct{ dst, src *bitStream }{{&s.bitA, &o.bitA}, {&s.bitB, &o.bitB}, {&s.bitC, &o.bitC}} {
		var merged bitStream
		for _, b := range []*bitStream{pair.dst, pair.src} {
			for b.pos < b.n {
				w := min(64, b.n-b.pos)
				v, _ := b.take(w) // w bits are left: cannot fail
				merged.push(v, w)
			}
		}
		merged.name = pair.src.name
		*pair.dst = merged
	}
}

// push appends the low w bits of v.
func (b *bitStream) push(v uint64, w int) {
	off := b.n % 64
	if off == 0 {
		b.words = append(b.words, 0)
	}
	i := len(b.words) - 1
	b.words[i] |= v << off
	if off+w > 64 {
		b.words = append(b.words, v>>(64-off))
	}
	b.n += w
}
