package mpc

import "github.com/cgsim/cgsim/cost"

// plan accumulates what a protocol costs and needs, step by step, in the
// order its Run performs the steps: an Estimate is a plan written down
// beside the Run, with the same helpers, so that the two agree by
// construction and the tests check that they do.
type plan struct {
	cfg  Config
	cost cost.Cost
	need Need
}

func (p *plan) add(c cost.Cost) { p.cost = p.cost.Add(c) }
func (p *plan) local(ops int)   { p.add(p.cfg.localCost(ops)) }

// open is one step made of independent pieces.
func (p *plan) open(pieces ...piece) {
	c, n := p.cfg.openCost(pieces...)
	p.add(c)
	p.need = p.need.Add(n)
}

func (p *plan) mul(n int)      { p.open(mulPiece(n)) }
func (p *plan) sign(n int)     { p.open(p.cfg.signPiece(n)) }
func (p *plan) reveal(n int)   { p.add(p.cfg.revealCost(n)) }
func (p *plan) addConst(n int) { p.local(n) }
func (p *plan) affine(n int)   { p.local(6 * n) }
func (p *plan) sumRows(n int)  { p.local(2 * n) }
func (p *plan) lincomb(n, m int) {
	p.local(4*n*m + n)
}

// trunc is a truncation by 2^k; none when k is 0.
func (p *plan) trunc(n, k int) {
	if k != 0 {
		p.open(truncPiece(n, k))
	}
}

func (p *plan) mulTrunc(n, k int) { p.mul(n); p.trunc(n, k) }
func (p *plan) mulFix(n int)      { p.mulTrunc(n, p.cfg.Ring.frac) }
func (p *plan) mulPub(n, k int)   { p.local(2 * n); p.trunc(n, k) }
func (p *plan) scaleLocal(n int)  { p.local(2 * n) }

// estimate is the full cost of a plan: online cost plus the offline cost
// (bytes and seconds, see Need.Offline) of its material dealt at once by
// the seed-compressed dealer.
func (p *plan) estimate() cost.Cost {
	return p.cost.Add(p.need.Offline(p.cfg))
}
