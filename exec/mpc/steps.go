package mpc

import (
	"slices"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
)

// This file holds the atomic steps and the local operations every
// protocol is built from, each with the cost function that its Estimate
// uses. An atomic step is an [opening]: the parties open a masked vector
// and finish locally; independent openings share one round. Share
// operations are counted per element per party with the constants below;
// a comparison also evaluates its key, one DCF level (cost.OpDCF) per bit
// of the ring per party.
const (
	opsMul      = 8 // Beaver: 2 masks, 2 opens, c + d·b + e·a (per party)
	opsMulOwner = 2 // + d·e, client only
	opsTrunc    = 6 // mask, open, shift, subtract the mask, wrap term (per party)
	opsCmp      = 6 // 2x + r, open, the mask bit, the final select (per party)
)

// stepCost is the cost of one communication step: the bytes each way, the
// rounds of the flights they make, ops share operations, dcf DCF levels
// and lut table entries in all.
func (c Config) stepCost(c2s, s2c int64, ops, dcf, lut int64) cost.Cost {
	k := c.Profile.Charge(cost.OpShareProtocol, 0, ops)
	if dcf > 0 {
		k = k.Add(c.Profile.Charge(cost.OpDCF, 0, dcf))
	}
	if lut > 0 {
		k = k.Add(c.Profile.Charge(cost.OpLUT, 0, lut))
	}
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
func (c Config) localCost(ops int) cost.Cost {
	return c.Profile.Charge(cost.OpShareProtocol, 0, int64(ops))
}

// piece is what an opening costs, for bills: the elements each party
// sends, the share operations, DCF levels and table entries read of both
// parties, the triples consumed and the dealer material.
type piece struct {
	elems, ops, dcf, lut, triples int
	need                          Need
}

// openCost is the cost of one step made of pieces.
func (c Config) openCost(pieces ...piece) (cost.Cost, Need) {
	var elems, ops, dcf, lut, triples int
	var need Need
	for _, pc := range pieces {
		elems += pc.elems
		ops += pc.ops
		dcf += pc.dcf
		lut += pc.lut
		triples += pc.triples
		need = need.Add(pc.need)
	}
	b := int64(elems * c.Ring.width)
	k := c.stepCost(b, b, int64(ops), int64(dcf), int64(lut))
	k.Triples = int64(triples)
	return k, need
}

// ----- Beaver multiplication (no truncation) -----

func mulPiece(n int) piece {
	return piece{elems: 2 * n, ops: n * (2*opsMul + opsMulOwner), triples: n, need: Need{Triples: n}}
}

// mul returns the party's share of x ⊙ y (no truncation); x and y are
// its shares.
func (p *party) mul(x, y []uint64) ([]uint64, error) {
	var out []uint64
	return out, p.open(p.mulOp(x, y, &out))
}

// mulOp is the opening of a Beaver product: x - a and y - b, for the
// party's shares x, y and its triples (a, b, c).
func (p *party) mulOp(x, y []uint64, out *[]uint64) opening {
	var a, b, c []uint64
	r, n := p.r, len(x)
	return opening{
		mask: func(dst []uint64) ([]uint64, error) {
			var err error
			if a, err = p.stock.tripleA.take(n); err != nil {
				return nil, err
			}
			b, _ = p.stock.tripleB.take(n) // the three queues have the same length
			if c, err = p.stock.tripleC.take(n); err != nil {
				return nil, err
			}
			dst, msg := extend(dst, 2*n)
			for i := range n {
				msg[i] = r.Sub(x[i], a[i])
				msg[n+i] = r.Sub(y[i], b[i])
			}
			return dst, nil
		},
		use: func(de []uint64) error {
			z := make([]uint64, n)
			for i := range z {
				d, e := de[i], de[n+i]
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
			*out = z
			return nil
		},
	}
}

// ----- truncation -----

func truncPiece(n, k int) piece {
	k = clampShift(k)
	var need Need
	need.Truncs[k] = n
	return piece{elems: n, ops: 2 * n * opsTrunc, need: need}
}

// trunc divides shared fixed-point values by 2^k (x is the party's
// share). See the package documentation for the method, its range and its
// error.
func (p *party) trunc(x []uint64, k int) ([]uint64, error) {
	var out []uint64
	return out, p.open(p.truncOp(x, k, &out))
}

// truncOp is the opening of a truncation by 2^k: c = x + 2^ℓ + r.
func (p *party) truncOp(x []uint64, k int, out *[]uint64) opening {
	var hi, wrap []uint64
	r, n := p.r, len(x)
	l := uint(r.TruncBound())
	return opening{
		mask: func(dst []uint64) ([]uint64, error) {
			rr, err := p.stock.truncR[k].take(n)
			if err != nil {
				return nil, err
			}
			hi, _ = p.stock.truncHi[k].take(n) // same length as truncR
			if wrap, err = p.stock.truncWrap[k].take(n); err != nil {
				return nil, err
			}
			dst, msg := extend(dst, n)
			for i := range msg {
				v := x[i]
				if p.role == Client {
					v = r.Add(v, 1<<l) // x' = x + 2^ℓ lies in [0, 2^(ℓ+1))
				}
				msg[i] = r.Add(v, rr[i])
			}
			return dst, nil
		},
		use: func(cs []uint64) error {
			tHi := r.t >> k
			z := make([]uint64, len(cs))
			for i, c := range cs { // c = x' + r mod t, uniform
				v := r.Neg(hi[i])
				if p.role == Client {
					v = r.Add(v, r.Sub(c>>k, 1<<(l-uint(k))))
				}
				if c < 1<<(l+1) { // the wrap bit w = [c < 2^(ℓ+1)]·[r > (t-1)/2]
					v = r.Add(v, r.Mul(tHi, wrap[i]))
				}
				z[i] = v
			}
			p.charge(opsTrunc * len(cs))
			*out = z
			return nil
		},
	}
}

// ----- sign: [x >= 0] -----

func (c Config) signPiece(n int) piece {
	return piece{elems: n, ops: 2 * n * opsCmp, dcf: 2 * n * c.Ring.bits, need: Need{Compares: n}}
}

// sign returns the party's share of the bits [x_i >= 0] (x centered) in
// one round.
func (p *party) sign(x []uint64) ([]uint64, error) {
	var out []uint64
	return out, p.open(p.signOp(x, &out))
}

// signOp is the opening of a comparison: c = 2x + r for a uniform r. The
// element 2x mod t is odd exactly when x is negative, and since t is odd,
// lsb(2x) = lsb(c) ⊕ lsb(r) ⊕ [c < r] (subtracting r wraps around t
// exactly when c < r, which flips the parity). With a = 1 ⊕ lsb(r), the
// dealer's key shares (1 - 2a)·[c < r] and the parties hold shares of a,
// so a ⊕ [c < r] = a + (1 - 2a)[c < r] is a sum of shares, and
// [x >= 0] = lsb(c) ⊕ a ⊕ [c < r] is local since lsb(c) is public. The
// party evaluates its own key (its root seed, the common correction
// words) at c.
func (p *party) signOp(x []uint64, out *[]uint64) opening {
	var cw []cwLevel
	var fin, as []uint64
	var roots []block
	r, n, k := p.r, len(x), p.r.bits
	return opening{
		mask: func(dst []uint64) ([]uint64, error) {
			mask, err := p.stock.cmpR.take(n)
			if err != nil {
				return nil, err
			}
			if roots, err = p.stock.cmpRoot.take(n); err != nil {
				return nil, err
			}
			if cw, _, fin, err = p.stock.cmpCW.take(n); err != nil {
				return nil, err
			}
			if as, err = p.stock.cmpA.take(n); err != nil {
				return nil, err
			}
			dst, msg := extend(dst, n)
			for i := range msg {
				msg[i] = r.Add(r.Add(x[i], x[i]), mask[i])
			}
			return dst, nil
		},
		use: func(cs []uint64) error {
			z := make([]uint64, len(cs))
			var pg dcfPRG
			for i, c := range cs {
				u := r.Add(r.dcfEval(&pg, p.role, roots[i], cw[i*k:(i+1)*k], fin[i], c), as[i])
				if c&1 == 1 { // 1 ⊕ u = 1 - u
					u = r.Neg(u)
					if p.role == Client {
						u = r.Add(u, 1)
					}
				}
				z[i] = u
			}
			p.charge(opsCmp * len(cs))
			p.tally.Op(cost.OpDCF, 0, int64(k*len(cs)))
			*out = z
			return nil
		},
	}
}

// ----- reveal to the client -----

func (c Config) revealCost(n int) cost.Cost {
	return c.stepCost(0, int64(n*c.Ring.width), int64(n), 0, 0)
}

// revealToClient opens x to the client only: the server sends its share
// (and returns nil: it learns nothing), the client adds it to its own and
// returns the value.
func (p *party) revealToClient(x []uint64) ([]uint64, error) {
	var out []uint64
	err := p.step(func() error {
		if p.role == Server {
			p.buf.wire = p.r.encode(p.buf.wire[:0], x)
			return p.conn.Send(p.buf.wire)
		}
		msg, err := p.conn.Recv()
		if err != nil {
			return err
		}
		other, err := p.r.decode(msg, len(x))
		net.Recycle(msg)
		if err != nil {
			return err
		}
		out = make([]uint64, len(x))
		for i := range out {
			out[i] = p.r.Add(x[i], other[i])
		}
		p.charge(len(x))
		return nil
	})
	return out, err
}

// publicPiece is the opening of n values to both parties.
func publicPiece(n int) piece { return piece{elems: n, ops: 2 * n} }

// openPublic opens x to both parties: each sends its share and adds the
// other's. For values the protocol reveals to both by design.
func (p *party) openPublic(x []uint64) ([]uint64, error) {
	var out []uint64
	return out, p.open(opening{
		mask: func(dst []uint64) ([]uint64, error) { return append(dst, x...), nil },
		use: func(c []uint64) error {
			out = append([]uint64(nil), c...)
			p.charge(len(c))
			return nil
		},
	})
}

// ----- local operations (no communication) -----

// addConst adds the public element c to every element: the client's
// share carries it, the server's is returned as it is.
func (p *party) addConst(x []uint64, c uint64) []uint64 {
	if p.role != Client {
		return x
	}
	out := make([]uint64, len(x))
	for i, v := range x {
		out[i] = p.r.Add(v, c)
	}
	p.charge(len(x))
	return out
}

// affine returns a·x + b·y + c elementwise for public elements a, b, c
// (y may be nil: b·y is then left out).
func (p *party) affine(a uint64, x []uint64, b uint64, y []uint64, c uint64) []uint64 {
	r := p.r
	out := make([]uint64, len(x))
	for i := range out {
		v := r.Mul(a, x[i])
		if y != nil {
			v = r.Add(v, r.Mul(b, y[i]))
		}
		if p.role == Client {
			v = r.Add(v, c)
		}
		out[i] = v
	}
	p.charge(3 * len(x))
	return out
}

// public is a public vector v as the party's share: the client holds v,
// the server zeros.
func (p *party) public(v []uint64) []uint64 {
	if p.role == Client {
		return v
	}
	return make([]uint64, len(v))
}

// constant is the public element c shared as (c, 0), n times.
func (p *party) constant(c uint64, n int) []uint64 {
	v := make([]uint64, n)
	for i := range v {
		v[i] = c
	}
	return p.public(v)
}

// extend lengthens dst by n elements and returns it and the new elements,
// to be written (a step's mask appends its message this way).
func extend(dst []uint64, n int) ([]uint64, []uint64) {
	dst = slices.Grow(dst, n)
	return dst[:len(dst)+n], dst[len(dst) : len(dst)+n]
}
