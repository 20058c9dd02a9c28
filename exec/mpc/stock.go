package mpc

import "fmt"

// Stock is one party's correlated randomness, expanded from its
// [Material] and consumed in order by the protocols. Taking more than is
// left is an error, never a panic. A Stock belongs to one party and is not
// safe for concurrent use.
type Stock struct {
	tripleA, tripleB, tripleC  queue
	truncR, truncHi, truncWrap [maxShift + 1]queue
	cmpR, cmpA                 queue
	cmpRoot                    fifo[block]
	cmpCW                      cwQueue
	lutR, lutHot               [MaxLookupBits + 1]queue // lutHot: 2^k elements per mask
	truncMul, truncPair        fusedQueues
	gated                      fusedQueues // at shift 0
	sel                        fusedQueues // select keys, at index m (values selected)
	selRoot                    [maxPayloads]fifo[block]
	selCW                      [maxPayloads]cwQueue
}

// Left is what remains in the stock.
func (s *Stock) Left() Need {
	n := Need{Triples: s.tripleC.left(), Compares: s.cmpA.left(), Gated: s.gated.left(gatedKind, 0)}
	for m := 1; m < maxPayloads; m++ {
		n.Selects[m] = s.sel.d[m].left() / selectDerived(m)
	}
	for k := range n.Truncs {
		n.Truncs[k] = s.truncWrap[k].left()
	}
	for k := range n.Lookups {
		n.Lookups[k] = s.lutHot[k].left() >> k
	}
	for k := range n.TruncMuls {
		n.TruncMuls[k] = s.truncMul.left(truncMulKind, k)
		n.TruncPairs[k] = s.truncPair.left(truncPairKind, k)
	}
	return n
}

// expandSeeded expands the components of n that a party draws from its
// seed. The client (client = true) draws all of its components; the server
// only the uniformly random ones, its corrections come from its material.
// Both draw their root seeds of the comparison keys; the correction words
// come from the material.
func expandSeeded(r *Ring, seed Seed, n Need, client bool) *Stock {
	s := &Stock{}
	// A component with nothing to draw gets no PRG (a key schedule and a
	// hash each): most needs use one or two truncation shifts of 63.
	el := func(label, name string, count int) queue {
		if count == 0 {
			return queue{name: name}
		}
		return queue{name: name, v: newPRG(seed, label).elements(r, count)}
	}
	s.tripleA = el("triple/a", "triples", n.Triples)
	s.tripleB = el("triple/b", "triples", n.Triples)
	for k, count := range n.Truncs {
		name := truncNames[k]
		s.truncR[k] = el(truncLabels[k][0], name, count)
		if client {
			s.truncHi[k] = el(truncLabels[k][1], name, count)
			s.truncWrap[k] = el(truncLabels[k][2], name, count)
		}
	}
	s.cmpR = el("cmp/r", "comparison keys", n.Compares)
	s.cmpRoot = fifo[block]{name: "comparison keys", v: make([]block, n.Compares)}
	if n.Compares > 0 {
		g := newPRG(seed, "cmp/root")
		for i := range s.cmpRoot.v {
			s.cmpRoot.v[i] = block{g.uint64(), g.uint64()}.clearLSB()
		}
	}
	for k, count := range n.Lookups {
		s.lutR[k] = el(lookupLabels[k][0], lookupNames[k], count)
		if client {
			s.lutHot[k] = el(lookupLabels[k][1], lookupNames[k], count<<k)
		}
	}
	s.truncMul = expandFused(r, seed, truncMulKind, n.TruncMuls, client)
	s.truncPair = expandFused(r, seed, truncPairKind, n.TruncPairs, client)
	s.gated = expandFused(r, seed, gatedKind, unshifted(n.Gated), client)
	expandSelects(r, seed, n.Selects, client, s)
	if client {
		s.tripleC = el("triple/c", "triples", n.Triples)
		s.cmpA = el("cmp/a", "comparison keys", n.Compares)
	}
	return s
}

// lookupNames are the names of the lookup masks by table size, and
// lookupLabels the PRG labels of their r and one-hot streams.
var lookupNames, lookupLabels = func() (names [MaxLookupBits + 1]string, labels [MaxLookupBits + 1][2]string) {
	for k := range names {
		names[k] = fmt.Sprintf("lookup masks of 2^%d entries", k)
		labels[k] = [2]string{fmt.Sprintf("lut/%d/r", k), fmt.Sprintf("lut/%d/onehot", k)}
	}
	return
}()

// truncNames are the names of the truncation components by shift, for
// error messages, and truncLabels the PRG labels of their r, ⌊r/2^k⌋ and
// wrap-bit streams: built once, not at every dealing.
var truncNames, truncLabels = func() (names [maxShift + 1]string, labels [maxShift + 1][3]string) {
	for k := range names {
		names[k] = fmt.Sprintf("truncation masks by 2^%d", k)
		for j, part := range []string{"r", "hi", "wrap"} {
			labels[k][j] = fmt.Sprintf("trunc/%d/%s", k, part)
		}
	}
	return
}()

