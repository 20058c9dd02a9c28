package mpc

import (
	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
)

// shared is a vector shared between the parties inside a Run: index Client
// and index Server; a party's code only reads its own index.
type shared [2][]uint64

func (x shared) len() int { return len(x[Client]) }

// pair turns internal shares into a Pair of the ring.
func (x shared) pair(r *Ring) Pair { return Pair{{Mod: r.t, V: x[0]}, {Mod: r.t, V: x[1]}} }

func fromPair(p Pair) shared { return shared{p[0].V, p[1].V} }

// This file holds the atomic steps (one communication step each) and the
// local operations every protocol is built from, each with the cost
// function that its Estimate uses. Share operations are counted per
// element per party with the constants below.
const (
	opsMul      = 8  // Beaver: 2 masks, 2 opens, c + d·b + e·a (per party)
	opsMulOwner = 2  // + d·e, client only
	opsTrunc    = 6  // mask, open, shift, subtract the mask, wrap term (per party)
	opsSignOpen = 3  // 2x + r, open
	opsSignInit = 2  // the generate and propagate words
	opsAndLevel = 10 // compaction, masks, opens, Beaver AND, combine (per element per party)
	opsB2A      = 3  // mask, open, e + (1-2e)ρ
	opsLocal    = 1  // one local addition or product by a public constant
)

// stepCost is the cost of one communication step: the bytes each way, the
// rounds of the flights they make, and ops share operations in all.
func (c Config) stepCost(c2s, s2c int64, ops int64) cost.Cost {
	k := c.Profile.Charge(cost.OpShare, 0, ops)
	k.BytesC2S, k.BytesS2C = c2s, s2c
	flights := int64(0)
	if c2s > 0 {
		flights++
	}
	if s2c > 0 {
		flights++
	}
	k.Rounds = net.RoundsOf(flights)
	return k
}

// localCost is the cost of ops local share operations.
func (c Config) localCost(ops int) cost.Cost { return c.Profile.Charge(cost.OpShare, 0, int64(ops)) }

// ----- Beaver multiplication (no truncation) -----

func (c Config) mulCost(n int) cost.Cost {
	b := int64(2 * n * c.Ring.width)
	k := c.stepCost(b, b, int64(n*(2*opsMul+opsMulOwner)))
	k.Triples = int64(n)
	return k
}

func mulNeed(n int) Need { return Need{Triples: n} }

// mul returns shares of x ⊙ y (no truncation).
func (s *Session) mul(x, y shared) (shared, error) {
	var out shared
	err := s.step(func(p *party) error {
		z, err := p.mul(x[p.role], y[p.role])
		out[p.role] = z
		return err
	})
	return out, err
}

func (p *party) mul(x, y []uint64) ([]uint64, error) {
	r, n := p.r, len(x)
	a, err := p.stock.tripleA.take(n)
	if err != nil {
		return nil, err
	}
	b, _ := p.stock.tripleB.take(n) // the three queues have the same length
	c, err := p.stock.tripleC.take(n)
	if err != nil {
		return nil, err
	}
	msg := make([]uint64, 2*n)
	for i := range x {
		msg[i] = r.Sub(x[i], a[i])
		msg[n+i] = r.Sub(y[i], b[i])
	}
	other, err := p.exchange(msg)
	if err != nil {
		return nil, err
	}
	z := make([]uint64, n)
	for i := range z {
		d, e := r.Add(msg[i], other[i]), r.Add(msg[n+i], other[n+i])
		z[i] = r.Add(c[i], r.Add(r.Mul(d, b[i]), r.Mul(e, a[i])))
		if p.role == Client {
			z[i] = r.Add(z[i], r.Mul(d, e))
		}
	}
	ops := opsMul * n
	if p.role == Client {
		ops += opsMulOwner * n
		p.tally.Add(cost.Cost{Triples: int64(n)})
	}
	p.charge(ops)
	return z, nil
}

// ----- truncation -----

func (c Config) truncCost(n int) cost.Cost {
	b := int64(n * c.Ring.width)
	return c.stepCost(b, b, int64(2*n*opsTrunc))
}

func truncNeed(n int) Need { return Need{Truncs: n} }

// trunc divides shared fixed-point values by 2^f. See the package
// documentation for the method, its range and its error.
func (s *Session) trunc(x shared) (shared, error) {
	var out shared
	err := s.step(func(p *party) error {
		z, err := p.trunc(x[p.role])
		out[p.role] = z
		return err
	})
	return out, err
}

