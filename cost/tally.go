package cost

import "sync"

// Tally accumulates the Cost of events as a Run performs them. A Run calls
// Op for every homomorphic or share operation it performs, priced by the
// same Profile.Charge an Estimate uses, so Run's counters can be compared
// with Estimate's exactly. It is safe for concurrent use.
type Tally struct {
	mu      sync.Mutex
	profile *Profile
	total   Cost
}

// NewTally returns an empty tally pricing operations with p.
func NewTally(p *Profile) *Tally { return &Tally{profile: p} }

// Op records n operations op at a level.
func (t *Tally) Op(op Op, level int, n int64) {
	c := t.profile.Charge(op, level, n)
	t.Add(c)
}

// Add records an already priced cost (communication, memory, levels).
func (t *Tally) Add(c Cost) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total = t.total.Add(c)
}

// Cost returns what has been recorded so far.
func (t *Tally) Cost() Cost {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// Profile returns the profile the tally prices with.
func (t *Tally) Profile() *Profile { return t.profile }
