package exec

import (
	"testing"

	"github.com/cgsim/cgsim/internal/hetest"
	"github.com/cgsim/cgsim/net"
)

// FuzzRestoreKeys checks that no key file, the client's (secret and public
// key) or the server's (public and evaluation keys), makes RestoreClient or
// RestoreServer panic; each object is checked against the parameters'
// layout before lattigo parses it. The seeds are the keys of a session with
// two Galois keys, cut and with a forged object length.
func FuzzRestoreKeys(f *testing.F) {
	p := hetest.ForTest(f, "bgv-test-insecure").Params
	s, err := NewSessionGalois(p, []uint64{p.GaloisElement(1), p.GaloisElement(2)})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	ck, err := s.client.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	sk, err := s.Server.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range [][]byte{ck, sk} {
		f.Add(b)
		f.Add(b[:len(b)/2])
		forged := append([]byte(nil), b...)
		forged[12+7] = 0x7f // the first object's length, near 2^63
		f.Add(forged)
	}
	f.Add([]byte(magicClientK))
	cc, sc, _, closePipe := net.Pipe()
	defer closePipe()
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = RestoreClient(p, b, cc)
		_, _ = RestoreServer(p, b, sc)
	})
}
