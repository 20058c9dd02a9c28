package calibrate

import (
	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/net"
)

// A serialization is priced as half of a crossing of the parties'
// transport, as a run makes one with every ciphertext the server returns:
// marshalled, framed and sent by one party, received, unframed and
// unmarshalled into a new ciphertext by the other. (A client's upload is
// seeded, its c0 and a seed, and the receiver checks every coefficient:
// the first makes an upload's crossing cheaper, the second dearer, and
// both are priced as this one.)

// loopback is both ends of an in-process pipe, the parties' transport.
type loopback struct{ a, b net.Conn }

func newLoopback() (*loopback, func()) {
	a, b, _, closePipe := net.Pipe()
	return &loopback{a, b}, closePipe
}

// cross sends ct from one end and receives it into a new ciphertext at the
// other: a crossing, two serializations, as the parties make it.
func cross(l *loopback, ct *rlwe.Ciphertext) error {
	if err := net.SendObject(l.a, ct); err != nil {
		return err
	}
	return net.RecvObject(l.b, new(rlwe.Ciphertext))
}
