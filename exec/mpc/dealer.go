package mpc

import (
	"crypto/rand"
	"fmt"
)

// Need is an amount of correlated randomness, by kind. Every protocol knows
// its Need from its shape alone, so a Run can fetch its material from a
// dealer before its inputs exist, and an Estimate can price it.
type Need struct {
	Triples    int // arithmetic Beaver triples (a, b, ab) over Z_t
	Truncs     int // truncation masks (r, ⌊r/2^f⌋, [r > (t-1)/2]) over Z_t
	SignMasks  int // sign masks: r uniform in Z_t, arithmetic shares and XOR shares of its bits
	BitTriples int // boolean AND triples, one per bit
	DaBits     int // random bits ρ, XOR-shared and shared over Z_t
}

// Add returns n + o.
func (n Need) Add(o Need) Need {
	return Need{n.Triples + o.Triples, n.Truncs + o.Truncs, n.SignMasks + o.SignMasks,
		n.BitTriples + o.BitTriples, n.DaBits + o.DaBits}
}

// Scale returns n repeated k times.
func (n Need) Scale(k int) Need {
	return Need{n.Triples * k, n.Truncs * k, n.SignMasks * k, n.BitTriples * k, n.DaBits * k}
}

// OfflineBytes is what the seed-compressed [TrustedDealer] sends for n:
// one seed to each party, and to the server the values its seed cannot
// give (the "corrections"): per triple the share of ab, per truncation
// mask the shares of ⌊r/2^f⌋ and of the wrap bit, per daBit the Z_t share
// of ρ, one element each; per sign mask the XOR share of the bits(t) bits
// of r and per boolean triple one bit, all bits packed. A zero Need costs
// nothing (no dealing happens).
func (n Need) OfflineBytes(r *Ring) int64 {
	if n == (Need{}) {
		return 0
	}
	elems := int64(n.Triples + 2*n.Truncs + n.DaBits)
	bitCount := int64(n.SignMasks)*int64(r.bits) + int64(n.BitTriples)
	return 2*SeedBytes + elems*int64(r.width) + (bitCount+7)/8
}

func (n Need) String() string {
	return fmt.Sprintf("%d triples, %d truncation masks, %d sign masks, %d bit triples, %d daBits",
		n.Triples, n.Truncs, n.SignMasks, n.BitTriples, n.DaBits)
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

// TrustedDealer is a trusted third party with seed compression: the client
// receives only a PRG seed, from which it expands all of its material; the
// server receives a seed for its uniformly random components and,
// explicitly, the components fixed by the correlation (see
// [Need.OfflineBytes]). The zero value is ready to use; it draws seeds from
// crypto/rand and is safe for concurrent use.
type TrustedDealer struct{}

var _ Dealer = TrustedDealer{}

// Deal returns the two parties' material for n.
func (TrustedDealer) Deal(r *Ring, n Need) (client, server Material, err error) {
	if n.Triples < 0 || n.Truncs < 0 || n.SignMasks < 0 || n.BitTriples < 0 || n.DaBits < 0 {
		return nil, nil, fmt.Errorf("mpc: dealer: negative need (%v)", n)
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
	// Truncation masks: r = r0 + r1 uniform; shares of ⌊r/2^f⌋ and of the wrap bit.
	corr.truncHi = make([]uint64, n.Truncs)
	corr.truncWrap = make([]uint64, n.Truncs)
	for i := range corr.truncHi {
		v := r.Add(c.truncR.v[i], s.truncR.v[i])
		corr.truncHi[i] = r.Sub(v>>r.frac, c.truncHi.v[i])
		var w uint64
		if v > r.half {
			w = 1
		}
		corr.truncWrap[i] = r.Sub(w, c.truncWrap.v[i])
	}
	// Sign masks: XOR shares of the bits of r = r0 + r1.
	corr.signBits = make([]uint64, n.SignMasks)
	for i := range corr.signBits {
		v := r.Add(c.signR.v[i], s.signR.v[i])
		corr.signBits[i] = v ^ c.signBits.v[i]
	}
	// Boolean triples: c1 = (a0^a1)&(b0^b1) ^ c0, word by word.
	corr.bitC = make([]uint64, len(c.bitC.words))
	for i := range corr.bitC {
		corr.bitC[i] = (c.bitA.words[i]^s.bitA.words[i])&(c.bitB.words[i]^s.bitB.words[i]) ^ c.bitC.words[i]
	}
	// DaBits: ρ = ρ0 ^ ρ1, Z_t share ρ - ρA0.
	corr.daArith = make([]uint64, n.DaBits)
	for i := range corr.daArith {
		rho := c.daBool.v[i] ^ s.daBool.v[i]
		corr.daArith[i] = r.Sub(rho, c.daArith.v[i])
	}
	return seedMaterial{seed: cs, need: n}, serverMaterial{seed: ss, need: n, corr: corr, bytes: max(0, n.OfflineBytes(r)-SeedBytes)}, nil
}

// corrections are the server's components fixed by the correlation.
type corrections struct {
	tripleC, truncHi, truncWrap, signBits, bitC, daArith []uint64
}

// seedMaterial is the client's material under seed compression.
type seedMaterial struct {
	seed Seed
	need Need
}

func (m seedMaterial) Bytes() int64 {
	if m.need == (Need{}) {
		return 0
	}
	return SeedBytes
}

func (m seedMaterial) Expand(r *Ring) (*Stock, error) {
	return expandSeeded(r, m.seed, m.need, true), nil
}

// serverMaterial is the server's material: a seed and the corrections.
type serverMaterial struct {
	seed  Seed
	need  Need
	corr  corrections
	bytes int64
}

// Bytes is the seed and the corrections, bits packed.
func (m serverMaterial) Bytes() int64 { return m.bytes }

func (m serverMaterial) Expand(r *Ring) (*Stock, error) {
	n := m.need
	c := m.corr
	if len(c.tripleC) != n.Triples || len(c.truncHi) != n.Truncs || len(c.truncWrap) != n.Truncs ||
		len(c.signBits) != n.SignMasks || len(c.bitC) != (n.BitTriples+63)/64 || len(c.daArith) != n.DaBits {
		return nil, fmt.Errorf("mpc: server material does not match its need (%v)", n)
	}
	s := expandSeeded(r, m.seed, n, false)
	s.tripleC = queue{name: "triples", v: c.tripleC}
	s.truncHi = queue{name: "truncation masks", v: c.truncHi}
	s.truncWrap = queue{name: "truncation masks", v: c.truncWrap}
	s.signBits = queue{name: "sign masks", v: c.signBits}
	s.bitC = bitStream{name: "bit triples", words: c.bitC, n: n.BitTriples}
	s.daArith = queue{name: "daBits", v: c.daArith}
	return s, nil
}
