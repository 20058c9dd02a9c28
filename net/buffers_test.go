package net

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// object is a payload that marshals itself (encoding.BinaryMarshaler and
// BinaryUnmarshaler) and, if sized, writes itself in place (SizedWriter):
// Frame's two paths.
type object struct {
	data  []byte
	short bool // WriteTo writes one byte less than BinarySize says
}

func (o *object) MarshalBinary() ([]byte, error)     { return bytes.Clone(o.data), nil }
func (o *object) UnmarshalBinary(b []byte) error     { o.data = bytes.Clone(b); return nil }
func (o *object) String() string                     { return string(o.data) }
func (o sizedObject) BinarySize() int                { return len(o.data) }
func (o sizedObject) MarshalBinary() ([]byte, error) { return o.object.MarshalBinary() }
func (o sizedObject) WriteTo(w io.Writer) (int64, error) {
	b := o.data
	if o.short {
		b = b[:len(b)-1]
	}
	n, err := w.Write(b)
	return int64(n), err
}

type sizedObject struct{ *object }

var _ SizedWriter = sizedObject{}

// TestFrameRecycle sends objects through both of Frame's paths and checks
// that recycling a received message never changes one still queued or
// received: Send copies what it is given, SendFrame hands over a frame
// that no one else holds, and the receiver recycles only what it is done
// with.
func TestFrameRecycle(t *testing.T) {
	a, b, _, closePipe := Pipe()
	defer closePipe()
	payload := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, 3000+i) }
	objects := []any{}
	for i := range 6 {
		o := &object{data: payload(i)}
		if i%2 == 0 {
			objects = append(objects, sizedObject{o})
		} else {
			objects = append(objects, o)
		}
	}
	// Two in flight, then one received and recycled before the next is
	// sent: a recycled buffer may carry the next message while the one
	// queued behind it must stay intact.
	send := func(i int) {
		if err := SendObject(a, objects[i].(interface{ MarshalBinary() ([]byte, error) })); err != nil {
			t.Fatal(err)
		}
	}
	send(0)
	for i := range objects {
		if i+1 < len(objects) {
			send(i + 1)
		}
		var got object
		if err := RecvObject(b, &got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.data, payload(i)) {
			t.Fatalf("object %d: received %q..., sent %q...", i, got.data[:8], payload(i)[:8])
		}
	}
	// A raw message sent with Send stays the sender's: changing it after
	// Send returns does not change what arrives.
	msg := payload(9)
	if err := a.Send(msg); err != nil {
		t.Fatal(err)
	}
	msg[0] = 'X'
	got, err := b.Recv()
	if err != nil || got[0] != 'a'+9 {
		t.Fatalf("Send did not copy: got %q, %v", got[:1], err)
	}
}

// TestFrameShortWrite: an object that writes fewer bytes than it said is
// an error, and nothing is sent.
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
