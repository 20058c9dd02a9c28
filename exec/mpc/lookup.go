package mpc

import (
	"fmt"
	"math/bits"

	"github.com/cgsim/cgsim/cost"
)

// Lookup tables on shares: public tables read at an index taken from the
// bits of a shared value, in one round.
//
// The dealer gives, per lookup, shares of a uniform mask r in Z_t and
// shares of the one-hot vector e_ρ of length 2^k, ρ = bits [V-k, V) of r,
// where V = Ring.LookupBits: t = 1 mod 2^V. For a shared v with
// 0 <= v < 2^(s+k), read at bits [s, s+k), the parties move those bits to
// [V-k, V) (v' = v·2^(V-s-k), local and exact) and open c = v' + r mod t,
// uniform whatever v is. The integer identity v' = c - r + w·t (w the wrap
// of the opening) reads, modulo 2^V, v' = c - r + w since t = 1 mod 2^V:
// the wrap adds one unit to the low bits, which can carry into the index
// by one. So ⌊v'/2^(V-k)⌋ = ĩ + ε with ĩ = (⌊c/2^(V-k)⌋ - ρ) mod 2^k
// and a carry ε in {-1, 0, 1} from the bits below V-k (c_lo, r_lo):
// -1 when c_lo + w < r_lo, +1 only when c_lo + w - r_lo = 2^(V-k) (a
// wrap, c_lo all ones and r_lo zero). The tables are read at ĩ = i - ε,
// i = ⌊v/2^s⌋, mostly i or i + 1, and
//
//	T[ĩ] = Σ_j e_ρ[j]·T[(⌊c/2^(V-k)⌋ - j) mod 2^k],
//
// which each party computes on its share of e_ρ: 2^k products per table
// and lookup (cost.OpLUT), no further round. Callers read the index ĩ
// itself from an identity table ([IndexTable]) when they need the
// remainder v - 2^s·ĩ, which lies in [-2^s, 2^(s+1)). A value with i = 0
// may be read at entry 2^k - 1 and one with i = 2^k - 1 at entry 0; so a
// caller keeps its values in [2^s, 2^(s+k) - 2^s) (i from 1 to 2^k - 2),
// and builds entry j of a table for the values of bins j - 1 to j + 1.

// LookupBits is V, the number of trailing zero bits of t - 1 (at most
// bits(t) - 2): lookup indices are read from bits below 2^V. The BGV
// presets' moduli give 31 (41-bit t) and 47 (60-bit t).
func (r *Ring) LookupBits() int {
	return min(bits.TrailingZeros64(r.t-1), r.bits-2)
}

// lookupDigit is ρ = bits [V-k, V) of the element v.
func (r *Ring) lookupDigit(v uint64, k int) int {
	return int(v>>(r.LookupBits()-k)) & (1<<k - 1)
}

// lookupErr checks a window [shift, shift+k) of a lookup.
func (r *Ring) lookupErr(shift, k, tables int) error {
	switch {
	case k < 1 || k > MaxLookupBits:
		return fmt.Errorf("a table of 2^%d entries: want 2^1 to 2^%d", k, MaxLookupBits)
	case shift < 0 || shift+k > r.LookupBits():
		return fmt.Errorf("index bits [%d, %d) beyond the %d bits a lookup reads modulo %d", shift, shift+k, r.LookupBits(), r.t)
	case tables < 1:
		return fmt.Errorf("a lookup of no table")
	}
	return nil
}

// opsLookup is the share operations of a lookup per element per party
// beside its table entries: the shift and the mask.
const opsLookup = 2

func lookupPiece(n, k, tables int) piece {
	k = min(max(k, 0), MaxLookupBits) // a shape Run refuses is priced, not a panic
	var need Need
	need.Lookups[k] = n
	return piece{elems: n, ops: 2 * n * opsLookup, lut: 2 * n * tables << k, need: need}
}

func (p *bill) lookup(n, k, tables int) { p.open(lookupPiece(n, k, tables)) }

// lookup reads tables (each 2^k elements) at bits [shift, shift+k) of
// x (the party's shares): one round. out[j] is the party's share of
// table j's entries.
func (p *party) lookup(x []uint64, shift, k int, tables [][]uint64) ([][]uint64, error) {
	var out [][]uint64
	return out, p.open(p.lookupOp(x, shift, k, tables, &out))
}

