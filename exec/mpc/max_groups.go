package mpc

import (
	"math"
	"sync"
)

// The maximum of rows by all-pairs tournaments in groups
// (Config.Nonlinear = LUT): 2 rounds per level of groups, 1 per tree
// level, where the selects pay (else 3 and 2, as the iterative tree's 2
// per halving).
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
// round. A select's extra payload costs half a comparison's evaluation:
// where a level's selects cost more than the round they save
// (selectsPay), its comparisons are plain and the products a round of
// their own (3 rounds a level of groups, 2 a tree level). A level of
// groups of g divides the row by g for about (g-1)/2 + 1 comparisons per
// entry, a tree level halves it for 1/2: which pays depends on what a
// round trip is worth in comparisons (a key of bits(t) levels to deal,
// and to evaluate by both parties, an element each way),
// Config.RoundCompares. Each row's levels are the plan of least
// rounds·RoundCompares/rows + comparisons (maxPlan; the rows of a step
// share its rounds), over tree levels and groups of 3 to maxGroupSize: on
// the WAN a decode row of 64 scores over 8 heads takes a tree level and a
// group of 32 (3 rounds), where the iterative tree takes 12; on the LAN,
// the tree of comparisons and products; a vocabulary, tree levels while a
// level's comparisons cost more than a round, then groups.

// maxGroupSize bounds a level's group: 16.5 comparisons per entry (15.5
// pairs and the win).
const maxGroupSize = 32

// defaultRoundCompares is the comparisons a round trip is worth when
// Config.RoundCompares is zero: about the WAN's at the 60-bit t.
const defaultRoundCompares = 1 << 12

// levelGroup is the group size of a row of l candidates at a level whose
// rows hold m candidates in all, a round trip being worth k comparisons:
// the first level of the row's plan (maxPlan) for rows = m/l rows of its
// length. With k = 0 it is the plan of fewest comparisons, the tree.
func levelGroup(l, m, k int) int {
	if l <= 1 {
		return 1
	}
	return maxPlan{rows: max(1, m/l), k: k}.best(l).g
}

// maxPlan is the plan of a row among rows rows of its length that share
// their levels' rounds, a round trip being worth k comparisons: the least
// rounds·k/rows + comparisons over tree levels and groups of 3 to
// maxGroupSize, a level's selects counted as its rows' (selectsPay: where
// they pay, half a comparison more each and a round fewer than a
// comparison and a product; the argmax's positions counted as one value).
// Plans are cached by (rows, k, length): Run asks for every row of every
// level, in both parties.
type maxPlan struct{ rows, k int }

// planStep is a plan's first level (its group size) and the plan's cost
// in comparisons.
type planStep struct {
	g    int
	cost float64
}

var planCache sync.Map // planKey -> planStep

type planKey struct{ rows, k, l int }

func (pl maxPlan) best(l int) planStep {
	if l <= 1 {
		return planStep{g: 1}
	}
	key := planKey{pl.rows, pl.k, l}
	if s, ok := planCache.Load(key); ok {
		return s.(planStep)
	}
	round := float64(pl.k) / float64(pl.rows)
	best := planStep{cost: math.Inf(1)}
	for g := 2; g <= min(maxGroupSize, l); g++ {
		pairs, sels := levelCompares(l, g)
		rounds, per := 1+boolInt(g > 2), 1.5
		if !selectsPay(pl.rows*sels, 1, pl.k) {
			rounds, per = rounds+1, 1
		}
		c := round*float64(rounds) + float64(pairs) + per*float64(sels) + pl.best(ceilDiv(l, g)).cost
		if c < best.cost {
			best = planStep{g, c}
		}
	}
	planCache.Store(key, best)
	return best
}

// levelCompares is the comparisons of a level that splits a row of l
// into groups of g (groupsOf): the pairs of the groups of three or more,
// and the selects (or comparisons followed by products): a group of two's
// pair, a larger group's members' wins.
func levelCompares(l, g int) (pairs, sels int) {
	for _, gr := range groupsOf(l, g) {
		switch {
		case gr.size > 2:
			pairs += gr.count * gr.size * (gr.size - 1) / 2
			sels += gr.count * gr.size
		case gr.size == 2:
			sels += gr.count
		}
	}
	return pairs, sels
}

// groupRun is count groups of size members each.
type groupRun struct{ size, count int }

