package net

import "sync"

// The transport recycles the buffers of its messages: a message that Send
// copies, or that Frame (and so SendObject) frames, is written into a
// buffer a receiver handed back with Recycle, when one of its size is
// free. A generation
// step moves hundreds of megabytes of ciphertexts between the in-process
// parties; without this, each would be a new allocation for the garbage
// collector, and on a virtual machine each new page a fault.

// recycledSizes bounds the number of distinct sizes kept: a protocol uses
// a few per step (one per kind of message and level), but the two-party
// messages grow with the context, so a long generation meets many. When
// a new size would pass the bound, every pool is let go (the collector
// takes their buffers) and the sizes of the steps that follow fill it
// again.
const recycledSizes = 256

// minRecycled is the least size recycled: smaller messages are cheaper to
// allocate than to pool.
const minRecycled = 1 << 10

// bufferPool is one sync.Pool of free buffers per size (a pool's buffers
// are let go at garbage collections, so a burst does not pin memory).
type bufferPool struct {
	mu    sync.Mutex
	sizes map[int]*sync.Pool
}

var buffers bufferPool

// get returns a buffer of n bytes, recycled if one is free. Its contents
// are arbitrary.
func (b *bufferPool) get(n int) []byte {
	if n >= minRecycled {
		b.mu.Lock()
		p := b.sizes[n]
		b.mu.Unlock()
		if p != nil {
			if buf, ok := p.Get().(*[]byte); ok {
				return (*buf)[:n]
			}
		}
	}
	return make([]byte, n)
}

// put keeps buf for a later get of its capacity.
func (b *bufferPool) put(buf []byte) {
	n := cap(buf)
	if n < minRecycled {
		return
	}
	b.mu.Lock()
	p := b.sizes[n]
	if p == nil {
		if b.sizes == nil || len(b.sizes) >= recycledSizes {
			b.sizes = make(map[int]*sync.Pool)
		}
		p = new(sync.Pool)
		b.sizes[n] = p
	}
	b.mu.Unlock()
	buf = buf[:n]
	p.Put(&buf)
}

// Recycle hands back a message that Recv returned, for the transport to
// write a later message into. Call it only once nothing refers to msg any
// more (a ciphertext unmarshalled from it holds a copy, but a slice of it
// is msg): its contents will change.
func Recycle(msg []byte) { buffers.put(msg) }
