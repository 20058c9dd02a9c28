package mpc

// The maximum of rows by all-pairs tournaments in groups
// (Config.Nonlinear = LUT): 2 rounds per level, 1 per halving of a tree
// level, where the iterative tree takes 2 per halving.
//
// A level splits each row into groups of g consecutive candidates and
// compares every pair of a group at once (one round of comparisons). In a
// group, i beats j when x_i > x_j, or x_i = x_j and i comes first: a strict
// order, so exactly one member beats all g - 1 others, the first of the
// group's maxima. Its wins s_i are a sum of comparison bits (local), and a
// second round of selects (select.go) gives the one-hot w_i = [s_i >= g -
// 1] with the products w_i·x_i, summed over the group: its maximum (and,
// for an argmax, w_i·position_i: local while the positions are public,
// a second value of the select after). A group of two is compared and
// selected in the first round, b + [a >= b]·(a - b): a tree level, one
// round. A row of l candidates takes L = the fewest levels whose group
// size, the least g with g^L >= l, is at most the level's cap: one level
// (2 rounds) up to 24 entries, two up to 576, where the iterative tree
// takes 2·ceil(log2 l) (14 at 65 entries, 16 at 129), at the price of
// (g-1)/2 + 1 comparisons per entry instead of 1/2. A comparison is not
// free (a key of bits(t) levels per pair to deal, hold and evaluate), so
// the cap shrinks as a level's candidates grow: a level of m candidates
// in all makes about maxLevelPairs comparisons at most, and below groups
// of 4 it is a tree level (groups of 2, no second round), which reaches
// the same reduction in as many rounds for fewer comparisons (above 8192
// candidates). A decode's rows (a few hundred to a few thousand scores)
// take groups, a long prefill's pieces the tree, and an argmax over a
// large vocabulary the tree first, then groups.

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
		shared := withIndex && level > 0
		// The groups of every row, in order: start and size; the pairs
		// of the groups of three or more (as, bs), the groups of two
		// (pa, pb and their positions).
		type group struct{ row, start, size int }
		var groups []group
		var as, bs, pa, pb, pia, pib []uint64
		gmax := levelCap(candidates(rows))
		for i, row := range rows {
			if len(row) < 2 {
				continue
			}
			start := 0
			for _, gr := range groupsOf(len(row), gmax) {
				for range gr.count {
					groups = append(groups, group{i, start, gr.size})
					if gr.size == 2 {
						pa, pb = append(pa, row[start]), append(pb, row[start+1])
						if shared {
							pia, pib = append(pia, ids[i][start]), append(pib, ids[i][start+1])
						}
					}
					for a := start; gr.size > 2 && a < start+gr.size; a++ {
						for b := a + 1; b < start+gr.size; b++ {
							as, bs = append(as, row[a]), append(bs, row[b])
						}
					}
					start += gr.size
				}
			}
		}
		if len(groups) == 0 {
			break
		}
		// First round: the comparisons of the large groups' pairs, and
		// the groups of two compared and selected at once: [a >= b] and
		// [a >= b]·(a - b) (and ·(i_a - i_b)); ties keep the earlier.
		var ge, pge []uint64
		var psel [][]uint64
		var pieces []opening
		if len(as) > 0 {
			pieces = append(pieces, p.signOp(p.affine(1, as, r.Neg(1), bs, 0), &ge))
		}
		if len(pa) > 0 {
			d := p.affine(1, pa, r.Neg(1), pb, 0)
			ys := [][]uint64{d}
			if shared {
				ys = append(ys, p.affine(1, pia, r.Neg(1), pib, 0))
			}
			pieces = append(pieces, p.selectOp(d, ys, &pge, &psel))
		}
		if err := p.open(pieces...); err != nil {
			return nil, nil, err
		}
		// Second round: the members of the large groups with all their
		// wins (s_k - (size - 1) = Σ_{j>k} ge_kj - Σ_{j<k} ge_jk + k -
		// size + 1 >= 0), selected with their values (and positions).
		var wins, xs, is []uint64
		pair := 0
		for _, g := range groups {
			if g.size <= 2 {
				continue
			}
			s := make([]uint64, g.size)
			for a := 0; a < g.size; a++ {
				for b := a + 1; b < g.size; b++ {
					s[a] = r.Add(s[a], ge[pair])
					s[b] = r.Sub(s[b], ge[pair])
					pair++
				}
			}
			for k := range s {
				if p.role == Client {
					s[k] = r.Add(s[k], r.FromInt(int64(k-g.size+1)))
				}
			}
			wins = append(wins, s...)
			xs = append(xs, rows[g.row][g.start:g.start+g.size]...)
			if shared {
				is = append(is, ids[g.row][g.start:g.start+g.size]...)
			}
		}
		p.charge(2*len(as) + len(wins))
		var won []uint64
		var wsel [][]uint64
		if len(wins) > 0 {
			ys := [][]uint64{xs}
			if shared {
				ys = append(ys, is)
			}
			if won, wsel, err = p.selects(wins, ys...); err != nil {
				return nil, nil, err
			}
		}
		// The new rows: each group's winner, groups in order.
		newRows := make([][]uint64, len(rows))
		newIds := make([][]uint64, len(rows))
		k, j := 0, 0 // members of the large groups, groups of two
		for _, g := range groups {
			var v, id uint64
			switch {
			case g.size > 2:
				for m := range g.size {
					v = r.Add(v, wsel[0][k+m])
					switch {
					case shared:
						id = r.Add(id, wsel[1][k+m])
					case withIndex: // w·position, the position public
						id = r.Add(id, r.Mul(r.FromInt(int64(g.start+m)), won[k+m]))
					}
				}
				k += g.size
			case g.size == 2: // b + [a >= b]·(a - b)
				v = r.Add(pb[j], psel[0][j])
				switch {
				case shared:
					id = r.Add(pib[j], psel[1][j])
				case withIndex: // i_b - [a >= b], the positions public
					id = r.Neg(pge[j])
					if p.role == Client {
						id = r.Add(id, r.FromInt(int64(g.start+1)))
					}
				}
				j++
			default: // a member alone goes up
				v = rows[g.row][g.start]
				switch {
				case shared:
					id = ids[g.row][g.start]
				case withIndex && p.role == Client:
					id = r.FromInt(int64(g.start))
				}
			}
			newRows[g.row] = append(newRows[g.row], v)
			if withIndex {
				newIds[g.row] = append(newIds[g.row], id)
			}
		}
		p.charge(groupOps(len(wins), len(pa), withIndex))
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

