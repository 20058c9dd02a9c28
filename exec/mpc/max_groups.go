package mpc

// The maximum of rows by all-pairs tournaments in groups
// (Config.Nonlinear = LUT): 3 rounds per level instead of 2 per halving.
//
// A level splits each row into groups of g consecutive candidates and
// compares every pair of a group at once (one round of comparisons). In a
// group, i beats j when x_i > x_j, or x_i = x_j and i comes first: a strict
// order, so exactly one member beats all g - 1 others, the first of the
// group's maxima. Its wins s_i are a sum of comparison bits (local), and a
// second round of comparisons gives the one-hot w_i = [s_i >= g - 1]
// (a group of two skips it: w = ([a >= b], 1 - [a >= b])). A third round
// of products w_i·x_i, summed over the group, selects its maximum (and,
// for an argmax, w_i·position_i: local while the positions are public). A
// row of l candidates takes L = the fewest levels whose group size,
// the least g with g^L >= l, is at most the level's cap: one level (3
// rounds) up to 24 entries, two up to 576, where the tree takes 2·ceil(log2 l)
// (14 at 65 entries, 16 at 129), at the price of (g-1)/2 + 1
// comparisons per entry instead of 1/2. A comparison is not free (a key
// of bits(t) levels per pair to deal, hold and evaluate), so the cap
// shrinks as a level's candidates grow: a level of m candidates in all
// makes about maxLevelPairs comparisons at most, and below groups of 4
// it is a tree level (groups of 2, no second round), which reaches the
// same reduction for fewer comparisons (above 8192 candidates). A
// decode's rows (a few hundred to a few thousand scores) take groups, a
// long prefill's pieces the tree, and an argmax over a large vocabulary
// the tree first, then groups.

// maxGroupSize bounds a level's group: 12.5 comparisons per entry (11.5
// pairs and the win).
const maxGroupSize = 24

// maxLevelPairs bounds, about, the pair comparisons of a level: m
// candidates in all take groups up to 2·maxLevelPairs/m + 1.
const maxLevelPairs = 1 << 14

// levelCap is the largest group of a level over m candidates in all: 2
// (the tree) where the budget allows fewer than 4.
func levelCap(m int) int {
	g := min(maxGroupSize, 2*(maxLevelPairs/max(m, 1))+1)
	if g < 4 {
		return 2
	}
	return g
}

// groupSize is the group size of a level over l candidates with groups
// of at most gmax (>= 2).
func groupSize(l, gmax int) int {
	if l <= 1 {
		return 1
	}
	for levels := 1; ; levels++ {
		g := 2
		for !powAtLeast(g, levels, l) {
			g++
		}
		if g <= gmax {
			return g
		}
	}
}

// powAtLeast reports whether g^e >= l (for g >= 2, without overflow).
func powAtLeast(g, e, l int) bool {
	v := 1
	for range e {
		if v *= g; v >= l {
			return true
		}
	}
	return v >= l
}

// groupRun is count groups of size members each.
type groupRun struct{ size, count int }

// groupsOf splits a row of l candidates into groups of groupSize(l,
// gmax): full groups then the remainder.
func groupsOf(l, gmax int) []groupRun {
	g := groupSize(l, gmax)
	gs := []groupRun{{g, l / g}}
	if l%g > 0 {
		gs = append(gs, groupRun{l % g, 1})
	}
	return gs
}

