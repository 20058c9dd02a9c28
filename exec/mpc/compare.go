package mpc

// maxRows returns, for rows of lens[i] consecutive elements of x, the
// maximum of each row, and, when withIndex, shares of the position of the
// first maximum within its row. It is a tournament: each level compares
// adjacent pairs of every row with one batched sign and keeps the larger
// with one batched product by the comparison bit; an odd element goes up
// unchallenged. ceil(log2(max len)) levels.
func (s *Session) maxRows(x shared, lens []int, withIndex bool) (vals, idx shared, err error) {
	r := s.cfg.Ring
	rows := make([]shared, len(lens)) // current candidates of each row
	ids := make([]shared, len(lens))
	off := 0
	for i, l := range lens {
		rows[i] = x.part(off, off+l)
		if withIndex {
			ids[i] = shared{make([]uint64, l), make([]uint64, l)}
			for j := range l {
				ids[i][Client][j] = uint64(j) // public positions: the client holds them
			}
		}
		off += l
	}
	for {
		// Gather the pairs (a, b) of every row, a before b.
		var as, bs, ia, ib []shared
		for i := range rows {
			for j := 0; j+1 < rows[i].len(); j += 2 {
				as = append(as, rows[i].part(j, j+1))
				bs = append(bs, rows[i].part(j+1, j+2))
				if withIndex {
					ia = append(ia, ids[i].part(j, j+1))
					ib = append(ib, ids[i].part(j+1, j+2))
				}
			}
		}
		if len(as) == 0 {
			break
		}
		a, b := concat(as...), concat(bs...)
		np := a.len()
		diff := s.affine(1, a, r.Neg(1), b, 0)
		ge, err := s.sign(diff) // [a >= b]: ties keep the earlier element
		if err != nil {
			return shared{}, shared{}, err
		}
		sel := diff
		bits := ge
		var idiff shared
		if withIndex {
			idiff = s.affine(1, concat(ia...), r.Neg(1), concat(ib...), 0)
			sel = concat(diff, idiff)
			bits = concat(ge, ge)
		}
		prod, err := s.mul(bits, sel)
		if err != nil {
			return shared{}, shared{}, err
		}
		win := s.affine(1, prod.part(0, np), 1, b, 0)
		var winIdx shared
		if withIndex {
			winIdx = s.affine(1, prod.part(np, 2*np), 1, concat(ib...), 0)
		}
		// Rebuild the rows: winners, then the odd element.
		k := 0
		for i := range rows {
			l := rows[i].len()
			nr, ni := shared{}, shared{}
			for j := 0; j+1 < l; j += 2 {
				nr = concat(nr, win.part(k, k+1))
				if withIndex {
					ni = concat(ni, winIdx.part(k, k+1))
				}
				k++
			}
			if l%2 == 1 {
				nr = concat(nr, rows[i].part(l-1, l))
				if withIndex {
					ni = concat(ni, ids[i].part(l-1, l))
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

func (p *plan) maxRows(lens []int, withIndex bool) {
	cur := append([]int(nil), lens...)
	for {
		np := 0
		for i, l := range cur {
			np += l / 2
			cur[i] = (l + 1) / 2
		}
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
