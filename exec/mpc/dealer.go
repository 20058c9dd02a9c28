package mpc

import (
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/cgsim/cgsim/cost"
)

// maxShift is the largest shift of a truncation mask.
const maxShift = 62

// MaxLookupBits is the largest table of a [Lookup]: 2^MaxLookupBits
// entries. A lookup's material is its table's size in elements (see
// Need.Lookups), so that larger tables hold too much at once.
const MaxLookupBits = 10

// Need is an amount of correlated randomness, by kind. Every protocol knows
// its Need from its shape alone, so a Run can fetch its material from a
// dealer before its inputs exist, and an Estimate can price it.
type Need struct {
	// Triples counts arithmetic Beaver triples (a, b, ab) over Z_t.
	Triples int
	// Truncs[k] counts truncation masks (r, ⌊r/2^k⌋, [r > (t-1)/2]) over
	// Z_t for a division by 2^k.
	Truncs [maxShift + 1]int
	// Compares counts comparison keys: a uniform mask r in Z_t, the two
	// keys of a distributed comparison function for [c < r] on bits(t)-bit
	// inputs, and shares of the bit 1 ⊕ lsb(r).
	Compares int
	// Lookups[k] counts lookup masks for tables of 2^k entries: a uniform
	// mask r in Z_t and shares of the one-hot vector of length 2^k that
	// is 1 at ρ, bits [V-k, V) of r (V = Ring.LookupBits).
	Lookups [MaxLookupBits + 1]int
	// TruncMuls[k] counts masks of a truncation by 2^k fused with the
	// product it feeds (fused.go): a truncation mask, a uniform b and
	// shares of ⌊r/2^k⌋·b and of the wrap bit times b.
	TruncMuls [maxShift + 1]int
	// TruncPairs[k] counts masks of two truncations by 2^k fused with
	// their product: two truncation masks and shares of the four products
	// of their (⌊r/2^k⌋, wrap bit) parts.
	TruncPairs [maxShift + 1]int
	// Gated counts the blocks of gated products (gated.go): masks α, β
	// and gatedSlots γ_i, shares of αβ and of αγ_i, βγ_i, αβγ_i.
	Gated int
	// Selects[m] counts select keys of m values (select.go): a
	// comparison key whose DCF has 1 + m payloads, masks s_1..s_m of the
	// values and shares of a·s_j.
	Selects [maxPayloads]int
}

// Add returns n + o.
func (n Need) Add(o Need) Need {
	n.Triples += o.Triples
	n.Compares += o.Compares
	n.Gated += o.Gated
	for m := range n.Selects {
		n.Selects[m] += o.Selects[m]
	}
	for k := range n.Truncs {
		n.Truncs[k] += o.Truncs[k]
	}
	for k := range n.Lookups {
		n.Lookups[k] += o.Lookups[k]
	}
	for k := range n.TruncMuls {
		n.TruncMuls[k] += o.TruncMuls[k]
		n.TruncPairs[k] += o.TruncPairs[k]
	}
	return n
}

// Scale returns n repeated m times.
func (n Need) Scale(m int) Need {
	n.Triples *= m
	n.Compares *= m
	n.Gated *= m
	for j := range n.Selects {
		n.Selects[j] *= m
	}
	for k := range n.Truncs {
		n.Truncs[k] *= m
	}
	for k := range n.Lookups {
		n.Lookups[k] *= m
	}
	for k := range n.TruncMuls {
		n.TruncMuls[k] *= m
		n.TruncPairs[k] *= m
	}
	return n
}

// IsZero reports whether n asks for nothing.
func (n Need) IsZero() bool { return n == Need{} }

// covers reports whether n holds at least o of every kind.
func (n Need) covers(o Need) bool {
	if n.Triples < o.Triples || n.Compares < o.Compares || n.Gated < o.Gated {
		return false
	}
	for m := range n.Selects {
		if n.Selects[m] < o.Selects[m] {
			return false
		}
	}
	for k := range n.Truncs {
		if n.Truncs[k] < o.Truncs[k] {
			return false
		}
	}
	for k := range n.Lookups {
		if n.Lookups[k] < o.Lookups[k] {
			return false
		}
	}
	for k := range n.TruncMuls {
		if n.TruncMuls[k] < o.TruncMuls[k] || n.TruncPairs[k] < o.TruncPairs[k] {
			return false
		}
	}
	return true
}

