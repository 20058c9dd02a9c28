package net

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"sync"

	"github.com/tuneinsight/lattigo/v5/utils/buffer"

	"github.com/cgsim/cgsim/cost"
)

// Conn is one party's end of a two-party channel.
type Conn interface {
	// Send queues msg for the other party. The caller may reuse msg after
	// Send returns.
	Send(msg []byte) error
	// Recv returns the next message from the other party, blocking until one
	// arrives or the channel is closed. The message is the caller's: no one
	// else refers to it, and the caller may hand it to Recycle once done.
	Recv() ([]byte, error)
}

// ErrClosed is returned by Send and Recv once the pipe is closed.
var ErrClosed = errors.New("net: pipe closed")

// Direction is the way a message travels.
type Direction int

// The two directions.
const (
	ClientToServer Direction = iota
	ServerToClient
)

func (d Direction) String() string {
	if d == ClientToServer {
		return "client->server"
	}
	return "server->client"
}

// Counters is a snapshot of what a Meter has counted.
type Counters struct {
	Bytes    [2]int64 // payload bytes per Direction
	Messages [2]int64 // messages per Direction
	Flights  int64    // maximal runs of messages in one direction
}

// Sub returns c - o, the traffic between two snapshots.
func (c Counters) Sub(o Counters) Counters {
	return Counters{
		Bytes:    [2]int64{c.Bytes[0] - o.Bytes[0], c.Bytes[1] - o.Bytes[1]},
		Messages: [2]int64{c.Messages[0] - o.Messages[0], c.Messages[1] - o.Messages[1]},
		Flights:  c.Flights - o.Flights,
	}
}

// Rounds is the number of round trips the flights make: ceil(Flights/2).
func (c Counters) Rounds() int64 { return RoundsOf(c.Flights) }

// RoundsOf is the number of round trips that f flights make: ceil(f/2).
// An Estimate that predicts f flights for a primitive predicts RoundsOf(f)
// rounds.
func RoundsOf(f int64) int64 { return (f + 1) / 2 }

// Cost is the communication part of a Cost: bytes per direction and rounds.
func (c Counters) Cost() cost.Cost {
	return cost.Cost{BytesC2S: c.Bytes[ClientToServer], BytesS2C: c.Bytes[ServerToClient], Rounds: c.Rounds()}
}

// Meter counts the traffic of a Pipe. It is safe for concurrent use.
type Meter struct {
	mu       sync.Mutex
	counters Counters
	last     Direction
	fresh    bool // the next message starts a new flight
}

func (m *Meter) record(d Direction, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fresh || d != m.last {
		m.counters.Flights++
		m.fresh = false
	}
	m.last = d
	m.counters.Bytes[d] += int64(n)
	m.counters.Messages[d]++
}

// Snapshot returns the counters so far.
func (m *Meter) Snapshot() Counters {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counters
}

// Begin starts a metered stretch of protocol: the next message starts a new
// flight whatever its direction, so the stretch's rounds do not depend on
// what ran before. It returns the snapshot to pass to Since.
func (m *Meter) Begin() Counters {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fresh = true
	return m.counters
}

// Since returns the communication cost since the snapshot that Begin
// returned.
func (m *Meter) Since(start Counters) cost.Cost {
	return m.Snapshot().Sub(start).Cost()
}

// Pipe returns two connected in-process endpoints and their meter. Close
// either endpoint's pipe with the returned close function.
func Pipe() (client, server Conn, meter *Meter, closePipe func()) {
	meter = &Meter{fresh: true}
	c2s, s2c := newQueue(), newQueue()
	client = &endpoint{out: c2s, in: s2c, dir: ClientToServer, meter: meter}
	server = &endpoint{out: s2c, in: c2s, dir: ServerToClient, meter: meter}
	return client, server, meter, func() { c2s.close(); s2c.close() }
}

type endpoint struct {
	out, in *queue
	dir     Direction
	meter   *Meter
}

// Send queues a copy of msg (see give).
func (e *endpoint) Send(msg []byte) error {
	if e.out.isClosed() {
		return ErrClosed
	}
	return e.give(append(buffers.get(len(msg))[:0], msg...))
}

// give is Send without the copy: the receiver gets msg itself. It records
// the message in the meter, then queues it. Recording first matters: once
// queued, the receiver may reply before a later record would run, and the
// flights would be counted out of order.
func (e *endpoint) give(msg []byte) error {
	if e.out.isClosed() {
		return ErrClosed
	}
	e.meter.record(e.dir, len(msg))
	return e.out.push(msg)
}

func (e *endpoint) Recv() ([]byte, error) { return e.in.pop() }

// WaitBacklog blocks until at most maxBytes of what this endpoint sent
// waits unread (see Paced).
func (e *endpoint) WaitBacklog(maxBytes int64) error { return e.out.waitBelow(maxBytes) }

// Paced is a Conn whose sender can wait for the receiver to catch up.
// Send itself never blocks; a party that sends a long one-way flight
// while the other consumes it (a kernel's inputs, which the server
// processes as they arrive) calls WaitBacklog before each message, so
// that at most maxBytes (and the message it sends next) wait between
// them, as a TCP window would bound them. It returns ErrClosed once the
// pipe is closed.
type Paced interface {
	WaitBacklog(maxBytes int64) error
}

var _ Paced = (*endpoint)(nil)

// Pace waits, if c is Paced, until at most maxBytes of what c sent wait
// unread; on any other Conn it returns at once.
func Pace(c Conn, maxBytes int64) error {
	if p, ok := c.(Paced); ok {
		return p.WaitBacklog(maxBytes)
	}
	return nil
}

