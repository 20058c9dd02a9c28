package mpc

// maxRows returns, for rows of lens[i] consecutive elements of x, the
// maximum of each row, and, when withIndex, shares of the position of the
// first maximum within its row. It is a tournament: each level compares
// adjacent pairs of every row with one batched sign and keeps the larger
// with one batched product by the comparison bit; an odd element goes up
// unchallenged. ceil(log2(max len)) levels.
//
// x is the party's share; the positions are public (the client holds
// them, the server zeros), and the party gets its shares of the maxima
// and of the positions.
func (p *party) maxRows(x []uint64, lens []int, withIndex bool) (vals, idx []uint64, err error) {
	r := p.r
	rows := make([][]uint64, len(lens)) // current candidates of each row
	ids := make([][]uint64, len(lens))
	off := 0
	for i, l := range lens {
		rows[i] = x[off : off+l]
		if withIndex {
			pos := make([]uint64, l)
			for j := range pos {
				pos[j] = uint64(j)
			}
			ids[i] = p.public(pos)
		}
		off += l
	}
	for {
		// Gather the pairs (a, b) of every row, a before b.
		var as, bs, ia, ib []uint64
		for i := range rows {
			for j := 0; j+1 < len(rows[i]); j += 2 {
				as = append(as, rows[i][j])
				bs = append(bs, rows[i][j+1])
				if withIndex {
					ia = append(ia, ids[i][j])
					ib = append(ib, ids[i][j+1])
				}
			}
		}
		if len(as) == 0 {
			break
		}
		np := len(as)
		diff := p.affine(1, as, r.Neg(1), bs, 0)
		ge, err := p.sign(diff) // [a >= b]: ties keep the earlier element
		if err != nil {
			return nil, nil, err
		}
		sel := diff
		bits := ge
		if withIndex {
			idiff := p.affine(1, ia, r.Neg(1), ib, 0)
			sel = concat(diff, idiff)
			bits = concat(ge, ge)
		}
		prod, err := p.mul(bits, sel)
		if err != nil {
			return nil, nil, err
		}
		win := p.affine(1, prod[:np], 1, bs, 0)
		var winIdx []uint64
		if withIndex {
			winIdx = p.affine(1, prod[np:2*np], 1, ib, 0)
		}
		// Rebuild the rows: winners, then the odd element.
		k := 0
		for i := range rows {
			l := len(rows[i])
			var nr, ni []uint64
			for j := 0; j+1 < l; j += 2 {
				nr = append(nr, win[k])
				if withIndex {
					ni = append(ni, winIdx[k])
				}
				k++
			}
			if l%2 == 1 {
				nr = append(nr, rows[i][l-1])
				if withIndex {
					ni = append(ni, ids[i][l-1])
				}
			}
			rows[i], ids[i] = nr, ni
		}
	}
	vals = concat(rows...)
	if withIndex {
		idx = concat(ids...)
	}
	return vals, idx, nil
}

// rowRun is count rows of the same length.
type rowRun struct{ len, count int }

// maxRows bills party.maxRows over rows given as runs of equal lengths,
// ascending. A tree level pairs l/2 elements of a row of l and leaves
// (l+1)/2; halving keeps the order and merges equal neighbours, so the
// runs at least halve at each level (a causal prefill's rows are Cols
// distinct lengths, not Rows).
func (p *bill) maxRows(runs []rowRun, withIndex bool) {
	cur := append([]rowRun(nil), runs...)
	for {
		np := 0
		out := cur[:0]
		for _, r := range cur {
			np += r.count * (r.len / 2)
			r.len = (r.len + 1) / 2
			if k := len(out) - 1; k >= 0 && out[k].len == r.len {
				out[k].count += r.count
			} else {
				out = append(out, r)
			}
		}
		cur = out
		if np == 0 {
			return
		}
		p.affine(np)
		p.sign(np)
		if withIndex {
			p.affine(np)
			p.mul(2 * np)
			p.affine(np)
			p.affine(np)
		} else {
			p.mul(np)
			p.affine(np)
		}
	}
}