// negative reports whether some count is negative.
func (n Need) negative() bool {
	if n.Triples < 0 || n.Compares < 0 || n.Gated < 0 {
		return true
	}
	for _, c := range n.Selects {
		if c < 0 {
			return true
		}
	}
	for _, c := range n.Truncs {
		if c < 0 {
			return true
		}
	}
	for _, c := range n.Lookups {
		if c < 0 {
			return true
		}
	}
	for k := range n.TruncMuls {
		if n.TruncMuls[k] < 0 || n.TruncPairs[k] < 0 {
			return true
		}
	}
	return false
}

// fusedTotals is the number of fused masks of every shift: truncation
// products and truncation pairs.
func (n Need) fusedTotals() (muls, pairs int) {
	for k := range n.TruncMuls {
		muls += n.TruncMuls[k]
		pairs += n.TruncPairs[k]
	}
	return muls, pairs
}

// lookupEntries is the one-hot elements of the lookup masks: 2^k per mask
// of a table of 2^k entries.
func (n Need) lookupEntries() int {
	total := 0
	for k, c := range n.Lookups {
		total += c << k
	}
	return total
}

// selectElems is the server's derived elements of the select keys, and
// keys the keys in all in units of a comparison's dealing (1 + m/2 for a
// key of m values: its DCF has 2 + m blocks per level where a
// comparison's has 2).
func (n Need) selectElems() (elems, keys int) {
	for m, c := range n.Selects {
		elems += selectDerived(m) * c
		keys += (c*(2+m) + 1) / 2
	}
	return elems, keys
}

// truncTotal is the number of truncation masks of every shift.
func (n Need) truncTotal() int {
	total := 0
	for _, c := range n.Truncs {
		total += c
	}
	return total
}

// cmpKeyBytes is the size of the correction words of m comparison keys,
// which both parties receive: per key and level a 16-byte seed correction
// and a value correction of one element, a final element per key, and two
// control bits per key and level, packed over the batch.
func cmpKeyBytes(r *Ring, m int) int64 {
	k, w := int64(r.bits), int64(r.width)
	return int64(m)*(k*(16+w)+w) + (2*k*int64(m)+7)/8
}

// OfflineBytes is what the seed-compressed [TrustedDealer] sends for n:
// one 32-byte seed to each party; to both parties the correction words of
// the comparison keys (see cmpKeyBytes: (bits(t)·(16 + w) + w) bytes and
// 2·bits(t) bits per key, w the element width); and to the server the
// values its seed cannot give: per triple the share of ab, per truncation
// mask the shares of ⌊r/2^k⌋ and of the wrap bit, per comparison the share
// of 1 ⊕ lsb(r), one element each, and per lookup mask of a table of 2^k
// entries its share of the one-hot vector, 2^k elements; per fused
// truncation product 4 elements, per fused truncation pair 8 (fused.go),
// per block of gated products 1 + 3·gatedSlots (gated.go); per select
// key of m values its correction words (selectKeyBytes) to both and
// 1 + m elements to the server. A zero Need costs nothing (no dealing
// happens).
func (n Need) OfflineBytes(r *Ring) int64 {
	if n.IsZero() {
		return 0
	}
	muls, pairs := n.fusedTotals()
	sel, _ := n.selectElems()
	elems := int64(n.Triples + 2*n.truncTotal() + n.Compares + n.lookupEntries() +
		truncMulKind.derived*muls + truncPairKind.derived*pairs + gatedKind.derived*n.Gated + sel)
	return 2*SeedBytes + 2*n.keyBytes(r) + elems*int64(r.width)
}

// keyBytes is the correction words of the comparison and select keys,
// which both parties receive.
func (n Need) keyBytes(r *Ring) int64 {
	var cw int64
	if n.Compares > 0 {
		cw = cmpKeyBytes(r, n.Compares)
	}
	if n.Selects != [maxPayloads]int{} {
		cw += selectKeyBytes(r, n.Selects)
	}
	return cw
}

