package exec

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cgsim/cgsim/cost"
)

// Parallel server work. The server's kernels are sums of independent
// pieces: a linear layer's hoisted baby steps, giant steps and output
// ciphertexts, an attention kernel's products and folds, adding its pad to
// each ciphertext it returns and rescaling it (the pads themselves are
// made serially, a few per core at a time: offline work). With more than
// one core (Session.SetServerCores) the server
// runs such pieces on that many goroutines, each with its own shallow
// copies of the encoder, encryptor and evaluator (lattigo's are not safe
// for concurrent use); what goes on the wire keeps its order. The
// counters do not change; an estimate priced for c cores (Planner.Cores)
// charges a parallel section of n pieces ceil(n/c) pieces' seconds (per
// batch where the pieces run in batches; see onCores, onCoresBatched): its critical path when the pieces are alike, as a linear
// layer's outputs, a kernel's products and the returned ciphertexts are
// (a linear layer's first giant step has no rotation, the values
// kernel's last group of tokens may be smaller than the others: there it
// approximates). A primitive's plan (packing, levels)
// does not depend on the cores, only its price.
//
// The client's work parallelizes too (Session.SetClientCores,
// Planner.ClientCores): it lays out, encodes, encrypts and marshals up to
// cores ciphertexts of a flight at once and sends them in order, and it
// receives up to cores results, decrypts and decodes them at once and
// hands them on in order (Client.sendEach, Client.recvBatches); an
// estimate charges those ciphertexts' client work ceil(k/cores) pieces.

// MaxCores bounds the cores a server or a planner is given.
const MaxCores = 4096

func checkCores(n int) error {
	if n < 1 || n > MaxCores {
		return fmt.Errorf("exec: %d server cores: want 1 to %d", n, MaxCores)
	}
	return nil
}

// SetServerCores sets the goroutines the server's kernels use (1 at
// first).
func (s *Session) SetServerCores(n int) error {
	if err := checkCores(n); err != nil {
		return err
	}
	s.Server.cores, s.Server.workers = n, nil
	return nil
}

// SetClientCores sets the goroutines the client encrypts and decrypts on
// (1 at first): it prepares up to n of a flight's ciphertexts at once and
// decrypts up to n of the results at once, sending and handing them on in
// order.
func (s *Session) SetClientCores(n int) error {
	if err := checkCores(n); err != nil {
		return fmt.Errorf("exec: %d client cores: want 1 to %d", n, MaxCores)
	}
	s.client.cores, s.client.workers = n, nil
	return nil
}

// worker returns the client for worker w: the client itself for w = 0,
// else a copy with its own encoder, encryptor and decryptor (made once).
// A worker must not use the connection.
func (c *Client) worker(w int) *Client {
	if w == 0 {
		return c
	}
	for len(c.workers) < w {
		cp := *c
		cp.ecd, cp.enc, cp.dec = c.ecd.ShallowCopy(), c.enc.ShallowCopy(), c.dec.ShallowCopy()
		cp.workers, cp.conn, cp.uploads, cp.buf = nil, nil, nil, scratch{}
		c.workers = append(c.workers, &cp)
	}
	return c.workers[w-1]
}

// batch is how many ciphertexts of a flight the client prepares or
// decrypts at once: its cores.
func (c *Client) batch() int { return max(c.cores, 1) }

// worker returns the server for worker w: the server itself for w = 0,
// else a copy with its own encoder, encryptor and evaluator (made once).
// A worker must not use the connection.
func (s *Server) worker(w int) *Server {
	if w == 0 {
		return s
	}
	for len(s.workers) < w {
		c := *s
		c.ecd, c.enc, c.eval = s.ecd.ShallowCopy(), s.enc.ShallowCopy(), s.eval.ShallowCopy()
		c.workers, c.conn, c.inspect, c.buf = nil, nil, nil, scratch{}
		s.workers = append(s.workers, &c)
	}
	return s.workers[w-1]
}

// forEach runs f(i, w) for every i < n on min(cores, n) goroutines, w
// being the goroutine's worker (see worker); it returns the first error,
// after which no new piece starts.
func (s *Server) forEach(n int, f func(i int, w *Server) error) error {
	return forPieces(n, s.cores, s.worker, f)
}

// forPieces runs f(i, w) for every i < n on min(cores, n) goroutines, w
// being worker(j) on goroutine j (worker(0) alone on one core); it returns
// the first error, after which no new piece starts.
func forPieces[W any](n, cores int, worker func(int) W, f func(i int, w W) error) error {
	c := min(max(cores, 1), n)
	if c <= 1 {
		w := worker(0)
		for i := 0; i < n; i++ {
			if err := f(i, w); err != nil {
				return err
			}
		}
		return nil
	}
	workers := make([]W, c)
	for j := range workers {
		workers[j] = worker(j)
	}
	var (
		next     atomic.Int64
		failed   atomic.Bool
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i, w); err != nil {
					once.Do(func() { firstErr = err })
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// onCores is c, a cost that includes a parallel section of n alike pieces
// whose cost (all n) is section(), priced on cores: the counters
// unchanged, the section's compute seconds those of the ceil(n/cores)
// pieces the busiest core runs. On one core it is c itself (section is not
// called).
func onCores(c cost.Cost, n int64, cores int, section func() cost.Cost) cost.Cost {
	return onCoresBatched(c, n, n, cores, section)
}

// onCoresBatched is onCores for pieces run in batches of at most batch
// (one forEach per batch, as the ARCC kernels compute and return theirs):
// the busiest core runs ceil(batch/cores) pieces of every whole batch and
// ceil(rest/cores) of the last.
func onCoresBatched(c cost.Cost, n, batch int64, cores int, section func() cost.Cost) cost.Cost {
	if cores <= 1 || n <= 1 {
		return c
	}
	k := int64(cores)
	batch = max(1, min(batch, n))
	per := (n/batch)*((batch+k-1)/k) + (n%batch+k-1)/k
	c.ComputeSeconds -= section().ComputeSeconds * (1 - float64(per)/float64(n))
	return c
}