// lookupOp is the opening of a lookup: c = v·2^(V-shift-k) + r.
func (p *party) lookupOp(x []uint64, shift, k int, tables [][]uint64, out *[][]uint64) opening {
	var hot []uint64
	r, n := p.r, len(x)
	v := r.LookupBits()
	up := r.FromInt(1 << (v - shift - k))
	return opening{
		mask: func(dst []uint64) ([]uint64, error) {
			rr, err := p.stock.lutR[k].take(n)
			if err != nil {
				return nil, err
			}
			if hot, err = p.stock.lutHot[k].take(n << k); err != nil {
				return nil, err
			}
			dst, msg := extend(dst, n)
			for i := range msg {
				msg[i] = r.Add(r.Mul(x[i], up), rr[i])
			}
			return dst, nil
		},
		use: func(cs []uint64) error {
			res := make([][]uint64, len(tables))
			for j := range res {
				res[j] = make([]uint64, n)
			}
			mask := uint64(1)<<k - 1
			for i, c := range cs {
				base := (c >> (v - k)) & mask
				e := hot[i<<k : (i+1)<<k]
				for j, table := range tables {
					res[j][i] = r.rotatedDot(e, table, base)
				}
			}
			p.charge(opsLookup * n)
			p.tally.Op(cost.OpLUT, 0, int64(n*len(tables))<<k)
			*out = res
			return nil
		},
	}
}

// rotatedDot is Σ_j e[j]·table[(base - j) mod len(e)] mod t for a table
// as long as e (a power of two): the products summed in 128 bits, reduced
// every 2^(128 - 2·bits(t)) terms and at the end.
func (r *Ring) rotatedDot(e, table []uint64, base uint64) uint64 {
	mask := uint64(len(e) - 1)
	var acc, hi, lo uint64
	room := 1<<max(0, min(20, 128-2*r.bits)) - 1 // terms the 128-bit sum holds, less one
	for j, a := range e {
		ph, pl := bits.Mul64(a, table[(base-uint64(j))&mask])
		var carry uint64
		lo, carry = bits.Add64(lo, pl, 0)
		hi += ph + carry
		if j&room == room {
			acc = r.Add(acc, bits.Rem64(hi, lo, r.t))
			hi, lo = 0, 0
		}
	}
	return r.Add(acc, bits.Rem64(hi, lo, r.t))
}

// IndexTable is the identity table of 2^k entries: entry i is the
// element i, so that a lookup returns shares of the index ĩ it read.
func IndexTable(k int) []uint64 {
	t := make([]uint64, 1<<k)
	for i := range t {
		t[i] = uint64(i)
	}
	return t
}

// Lookup reads public tables at an index taken from N shared values, in
// one round: for each value v (an element; Offset is added first, so
// that v + Offset should lie in [2^Shift, 2^(Shift+Bits) - 2^Shift)),
// every table's entry at ĩ, which is i = ⌊(v + Offset)/2^Shift⌋ or one of
// its neighbours i - 1, i + 1 (see lookup.go's notes). Each table has
// 2^Bits elements of Z_t.
type Lookup struct {
	Config
	N           int
	Offset      uint64 // an element of Z_t added to every value before the lookup
	Shift, Bits int
	Tables      [][]uint64
}

var _ Protocol = Lookup{}

func (l Lookup) bill() *bill {
	p := newBill(l.Config)
	p.addConst(l.N)
	p.lookup(l.N, l.Bits, len(l.Tables))
	return p
}

// Need is the dealer material of one Run.
func (l Lookup) Need() Need { return l.bill().need }

// Estimate is the cost of one Run, offline bytes included.
func (l Lookup) Estimate() cost.Cost { return l.bill().estimate() }

func (l Lookup) shapeErr() error {
	if err := positive("length", l.N); err != nil {
		return err
	}
	if l.Ring == nil {
		return nil
	}
	if err := l.Ring.lookupErr(l.Shift, l.Bits, len(l.Tables)); err != nil {
		return err
	}
	if l.Offset >= l.Ring.t {
		return fmt.Errorf("offset %d is not an element modulo %d", l.Offset, l.Ring.t)
	}
	for j, table := range l.Tables {
		if len(table) != 1<<l.Bits {
			return fmt.Errorf("table %d has %d entries, want 2^%d", j, len(table), l.Bits)
		}
		for i, e := range table {
			if e >= l.Ring.t {
				return fmt.Errorf("table %d entry %d is %d, not an element modulo %d", j, i, e, l.Ring.t)
			}
		}
	}
	return nil
}

// Run returns shares of the tables' entries, one Pair per table, the
// tables concatenated in one Pair of N·len(Tables) elements table after
// table.
func (l Lookup) Run(s *Session, x Pair) (Pair, error) {
	return run(s, l.Config, "lookup", l, l.shapeErr(), []Pair{x}, []int{l.N}, l.play)
}

// play is one party's Lookup.
func (l Lookup) play(p *party, mine ...[]uint64) ([]uint64, error) {
	out, err := p.lookup(p.addConst(mine[0], l.Offset), l.Shift, l.Bits, l.Tables)
	if err != nil {
		return nil, err
	}
	return concat(out...), nil
}
