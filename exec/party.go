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

	// cores is the goroutines of the client's encryptions and decryptions
	// (1 unless Session.SetClientCores); workers their copies.
	cores   int
	workers []*Client
	buf     scratch // see scratch; each worker has its own
	// uploads are the buffers of the ciphertexts it sends, per level (see
	// uploadBuffers); each worker has its own.
	uploads []upload
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
	enc    *rlwe.Encryptor // public-key encryptor: the pads of returned ciphertexts
	eval   *bgv.Evaluator
	conn   net.Conn

	// inspect, if not nil, is called with the ciphertexts the server is
	// about to pad and return, before any of that, and their plan
	// (Session.InspectReturns).
	inspect func(cts []*rlwe.Ciphertext, plan ReturnPlan)

	// cores is the goroutines of the parallel kernels (1 unless
	// Session.SetServerCores); workers their copies (parallel.go).
	cores   int
	workers []*Server
	buf     scratch // see scratch; each worker has its own
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
// and the identity 1 are dropped). They are the setup traffic of a session:
// the public key, the list of Galois elements, the relinearization key and
// the Galois keys in the list's order, one framed message each, so that
// the server checks each against its expected layout before lattigo
// parses it (see UnmarshalGaloisKey).
func (c *Client) SendKeys(galEls []uint64) error {
	kgen := bgv.NewKeyGenerator(c.params)
	galEls = dedupGalois(galEls)
	if err := checkGaloisList(c.params, galEls); err != nil {
		return err
	}
	gks := kgen.GenGaloisKeysNew(galEls, c.sk)
	rlk := kgen.GenRelinearizationKeyNew(c.sk)
	if err := net.SendObject(c.conn, c.pk); err != nil {
		return fmt.Errorf("exec: client: sending public key: %w", err)
	}
	if err := net.SendObject(c.conn, galoisList(galEls)); err != nil {
		return fmt.Errorf("exec: client: sending the Galois elements: %w", err)
	}
	if err := net.SendObject(c.conn, rlk); err != nil {
		return fmt.Errorf("exec: client: sending the relinearization key: %w", err)
	}
	for _, gk := range gks {
		if err := net.SendObject(c.conn, gk); err != nil {
			return fmt.Errorf("exec: client: sending Galois key %d: %w", gk.GaloisElement, err)
		}
	}
	return nil
}

// AcceptKeys builds a Server from the public and evaluation keys a client
// sends on conn (see Client.SendKeys). This is the only constructor of a
// Server besides RestoreServer, which reads the same keys from bytes.
// Every key is checked against the layout of p before lattigo parses it:
// malformed keys are an error, never a crash.
func AcceptKeys(p bgv.Parameters, conn net.Conn) (*Server, error) {
	b, err := recvPayload(conn)
	if err != nil {
		return nil, fmt.Errorf("exec: server: receiving public key: %w", err)
	}
	pk, err := UnmarshalPublicKey(p, b)
	if err != nil {
		return nil, fmt.Errorf("exec: server: receiving public key: %w", err)
	}
	if b, err = recvPayload(conn); err != nil {
		return nil, fmt.Errorf("exec: server: receiving the Galois elements: %w", err)
	}
	galEls, err := parseGaloisList(p, b)
	if err != nil {
		return nil, fmt.Errorf("exec: server: receiving the Galois elements: %w", err)
	}
	if b, err = recvPayload(conn); err != nil {
		return nil, fmt.Errorf("exec: server: receiving the relinearization key: %w", err)
	}
	rlk, err := UnmarshalRelinearizationKey(p, b)
	if err != nil {
		return nil, fmt.Errorf("exec: server: receiving the relinearization key: %w", err)
	}
	gks := make([]*rlwe.GaloisKey, len(galEls))
	for i, g := range galEls {
		if b, err = recvPayload(conn); err != nil {
			return nil, fmt.Errorf("exec: server: receiving Galois key %d: %w", g, err)
		}
		if gks[i], err = UnmarshalGaloisKey(p, g, b); err != nil {
			return nil, fmt.Errorf("exec: server: receiving Galois key %d: %w", g, err)
		}
	}
	return newServer(p, pk, rlwe.NewMemEvaluationKeySet(rlk, gks...), conn), nil
}