// fifo is one component of the stock: values taken in order.
type fifo[T any] struct {
	name string
	v    []T
	pos  int
}

// queue is a component of elements of Z_t.
type queue = fifo[uint64]

func (q *fifo[T]) left() int { return len(q.v) - q.pos }

func (q *fifo[T]) take(n int) ([]T, error) {
	if n > q.left() {
		return nil, fmt.Errorf("mpc: dealer material exhausted: %d %s needed, %d left", n, q.name, q.left())
	}
	out := q.v[q.pos : q.pos+n : q.pos+n]
	q.pos += n
	return out, nil
}

// merge appends the unused part of o. An exhausted q (the usual case: a
// Run deals what its protocol consumes) adopts o's slice without a copy,
// so that a large dealing is never held twice.
func (q *fifo[T]) merge(o *fifo[T]) {
	if q.left() == 0 {
		q.v = o.v[o.pos:len(o.v):len(o.v)]
	} else {
		q.v = append(q.v[q.pos:len(q.v):len(q.v)], o.v[o.pos:]...)
	}
	q.pos = 0
	if o.name != "" {
		q.name = o.name
	}
}

// cwQueue holds the correction words of keys of m payloads: per key k
// levels, (m-1)·k further value corrections and m final elements.
type cwQueue struct {
	cw        []cwLevel
	xv, final []uint64
	k, m      int
	pos       int // keys taken
}

// name is what the queue's keys are, for error messages.
func (q *cwQueue) name() string {
	if q.m > 1 {
		return "select keys"
	}
	return "comparison keys"
}

// keys is the number of keys held, taken or not.
func (q *cwQueue) keys() int { return len(q.final) / max(q.m, 1) }

// take returns the correction words of the next n keys.
func (q *cwQueue) take(n int) (cw []cwLevel, xv, fin []uint64, err error) {
	if n > q.keys()-q.pos {
		return nil, nil, nil, fmt.Errorf("mpc: dealer material exhausted: %d %s needed, %d left", n, q.name(), q.keys()-q.pos)
	}
	x := q.k * (q.m - 1)
	cw, xv, fin = q.cw[q.pos*q.k:(q.pos+n)*q.k], q.xv[q.pos*x:(q.pos+n)*x], q.final[q.pos*q.m:(q.pos+n)*q.m]
	q.pos += n
	return cw, xv, fin, nil
}

// merge appends the unused keys of o (without a copy if q is exhausted,
// as fifo.merge).
func (q *cwQueue) merge(o *cwQueue) {
	x := o.k * (o.m - 1)
	if q.pos == q.keys() {
		q.cw = o.cw[o.pos*o.k : len(o.cw) : len(o.cw)]
		q.xv = o.xv[o.pos*x : len(o.xv) : len(o.xv)]
		q.final = o.final[o.pos*o.m : len(o.final) : len(o.final)]
	} else {
		qx := q.k * (q.m - 1)
		q.cw = append(q.cw[q.pos*q.k:len(q.cw):len(q.cw)], o.cw[o.pos*o.k:]...)
		q.xv = append(q.xv[q.pos*qx:len(q.xv):len(q.xv)], o.xv[o.pos*x:]...)
		q.final = append(q.final[q.pos*q.m:len(q.final):len(q.final)], o.final[o.pos*o.m:]...)
	}
	q.k, q.m, q.pos = o.k, o.m, 0
}

// append adds the unused part of o to s.
func (s *Stock) append(o *Stock) {
	for _, pair := range []struct{ dst, src *queue }{
		{&s.tripleA, &o.tripleA}, {&s.tripleB, &o.tripleB}, {&s.tripleC, &o.tripleC},
		{&s.cmpR, &o.cmpR}, {&s.cmpA, &o.cmpA},
	} {
		pair.dst.merge(pair.src)
	}
	for k := range s.truncR {
		s.truncR[k].merge(&o.truncR[k])
		s.truncHi[k].merge(&o.truncHi[k])
		s.truncWrap[k].merge(&o.truncWrap[k])
	}
	for k := range s.lutR {
		s.lutR[k].merge(&o.lutR[k])
		s.lutHot[k].merge(&o.lutHot[k])
	}
	s.truncMul.merge(&o.truncMul)
	s.truncPair.merge(&o.truncPair)
	s.gated.merge(&o.gated)
	s.cmpRoot.merge(&o.cmpRoot)
	s.cmpCW.merge(&o.cmpCW)
	s.sel.merge(&o.sel)
	for m := range s.selRoot {
		s.selRoot[m].merge(&o.selRoot[m])
		s.selCW[m].merge(&o.selCW[m])
	}
}
