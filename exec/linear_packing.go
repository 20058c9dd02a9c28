package exec

// The packing of a linear layer: which slot holds which feature of which
// token, the input vectors of either share, the diagonals of W and the
// extraction of the output (see the package documentation, "Linear
// layers").

// linearPacking is the packing of a linear layer; see the package
// documentation ("Linear layers") for the layout.
//
// A coefficient packing (coeffs) puts the message in the coefficients
// instead (linear_coeffs.go): n is then the chunk width ceil(In / K),
// b the output rows per ciphertext (b·tok·n <= N), g and blocks 1, and
// lanes unused.
type linearPacking struct {
	coeffs bool
	n      int // lane width: the input width padded to a power of two, at most a slot row
	chunks int // input ciphertexts per token group: ceil(In / n)
	lanes  int // lanes per ciphertext, N/n (lanes per row: lanes/2)
	tok    int // tokens per input ciphertext (T)
	blocks int // row blocks per output ciphertext (R); tok*blocks <= lanes
	b      int // output rows per block (power of two, <= n)
	g      int // baby steps (power of two, <= b)
	groups int // token groups: ceil(m / tok)
	outs   int // output ciphertexts per input ciphertext: ceil(ceil(dOut/b) / blocks)
	level  int // level of the client's encryption
	send   returnPath
	noise  float64 // payload before the return
}

// domain is where the packing puts the messages.
func (pk linearPacking) domain() Domain {
	if pk.coeffs {
		return Coefficients
	}
	return Slots
}

// plaintexts is the number of plaintexts of W per output ciphertext and
// input chunk: b diagonals, or one weight polynomial.
func (pk linearPacking) plaintexts() int {
	if pk.coeffs {
		return 1
	}
	return pk.b
}

// weightPlaintexts is the number of plaintexts of W: per output index,
// chunk and diagonal (or weight polynomial).
func (pk linearPacking) weightPlaintexts() int64 {
	return int64(pk.outs) * int64(pk.plaintexts()) * int64(pk.chunks)
}

// laneStride is the slot distance between consecutive features of a lane:
// lanes per row.
func (pk linearPacking) laneStride() int { return pk.lanes / 2 }

// slot is the slot index of feature c of lane lam.
func (pk linearPacking) slot(lam, c int) int {
	L := pk.laneStride()
	return (lam/L)*(pk.lanes/2*pk.n) + c*L + lam%L
}

// inputVectors lays out the rows of X (m x In, row-major) for the client
// or server share: ciphertext gr·K + k holds columns k·n .. k·n+n-1 of
// the tokens of group gr, lane rho·T+tau holding token gr·T+tau.
func (l *Linear) inputVectors(x []uint64) [][]uint64 {
	pk := l.pack
	if pk.coeffs {
		return l.coeffInputs(x)
	}
	N := l.Params.MaxSlots()
	vecs := make([][]uint64, pk.groups*pk.chunks)
	for gr := 0; gr < pk.groups; gr++ {
		for k := 0; k < pk.chunks; k++ {
			v := make([]uint64, N)
			for tau := 0; tau < pk.tok; tau++ {
				tokIdx := gr*pk.tok + tau
				if tokIdx >= l.Tokens {
					break
				}
				row := x[tokIdx*l.In : (tokIdx+1)*l.In]
				hi := (k + 1) * pk.n
				if hi > l.In {
					hi = l.In
				}
				row = row[k*pk.n : hi]
				for rho := 0; rho < pk.blocks; rho++ {
					lam := rho*pk.tok + tau
					for c, xv := range row {
						v[pk.slot(lam, c)] = xv
					}
				}
			}
			vecs[gr*pk.chunks+k] = v
		}
	}
	return vecs
}

// extract reads Y (m x Out) from the decrypted output vectors (or the
// masks), in the order the server produced them: group-major.
func (l *Linear) extract(vecs [][]uint64) []uint64 {
	pk := l.pack
	if pk.coeffs {
		return l.coeffExtract(vecs)
	}
	y := make([]uint64, l.Tokens*l.Out)
	for gr := 0; gr < pk.groups; gr++ {
		for o := 0; o < pk.outs; o++ {
			v := vecs[gr*pk.outs+o]
			for rho := 0; rho < pk.blocks; rho++ {
				for tau := 0; tau < pk.tok; tau++ {
					tokIdx := gr*pk.tok + tau
					if tokIdx >= l.Tokens {
						break
					}
					lam := rho*pk.tok + tau
					for r := 0; r < pk.b; r++ {
						row := (o*pk.blocks+rho)*pk.b + r
						if row >= l.Out {
							break
						}
						y[tokIdx*l.Out+row] = v[pk.slot(lam, r)]
					}
				}
			}
		}
	}
	return y
}

// diagonal writes into v (N slots, overwritten) the slot vector of
// generalized diagonal i of chunk k for output ciphertext o, pre-rotated
// right by shift slots (within each row).
func (l *Linear) diagonal(v []uint64, w Matrix, o, k, i, shift int) []uint64 {
	pk := l.pack
	N := l.Params.MaxSlots()
	row := N / 2
	L := pk.laneStride()
	v = v[:N]
	clear(v)
	for rho := 0; rho < pk.blocks; rho++ {
		for tau := 0; tau < pk.tok; tau++ {
			lam := rho*pk.tok + tau
			half := (lam / L) * row
			pos := (lam%L + shift) % row // slot of feature 0, rotated, within the row
			r0 := (o*pk.blocks + rho) * pk.b
			for c := 0; c < pk.n; c, pos = c+1, pos+L {
				if pos >= row {
					pos -= row
				}
				r := r0 + c%pk.b
				col := k*pk.n + (c+i)%pk.n
				if r >= l.Out || col >= l.In {
					continue
				}
				v[half+pos] = w.Data[r*w.Cols+col]
			}
		}
	}
	return v
}