// queue is an unbounded FIFO of messages; a sender may wait for its
// backlog to drain (waitBelow).
type queue struct {
	mu      sync.Mutex
	cond    *sync.Cond // a message arrived, or the queue closed
	drained *sync.Cond // a message was taken, or the queue closed
	msgs    [][]byte
	bytes   int64 // in msgs
	closed  bool
}

func newQueue() *queue {
	q := &queue{}
	q.cond = sync.NewCond(&q.mu)
	q.drained = sync.NewCond(&q.mu)
	return q
}

func (q *queue) push(m []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	q.msgs = append(q.msgs, m)
	q.bytes += int64(len(m))
	q.cond.Signal()
	return nil
}

func (q *queue) pop() ([]byte, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.msgs) == 0 && !q.closed {
		q.cond.Wait()
	}
	if len(q.msgs) == 0 {
		return nil, ErrClosed
	}
	m := q.msgs[0]
	q.msgs[0] = nil
	q.msgs = q.msgs[1:]
	q.bytes -= int64(len(m))
	q.drained.Broadcast()
	return m, nil
}

// waitBelow blocks until the queue holds at most n bytes.
func (q *queue) waitBelow(n int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.bytes > n && !q.closed {
		q.drained.Wait()
	}
	if q.closed {
		return ErrClosed
	}
	return nil
}

func (q *queue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
	q.drained.Broadcast()
}

// FrameOverhead is the number of bytes SendObject adds to a marshalled
// object: a 4-byte length and a 4-byte CRC-32 of the payload.
const FrameOverhead = 8

// SendObject marshals v and sends it as one framed message of
// FrameOverhead + len(payload) bytes (Frame, then SendFrame).
//
// The frame exists because lattigo's UnmarshalBinary does not survive a
// truncated input (it recurses until the stack overflows, which no recover
// can catch); RecvObject checks length and checksum before lattigo sees a
// byte.
func SendObject(c Conn, v encoding.BinaryMarshaler) error {
	msg, err := Frame(v)
	if err != nil {
		return err
	}
	return SendFrame(c, msg)
}

// SizedWriter is an object that writes itself, exactly BinarySize bytes,
// as lattigo's objects do: Frame writes it straight into its frame.
type SizedWriter interface {
	BinarySize() int
	WriteTo(w io.Writer) (int64, error)
}

// Frame marshals v into a new framed message (a recycled buffer; see
// Recycle): a SizedWriter is written in place, anything else marshalled
// and copied.
func Frame(v encoding.BinaryMarshaler) ([]byte, error) {
	if w, ok := v.(SizedWriter); ok {
		n := w.BinarySize()
		if err := checkPayload(v, n); err != nil {
			return nil, err
		}
		msg := buffers.get(FrameOverhead + n)
		wrote, err := w.WriteTo(buffer.NewBuffer(msg[FrameOverhead:]))
		if err == nil && wrote != int64(n) {
			err = fmt.Errorf("wrote %d bytes of %d", wrote, n)
		}
		if err != nil {
			buffers.put(msg)
			return nil, fmt.Errorf("net: marshalling %T: %w", v, err)
		}
		return seal(msg), nil
	}
	payload, err := v.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("net: marshalling %T: %w", v, err)
	}
	if err := checkPayload(v, len(payload)); err != nil {
		return nil, err
	}
	msg := buffers.get(FrameOverhead + len(payload))
	copy(msg[FrameOverhead:], payload)
	return seal(msg), nil
}

// checkPayload refuses a payload longer than a frame's length field holds.
func checkPayload(v any, n int) error {
	if uint64(n) > math.MaxUint32 {
		return fmt.Errorf("net: %T is %d bytes, more than a frame holds", v, n)
	}
	return nil
}

// seal writes the header of msg, whose payload is in place.
func seal(msg []byte) []byte {
	payload := msg[FrameOverhead:]
	binary.LittleEndian.PutUint32(msg[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(msg[4:8], crc32.ChecksumIEEE(payload))
	return msg
}

// SendFrame sends a message that Frame made, which the caller hands over
// whatever the outcome (it must not touch msg again): on the in-process
// pipe the receiver gets it without a copy; on another Conn it is sent
// and recycled.
func SendFrame(c Conn, msg []byte) error {
	if e, ok := c.(*endpoint); ok {
		return e.give(msg)
	}
	err := c.Send(msg)
	buffers.put(msg)
	return err
}

// RecvObject receives one message written by SendObject and unmarshals it
// into v. A truncated or corrupted message is an error, never a panic.
func RecvObject(c Conn, v encoding.BinaryUnmarshaler) error {
	msg, err := c.Recv()
	if err != nil {
		return err
	}
	payload, err := Unframe(msg)
	if err != nil {
		return fmt.Errorf("net: receiving %T: %w", v, err)
	}
	err = v.UnmarshalBinary(payload)
	Recycle(msg) // UnmarshalBinary copies what it keeps (encoding's contract)
	if err != nil {
		return fmt.Errorf("net: unmarshalling %T (%d bytes): %w", v, len(payload), err)
	}
	return nil
}

// Unframe checks a message written by SendObject and returns its payload.
func Unframe(msg []byte) ([]byte, error) {
	if len(msg) < FrameOverhead {
		return nil, fmt.Errorf("truncated frame: %d bytes, a frame header alone is %d", len(msg), FrameOverhead)
	}
	n := binary.LittleEndian.Uint32(msg[0:4])
	payload := msg[FrameOverhead:]
	if uint64(len(payload)) != uint64(n) {
		return nil, fmt.Errorf("truncated or padded frame: header says %d payload bytes, got %d", n, len(payload))
	}
	if sum := crc32.ChecksumIEEE(payload); sum != binary.LittleEndian.Uint32(msg[4:8]) {
		return nil, fmt.Errorf("corrupted frame: checksum mismatch")
	}
	return payload, nil
}
