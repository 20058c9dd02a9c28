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

// This file holds the atomic steps and the local operations every
// protocol is built from, each with the cost function that its Estimate
// uses. An atomic step is an [opening]: the parties open a masked vector
// and finish locally; independent openings share one round. Share
// operations are counted per element per party with the constants below.
const (
	opsMul      = 8 // Beaver: 2 masks, 2 opens, c + d·b + e·a (per party)
	opsMulOwner = 2 // + d·e, client only
	opsTrunc    = 6 // mask, open, shift, subtract the mask, wrap term (per party)
	opsCmp      = 6 // 2x + r, open, the mask bit, the final select (per party)
	opsCmpLevel = 4 // one DCF level: two AES blocks, a conversion, an addition
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

// piece is what an opening costs, for plans: the elements each party
// sends, the share operations of both parties, the triples consumed and
// the dealer material.
type piece struct {
	elems, ops, triples int
	need                Need
}

// openCost is the cost of one step made of pieces.
func (c Config) openCost(pieces ...piece) (cost.Cost, Need) {
	var elems, ops, triples int
	var need Need
	for _, pc := range pieces {
		elems += pc.elems
		ops += pc.ops
		triples += pc.triples
		need = need.Add(pc.need)
	}
	b := int64(elems * c.Ring.width)
	k := c.stepCost(b, b, int64(ops))
	k.Triples = int64(triples)
	return k, need
}

// ----- Beaver multiplication (no truncation) -----

func mulPiece(n int) piece {
	return piece{elems: 2 * n, ops: n * (2*opsMul + opsMulOwner), triples: n, need: Need{Triples: n}}
}

// mul returns shares of x ⊙ y (no truncation).
func (s *Session) mul(x, y shared) (shared, error) {
	var out shared
	return out, s.open(mulOp(x, y, &out))
}

// mulOp is the opening of a Beaver product: x - a and y - b.
func mulOp(x, y shared, out *shared) opening {
	var a, b, c [2][]uint64
	return opening{
		mask: func(p *party) ([]uint64, error) {
			r, n, role := p.r, x.len(), p.role
			var err error
			if a[role], err = p.stock.tripleA.take(n); err != nil {
				return nil, err
			}
			b[role], _ = p.stock.tripleB.take(n) // the three queues have the same length
			if c[role], err = p.stock.tripleC.take(n); err != nil {
				return nil, err
			}
			msg := make([]uint64, 2*n)
			for i := range n {
				msg[i] = r.Sub(x[role][i], a[role][i])
				msg[n+i] = r.Sub(y[role][i], b[role][i])
			}
			return msg, nil
		},
		use: func(p *party, de []uint64) error {
			r, n, role := p.r, x.len(), p.role
			z := make([]uint64, n)
			for i := range z {
				d, e := de[i], de[n+i]
				z[i] = r.Add(c[role][i], r.Add(r.Mul(d, b[role][i]), r.Mul(e, a[role][i])))
				if role == Client {
					z[i] = r.Add(z[i], r.Mul(d, e))
				}
			}
			ops := opsMul * n
			if role == Client {
				ops += opsMulOwner * n
				p.tally.Add(cost.Cost{Triples: int64(n)})
			}
			p.charge(ops)
			out[role] = z
			return nil
		},
	}
}

// ----- truncation -----

func truncPiece(n, k int) piece {
	var need Need
	need.Truncs[k] = n
	return piece{elems: n, ops: 2 * n * opsTrunc, need: need}
}

// trunc divides shared fixed-point values by 2^k. See the package
// documentation for the method, its range and its error.
func (s *Session) trunc(x shared, k int) (shared, error) {
	var out shared
	return out, s.open(truncOp(x, k, &out))
}

// truncOp is the opening of a truncation by 2^k: c = x + 2^ℓ + r.
func truncOp(x shared, k int, out *shared) opening {
	var hi, wrap [2][]uint64
	return opening{
		mask: func(p *party) ([]uint64, error) {
			r, n, role := p.r, x.len(), p.role
			rr, err := p.stock.truncR[k].take(n)
			if err != nil {
				return nil, err
			}
			hi[role], _ = p.stock.truncHi[k].take(n) // same length as truncR
			if wrap[role], err = p.stock.truncWrap[k].take(n); err != nil {
				return nil, err
			}
			l := uint(r.TruncBound())
			msg := make([]uint64, n)
			for i := range msg {
				v := x[role][i]
				if role == Client {
					v = r.Add(v, 1<<l) // x' = x + 2^ℓ lies in [0, 2^(ℓ+1))
				}
				msg[i] = r.Add(v, rr[i])
			}
			return msg, nil
		},
		use: func(p *party, cs []uint64) error {
			r, role := p.r, p.role
			l := uint(r.TruncBound())
			tHi := r.t >> k
			z := make([]uint64, len(cs))
			for i, c := range cs { // c = x' + r mod t, uniform
				v := r.Neg(hi[role][i])
				if role == Client {
					v = r.Add(v, r.Sub(c>>k, 1<<(l-uint(k))))
				}
				if c < 1<<(l+1) { // the wrap bit w = [c < 2^(ℓ+1)]·[r > (t-1)/2]
					v = r.Add(v, r.Mul(tHi, wrap[role][i]))
				}
				z[i] = v
			}
			p.charge(opsTrunc * len(cs))
			out[role] = z
			return nil
		},
	}
}

// ----- sign: [x >= 0] -----

func (c Config) signPiece(n int) piece {
	return piece{elems: n, ops: 2 * n * (opsCmp + opsCmpLevel*c.Ring.bits), need: Need{Compares: n}}
}

// sign returns shares of the bits [x_i >= 0] (x centered) in one round.
func (s *Session) sign(x shared) (shared, error) {
	var out shared
	return out, s.open(signOp(x, &out))
}

// signOp is the opening of a comparison: c = 2x + r for a uniform r. The
// element 2x mod t is odd exactly when x is negative, and since t is odd,
// lsb(2x) = lsb(c) ⊕ lsb(r) ⊕ [c < r] (subtracting r wraps around t
// exactly when c < r, which flips the parity). With a = 1 ⊕ lsb(r), the
// dealer's key shares (1 - 2a)·[c < r] and the parties hold shares of a,
// so a ⊕ [c < r] = a + (1 - 2a)[c < r] is a sum of shares, and
// [x >= 0] = lsb(c) ⊕ a ⊕ [c < r] is local since lsb(c) is public.
func signOp(x shared, out *shared) opening {
	var cw [2][]cwLevel
	var fin, as [2][]uint64
	var roots [2][]block
	return opening{
		mask: func(p *party) ([]uint64, error) {
			r, n, role := p.r, x.len(), p.role
			mask, err := p.stock.cmpR.take(n)
			if err != nil {
				return nil, err
			}
			if roots[role], err = p.stock.cmpRoot.take(n); err != nil {
				return nil, err
			}
			if cw[role], fin[role], err = p.stock.cmpCW.take(n); err != nil {
				return nil, err
			}
			if as[role], err = p.stock.cmpA.take(n); err != nil {
				return nil, err
			}
			msg := make([]uint64, n)
			for i := range msg {
				msg[i] = r.Add(r.Add(x[role][i], x[role][i]), mask[i])
			}
			return msg, nil
		},
		use: func(p *party, cs []uint64) error {
			r, role, k := p.r, p.role, p.r.bits
			z := make([]uint64, len(cs))
			for i, c := range cs {
				u := r.Add(r.dcfEval(role, roots[role][i], cw[role][i*k:(i+1)*k], fin[role][i], c), as[role][i])
				if c&1 == 1 { // 1 ⊕ u = 1 - u
					u = r.Neg(u)
					if role == Client {
						u = r.Add(u, 1)
					}
				}
				z[i] = u
			}
			p.charge((opsCmp + opsCmpLevel*k) * len(cs))
			out[role] = z
			return nil
		},
	}
}

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