func (p *party) trunc(x []uint64) ([]uint64, error) {
	r, n := p.r, len(x)
	rr, err := p.stock.truncR.take(n)
	if err != nil {
		return nil, err
	}
	hi, _ := p.stock.truncHi.take(n)
	wrap, err := p.stock.truncWrap.take(n)
	if err != nil {
		return nil, err
	}
	l := uint(r.TruncBound())
	msg := make([]uint64, n)
	for i := range x {
		v := x[i]
		if p.role == Client {
			v = r.Add(v, 1<<l) // x' = x + 2^ℓ lies in [0, 2^(ℓ+1))
		}
		msg[i] = r.Add(v, rr[i])
	}
	other, err := p.exchange(msg)
	if err != nil {
		return nil, err
	}
	tHi := r.t >> r.frac
	z := make([]uint64, n)
	for i := range z {
		c := r.Add(msg[i], other[i]) // c = x' + r mod t, uniform
		v := r.Neg(hi[i])
		if p.role == Client {
			v = r.Add(v, r.Sub(c>>r.frac, 1<<(l-uint(r.frac))))
		}
		if c < 1<<(l+1) { // the wrap bit w = [c < 2^(ℓ+1)]·[r > (t-1)/2]
			v = r.Add(v, r.Mul(tHi, wrap[i]))
		}
		z[i] = v
	}
	p.charge(opsTrunc * n)
	return z, nil
}

// ----- sign: [x >= 0] -----

// andLevels lists, for a comparison of k-bit words, the padded width of
// each level of the comparison tree: k, then ceil(k/2), ... down to 2.
func andLevels(k int) []int {
	var ws []int
	for l := k; l > 1; l = (l + 1) / 2 {
		ws = append(ws, l+l%2)
	}
	return ws
}

func (c Config) signCost(n int) cost.Cost {
	w := int64(n * c.Ring.width)
	k := c.stepCost(w, w, int64(2*n*(opsSignOpen+opsSignInit)))
	for _, lw := range andLevels(c.Ring.bits) {
		b := int64((2*n*lw + 7) / 8)
		k = k.Add(c.stepCost(b, b, int64(2*n*opsAndLevel)))
	}
	b := int64((n + 7) / 8)
	return k.Add(c.stepCost(b, b, int64(2*n*opsB2A)))
}

func (c Config) signNeed(n int) Need {
	bt := 0
	for _, lw := range andLevels(c.Ring.bits) {
		bt += n * lw
	}
	return Need{SignMasks: n, BitTriples: bt, DaBits: n}
}

// sign returns shares of the bits [x_i >= 0] (x centered). It computes the
// least significant bit of 2x mod t, which is 1 exactly when x is
// negative: with c = 2x + r opened for a uniform mask r whose bits are
// XOR-shared, lsb(2x) = lsb(c) ⊕ lsb(r) ⊕ [r > c] (the wrap flips the
// parity since t is odd). [r > c] is a comparison of a shared and a public
// bits(t)-bit word, computed by a tree of boolean Beaver ANDs, one level per
// round; the result is converted to Z_t with a daBit.
func (s *Session) sign(x shared) (shared, error) {
	n := x.len()
	var g, e [2][]uint64 // XOR shares of the generate / propagate words
	var low [2][]uint64  // this party's share of lsb(c) ⊕ lsb(r)
	k := s.cfg.Ring.bits
	err := s.step(func(p *party) error {
		r := p.r
		mask, err := p.stock.signR.take(n)
		if err != nil {
			return err
		}
		rb, err := p.stock.signBits.take(n)
		if err != nil {
			return err
		}
		msg := make([]uint64, n)
		for i := range msg {
			msg[i] = r.Add(r.Add(x[p.role][i], x[p.role][i]), mask[i])
		}
		other, err := p.exchange(msg)
		if err != nil {
			return err
		}
		gs, es, ls := make([]uint64, n), make([]uint64, n), make([]uint64, n)
		for i := range msg {
			c := r.Add(msg[i], other[i])
			notC := ^c & lowMask(k)
			gs[i] = rb[i] & notC // g_j = r_j ∧ ¬c_j
			es[i] = rb[i]        // e_j = ¬(r_j ⊕ c_j): the client adds ¬c
			ls[i] = rb[i] & 1
			if p.role == Client {
				es[i] ^= notC
				ls[i] ^= c & 1
			}
		}
		g[p.role], e[p.role], low[p.role] = gs, es, ls
		p.charge((opsSignOpen + opsSignInit) * n)
		return nil
	})
	if err != nil {
		return shared{}, err
	}
	for width := k; width > 1; width = (width + 1) / 2 {
		lw := width + width%2
		m := lw / 2
		err := s.step(func(p *party) error {
			return p.andLevel(g[p.role], e[p.role], width, lw, m)
		})
		if err != nil {
			return shared{}, err
		}
	}
	var out shared
	err = s.step(func(p *party) error {
		r := p.r
		rhoB, err := p.stock.daBool.take(n)
		if err != nil {
			return err
		}
		rhoA, err := p.stock.daArith.take(n)
		if err != nil {
			return err
		}
		msg := make([]uint64, n)
		for i := range msg {
			b := low[p.role][i] ^ g[p.role][i] // share of lsb(2x) = [x < 0]
			if p.role == Client {
				b ^= 1 // [x >= 0]
			}
			msg[i] = b ^ rhoB[i]
		}
		other, err := p.exchangeBits(msg, 1)
		if err != nil {
			return err
		}
		z := make([]uint64, n)
		for i := range z {
			ebit := msg[i] ^ other[i]
			if ebit == 0 {
				z[i] = rhoA[i]
			} else {
				z[i] = r.Neg(rhoA[i]) // e + (1-2e)ρ = 1 - ρ
				if p.role == Client {
					z[i] = r.Add(z[i], 1)
				}
			}
		}
		out[p.role] = z
		p.charge(opsB2A * n)
		return nil
	})
	return out, err
}