func newServer(p bgv.Parameters, pk *rlwe.PublicKey, evk *rlwe.MemEvaluationKeySet, conn net.Conn) *Server {
	return &Server{
		params: p, pk: pk, evk: evk,
		ecd:  bgv.NewEncoder(p),
		enc:  bgv.NewEncryptor(p, pk),
		eval: bgv.NewEvaluator(p, evk),
		conn: conn,
	}
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
//
// Outside this package a Session reaches the server's party only: code
// given a Session (kv's cache) runs protocols, whose client halves exec
// plays with the client's party, but cannot reach the secret key or a
// decryptor, nor marshal the key, by types. It is not a server: the
// protocols return both parties' shares to whoever runs them in one
// process, and their sum is the plaintext. A harness that plays the
// client (sim's runner, a test) creates the client's party itself
// (NewClient) and joins it with NewSessionWithClient.
type Session struct {
	Params bgv.Parameters
	Server *Server
	client *Client
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
	s, err := NewSessionConnsGalois(p, cc, sc, meter, closePipe, galEls)
	if err != nil {
		closePipe()
	}
	return s, err
}

// NewSessionConns is NewSession over given connections: the client's and
// the server's ends of one transport and the meter that counts it (for
// net.Pipe, what it returns). Another protocol may share them (the mpc
// sessions of the same run, mpc.NewSessionConns): every Run brackets its
// own traffic with meter.Begin/Since, and one Run at a time may use the
// transport. closePipe, if not nil, closes the transport: a Run that fails
// on one side calls it so that the other side stops waiting (with nil, it
// may wait forever), and Session.Close calls it.
func NewSessionConns(p bgv.Parameters, clientConn, serverConn net.Conn, meter *net.Meter, closePipe func(), prims ...Primitive) (*Session, error) {
	return NewSessionConnsGalois(p, clientConn, serverConn, meter, closePipe, GaloisElements(p, prims...))
}

// NewSessionConnsGalois is NewSessionConns for an explicit list of Galois
// elements.
func NewSessionConnsGalois(p bgv.Parameters, clientConn, serverConn net.Conn, meter *net.Meter, closePipe func(), galEls []uint64) (*Session, error) {
	if clientConn == nil || serverConn == nil || meter == nil {
		return nil, fmt.Errorf("exec: a session needs both connections and a meter")
	}
	return handshake(p, NewClient(p, clientConn), serverConn, meter, closePipe, dedupGalois(galEls))
}

// NewSessionWithClient is NewSessionConnsGalois for a client's party the
// caller made (NewClient on the client's end of the transport) and keeps:
// the harness that plays the client.
func NewSessionWithClient(p bgv.Parameters, client *Client, serverConn net.Conn, meter *net.Meter, closePipe func(), galEls []uint64) (*Session, error) {
	if client == nil || serverConn == nil || meter == nil {
		return nil, fmt.Errorf("exec: a session needs a client, the server's connection and a meter")
	}
	return handshake(p, client, serverConn, meter, closePipe, dedupGalois(galEls))
}

// handshake runs the key exchange between client and the server end sc.
func handshake(p bgv.Parameters, client *Client, sc net.Conn, meter *net.Meter, closePipe func(), galEls []uint64) (*Session, error) {
	stop := func() {
		if closePipe != nil {
			closePipe()
		}
	}
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
		if serverErr != nil {
			stop()
		}
	}()
	clientErr := client.SendKeys(galEls)
	if clientErr != nil {
		stop()
	}
	wg.Wait()
	if clientErr != nil {
		return nil, clientErr
	}
	if serverErr != nil {
		return nil, serverErr
	}
	return &Session{
		Params: p, client: client, Server: server, Meter: meter,
		Setup: meter.Since(start), GaloisKeys: len(galEls), closePipe: closePipe,
	}, nil
}

// Close closes the pipe between the parties (if the session was given a
// way to: see NewSessionConns).
func (s *Session) Close() { s.close() }

func (s *Session) close() {
	if s.closePipe != nil {
		s.closePipe()
	}
}

// both runs the client and the server side of a protocol concurrently and
// returns the first error. If one side fails, the pipe is closed so that
// the other side does not wait forever; the session is then unusable.
//
// Each side is handed only its own party: the server's function gets the
// Server (no secret key, see AcceptKeys) and is written as a method of the
// primitive that takes the server's inputs only (its share, the weights,
// the cache); the client's gets the Client and the client's inputs.
func (s *Session) both(client func(*Client) error, server func(*Server) error) error {
	var cerr, serr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if serr = server(s.Server); serr != nil {
			s.close()
		}
	}()
	if cerr = client(s.client); cerr != nil {
		s.close()
	}
	wg.Wait()
	if serr != nil {
		return serr
	}
	return cerr
}

// run is the frame of every primitive's Run: it refuses inputs of the
// wrong size (sizes, the primitive's own check, nil when they fit), runs
// the client's half and the server's half concurrently, each with its own
// party (Session.both), and adds to tally the traffic the meter counted
// between the start and the end of the exchange. C and S are what the
// halves return.
func run[C, S any](s *Session, tally *cost.Tally, sizes error, client func(*Client) (C, error), server func(*Server) (S, error)) (C, S, error) {
	var (
		c  C
		sv S
	)
	if sizes != nil {
		return c, sv, sizes
	}
	start := s.Meter.Begin()
	err := s.both(func(cl *Client) error {
		var err error
		c, err = client(cl)
		return err
	}, func(srv *Server) error {
		var err error
		sv, err = server(srv)
		return err
	})
	tally.Add(s.Meter.Since(start))
	return c, sv, err
}

// runShared is run for a primitive whose output is shared: each half
// returns its party's share.
func runShared(s *Session, tally *cost.Tally, sizes error, client func(*Client) ([]uint64, error), server func(*Server) ([]uint64, error)) (Shared, error) {
	c, sv, err := run(s, tally, sizes, client, server)
	return Shared{C: c, S: sv}, err
}

// nothing adapts a half that returns nothing but an error to run.
func nothing[P any](half func(P) error) func(P) (struct{}, error) {
	return func(p P) (struct{}, error) { return struct{}{}, half(p) }
}
