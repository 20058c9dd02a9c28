package net

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// object is a payload that marshals itself (encoding.BinaryMarshaler and
// BinaryUnmarshaler); sizedObject also writes itself in place
// (SizedWriter): Frame's two paths.
type object struct {
	data  []byte
	short bool // WriteTo writes one byte less than BinarySize says
}

func (o *object) MarshalBinary() ([]byte, error) { return bytes.Clone(o.data), nil }
func (o *object) UnmarshalBinary(b []byte) error { o.data = bytes.Clone(b); return nil }

type sizedObject struct{ *object }

var _ SizedWriter = sizedObject{}

func (o sizedObject) BinarySize() int { return len(o.data) }
func (o sizedObject) WriteTo(w io.Writer) (int64, error) {
	b := o.data
	if o.short {
		b = b[:len(b)-1]
	}
	n, err := w.Write(b)
	return int64(n), err
}

// copyingConn is a Conn that is not the pipe's endpoint: SendFrame sends
// through its Send and recycles the frame.
type copyingConn struct{ Conn }

// TestFrameRecycle sends objects of one size through both of Frame's
// paths and over both kinds of Conn, two in flight at a time, the
// receiver recycling each message before the next is framed: the next
// frame reuses that buffer (checked), and the message queued behind it
// must arrive intact. Send copies what it is given.
func TestFrameRecycle(t *testing.T) {
	a, b, _, closePipe := Pipe()
	defer closePipe()
	const size = 3000 // one size: the pool hands a recycled buffer back
	payload := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, size) }
	for _, conn := range []Conn{a, copyingConn{a}} {
		send := func(i int) {
			o := &object{data: payload(i)}
			var v interface{ MarshalBinary() ([]byte, error) } = o
			if i%2 == 0 {
				v = sizedObject{o}
			}
			if err := SendObject(conn, v); err != nil {
				t.Fatal(err)
			}
		}
		send(0)
		for i := range 6 {
			if i+1 < 6 {
				send(i + 1)
			}
			var got object
			if err := RecvObject(b, &got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.data, payload(i)) {
				t.Fatalf("%T: object %d: received %q..., sent %q...", conn, i, got.data[:8], payload(i)[:8])
			}
		}
	}
	// A recycled buffer is reused for the next frame of its size.
	msg := buffers.get(FrameOverhead + size)
	Recycle(msg)
	frame, err := Frame(sizedObject{&object{data: payload(7)}})
	if err != nil {
		t.Fatal(err)
	}
	if &frame[0] != &msg[0] {
		t.Error("a frame of a recycled message's size did not reuse it")
	}
	// A raw message sent with Send stays the sender's: changing it after
	// Send returns does not change what arrives.
	raw := payload(9)
	if err := a.Send(raw); err != nil {
		t.Fatal(err)
	}
	raw[0] = 'X'
	got, err := b.Recv()
	if err != nil || got[0] != 'a'+9 {
		t.Fatalf("Send did not copy: got %q, %v", got[:1], err)
	}
}

// TestFrameShortWrite: an object that writes fewer bytes than it said is
// an error, and nothing is sent; a closed pipe refuses a frame.
func TestFrameShortWrite(t *testing.T) {
	a, _, meter, closePipe := Pipe()
	defer closePipe()
	err := SendObject(a, sizedObject{&object{data: []byte(strings.Repeat("x", 2000)), short: true}})
	if err == nil || !strings.Contains(err.Error(), "wrote 1999 bytes of 2000") {
		t.Fatalf("err = %v, want a short-write error", err)
	}
	if n := meter.Snapshot().Messages[ClientToServer]; n != 0 {
		t.Errorf("%d messages sent after a failed Frame", n)
	}
	closePipe()
	if err := SendObject(a, sizedObject{&object{data: []byte("y")}}); !errors.Is(err, ErrClosed) {
		t.Errorf("SendObject on a closed pipe: %v, want ErrClosed", err)
	}
}

// TestRecycledSizes: past recycledSizes distinct sizes the pools are let
// go and the new size is kept.
func TestRecycledSizes(t *testing.T) {
	var p bufferPool
	for i := range recycledSizes + 1 {
		p.put(make([]byte, minRecycled+i))
	}
	if len(p.sizes) != 1 || p.sizes[minRecycled+recycledSizes] == nil {
		t.Errorf("%d sizes kept after %d, want the last one alone", len(p.sizes), recycledSizes+1)
	}
	p.put(make([]byte, minRecycled-1))
	if len(p.sizes) != 1 {
		t.Error("a message below minRecycled was pooled")
	}
}