// maxGroups is maxRows by grouped all-pairs tournaments: the same outputs
// (each row's maximum and, when withIndex, shares of its first position).
func (p *party) maxGroups(x []uint64, lens []int, withIndex bool) (vals, idx []uint64, err error) {
	r := p.r
	rows := make([][]uint64, len(lens))
	ids := make([][]uint64, len(lens)) // nil while the positions are public
	off := 0
	for i, l := range lens {
		rows[i] = x[off : off+l]
		off += l
	}
	for level := 0; ; level++ {
		// At level 0 the positions are public; after it, every row with
		// candidates left has shared positions (it was split at level 0).
		// The groups of every row, in order: start and size.
		type group struct{ row, start, size int }
		var groups []group
		var as, bs []uint64
		big := false
		gmax := levelCap(candidates(rows))
		for i, row := range rows {
			if len(row) < 2 {
				continue
			}
			start := 0
			for _, gr := range groupsOf(len(row), gmax) {
				for range gr.count {
					groups = append(groups, group{i, start, gr.size})
					for a := start; a < start+gr.size; a++ {
						for b := a + 1; b < start+gr.size; b++ {
							as = append(as, row[a])
							bs = append(bs, row[b])
						}
					}
					big = big || gr.size > 2
					start += gr.size
				}
			}
		}
		if len(groups) == 0 {
			break
		}
		ge, err := p.sign(p.affine(1, as, r.Neg(1), bs, 0)) // [a >= b]: ties keep the earlier
		if err != nil {
			return nil, nil, err
		}
		// The members' one-hot w: from their wins in groups of three or
		// more (s_k - (size - 1) = Σ_{j>k} ge_kj - Σ_{j<k} ge_jk + k - size + 1),
		// from the one comparison in pairs.
		var w, wins []uint64
		var pair int
		for _, g := range groups {
			s := make([]uint64, g.size)
			for a := 0; a < g.size; a++ {
				for b := a + 1; b < g.size; b++ {
					s[a] = r.Add(s[a], ge[pair])
					s[b] = r.Sub(s[b], ge[pair])
					pair++
				}
			}
			if g.size > 2 {
				for k := range s {
					if p.role == Client {
						s[k] = r.Add(s[k], r.FromInt(int64(k-g.size+1)))
					}
				}
				wins = append(wins, s...)
			}
		}
		p.charge(2*len(as) + len(wins))
		var won []uint64
		if big {
			if won, err = p.sign(wins); err != nil {
				return nil, nil, err
			}
		}
		pair, k := 0, 0
		for _, g := range groups {
			switch {
			case g.size > 2:
				w = append(w, won[k:k+g.size]...)
				k += g.size
			case g.size == 2:
				w = append(w, ge[pair], r.Neg(ge[pair]))
				if p.role == Client {
					w[len(w)-1] = r.Add(w[len(w)-1], 1)
				}
			default: // a member alone goes up: w = 1
				w = append(w, p.constant(1, 1)...)
			}
			pair += g.size * (g.size - 1) / 2
		}
		p.charge(len(w))
		// Select: Σ w·x per group (and Σ w·position).
		var xs, is []uint64
		for _, g := range groups {
			xs = append(xs, rows[g.row][g.start:g.start+g.size]...)
			if withIndex && ids[g.row] != nil {
				is = append(is, ids[g.row][g.start:g.start+g.size]...)
			}
		}
		sel, err := p.mul(concat(w, w[:len(is)]), concat(xs, is))
		if err != nil {
			return nil, nil, err
		}
		var pos []uint64
		if withIndex && level == 0 { // every processed row's positions are public
			pos = make([]uint64, len(w)) // w·position, positions public
			k := 0
			for _, g := range groups {
				for j := range g.size {
					pos[k] = r.Mul(r.FromInt(int64(g.start+j)), w[k])
					k++
				}
			}
			p.charge(len(w))
		} else if withIndex {
			pos = sel[len(w):]
		}
		// The new rows: each group's sum, groups in order.
		newRows := make([][]uint64, len(rows))
		newIds := make([][]uint64, len(rows))
		k = 0
		for _, g := range groups {
			var v, id uint64
			for j := 0; j < g.size; j++ {
				v = r.Add(v, sel[k+j])
				if withIndex {
					id = r.Add(id, pos[k+j])
				}
			}
			k += g.size
			newRows[g.row] = append(newRows[g.row], v)
			if withIndex {
				newIds[g.row] = append(newIds[g.row], id)
			}
		}
		p.charge(len(w) * (1 + boolInt(withIndex)))
		for i := range rows {
			if len(rows[i]) < 2 { // done: kept as it is
				newRows[i] = rows[i]
				newIds[i] = ids[i]
				if withIndex && ids[i] == nil { // a row of one entry: position 0
					newIds[i] = p.public(make([]uint64, len(rows[i])))
				}
			}
		}
		rows, ids = newRows, newIds
	}
	vals = concat(rows...)
	if withIndex {
		for i := range ids {
			if ids[i] == nil {
				ids[i] = p.public(make([]uint64, len(rows[i])))
			}
		}
		idx = concat(ids...)
	}
	return vals, idx, nil
}

// candidates is the number of entries in rows of two or more.
func candidates(rows [][]uint64) int {
	m := 0
	for _, row := range rows {
		if len(row) >= 2 {
			m += len(row)
		}
	}
	return m
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// maxGroups bills party.maxGroups over rows given as runs of equal
// lengths: every run's groups at a level are in the level's three steps.
func (p *bill) maxGroups(runs []rowRun, withIndex bool) {
	cur := append([]rowRun(nil), runs...)
	for level := 0; ; level++ {
		var pairs, wins, members, m int
		for _, rr := range cur {
			if rr.len >= 2 {
				m += rr.len * rr.count
			}
		}
		gmax := levelCap(m)
		for i, rr := range cur {
			if rr.len < 2 {
				continue
			}
			next := 0
			for _, g := range groupsOf(rr.len, gmax) {
				n := g.count * rr.count
				pairs += n * g.size * (g.size - 1) / 2
				members += n * g.size
				if g.size > 2 {
					wins += n * g.size
				}
				next += g.count
			}
			cur[i].len = next
		}
		if members == 0 {
			return
		}
		p.affine(pairs)
		p.sign(pairs)
		p.local(2 * (2*pairs + wins))
		if wins > 0 {
			p.sign(wins)
		}
		p.local(2 * members)
		if withIndex && level > 0 {
			p.mul(2 * members)
		} else {
			p.mul(members)
		}
		if withIndex && level == 0 {
			p.local(2 * members)
		}
		p.local(2 * members * (1 + boolInt(withIndex)))
	}
}

// rowMax is the maximum of rows (and, when withIndex, its first
// position) by the method of nl: grouped tournaments for LUT, the tree
// otherwise.
func (p *party) rowMax(nl Nonlinear, x []uint64, lens []int, withIndex bool) (vals, idx []uint64, err error) {
	if nl == LUT {
		return p.maxGroups(x, lens, withIndex)
	}
	return p.maxRows(x, lens, withIndex)
}

// rowMax bills party.rowMax.
func (p *bill) rowMax(runs []rowRun, withIndex bool) {
	if p.cfg.Nonlinear == LUT {
		p.maxGroups(runs, withIndex)
		return
	}
	p.maxRows(runs, withIndex)
}
