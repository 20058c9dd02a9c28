package calibrate

// Operands out of the caches. A kernel meets most of its ciphertexts and
// plaintexts from memory, not from a core's cache: the encrypted KV cache,
// the weights encoded once, the results of its earlier pieces. Timed again
// and again on the same operands, an operation finds them in the cache,
// and a memory-bound one (an addition, a ciphertext-plaintext product, a
// decryption) is priced low (the README gives the measured factors). So
// before each timed call of an operation that takes ciphertexts, the
// calibration reads evictBytes of memory of its own, more than the
// last-level caches of the machines it runs on hold, untimed: the call
// finds its operands in memory, as in a kernel. Encodings and encryptions
// start from a vector just laid out, as the parties' do, and are timed
// without.
const evictBytes = 64 << 20

// evictor is the memory read to empty the caches.
type evictor struct {
	buf  []uint64
	sink uint64
}

func newEvictor() *evictor {
	e := &evictor{buf: make([]uint64, evictBytes/8)}
	for i := range e.buf { // written, so that its pages are its own
		e.buf[i] = uint64(i)
	}
	return e
}

// evict reads a word of every cache line of the buffer.
func (e *evictor) evict() {
	var s uint64
	for i := 0; i < len(e.buf); i += 8 {
		s += e.buf[i]
	}
	e.sink += s
}
