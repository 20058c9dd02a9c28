package exec

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cgsim/cgsim/cost"
)

// Parallel server work. The server's kernels are sums of independent
// pieces: a linear layer's hoisted baby steps, giant steps and output
// ciphertexts, an attention kernel's products and folds, the masking and
// flooding of each ciphertext it returns. With more than one core (Session.SetServerCores) the server
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
		c.workers, c.conn, c.inspect = nil, nil, nil
		s.workers = append(s.workers, &c)
	}
	return s.workers[w-1]
}

// forEach runs f(i, w) for every i < n on min(cores, n) goroutines, w
// being the goroutine's worker (see worker); it returns the first error,
// after which no new piece starts.
func (s *Server) forEach(n int, f func(i int, w *Server) error) error {
	c := min(max(s.cores, 1), n)
	if c <= 1 {
		for i := 0; i < n; i++ {
			if err := f(i, s); err != nil {
				return err
			}
		}
		return nil
	}
	workers := make([]*Server, c)
	for j := range workers {
		workers[j] = s.worker(j)
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
