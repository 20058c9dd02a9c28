package sim

import (
	"fmt"
	"math"
	"strings"

	"github.com/cgsim/cgsim/kv"
)

// CacheOptions says how the Cryptogen strategy's encrypted KV cache (package
// kv) takes new tokens and when it refreshes its ciphertexts. The zero value
// is the default: client appends, never refreshed (the noise model proves
// client appends need no refresh at the presets' contexts).
type CacheOptions struct {
	// Append is kv.ClientEncrypt (the client encrypts its share of the new
	// key and value at the token's slot offset; the server adds) or
	// kv.Homomorphic (the server concatenates an encryption of the token
	// with a selection mask, costing a level per append).
	Append kv.Method
	// Refresh is the refresh policy: kv.Eager, kv.Lazy{Tau} or kv.Never.
	// nil: kv.Never with client appends, kv.Lazy{Tau: 0} with homomorphic
	// ones (refresh only when the next append would not fit).
	Refresh kv.Policy
}

// Policy is the refresh policy in force.
func (c CacheOptions) Policy() kv.Policy {
	if c.Refresh != nil {
		return c.Refresh
	}
	if c.Append == kv.Homomorphic {
		return kv.Lazy{Tau: 0}
	}
	return kv.Never{}
}

// String is "client-encrypt, never" and the like.
func (c CacheOptions) String() string { return fmt.Sprintf("%s, %s", c.Append, c.Policy()) }

// ParseAppend accepts "client" (or "client-encrypt") and "homomorphic".
func ParseAppend(s string) (kv.Method, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "client", "client-encrypt", "":
		return kv.ClientEncrypt, nil
	case "homomorphic", "hom":
		return kv.Homomorphic, nil
	}
	return 0, fmt.Errorf("sim: unknown append method %q: want client or homomorphic", s)
}

// ParseRefresh builds a refresh policy from a name ("eager", "lazy",
// "never", or "" for the default of the append method) and a lazy
// threshold tau in bits (negative: not given). A threshold alone means
// lazy; a threshold with eager or never is an error.
func ParseRefresh(name string, tau float64) (kv.Policy, error) {
	given := tau >= 0
	if math.IsNaN(tau) || math.IsInf(tau, 0) {
		return nil, fmt.Errorf("sim: refresh threshold %g is not a number of bits", tau)
	}
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "":
		if given {
			return kv.Lazy{Tau: tau}, kv.Lazy{Tau: tau}.Check()
		}
		return nil, nil
	case "lazy":
		if !given {
			tau = 0
		}
		return kv.Lazy{Tau: tau}, kv.Lazy{Tau: tau}.Check()
	case "eager":
		if given {
			return nil, fmt.Errorf("sim: a refresh threshold (%g) with the eager policy: the threshold is the lazy policy's", tau)
		}
		return kv.Eager{}, nil
	case "never":
		if given {
			return nil, fmt.Errorf("sim: a refresh threshold (%g) with the never policy: the threshold is the lazy policy's", tau)
		}
		return kv.Never{}, nil
	}
	return nil, fmt.Errorf("sim: unknown refresh policy %q: want eager, lazy or never", name)
}