// Offline is the offline cost of dealing n at once, as a Run without
// Session.Manual deals its protocol's Need: OfflineBytes exactly, and
// OfflineSeconds priced by cfg.Profile at level 0 as one [cost.OpDeal] plus
// [cost.OpDealTriple] per triple, [cost.OpDealTrunc] per truncation mask
// (any shift), [cost.OpDealCompare] per comparison key (a profile
// measures these at its preset's ring, so the linear growth of a
// comparison key with bits(t) is in its price) and [cost.OpDealLookup]
// per one-hot element of a lookup mask (a select key of m values as
// 1 + m/2 comparison keys); a fused mask is priced as its
// parts (a truncation product as a truncation mask and a triple, a
// truncation pair as two of each, a block of gated products, 85 elements
// drawn by the parties and the dealer, as gatedSlots + 1 triples, 5
// each). A zero Need costs nothing;
// a profile without the dealer's operations prices the seconds at zero
// (cost.Profile.PricesOffline).
func (n Need) Offline(cfg Config) cost.Cost {
	if n.IsZero() {
		return cost.Cost{}
	}
	p := cfg.Profile
	muls, pairs := n.fusedTotals()
	_, selKeys := n.selectElems()
	c := cost.Sum(p.Charge(cost.OpDeal, 0, 1),
		p.Charge(cost.OpDealTriple, 0, int64(n.Triples+muls+2*pairs+(gatedSlots+1)*n.Gated)),
		p.Charge(cost.OpDealTrunc, 0, int64(n.truncTotal()+muls+2*pairs)),
		p.Charge(cost.OpDealCompare, 0, int64(n.Compares+selKeys)),
		p.Charge(cost.OpDealLookup, 0, int64(n.lookupEntries())))
	c.OfflineBytes = n.OfflineBytes(cfg.Ring)
	return c
}

func (n Need) String() string {
	var tr []string
	for k, c := range n.Truncs {
		if c != 0 {
			tr = append(tr, fmt.Sprintf("%d by 2^%d", c, k))
		}
	}
	if len(tr) == 0 {
		tr = []string{"0"}
	}
	var lu []string
	for k, c := range n.Lookups {
		if c != 0 {
			lu = append(lu, fmt.Sprintf("%d of 2^%d entries", c, k))
		}
	}
	if len(lu) == 0 {
		lu = []string{"0"}
	}
	s := fmt.Sprintf("%d triples, truncation masks %s, %d comparison keys, lookup masks %s", n.Triples, strings.Join(tr, ", "), n.Compares, strings.Join(lu, ", "))
	for _, f := range []struct {
		kind   fusedKind
		counts [maxShift + 1]int
	}{{truncMulKind, n.TruncMuls}, {truncPairKind, n.TruncPairs}} {
		for k, c := range f.counts {
			if c != 0 {
				s += fmt.Sprintf(", %d %s by 2^%d", c, f.kind.name, k)
			}
		}
	}
	if n.Gated != 0 {
		s += fmt.Sprintf(", %d %s", n.Gated, gatedKind.name)
	}
	for m, c := range n.Selects {
		if c != 0 {
			s += fmt.Sprintf(", %d %s", c, selectNames[m])
		}
	}
	return s
}

// Material is what a dealer sends to one party before the protocol:
// Expand turns it into the party's [Stock]; Bytes is its size on the wire.
type Material interface {
	Expand(r *Ring) (*Stock, error)
	Bytes() int64
}

// A Dealer produces correlated randomness for a Need, before the inputs
// are known: one Material per party. [TrustedDealer] is a trusted third
// party, as in CrypTen; a dealer-free generator (triples made with HE) can
// replace it by implementing this interface.
type Dealer interface {
	Deal(r *Ring, n Need) (client, server Material, err error)
}

// TrustedDealer is a trusted third party with seed compression: each
// party receives a PRG seed from which it expands its uniformly random
// components; the comparison keys' correction words, common to both keys,
// go to both parties, and the components fixed by the correlation go to
// the server (see [Need.OfflineBytes]). The zero value is ready to use; it
// draws seeds from crypto/rand and is safe for concurrent use.
type TrustedDealer struct{}

var _ Dealer = TrustedDealer{}