// groupsOf splits a row of l candidates into groups of g: full groups
// then the remainder.
func groupsOf(l, g int) []groupRun {
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
		members := 0 // of the groups of three or more
		cands := candidates(rows)
		for i, row := range rows {
			if len(row) < 2 {
				continue
			}
			start := 0
			for _, gr := range groupsOf(len(row), levelGroup(len(row), cands, p.roundCompares)) {
				for range gr.count {
					groups = append(groups, group{i, start, gr.size})
					if gr.size == 2 {
						pa, pb = append(pa, row[start]), append(pb, row[start+1])
						if shared {
							pia, pib = append(pia, ids[i][start]), append(pib, ids[i][start+1])
						}
					}
					if gr.size > 2 {
						members += gr.size
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
		m := 1 + boolInt(shared) // the values a select multiplies
		sel := selectsPay(len(pa)+members, m, p.roundCompares)
		// First round: the comparisons of the large groups' pairs, and
		// the groups of two compared, [a >= b], and with selects
		// multiplied at once, [a >= b]·(a - b) (and ·(i_a - i_b)); ties
		// keep the earlier.
		var ge, pge []uint64
		var psel [][]uint64
		var pieces []opening
		if len(as) > 0 {
			pieces = append(pieces, p.signOp(p.affine(1, as, r.Neg(1), bs, 0), &ge))
		}
		var pys [][]uint64
		if len(pa) > 0 {
			d := p.affine(1, pa, r.Neg(1), pb, 0)
			pys = [][]uint64{d}
			if shared {
				pys = append(pys, p.affine(1, pia, r.Neg(1), pib, 0))
			}
			if sel {
				pieces = append(pieces, p.selectOp(d, pys, &pge, &psel))
			} else {
				pieces = append(pieces, p.signOp(d, &pge))
			}
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
		ys := [][]uint64{xs}
		if shared {
			ys = append(ys, is)
		}
		var won []uint64
		var wsel [][]uint64
		switch {
		case sel && len(wins) > 0:
			if won, wsel, err = p.selects(wins, ys...); err != nil {
				return nil, nil, err
			}
		case !sel: // the wins' comparisons beside the pairs' products, then the wins' products
			var pieces []opening
			if len(wins) > 0 {
				pieces = append(pieces, p.signOp(wins, &won))
			}
			if len(pa) > 0 {
				pieces = append(pieces, p.productsOp(pge, pys, &psel))
			}
			if err := p.open(pieces...); err != nil {
				return nil, nil, err
			}
			if len(wins) > 0 {
				if err := p.open(p.productsOp(won, ys, &wsel)); err != nil {
					return nil, nil, err
				}
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

// selectsPay reports whether a level's n selects of m values each (one
// round fewer than comparisons followed by products) cost less than the
// round they save: their m/2 comparisons' worth more each against a
// round's worth w (Config.RoundCompares).
func selectsPay(n, m, w int) bool { return n*m <= 2*w }

// productsOp is the opening of the products of the bits b by each of ys
// (Beaver products, one per value and bit), into out.
func (p *party) productsOp(b []uint64, ys [][]uint64, out *[][]uint64) opening {
	var prod []uint64
	op := p.mulOp(repeatSlices(b, len(ys)), concat(ys...), &prod)
	use := op.use
	op.use = func(cs []uint64) error {
		if err := use(cs); err != nil {
			return err
		}
		n := len(b)
		*out = make([][]uint64, len(ys))
		for j := range ys {
			(*out)[j] = prod[j*n : (j+1)*n]
		}
		return nil
	}
	return op
}

// repeatSlices is k copies of v, concatenated.
func repeatSlices(v []uint64, k int) []uint64 {
	out := make([]uint64, 0, k*len(v))
	for range k {
		out = append(out, v...)
	}
	return out
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
		groups := 0
		for i, rr := range cur {
			if rr.len < 2 {
				continue
			}
			next := 0
			for _, g := range groupsOf(rr.len, levelGroup(rr.len, cands, p.cfg.roundCompares())) {
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
		sel := selectsPay(twos+members, m, p.cfg.roundCompares())
		var pieces []piece
		if pairs > 0 {
			p.affine(pairs)
			pieces = append(pieces, p.cfg.signPiece(pairs))
		}
		if twos > 0 {
			p.affine(twos * m)
			if sel {
				pieces = append(pieces, p.cfg.selectPiece(twos, m))
			} else {
				pieces = append(pieces, p.cfg.signPiece(twos))
			}
		}
		p.open(pieces...)
		p.local(2 * (2*pairs + members))
		switch {
		case sel && members > 0:
			p.selects(members, m)
		case !sel:
			pieces = pieces[:0]
			if members > 0 {
				pieces = append(pieces, p.cfg.signPiece(members))
			}
			if twos > 0 {
				pieces = append(pieces, mulPiece(twos*m))
			}
			p.open(pieces...)
			if members > 0 {
				p.open(mulPiece(members * m))
			}
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
