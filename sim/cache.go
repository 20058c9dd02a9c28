package sim

import (
	"fmt"
	"math"
	"strings"

	"github.com/cgsim/cgsim/kv"
)

// CacheOptions says how the Cryptogen strategy's encrypted KV cache (package
// kv) is laid out, takes new tokens and refreshes its ciphertexts. The zero
// value is the default: the feature-major layout, whose cache the client
// re-encrypts and which needs no refresh. With the token-major layout the
// default is client appends, never refreshed (the noise model proves
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
	// Layout is the decode layout of the cache: FeatureLayout (the zero
	// value) or TokenLayout. Append and Refresh are the token layout's: a
	// feature-major cache is re-encrypted by the client group by group and
	// never refreshed.
	Layout CacheLayout
}

// CacheLayout is the decode layout of the encrypted KV cache.
type CacheLayout uint8

const (
	// FeatureLayout (the default) is feature-major (exec.FeatureLayout,
	// CryptoGen's heterogeneous cache): a ciphertext per head-dimension
	// class for many tokens, read by exec.FeatureScores and
	// exec.FeatureValues (ct-pt products only), kept by kv.FeatureCache.
	FeatureLayout CacheLayout = iota
	// TokenLayout is token-major (exec.CacheLayout): a token's key in one
	// block, read by exec.DecodeScores and exec.DecodeValues (ct-ct
	// products, a fold per score), appended and refreshed by kv.Cache as
	// Append and Refresh say.
	TokenLayout
)

// String is "feature" or "token".
func (l CacheLayout) String() string {
	if l == TokenLayout {
		return "token"
	}
	return "feature"
}

// ParseLayout accepts "feature" (or "", the default) and "token".
func ParseLayout(s string) (CacheLayout, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "feature", "feature-major", "":
		return FeatureLayout, nil
	case "token", "token-major":
		return TokenLayout, nil
	}
	return 0, fmt.Errorf("sim: unknown cache layout %q: want token or feature", s)
}

// check refuses token-layout options with the feature layout.
func (c CacheOptions) check() error {
	if c.Layout == FeatureLayout && (c.Append != kv.ClientEncrypt || c.Refresh != nil) {
		return fmt.Errorf("sim: the feature layout's cache is re-encrypted by the client and never refreshed: the append method and refresh policy are the token layout's")
	}
	if c.Layout > TokenLayout {
		return fmt.Errorf("sim: cache layout %d", c.Layout)
	}
	return nil
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

// String is "client-encrypt, never" and the like for the token layout,
// "feature-major, client re-encrypts" for the feature layout.
func (c CacheOptions) String() string {
	if c.Layout == FeatureLayout {
		return "feature-major, client re-encrypts"
	}
	return fmt.Sprintf("%s, %s", c.Append, c.Policy())
}

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
