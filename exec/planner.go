package exec

import (
	"fmt"
	"strings"

	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
)

// Planner plans primitives for one setting: the BGV parameters, the
// profile that prices them and the statistical security of the flooding.
// Its methods are the checked constructors of every primitive; the
// package-level constructors (NewLinear, NewH2S, NewDecodeScores, ...) are
// a Planner with the default κ = StatisticalSecurity.
//
// Build it with NewPlanner or PlannerFor (from a preset: κ is the preset's
// FixedPoint.StatSecurity); both check that the profile fits the
// parameters (CheckProfile).
type Planner struct {
	Params  bgv.Parameters
	Profile *cost.Profile
	// StatSecurity is κ, in bits: the flooding before every
	// server-to-client ciphertext leaves the client within statistical
	// distance 2^-κ of a view that depends only on its share. Zero means
	// StatisticalSecurity (40).
	StatSecurity int
	// Cores are the server's cores the estimates are priced for (zero
	// means one): a parallel section runs on them (see onCores). The
	// plans themselves do not depend on them.
	Cores int
	// ClientCores are the client's cores the estimates are priced for
	// (zero means one): it prepares and decrypts the ciphertexts of a
	// flight on them (Session.SetClientCores).
	ClientCores int
	// Network is the link whose price (compute plus transfer) chooses
	// among a primitive's packings (a linear layer's); the zero value
	// means net.LAN.
	Network net.Network
}

// cores is Cores, at least 1.
func (pl Planner) cores() int { return max(pl.Cores, 1) }

// clientCores is ClientCores, at least 1.
func (pl Planner) clientCores() int { return max(pl.ClientCores, 1) }

// network is Network, net.LAN if unset.
func (pl Planner) network() net.Network {
	if pl.Network.BitsPerSecond == 0 {
		return net.LAN
	}
	return pl.Network
}

// NewPlanner is the planner of p and prof with κ = StatisticalSecurity.
func NewPlanner(p bgv.Parameters, prof *cost.Profile) (Planner, error) {
	pl := Planner{Params: p, Profile: prof, StatSecurity: StatisticalSecurity}
	return pl, pl.Check()
}

// planned is a package-level constructor: the primitive plan makes with
// NewPlanner(p, prof), whose κ is the default StatisticalSecurity.
func planned[T any](p bgv.Parameters, prof *cost.Profile, plan func(Planner) (T, error)) (T, error) {
	pl, err := NewPlanner(p, prof)
	if err != nil {
		var zero T
		return zero, err
	}
	return plan(pl)
}

// PlannerFor is the planner of a BGV preset: its parameters, prof (which
// must be a profile of the same ring) and κ = pr.FixedPoint.StatSecurity
// (StatisticalSecurity if the preset leaves it zero).
func PlannerFor(pr params.Preset, prof *cost.Profile) (Planner, error) {
	if pr.Scheme != params.BGV {
		return Planner{}, fmt.Errorf("exec: preset %s is %v, the primitives need a BGV preset", pr.Name, pr.Scheme)
	}
	p, err := pr.BGV()
	if err != nil {
		return Planner{}, fmt.Errorf("exec: preset %s: %w", pr.Name, err)
	}
	pl := Planner{Params: p, Profile: prof, StatSecurity: pr.FixedPoint.StatSecurity}
	if pl.StatSecurity == 0 {
		pl.StatSecurity = StatisticalSecurity
	}
	return pl, pl.Check()
}

// Check reports whether the planner can plan anything: parameters set, a
// profile for them (CheckProfile), κ in range.
func (pl Planner) Check() error {
	if pl.StatSecurity < 0 || pl.StatSecurity > 256 {
		return fmt.Errorf("exec: statistical security of %d bits out of range", pl.StatSecurity)
	}
	if pl.Cores != 0 {
		if err := checkCores(pl.Cores); err != nil {
			return err
		}
	}
	if pl.ClientCores != 0 {
		if err := checkCores(pl.ClientCores); err != nil {
			return fmt.Errorf("exec: %d client cores: want 1 to %d", pl.ClientCores, MaxCores)
		}
	}
	return CheckProfile(pl.Params, pl.Profile)
}

// CheckProfile reports whether prof can price primitives over p: it must
// exist, be a BGV profile, have p's ring degree and price every level of
// p. Every checked constructor calls it; a profile of another ring is an
// error there, not a panic (or a wrong price) later.
func CheckProfile(p bgv.Parameters, prof *cost.Profile) error {
	if p.N() == 0 {
		return fmt.Errorf("exec: no parameters (zero bgv.Parameters)")
	}
	if prof == nil {
		return fmt.Errorf("exec: nil profile")
	}
	if prof.Scheme != "" && !strings.EqualFold(prof.Scheme, "BGV") {
		return fmt.Errorf("exec: profile %s is for %s, the primitives are BGV", prof.Params, prof.Scheme)
	}
	if prof.LogN != p.LogN() {
		return fmt.Errorf("exec: profile %s is for log N = %d, the parameters have log N = %d", prof.Params, prof.LogN, p.LogN())
	}
	if prof.MaxLevel < p.MaxLevel() {
		return fmt.Errorf("exec: profile %s prices levels up to %d, the parameters go up to %d", prof.Params, prof.MaxLevel, p.MaxLevel())
	}
	for _, op := range cost.Ops() {
		if len(prof.Seconds[op]) < p.MaxLevel()+1 {
			return fmt.Errorf("exec: profile %s prices %q at %d levels, the parameters have %d", prof.Params, op, len(prof.Seconds[op]), p.MaxLevel()+1)
		}
	}
	return nil
}

// NoiseModel is the planner's noise model (with its κ).
func (pl Planner) NoiseModel() NoiseModel {
	return NewNoiseModel(pl.Params).WithStatSecurity(pl.StatSecurity)
}

// C2S is the checked constructor of a client-to-server conversion of n
// elements encrypted at level.
func (pl Planner) C2S(n, level int) (C2S, error) {
	if err := pl.Check(); err != nil {
		return C2S{}, err
	}
	if n < 1 || level < 0 || level > pl.Params.MaxLevel() {
		return C2S{}, fmt.Errorf("exec: C2S of %d elements at level %d (levels 0..%d)", n, level, pl.Params.MaxLevel())
	}
	return C2S{Params: pl.Params, Profile: pl.Profile, Len: n, Level: level, ClientCores: pl.ClientCores}, nil
}

// H2S is the checked constructor of a server-to-client conversion of n
// elements held in ciphertexts at level with payload noiseBits.
func (pl Planner) H2S(n, level int, noiseBits float64) (H2S, error) {
	if err := pl.Check(); err != nil {
		return H2S{}, err
	}
	if n < 1 {
		return H2S{}, fmt.Errorf("exec: H2S of %d elements", n)
	}
	sp, err := pl.NoiseModel().returnPathFor(noiseBits, level)
	if err != nil {
		return H2S{}, err
	}
	return H2S{Params: pl.Params, Profile: pl.Profile, Len: n, Level: level, NoiseBits: noiseBits, send: sp, cores: pl.cores(), clientCores: pl.clientCores()}, nil
}
