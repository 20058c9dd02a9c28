package exec

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// The coefficient packing of a linear layer: the message in the
// coefficients of the plaintext polynomial, W x as polynomial products,
// no rotation (see the package documentation, "Linear layers").

// coeffNoise is the payload after a coefficient-packed linear layer whose
// outputs sum k products (one per input chunk) of a weight polynomial with
// the input (the client's encryption of payload in plus the server's
// share): no key switch.
func coeffNoise(nm NoiseModel, in float64, k int) float64 {
	return nm.Sum(nm.MulPlain(nm.AddPlain(in)), k)
}

// coeffChunkChoices are the input chunk counts K worth trying: the least
// that fits a chunk in N coefficients, then powers of two up to In (more
// chunks make narrower chunks, more rows per output ciphertext and fewer
// outputs, for more inputs; the products stay about Out·In·T/N).
func coeffChunkChoices(in, n int) []int {
	first := ceilDiv(in, n)
	ks := []int{first}
	for k := 2; k <= in && k <= maxCoeffChunks; k *= 2 {
		if k > first {
			ks = append(ks, k)
		}
	}
	return ks
}

// maxCoeffChunks bounds the chunk counts the search tries (the best is
// near sqrt(Out·In·T/N): 180 for Llama-3-8B's classifier at log N 14).
const maxCoeffChunks = 1024

// coeffPackings calls f with every coefficient packing of l's shape:
// chunk counts K (coeffChunkChoices), T tokens per ciphertext, and as
// many output rows per ciphertext as fit (b·T·n <= N), at the lowest level
// each K's noise allows (none where no level fits).
func (l *Linear) coeffPackings(nm NoiseModel, f func(linearPacking)) {
	N := l.Params.N()
	last := 0
	for _, k := range coeffChunkChoices(l.In, N) {
		// Chunks of n features: ceil(In/n) of them, which may be fewer
		// than k (no empty chunk), each count tried once.
		n := ceilDiv(l.In, k)
		if k = ceilDiv(l.In, n); k == last {
			continue
		}
		last = k
		g := func(nu float64) float64 { return coeffNoise(nm, nu, k) }
		level, send, err := nm.inputLevel(g)
		if err != nil {
			continue
		}
		for _, tok := range tokenChoices(l.Tokens, N/n) {
			b := min(N/(tok*n), l.Out)
			f(linearPacking{coeffs: true, n: n, chunks: k, lanes: 1, tok: tok, blocks: 1, b: b, g: 1,
				groups: ceilDiv(l.Tokens, tok), outs: ceilDiv(l.Out, b), level: level, send: send, noise: g(nm.FreshSK())})
		}
	}
}

// The layout: input ciphertext gr·K + k holds, at coefficient τ·n + c,
// feature k·n + c of token gr·T + τ; the weight polynomial of output
// ciphertext o and chunk k holds W[o·b + r][k·n + c] at coefficient
// r·T·n + n - 1 - c; their product holds y[gr·T + τ][o·b + r] at
// coefficient (r·T + τ)·n + n - 1 (the other coefficients carry partial
// sums, masked like the rest).

// coeffInputs lays out the rows of X (m x In, row-major) for the client
// or server share.
func (l *Linear) coeffInputs(x []uint64) [][]uint64 {
	pk := l.pack
	vecs := make([][]uint64, pk.groups*pk.chunks)
	for gr := 0; gr < pk.groups; gr++ {
		for k := 0; k < pk.chunks; k++ {
			v := make([]uint64, l.Params.N())
			lo, hi := k*pk.n, min((k+1)*pk.n, l.In)
			for tau := 0; tau < pk.tok && gr*pk.tok+tau < l.Tokens; tau++ {
				row := x[(gr*pk.tok+tau)*l.In:]
				copy(v[tau*pk.n:], row[lo:hi])
			}
			vecs[gr*pk.chunks+k] = v
		}
	}
	return vecs
}

