package exec

import (
	"encoding/binary"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/net"
)

// Key persistence. A conversation whose encrypted KV cache is saved
// (package kv) continues in a new process only with the keys that
// encrypted it: the client keeps its secret and public key (its file, and
// only its file), the server keeps the public key and the evaluation keys
// (its file). Both encodings start with a magic and a version, and every
// lattigo object in them is checked against the parameters' layout before
// lattigo parses it (see wire.go): a damaged key file is an error, never a
// panic.
//
//	client: "CGSIMEXC", version uint32, secret key, public key
//	server: "CGSIMEXS", version uint32, public key, Galois element list,
//	        relinearization key, one Galois key per element
//
// each object as a uint64 length and its lattigo marshalling (the list as
// on the wire: uint32 count, uint64 elements).
const (
	keysVersion  = 1
	magicClientK = "CGSIMEXC"
	magicServerK = "CGSIMEXS"
)

func putBlob(b []byte, x []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(x)))
	return append(b, x...)
}

// blobs reads the header and the length-prefixed objects of a key file.
func blobs(magic string, b []byte) ([][]byte, error) {
	if len(b) < 12 || string(b[:8]) != magic {
		return nil, fmt.Errorf("exec: not a %s key encoding", magic)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != keysVersion {
		return nil, fmt.Errorf("exec: key encoding version %d, this build reads %d", v, keysVersion)
	}
	b = b[12:]
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, fmt.Errorf("exec: truncated key encoding")
		}
		n := binary.LittleEndian.Uint64(b)
		if n > uint64(len(b)-8) {
			return nil, fmt.Errorf("exec: truncated key encoding: an object of %d bytes, %d left", n, len(b)-8)
		}
		out = append(out, b[8:8+n])
		b = b[8+n:]
	}
	return out, nil
}

// MarshalBinary encodes the client's key material: its secret key and its
// public key. It is the client's secret: store it only where the client
// keeps its own state (kv.SaveClient), never beside the server's.
func (c *Client) MarshalBinary() ([]byte, error) {
	b := binary.LittleEndian.AppendUint32([]byte(magicClientK), keysVersion)
	for _, o := range []interface{ MarshalBinary() ([]byte, error) }{c.sk, c.pk} {
		x, err := o.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("exec: marshalling the client's keys: %w", err)
		}
		b = putBlob(b, x)
	}
	return b, nil
}

// RestoreClient rebuilds a Client of p from Client.MarshalBinary's bytes;
// conn is its end of the transport. The secret key must be the public
// key's: b + a·s must be the small error of a public key (checkKeyPair),
// or the restore fails with an error (a key file with another session's
// secret key would otherwise decrypt garbage, silently).
func RestoreClient(p bgv.Parameters, b []byte, conn net.Conn) (*Client, error) {
	parts, err := blobs(magicClientK, b)
	if err != nil {
		return nil, err
	}
	if len(parts) != 2 {
		return nil, fmt.Errorf("exec: client key encoding of %d objects, want 2", len(parts))
	}
	sk, err := unmarshalSecretKey(p, parts[0])
	if err != nil {
		return nil, err
	}
	pk, err := UnmarshalPublicKey(p, parts[1])
	if err != nil {
		return nil, err
	}
	if err := checkKeyPair(p, sk, pk); err != nil {
		return nil, err
	}
	return &Client{
		params: p, sk: sk, pk: pk,
		ecd:  bgv.NewEncoder(p),
		enc:  bgv.NewEncryptor(p, sk),
		dec:  bgv.NewDecryptor(p, sk),
		conn: conn,
	}, nil
}

// skTemplate is the layout of a marshalled secret key of p.
func skTemplate(p bgv.Parameters) (template, error) {
	sk := rlwe.NewSecretKey(p)
	zero, err := sk.MarshalBinary()
	if err != nil {
		return template{}, err
	}
	for _, pol := range []ring.Poly{sk.Value.Q, sk.Value.P} {
		for _, row := range pol.Coeffs {
			for j := range row {
				row[j] = ^uint64(0)
			}
		}
	}
	ones, err := sk.MarshalBinary()
	if err != nil {
		return template{}, err
	}
	return newTemplate(zero, ones)
}

func unmarshalSecretKey(p bgv.Parameters, b []byte) (*rlwe.SecretKey, error) {
	t, err := skTemplate(p)
	if err != nil {
		return nil, err
	}
	if err := t.check("secret key", b); err != nil {
		return nil, err
	}
	sk := &rlwe.SecretKey{}
	if err := sk.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("exec: unmarshalling the secret key: %w", err)
	}
	if err := checkPoly(sk.Value.Q, p.RingQ(), p.MaxLevelQ()); err != nil {
		return nil, fmt.Errorf("exec: secret key: %w", err)
	}
	if err := checkPoly(sk.Value.P, p.RingP(), p.MaxLevelP()); err != nil {
		return nil, fmt.Errorf("exec: secret key: %w", err)
	}
	return sk, nil
}

