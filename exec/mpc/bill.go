package mpc

import "github.com/cgsim/cgsim/cost"

// bill accumulates what a protocol costs and needs, step by step, in the
// order its Run performs the steps: an Estimate is a bill written down
// beside the Run, one bill method per party method of the same name, so
// that the two agree by construction and the tests check that they do.
type bill struct {
	cfg  Config
	cost cost.Cost
	need Need
}

func (p *bill) add(c cost.Cost) { p.cost = p.cost.Add(c) }
func (p *bill) local(ops int)   { p.add(p.cfg.localCost(ops)) }

// open is one step made of independent pieces.
func (p *bill) open(pieces ...piece) {
	c, n := p.cfg.openCost(pieces...)
	p.add(c)
	p.need = p.need.Add(n)
}

func (p *bill) mul(n int)      { p.open(mulPiece(n)) }
func (p *bill) sign(n int)     { p.open(p.cfg.signPiece(n)) }
func (p *bill) reveal(n int)   { p.add(p.cfg.revealCost(n)) }
func (p *bill) addConst(n int) { p.local(n) }
func (p *bill) affine(n int)   { p.local(6 * n) }
func (p *bill) sumRows(n int)  { p.local(2 * n) }
func (p *bill) lincomb(n, m int) {
	p.local(4*n*m + n)
}

// trunc is a truncation by 2^k; none when k is 0.
func (p *bill) trunc(n, k int) {
	if k != 0 {
		p.open(truncPiece(n, k))
	}
}

func (p *bill) mulTrunc(n, k int) { p.mul(n); p.trunc(n, k) }
func (p *bill) mulFix(n int)      { p.mulTrunc(n, p.cfg.Ring.frac) }
func (p *bill) mulPub(n, k int)   { p.local(2 * n); p.trunc(n, k) }
func (p *bill) scaleLocal(n int)  { p.local(2 * n) }

// estimate is the full cost of a bill: online cost plus the offline cost
// (bytes and seconds, see Need.Offline) of its material dealt at once by
// the seed-compressed dealer.
func (p *bill) estimate() cost.Cost {
	return p.cost.Add(p.need.Offline(p.cfg))
}