// coeffExtract reads Y (m x Out) from the decrypted output coefficients
// (or the masks), group-major.
func (l *Linear) coeffExtract(vecs [][]uint64) []uint64 {
	pk := l.pack
	y := make([]uint64, l.Tokens*l.Out)
	for gr := 0; gr < pk.groups; gr++ {
		for o := 0; o < pk.outs; o++ {
			v := vecs[gr*pk.outs+o]
			for tau := 0; tau < pk.tok && gr*pk.tok+tau < l.Tokens; tau++ {
				for r := 0; r < pk.b && o*pk.b+r < l.Out; r++ {
					y[(gr*pk.tok+tau)*l.Out+o*pk.b+r] = v[(r*pk.tok+tau)*pk.n+pk.n-1]
				}
			}
		}
	}
	return y
}

// weightPoly writes into v (N coefficients, overwritten) the weight
// polynomial of output ciphertext o and input chunk k.
func (l *Linear) weightPoly(v []uint64, w Matrix, o, k int) []uint64 {
	pk := l.pack
	v = v[:l.Params.N()]
	clear(v)
	for r := 0; r < pk.b && o*pk.b+r < l.Out; r++ {
		row := w.Data[(o*pk.b+r)*w.Cols:]
		for c := 0; c < pk.n && k*pk.n+c < l.In; c++ {
			v[r*pk.tok*pk.n+pk.n-1-c] = row[k*pk.n+c]
		}
	}
	return v
}

// coeffCompute receives the client's ciphertexts, adds the server's share
// and multiplies: output ciphertext (gr, o) is the sum over the chunks of
// the input times the weight polynomial (o, k), one piece per output on
// the server's cores.
func (l *Linear) coeffCompute(sv *Server, tally *cost.Tally, diag diagonals, xS []uint64) ([]*rlwe.Ciphertext, error) {
	pk := l.pack
	p, lvl := l.Params, pk.level
	cts, err := l.receiveInputs(sv, tally, xS)
	if err != nil {
		return nil, err
	}
	out := make([]*rlwe.Ciphertext, pk.groups*pk.outs)
	for gr := 0; gr < pk.groups; gr++ {
		if err := sv.forEach(pk.outs, func(o int, w *Server) error {
			sum := bgv.NewCiphertext(p, 1, lvl)
			tmp := w.buf.temp(p, lvl)
			for k := 0; k < pk.chunks; k++ {
				pt, err := diag.at(w, o, k, 0)
				if err != nil {
					return err
				}
				dst := sum
				if k > 0 {
					dst = tmp
				}
				if err := w.eval.Mul(cts[gr*pk.chunks+k], pt, dst); err != nil {
					return fmt.Errorf("exec: server: ct-pt product: %w", err)
				}
				tally.Op(cost.OpMulPlain, lvl, 1)
				if k > 0 {
					if err := w.eval.Add(sum, tmp, sum); err != nil {
						return err
					}
					tally.Op(cost.OpAdd, lvl, 1)
				}
			}
			out[gr*pk.outs+o] = sum
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// estimateCoeffs is estimateEncoded for a coefficient packing: the inputs
// sent and completed, G·O·K products and their sums, G·O returns.
func (l *Linear) estimateCoeffs(t *estimateTerms) cost.Cost {
	pk := l.pack
	prof, logN, lvl := l.Profile, l.Params.LogN(), pk.level
	G, O, K := int64(pk.groups), int64(pk.outs), int64(pk.chunks)
	products := func() cost.Cost {
		return cost.Sum(prof.Charge(cost.OpMulPlain, lvl, G*O*K), prof.Charge(cost.OpAdd, lvl, G*O*(K-1)))
	}
	c := cost.Sum(
		t.get(termKey{term: termSendInput, at: lvl, dom: pk.domain(), n: G * K}, func() cost.Cost { return sendInputCost(prof, logN, lvl, pk.domain(), G*K, l.clientCores) }),
		t.get(termKey{term: termPlain, at: lvl, dom: pk.domain(), n: G * K}, func() cost.Cost { return plainCost(prof, logN, lvl, pk.domain(), G*K) }),
		products(),
		t.get(termKey{term: termReturn, at: t.send(pk.send), dom: pk.domain(), n: G * O, k: int64(l.cores)},
			func() cost.Cost { return returnCost(prof, logN, pk.send, pk.domain(), G*O, l.cores, l.clientCores) }),
		cost.Cost{Rounds: 1},
	)
	return onCores(c, O, l.cores, products)
}