// MarshalBinary encodes the server's keys: the public key and the
// evaluation keys (no secret: the server never had one).
func (s *Server) MarshalBinary() ([]byte, error) {
	b := binary.LittleEndian.AppendUint32([]byte(magicServerK), keysVersion)
	galEls := dedupGalois(s.evk.GetGaloisKeysList())
	list, _ := galoisList(galEls).MarshalBinary()
	objs := []interface{ MarshalBinary() ([]byte, error) }{s.pk, rawBytes(list), s.evk.RelinearizationKey}
	for _, g := range galEls {
		gk, err := s.evk.GetGaloisKey(g)
		if err != nil {
			return nil, fmt.Errorf("exec: marshalling the server's keys: %w", err)
		}
		objs = append(objs, gk)
	}
	for _, o := range objs {
		x, err := o.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("exec: marshalling the server's keys: %w", err)
		}
		b = putBlob(b, x)
	}
	return b, nil
}

type rawBytes []byte

func (r rawBytes) MarshalBinary() ([]byte, error) { return r, nil }

// RestoreServer rebuilds a Server of p from Server.MarshalBinary's bytes;
// conn is its end of the transport. Like AcceptKeys, it builds the server
// from public material only.
func RestoreServer(p bgv.Parameters, b []byte, conn net.Conn) (*Server, error) {
	parts, err := blobs(magicServerK, b)
	if err != nil {
		return nil, err
	}
	if len(parts) < 3 {
		return nil, fmt.Errorf("exec: server key encoding of %d objects, want at least 3", len(parts))
	}
	pk, err := UnmarshalPublicKey(p, parts[0])
	if err != nil {
		return nil, err
	}
	galEls, err := parseGaloisList(p, parts[1])
	if err != nil {
		return nil, err
	}
	if len(parts) != 3+len(galEls) {
		return nil, fmt.Errorf("exec: server key encoding of %d objects for %d Galois keys", len(parts), len(galEls))
	}
	if parts[2] == nil || len(parts[2]) == 0 {
		return nil, fmt.Errorf("exec: server key encoding without a relinearization key")
	}
	rlk, err := UnmarshalRelinearizationKey(p, parts[2])
	if err != nil {
		return nil, err
	}
	gks := make([]*rlwe.GaloisKey, len(galEls))
	for i, g := range galEls {
		if gks[i], err = UnmarshalGaloisKey(p, g, parts[3+i]); err != nil {
			return nil, err
		}
	}
	return newServer(p, pk, rlwe.NewMemEvaluationKeySet(rlk, gks...), conn), nil
}

// RestoreSession rebuilds a session from saved keys (Client.MarshalBinary,
// Server.MarshalBinary), joined by a new net.Pipe: no key exchange (Setup
// is zero), the same keys as the session that saved them, so that
// ciphertexts it encrypted (a saved kv cache) can be used again.
func RestoreSession(p bgv.Parameters, clientKeys, serverKeys []byte) (*Session, error) {
	cc, sc, meter, closePipe := net.Pipe()
	s, err := RestoreSessionConns(p, clientKeys, serverKeys, cc, sc, meter, closePipe)
	if err != nil {
		closePipe()
	}
	return s, err
}

// RestoreSessionConns is RestoreSession over given connections (see
// NewSessionConns).
func RestoreSessionConns(p bgv.Parameters, clientKeys, serverKeys []byte, clientConn, serverConn net.Conn, meter *net.Meter, closePipe func()) (*Session, error) {
	if clientConn == nil || serverConn == nil || meter == nil {
		return nil, fmt.Errorf("exec: a session needs both connections and a meter")
	}
	client, err := RestoreClient(p, clientKeys, clientConn)
	if err != nil {
		return nil, fmt.Errorf("exec: restoring the client: %w", err)
	}
	server, err := RestoreServer(p, serverKeys, serverConn)
	if err != nil {
		return nil, fmt.Errorf("exec: restoring the server: %w", err)
	}
	if !client.pk.Equal(server.pk) {
		return nil, fmt.Errorf("exec: the client's and the server's keys are not of the same session")
	}
	return &Session{Params: p, client: client, Server: server, Meter: meter,
		GaloisKeys: len(server.evk.GetGaloisKeysList()), closePipe: closePipe}, nil
}