// Deal returns the two parties' material for n.
func (TrustedDealer) Deal(r *Ring, n Need) (client, server Material, err error) {
	if n.negative() {
		return nil, nil, fmt.Errorf("mpc: dealer: negative need (%v)", n)
	}
	if n.Selects[0] != 0 {
		return nil, nil, fmt.Errorf("mpc: dealer: select keys of no value (%d): a select multiplies 1 to %d values", n.Selects[0], maxPayloads-1)
	}
	for k, c := range n.Lookups {
		if c > 0 && k > r.LookupBits() {
			return nil, nil, fmt.Errorf("mpc: dealer: lookup tables of 2^%d entries read more bits than the %d t - 1 leaves", k, r.LookupBits())
		}
	}
	var cs, ss Seed
	if _, err := rand.Read(cs[:]); err != nil {
		return nil, nil, fmt.Errorf("mpc: dealer: %w", err)
	}
	if _, err := rand.Read(ss[:]); err != nil {
		return nil, nil, fmt.Errorf("mpc: dealer: %w", err)
	}
	c := expandSeeded(r, cs, n, true)
	s := expandSeeded(r, ss, n, false)
	corr := corrections{}
	// Triples: c1 = (a0+a1)(b0+b1) - c0.
	corr.tripleC = make([]uint64, n.Triples)
	for i := range corr.tripleC {
		a := r.Add(c.tripleA.v[i], s.tripleA.v[i])
		b := r.Add(c.tripleB.v[i], s.tripleB.v[i])
		corr.tripleC[i] = r.Sub(r.Mul(a, b), c.tripleC.v[i])
	}
	// Truncation masks: r = r0 + r1 uniform; shares of ⌊r/2^k⌋ and of the wrap bit.
	for k, count := range n.Truncs {
		corr.truncHi[k] = make([]uint64, count)
		corr.truncWrap[k] = make([]uint64, count)
		for i := range count {
			v := r.Add(c.truncR[k].v[i], s.truncR[k].v[i])
			corr.truncHi[k][i] = r.Sub(v>>k, c.truncHi[k].v[i])
			corr.truncWrap[k][i] = r.Sub(r.truncWrapBit(v), c.truncWrap[k].v[i])
		}
	}
	// Comparisons: r = r0 + r1 uniform, a = 1 ⊕ lsb(r), keys of
	// (1 - 2a)·[c < r] from the parties' root seeds.
	keys := cmpWords{cw: make([]cwLevel, 0, n.Compares*r.bits), final: make([]uint64, n.Compares)}
	corr.cmpA = make([]uint64, n.Compares)
	var pg dcfPRG
	for i := range n.Compares {
		v := r.Add(c.cmpR.v[i], s.cmpR.v[i])
		a := 1 ^ v&1
		beta := r.Sub(1, 2*a)
		k := r.dcfGen(&pg, r.bits, v, beta, c.cmpRoot.v[i], s.cmpRoot.v[i])
		keys.cw = append(keys.cw, k.cw...)
		keys.final[i] = k.final[0]
		corr.cmpA[i] = r.Sub(a, c.cmpA.v[i])
	}
	// Lookup masks: r = r0 + r1 uniform; the server's share of the one-hot
	// vector of ρ = bits [V-k, V) of r is e_ρ minus the client's.
	for k, count := range n.Lookups {
		hot := make([]uint64, count<<k)
		for i := range count {
			rho := r.lookupDigit(r.Add(c.lutR[k].v[i], s.lutR[k].v[i]), k)
			row, mine := hot[i<<k:(i+1)<<k], c.lutHot[k].v[i<<k:(i+1)<<k]
			for j := range row {
				row[j] = r.Neg(mine[j])
			}
			row[rho] = r.Add(row[rho], 1)
		}
		corr.lutHot[k] = hot
	}
	// Fused masks: the derived elements less the client's.
	corr.truncMul = dealFused(r, truncMulKind, n.TruncMuls, &c.truncMul, &s.truncMul)
	corr.truncPair = dealFused(r, truncPairKind, n.TruncPairs, &c.truncPair, &s.truncPair)
	corr.gated = dealFused(r, gatedKind, unshifted(n.Gated), &c.gated, &s.gated)[0]
	var selKeys [maxPayloads]cmpWords
	selKeys, corr.sel = dealSelects(r, n.Selects, c, s)
	cw := n.keyBytes(r)
	cm := partyMaterial{seed: cs, need: n, keys: keys, selKeys: selKeys, bytes: SeedBytes + cw}
	sm := partyMaterial{seed: ss, need: n, keys: keys, selKeys: selKeys, corr: &corr, bytes: max(0, n.OfflineBytes(r)-SeedBytes-cw)}
	if n.IsZero() {
		cm.bytes, sm.bytes = 0, 0
	}
	return cm, sm, nil
}

