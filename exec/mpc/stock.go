package mpc

import "fmt"

// Stock is one party's correlated randomness, expanded from its
// [Material] and consumed in order by the protocols. Taking more than is
// left is an error, never a panic. A Stock belongs to one party and is not
// safe for concurrent use.
type Stock struct {
	tripleA, tripleB, tripleC  queue
	truncR, truncHi, truncWrap queue
	signR, signBits            queue
	bitA, bitB, bitC           bitStream
	daBool, daArith            queue
}

// Left is what remains in the stock.
func (s *Stock) Left() Need {
	return Need{
		Triples:    s.tripleC.left(),
		Truncs:     s.truncWrap.left(),
		SignMasks:  s.signBits.left(),
		BitTriples: s.bitC.n - s.bitC.pos,
		DaBits:     s.daArith.left(),
	}
}

// expandSeeded expands the components of n that a party draws from its
// seed. The client (client = true) draws all of its components; the server
// only the uniformly random ones, its corrections come from its material.
func expandSeeded(r *Ring, seed Seed, n Need, client bool) *Stock {
	s := &Stock{}
	el := func(label, name string, count int) queue {
		return queue{name: name, v: newPRG(seed, label).elements(r, count)}
	}
	bitWords := (n.BitTriples + 63) / 64
	bs := func(label string) bitStream {
		w := newPRG(seed, label).words(bitWords, 64)
		if rem := n.BitTriples % 64; rem != 0 {
			w[bitWords-1] &= lowMask(rem)
		}
		return bitStream{name: "bit triples", words: w, n: n.BitTriples}
	}
	s.tripleA = el("triple/a", "triples", n.Triples)
	s.tripleB = el("triple/b", "triples", n.Triples)
	s.truncR = el("trunc/r", "truncation masks", n.Truncs)
	s.signR = el("sign/r", "sign masks", n.SignMasks)
	s.bitA = bs("bit/a")
	s.bitB = bs("bit/b")
	s.daBool = queue{name: "daBits", v: newPRG(seed, "dabit/bool").words(n.DaBits, 1)}
	if client {
		s.tripleC = el("triple/c", "triples", n.Triples)
		s.truncHi = el("trunc/hi", "truncation masks", n.Truncs)
		s.truncWrap = el("trunc/wrap", "truncation masks", n.Truncs)
		s.signBits = queue{name: "sign masks", v: newPRG(seed, "sign/bits").words(n.SignMasks, r.bits)}
		s.bitC = bs("bit/c")
		s.daArith = el("dabit/arith", "daBits", n.DaBits)
	}
	return s
}

// queue is one component of the stock: values taken in order.
type queue struct {
	name string
	v    []uint64
	pos  int
}

func (q *queue) left() int { return len(q.v) - q.pos }

func (q *queue) take(n int) ([]uint64, error) {
	if n > q.left() {
		return nil, fmt.Errorf("mpc: dealer material exhausted: %d %s needed, %d left", n, q.name, q.left())
	}
	out := q.v[q.pos : q.pos+n : q.pos+n]
	q.pos += n
	return out, nil
}

// bitStream is a component of packed bits, read in pieces of up to 64.
type bitStream struct {
	name  string
	words []uint64
	n     int // bits in the stream
	pos   int // bits read
}

// take reads the next w <= 64 bits as the low bits of a word.
func (b *bitStream) take(w int) (uint64, error) {
	if w > b.n-b.pos {
		return 0, fmt.Errorf("mpc: dealer material exhausted: %d %s needed, %d left", w, b.name, b.n-b.pos)
	}
	i, off := b.pos/64, b.pos%64
	v := b.words[i] >> off
	if off+w > 64 {
		v |= b.words[i+1] << (64 - off)
	}
	b.pos += w
	return v & lowMask(w), nil
}
