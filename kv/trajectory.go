package kv

import (
	"fmt"
	"sort"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/net"
)

// ledger is the server's bookkeeping of one layer of the cache: the noise
// state of every K and V ciphertext and the number of tokens. It is a pure
// function of the configuration and the history (appends, refreshes,
// switches), so Estimate can replay it without ciphertexts; Run follows
// the same plans on real ciphertexts.
type ledger struct {
	states [2][]NoiseState
	tokens int
}

func (l *ledger) clone() ledger {
	var o ledger
	for k := range l.states {
		o.states[k] = append([]NoiseState(nil), l.states[k]...)
	}
	o.tokens = l.tokens
	return o
}

// appendStep is what appending token pos to one layer does.
type appendStep struct {
	pos, ct int
	empty   bool
	after   [2]NoiseState
	srcTo   [2]int // Homomorphic: the level the source is rescaled to
}

func (c Config) nextAppend(l *ledger) (appendStep, error) {
	B := c.Layout.TokensPerCt
	ap := appendStep{pos: l.tokens, ct: l.tokens / B, empty: l.tokens%B == 0}
	if l.tokens >= c.MaxContext {
		return ap, fmt.Errorf("kv: the cache is full: %d tokens, configured for at most %d", l.tokens, c.MaxContext)
	}
	for k := 0; k < 2; k++ {
		var before NoiseState
		if !ap.empty {
			before = l.states[k][ap.ct]
		}
		after, srcTo, err := c.appendState(k, before, ap.empty)
		if err != nil {
			return ap, fmt.Errorf("kv: appending token %d (%s, %s): %w", ap.pos, c.Method, c.Policy, err)
		}
		ap.after[k], ap.srcTo[k] = after, srcTo
	}
	return ap, nil
}

// levelGroups lists the distinct levels of the given kinds, ascending.
func levelGroups(levels map[int][]int) []int {
	var ls []int
	for l := range levels {
		ls = append(ls, l)
	}
	sort.Ints(ls)
	return ls
}

// noRounds strips the rounds of a primitive's estimate: the cache meters a
// whole exchange as one stretch and counts its rounds from its flights.
func noRounds(c cost.Cost) cost.Cost { c.Rounds = 0; return c }

func (c Config) appendCost(ap appendStep) cost.Cost {
	prof := c.Profile
	N := c.Params.MaxSlots()
	var total cost.Cost
	if c.Method == ClientEncrypt {
		groups := map[int][]int{}
		for k := 0; k < 2; k++ {
			groups[c.HomeLevel[k]] = append(groups[c.HomeLevel[k]], k)
		}
		for _, lvl := range levelGroups(groups) {
			total = total.Add(noRounds(exec.C2S{Params: c.Params, Profile: prof, Len: N * len(groups[lvl]), Level: lvl, ClientOnly: true, ClientCores: c.Planner.ClientCores}.Estimate()))
			if !ap.empty {
				total = total.Add(prof.Charge(cost.OpAdd, lvl, int64(len(groups[lvl]))))
			}
		}
		return total.Add(cost.Cost{Rounds: net.RoundsOf(int64(len(groups)))})
	}
	for k := 0; k < 2; k++ {
		lvl := ap.srcTo[k]
		for l := c.SourceLevel; l > lvl; l-- {
			total = total.Add(prof.Charge(cost.OpRescale, l, 1))
		}
		total = total.Add(cost.Sum(
			prof.Charge(cost.OpEncode, lvl, 1),
			prof.Charge(cost.OpMulPlain, lvl, 1),
			prof.Charge(cost.OpRescale, lvl, 1),
		))
		if !ap.empty {
			total = total.Add(prof.Charge(cost.OpAdd, lvl, 1))
		}
	}
	return total
}

func (c Config) applyAppend(l *ledger, ap appendStep) {
	for k := 0; k < 2; k++ {
		if ap.empty {
			l.states[k] = append(l.states[k], ap.after[k])
		} else {
			l.states[k][ap.ct] = ap.after[k]
		}
	}
	l.tokens++
}