// andLevel combines adjacent bit positions (2j+1 above 2j) of the words:
// G = G_hi ⊕ (E_hi ∧ G_lo), E = E_hi ∧ E_lo, with one boolean Beaver AND of
// lw bits per word. width is the number of valid bits, lw the padded width.
func (p *party) andLevel(g, e []uint64, width, lw, m int) error {
	n := len(g)
	msg := make([]uint64, 2*n)
	as, bs, cs := make([]uint64, n), make([]uint64, n), make([]uint64, n)
	ghi := make([]uint64, n)
	for i := range g {
		ei := e[i]
		if width%2 == 1 && p.role == Client {
			ei |= 1 << width // padding position: G = 0, E = 1
		}
		ehi, elo := oddBits(ei, m), evenBits(ei, m)
		ghi[i] = oddBits(g[i], m)
		x := ehi | ehi<<m
		y := evenBits(g[i], m) | elo<<m
		var err error
		if as[i], err = p.stock.bitA.take(lw); err != nil {
			return err
		}
		bs[i], _ = p.stock.bitB.take(lw) // same length as bitA
		if cs[i], err = p.stock.bitC.take(lw); err != nil {
			return err
		}
		msg[i], msg[n+i] = x^as[i], y^bs[i]
	}
	other, err := p.exchangeBits(msg, lw)
	if err != nil {
		return err
	}
	for i := range g {
		d, f := msg[i]^other[i], msg[n+i]^other[n+i]
		z := cs[i] ^ d&bs[i] ^ f&as[i]
		if p.role == Client {
			z ^= d & f
		}
		g[i] = ghi[i] ^ z&lowMask(m)
		e[i] = z >> m & lowMask(m)
	}
	p.charge(opsAndLevel * n)
	return nil
}

// evenBits gathers bits 0, 2, 4, ... of v into the low m bits.
func evenBits(v uint64, m int) uint64 {
	var out uint64
	for j := 0; j < m; j++ {
		out |= (v >> (2 * j) & 1) << j
	}
	return out
}

// oddBits gathers bits 1, 3, 5, ... of v into the low m bits.
func oddBits(v uint64, m int) uint64 { return evenBits(v>>1, m) }

// ----- reveal to the client -----

func (c Config) revealCost(n int) cost.Cost {
	return c.stepCost(0, int64(n*c.Ring.width), int64(n))
}

// revealToClient sends the server's share to the client, who adds it to
// its own; the server learns nothing.
func (s *Session) revealToClient(x shared) ([]uint64, error) {
	var out []uint64
	err := s.step(func(p *party) error {
		n := len(x[p.role])
		if p.role == Server {
			return p.conn.Send(p.r.encode(nil, x[p.role]))
		}
		msg, err := p.conn.Recv()
		if err != nil {
			return err
		}
		other, err := p.r.decode(msg, n)
		if err != nil {
			return err
		}
		out = make([]uint64, n)
		for i := range out {
			out[i] = p.r.Add(x[p.role][i], other[i])
		}
		p.charge(n)
		return nil
	})
	return out, err
}

// ----- local operations (no communication) -----

// addConst adds the public element c to every element (the client's share
// carries it).
func (s *Session) addConst(x shared, c uint64) shared {
	r := s.cfg.Ring
	out := shared{append([]uint64(nil), x[0]...), x[1]}
	for i := range out[0] {
		out[0][i] = r.Add(out[0][i], c)
	}
	s.parties[Client].charge(len(x[0]))
	return out
}

// affine returns a·x + b·y + c elementwise for public elements a, b, c.
func (s *Session) affine(a uint64, x shared, b uint64, y shared, c uint64) shared {
	r := s.cfg.Ring
	var out shared
	for role := range out {
		out[role] = make([]uint64, len(x[role]))
		for i := range out[role] {
			v := r.Mul(a, x[role][i])
			if y[role] != nil {
				v = r.Add(v, r.Mul(b, y[role][i]))
			}
			if role == Client {
				v = r.Add(v, c)
			}
			out[role][i] = v
		}
		s.parties[role].charge(3 * len(x[role]))
	}
	return out
}

func (c Config) affineCost(n int) cost.Cost { return c.localCost(6 * n) }

func (c Config) addConstCost(n int) cost.Cost { return c.localCost(n) }
