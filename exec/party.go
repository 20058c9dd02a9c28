package exec

import (
	"fmt"
	"sort"
	"sync"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
)

// Client is the party that owns the secret key. It encrypts its shares,
// decrypts what the server returns and never sees the server's weights.
//
// A Client belongs to one goroutine at a time.
type Client struct {
	params bgv.Parameters
	sk     *rlwe.SecretKey
	pk     *rlwe.PublicKey
	ecd    *bgv.Encoder
	enc    *rlwe.Encryptor
	dec    *rlwe.Decryptor
	conn   net.Conn
}

// Server is the party that owns the weights. It holds the public key, the
// evaluation keys the client chose to send and an evaluator; no field,
// method or constructor of Server reaches a secret key: a Server is only
// ever built from what arrives on its connection (see AcceptKeys).
//
// A Server belongs to one goroutine at a time; its evaluator is not safe
// for concurrent use.
type Server struct {
	params bgv.Parameters
	pk     *rlwe.PublicKey
	evk    *rlwe.MemEvaluationKeySet
	ecd    *bgv.Encoder
	enc    *rlwe.Encryptor // public-key encryptor: encryptions of zero for flooding
	eval   *bgv.Evaluator
	conn   net.Conn

	// inspect, if not nil, is called with the ciphertexts the server is
	// about to mask, flood and return, before any of that: a test seam for
	// the noise-model check (the tests decrypt them with the client's
	// key). Production code never sets it.
	inspect func(cts []*rlwe.Ciphertext)
}

// NewClient generates a fresh key pair for p. conn is the client's end of
// the transport.
func NewClient(p bgv.Parameters, conn net.Conn) *Client {
	kgen := bgv.NewKeyGenerator(p)
	sk, pk := kgen.GenKeyPairNew()
	return &Client{
		params: p, sk: sk, pk: pk,
		ecd: bgv.NewEncoder(p),
		// The client owns the secret key: its encryptions are secret-key
		// ones, whose noise is n/2 bits smaller than public-key ones (the
		// attention kernels at log N 13 need that margin).
		enc:  bgv.NewEncryptor(p, sk),
		dec:  bgv.NewDecryptor(p, sk),
		conn: conn,
	}
}

// SendKeys sends the public key and the evaluation keys to the server: a
// relinearization key and one Galois key per element of galEls (duplicates
// and the identity 1 are dropped). They are the setup traffic of a session.
func (c *Client) SendKeys(galEls []uint64) error {
	kgen := bgv.NewKeyGenerator(c.params)
	gks := kgen.GenGaloisKeysNew(dedupGalois(galEls), c.sk)
	evk := rlwe.NewMemEvaluationKeySet(kgen.GenRelinearizationKeyNew(c.sk), gks...)
	if err := net.SendObject(c.conn, c.pk); err != nil {
		return fmt.Errorf("exec: client: sending public key: %w", err)
	}
	if err := net.SendObject(c.conn, evk); err != nil {
		return fmt.Errorf("exec: client: sending evaluation keys: %w", err)
	}
	return nil
}

// AcceptKeys builds a Server from the public and evaluation keys a client
// sends on conn (see Client.SendKeys). This is the only constructor of a
// Server.
func AcceptKeys(p bgv.Parameters, conn net.Conn) (*Server, error) {
	pk := rlwe.NewPublicKey(p)
	if err := net.RecvObject(conn, pk); err != nil {
		return nil, fmt.Errorf("exec: server: receiving public key: %w", err)
	}
	evk := &rlwe.MemEvaluationKeySet{}
	if err := net.RecvObject(conn, evk); err != nil {
		return nil, fmt.Errorf("exec: server: receiving evaluation keys: %w", err)
	}
	return &Server{
		params: p, pk: pk, evk: evk,
		ecd:  bgv.NewEncoder(p),
		enc:  bgv.NewEncryptor(p, pk),
		eval: bgv.NewEvaluator(p, evk),
		conn: conn,
	}, nil
}

// GaloisElements lists the Galois elements whose keys the server holds.
func (s *Server) GaloisElements() []uint64 { return s.evk.GetGaloisKeysList() }

func dedupGalois(galEls []uint64) []uint64 {
	seen := map[uint64]bool{1: true}
	var out []uint64
	for _, g := range galEls {
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Primitive is what every secure primitive of this package is: a value with
// a shape that prices itself and names the rotations it needs.
type Primitive interface {
	// Estimate is the cost of one Run, computed without cryptography.
	Estimate() cost.Cost
	// Rotations lists the slot rotations (column rotations, lattigo's
	// RotateColumns amounts) Run performs; the session's Galois keys are
	// generated for these only.
	Rotations() []int
}

// Session is a client and a server joined by a metered in-process pipe,
// with the keys exchanged. In a simulation both parties live in one
// process, but each side of a Run uses only its own party and connection.
type Session struct {
	Params bgv.Parameters
	Client *Client
	Server *Server
	Meter  *net.Meter
	// Setup is the communication of the key exchange (public key,
	// relinearization key, Galois keys): client-to-server bytes and rounds.
	// It is setup cost, not online cost of any primitive.
	Setup cost.Cost
	// GaloisKeys is the number of Galois keys sent.
	GaloisKeys int

	closePipe func()
}

// rowRotator is a primitive that also swaps the two slot rows.
type rowRotator interface{ RowRotation() bool }

// GaloisElements lists the Galois elements of the rotations prims use.
func GaloisElements(p bgv.Parameters, prims ...Primitive) []uint64 {
	var galEls []uint64
	for _, pr := range prims {
		for _, r := range pr.Rotations() {
			galEls = append(galEls, p.GaloisElement(r))
		}
		if rr, ok := pr.(rowRotator); ok && rr.RowRotation() {
			galEls = append(galEls, p.GaloisElementForRowRotation())
		}
	}
	return dedupGalois(galEls)
}

// NewSession creates both parties for p, joined by net.Pipe, and runs the
// key exchange with Galois keys for exactly the rotations that prims use.
func NewSession(p bgv.Parameters, prims ...Primitive) (*Session, error) {
	return NewSessionGalois(p, GaloisElements(p, prims...))
}

// NewSessionGalois is NewSession for an explicit list of Galois elements.
func NewSessionGalois(p bgv.Parameters, galEls []uint64) (*Session, error) {
	cc, sc, meter, closePipe := net.Pipe()
	client := NewClient(p, cc)
	galEls = dedupGalois(galEls)
	start := meter.Begin()
	var (
		server    *Server
		serverErr error
		wg        sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		server, serverErr = AcceptKeys(p, sc)
	}()
	clientErr := client.SendKeys(galEls)
	if clientErr != nil {
		closePipe()
	}
	wg.Wait()
	if clientErr != nil {
		return nil, clientErr
	}
	if serverErr != nil {
		closePipe()
		return nil, serverErr
	}
	return &Session{
		Params: p, Client: client, Server: server, Meter: meter,
		Setup: meter.Since(start), GaloisKeys: len(galEls), closePipe: closePipe,
	}, nil
}

// Close closes the pipe between the parties.
func (s *Session) Close() { s.closePipe() }

// both runs the client and the server side of a protocol concurrently and
// returns the first error. If one side fails, the pipe is closed so that
// the other side does not wait forever; the session is then unusable.
func (s *Session) both(client, server func() error) error {
	var cerr, serr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if serr = server(); serr != nil {
			s.closePipe()
		}
	}()
	if cerr = client(); cerr != nil {
		s.closePipe()
	}
	wg.Wait()
	if serr != nil {
		return serr
	}
	return cerr
}