// refreshRound is one layer's refresh round: the ciphertexts due (kind,
// index), brought down to a common level, returned in one H2S flight, and
// re-encrypted by the client at their home level (an exec.Reencrypt with
// one group per distinct home level, in levelGroups order).
type refreshRound struct {
	due   [][2]int // (kind, index)
	level int      // common level of the H2S
	bits  float64  // largest payload at that level
	re    exec.Reencrypt
	homes map[int][]int // home level -> positions in due
}

func (p refreshRound) empty() bool { return len(p.due) == 0 }

// tokensIn is the number of tokens of ciphertext ct when the layer holds
// n tokens.
func (c Config) tokensIn(ct, n int) int {
	B := c.Layout.TokensPerCt
	if r := n - ct*B; r < B {
		return r
	}
	return B
}

// dueRefresh decides, after the append of token l.tokens-1, which of the
// touched ciphertexts the policy refreshes.
func (c Config) dueRefresh(l *ledger, touched int) (refreshRound, error) {
	var due [][2]int
	for k := 0; k < 2; k++ {
		s := l.states[k][touched]
		if c.Policy.Due(c.Method, func() float64 { return c.Budget(k, s, c.tokensIn(touched, l.tokens)) }) {
			due = append(due, [2]int{k, touched})
		}
	}
	return c.refreshRoundOf(l, due)
}

func (c Config) refreshRoundOf(l *ledger, due [][2]int) (refreshRound, error) {
	rr := refreshRound{due: due, homes: map[int][]int{}}
	if len(due) == 0 {
		return rr, nil
	}
	rr.level = c.Params.MaxLevel()
	for _, d := range due {
		if s := l.states[d[0]][d[1]]; s.Level < rr.level {
			rr.level = s.Level
		}
	}
	rr.bits = 0
	for i, d := range due {
		if nu := c.model.downTo(l.states[d[0]][d[1]], rr.level); nu > rr.bits {
			rr.bits = nu
		}
		h := c.HomeLevel[d[0]]
		rr.homes[h] = append(rr.homes[h], i)
	}
	h2s, err := c.Planner.H2S(len(due)*c.Params.MaxSlots(), rr.level, rr.bits)
	if err != nil {
		return rr, fmt.Errorf("kv: refreshing %d ciphertexts at level %d: %w: %w", len(due), rr.level, err, ErrBudget)
	}
	rr.re = exec.Reencrypt{Return: h2s}
	for _, h := range levelGroups(rr.homes) {
		rr.re.Groups = append(rr.re.Groups, exec.ReencryptGroup{Level: h, Cts: len(rr.homes[h])})
	}
	return rr, nil
}

func (c Config) refreshCost(l *ledger, rr refreshRound) cost.Cost {
	if rr.empty() {
		return cost.Cost{}
	}
	prof := c.Profile
	var total cost.Cost
	for _, d := range rr.due {
		for lvl := l.states[d[0]][d[1]].Level; lvl > rr.level; lvl-- {
			total = total.Add(prof.Charge(cost.OpRescale, lvl, 1))
		}
	}
	total = total.Add(rr.re.Estimate())
	return total.Add(cost.Cost{Refreshes: int64(len(rr.due))})
}

func (c Config) applyRefresh(l *ledger, rr refreshRound) {
	for _, d := range rr.due {
		l.states[d[0]][d[1]] = refreshedState(c.HomeLevel[d[0]])
	}
}

// checkSafe verifies that the touched ciphertexts can serve the next
// attention product.
func (c Config) checkSafe(l *ledger, touched int) error {
	for k := 0; k < 2; k++ {
		s := l.states[k][touched]
		if sl := c.model.KernelSlack(s, c.KernelLevel[k], c.sumTerms[k]); sl < 0 {
			return fmt.Errorf("kv: after token %d (%s, %s) the %s ciphertext %d (level %d, payload %.1f bits) would leave %.1f bits to the next product: %w",
				l.tokens-1, c.Method, c.Policy, kindName(k), touched, s.Level, c.model.Payload(s), sl, ErrBudget)
		}
	}
	return nil
}