// corrections are the server's components fixed by the correlation.
type corrections struct {
	tripleC            []uint64
	truncHi, truncWrap [maxShift + 1][]uint64
	cmpA               []uint64
	lutHot             [MaxLookupBits + 1][]uint64
	truncMul           [maxShift + 1][]uint64
	truncPair          [maxShift + 1][]uint64
	gated              []uint64
	sel                [maxPayloads][]uint64
}

// cmpWords are the correction words common to both keys of a batch of
// comparisons: bits(t) levels per key, then one final element per key;
// for keys of several payloads the further value corrections too
// (dcfKeys).
type cmpWords struct {
	cw        []cwLevel
	xv, final []uint64
}

// partyMaterial is one party's material: its seed, the comparison keys'
// correction words and, for the server, the corrections.
type partyMaterial struct {
	seed    Seed
	need    Need
	keys    cmpWords
	selKeys [maxPayloads]cmpWords
	corr    *corrections // nil for the client
	bytes   int64
}

func (m partyMaterial) Bytes() int64 { return m.bytes }

func (m partyMaterial) Expand(r *Ring) (*Stock, error) {
	n := m.need
	if len(m.keys.cw) != n.Compares*r.bits || len(m.keys.final) != n.Compares {
		return nil, fmt.Errorf("mpc: dealer material does not match its need (%v)", n)
	}
	st := expandSeeded(r, m.seed, n, m.corr == nil)
	st.cmpCW = cwQueue{cw: m.keys.cw, final: m.keys.final, k: r.bits, m: 1}
	for j, w := range m.selKeys {
		if len(w.cw) != n.Selects[j]*r.bits || len(w.xv) != n.Selects[j]*r.bits*j || len(w.final) != n.Selects[j]*(1+j) {
			return nil, fmt.Errorf("mpc: dealer material does not match its need (%v)", n)
		}
		st.selCW[j] = cwQueue{cw: w.cw, xv: w.xv, final: w.final, k: r.bits, m: 1 + j}
	}
	if c := m.corr; c != nil {
		if len(c.tripleC) != n.Triples || len(c.cmpA) != n.Compares {
			return nil, fmt.Errorf("mpc: server material does not match its need (%v)", n)
		}
		st.tripleC = queue{name: "triples", v: c.tripleC}
		for k := range n.Truncs {
			if len(c.truncHi[k]) != n.Truncs[k] || len(c.truncWrap[k]) != n.Truncs[k] {
				return nil, fmt.Errorf("mpc: server material does not match its need (%v)", n)
			}
			st.truncHi[k] = queue{name: truncNames[k], v: c.truncHi[k]}
			st.truncWrap[k] = queue{name: truncNames[k], v: c.truncWrap[k]}
		}
		st.cmpA = queue{name: "comparison keys", v: c.cmpA}
		for k := range n.Lookups {
			if len(c.lutHot[k]) != n.Lookups[k]<<k {
				return nil, fmt.Errorf("mpc: server material does not match its need (%v)", n)
			}
			st.lutHot[k] = queue{name: lookupNames[k], v: c.lutHot[k]}
		}
		for k := range n.TruncMuls {
			if len(c.truncMul[k]) != truncMulKind.derived*n.TruncMuls[k] || len(c.truncPair[k]) != truncPairKind.derived*n.TruncPairs[k] {
				return nil, fmt.Errorf("mpc: server material does not match its need (%v)", n)
			}
			st.truncMul.d[k].v = c.truncMul[k]
			st.truncPair.d[k].v = c.truncPair[k]
		}
		if len(c.gated) != gatedKind.derived*n.Gated {
			return nil, fmt.Errorf("mpc: server material does not match its need (%v)", n)
		}
		st.gated.d[0].v = c.gated
		for j, v := range c.sel {
			if len(v) != selectDerived(j)*n.Selects[j] {
				return nil, fmt.Errorf("mpc: server material does not match its need (%v)", n)
			}
			st.sel.d[j].v = v
		}
	}
	return st, nil
}