// groupOps is the share operations per party of a level's winners from
// its selects: a sum over the members of the large groups (and their
// positions), an addition per group of two (and its position).
func groupOps(members, pairs int, withIndex bool) int {
	return (members + pairs) * (1 + boolInt(withIndex))
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
// lengths: every run's groups at a level are in the level's rounds.
func (p *bill) maxGroups(runs []rowRun, withIndex bool) {
	cur := append([]rowRun(nil), runs...)
	for level := 0; ; level++ {
		m := 1 + boolInt(withIndex && level > 0) // values a select multiplies
		var pairs, twos, members, cands int
		for _, rr := range cur {
			if rr.len >= 2 {
				cands += rr.len * rr.count
			}
		}
		gmax := levelCap(cands)
		groups := 0
		for i, rr := range cur {
			if rr.len < 2 {
				continue
			}
			next := 0
			for _, g := range groupsOf(rr.len, gmax) {
				n := g.count * rr.count
				switch {
				case g.size > 2:
					pairs += n * g.size * (g.size - 1) / 2
					members += n * g.size
				case g.size == 2:
					twos += n
				}
				groups += n
				next += g.count
			}
			cur[i].len = next
		}
		if groups == 0 {
			return
		}
		var pieces []piece
		if pairs > 0 {
			p.affine(pairs)
			pieces = append(pieces, p.cfg.signPiece(pairs))
		}
		if twos > 0 {
			p.affine(twos * m)
			pieces = append(pieces, p.cfg.selectPiece(twos, m))
		}
		p.open(pieces...)
		p.local(2 * (2*pairs + members))
		if members > 0 {
			p.selects(members, m)
		}
		p.local(2 * groupOps(members, twos, withIndex))
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