func kindName(k int) string { return [2]string{"key", "value"}[k] }

// memory is the bytes of one layer: ciphertexts at their levels and the
// server's shares.
func (c Config) memory(l *ledger) int64 {
	var b int64
	for k := range l.states {
		for _, s := range l.states[k] {
			b += CiphertextBytes(c.Params, s.Level)
		}
	}
	return b + int64(2*l.tokens*c.KVDim())*8
}

func (c Config) levelsLost(l *ledger) int64 {
	var m int64
	for k := range l.states {
		for _, s := range l.states[k] {
			if d := int64(c.HomeLevel[k] - s.Level); d > m {
				m = d
			}
		}
	}
	return m
}

// Trajectory replays the cache of one configuration without ciphertexts:
// the deterministic noise model predicts every level, payload and refresh.
// Every layer follows the same trajectory.
//
// A step changes one ciphertext of each kind, so the trajectory keeps a
// census of its ciphertexts' levels (how many of each kind sit at each
// level) to price a step's memory and lost levels without visiting the
// whole cache: Estimate and Refreshes are linear in the context.
type Trajectory struct {
	cfg Config
	led ledger
	cen *census // of led; nil until the first Step or Memory
}

// census counts the ciphertexts of a ledger per kind and level.
type census struct {
	levels [2]map[int]int64
}

func newCensus(l *ledger) *census {
	cen := &census{levels: [2]map[int]int64{{}, {}}}
	for k := range l.states {
		for _, s := range l.states[k] {
			cen.levels[k][s.Level]++
		}
	}
	return cen
}

// move records that a ciphertext of kind k went from level from (or came
// into being, if !existed) to level to.
func (cen *census) move(k int, existed bool, from, to int) {
	if existed {
		if cen.levels[k][from]--; cen.levels[k][from] == 0 {
			delete(cen.levels[k], from)
		}
	}
	cen.levels[k][to]++
}

// memory is Config.memory of the ledger counted, which holds tokens tokens.
func (cen *census) memory(c Config, tokens int) int64 {
	var b int64
	for k := range cen.levels {
		for lvl, n := range cen.levels[k] {
			b += n * CiphertextBytes(c.Params, lvl)
		}
	}
	return b + int64(2*tokens*c.KVDim())*8
}

// levelsLost is Config.levelsLost of the ledger counted.
func (cen *census) levelsLost(c Config) int64 {
	var m int64
	for k := range cen.levels {
		for lvl := range cen.levels[k] {
			if d := int64(c.HomeLevel[k] - lvl); d > m {
				m = d
			}
		}
	}
	return m
}

func (t *Trajectory) census() *census {
	if t.cen == nil {
		t.cen = newCensus(&t.led)
	}
	return t.cen
}

// NewTrajectory starts from an empty cache.
func (c Config) NewTrajectory() *Trajectory { return &Trajectory{cfg: c} }

// Len is the number of tokens.
func (t *Trajectory) Len() int { return t.led.tokens }

// States returns a copy of the noise states of one layer's key (kind 0)
// and value (kind 1) ciphertexts.
func (t *Trajectory) States(kind int) []NoiseState {
	return append([]NoiseState(nil), t.led.states[kind]...)
}

// Step is the cost of appending one token to every layer, refresh rounds
// included: what a Run of Cache.Append (or AppendSource) over all layers
// records.
func (t *Trajectory) Step() (cost.Cost, error) {
	c := t.cfg
	cen := t.census()
	mo, lo := cen.memory(c, t.led.tokens), cen.levelsLost(c)
	ap, err := c.nextAppend(&t.led)
	if err != nil {
		return cost.Cost{}, err
	}
	step := c.appendCost(ap)
	for k := 0; k < 2; k++ {
		from := 0
		if !ap.empty {
			from = t.led.states[k][ap.ct].Level
		}
		cen.move(k, !ap.empty, from, ap.after[k].Level)
	}
	c.applyAppend(&t.led, ap)
	rr, err := c.dueRefresh(&t.led, ap.ct)
	if err != nil {
		return cost.Cost{}, err
	}
	step = step.Add(c.refreshCost(&t.led, rr))
	for _, d := range rr.due {
		cen.move(d[0], true, t.led.states[d[0]][d[1]].Level, c.HomeLevel[d[0]])
	}
	c.applyRefresh(&t.led, rr)
	if err := c.checkSafe(&t.led, ap.ct); err != nil {
		return cost.Cost{}, err
	}
	step = step.Scale(int64(c.Layers))
	return step.Add(c.boundary(mo, cen.memory(c, t.led.tokens), lo, cen.levelsLost(c))), nil
}

// boundaryCost is the memory and level record a Run makes after each
// layer's step: layers 0..i updated, the others not yet.
func (c Config) boundaryCost(old, cur *ledger) cost.Cost {
	return c.boundary(c.memory(old), c.memory(cur), c.levelsLost(old), c.levelsLost(cur))
}

// boundary is boundaryCost from one layer's memory (mo before the step, mn
// after) and levels lost (lo before, ln after).
func (c Config) boundary(mo, mn, lo, ln int64) cost.Cost {
	L := int64(c.Layers)
	peak := L * mn
	lost := ln
	if L > 1 {
		if p := mn + (L-1)*mo; p > peak {
			peak = p
		}
		if lo > lost {
			lost = lo
		}
	}
	return cost.Cost{PeakMemoryBytes: peak + c.KeyBytes, LevelsConsumed: lost}
}

// Prepare is the cost of bringing the cache to the kernels' levels before
// a decode attention step (Cache.KernelInputs for every layer): the
// rescales of ciphertexts above the kernel level.
func (t *Trajectory) Prepare() cost.Cost {
	c := t.cfg
	var total cost.Cost
	for k := range t.led.states {
		for _, s := range t.led.states[k] {
			for l := s.Level; l > c.KernelLevel[k]; l-- {
				total = total.Add(c.Profile.Charge(cost.OpRescale, l, 1))
			}
		}
	}
	return total.Scale(int64(c.Layers))
}

// Memory is the resident bytes of the cache (all layers) and keys.
func (t *Trajectory) Memory() int64 {
	return int64(t.cfg.Layers)*t.census().memory(t.cfg, t.led.tokens) + t.cfg.KeyBytes
}

// Estimate is the cost of appending the tokens at positions from .. to-1
// (to every layer) to a cache built by appends from empty, refresh rounds
// included. It is pure arithmetic; it fails, like Run would, if the
// policy lets a ciphertext fall below what the next product needs.
func (c Config) Estimate(from, to int) (cost.Cost, error) {
	if from < 0 || to < from {
		return cost.Cost{}, fmt.Errorf("kv: estimate of tokens %d..%d", from, to)
	}
	t := c.NewTrajectory()
	var total cost.Cost
	for t.Len() < to {
		st, err := t.Step()
		if err != nil {
			return cost.Cost{}, err
		}
		if t.Len() > from {
			total = total.Add(st)
		}
	}
	return total, nil
}

// Refreshes is the number of ciphertexts refreshed while appending tokens
// 0 .. to-1 (all layers), and the positions (0-based token index) after
// which one layer's refresh rounds happen.
func (c Config) Refreshes(to int) (int64, []int, error) {
	t := c.NewTrajectory()
	var n int64
	var at []int
	for t.Len() < to {
		st, err := t.Step()
		if err != nil {
			return 0, nil, err
		}
		if st.Refreshes > 0 {
			at = append(at, t.Len()-1)
		}
		n += st.Refreshes
	}
	return n, at, nil
}
