// Package params holds the homomorphic encryption parameter presets of
// cgsim, their 128-bit security check, and the fixed-point encoding of real
// values modulo the BGV plaintext modulus.
//
// It imports nothing of the project; the parameters themselves are lattigo
// v5 literals (bgv.ParametersLiteral, ckks.ParametersLiteral), instantiated on
// demand by Preset.BGV and Preset.CKKS.
//
// # Presets
//
// A Preset is a named parameter set. ByName looks one up (names come from
// command-line flags: case and surrounding blanks are ignored, and an unknown
// name yields an error listing the known ones), Names lists the names and All
// returns every preset, both in the order of this table:
//
//	name                scheme log N   log Q  log P  log QP  bound max level t bits  slots
//	bgv-n13             BGV       13   188.0   30.0   218.0    218         3     41   8192
//	bgv-n14             BGV       14   360.0   61.0   421.0    438         5     60  16384
//	bgv-n15             BGV       15   360.0   61.0   421.0    881         5     60  32768
//	bgv-n16             BGV       16   360.0   61.0   421.0   1747         5     60  65536
//	ckks-n13            CKKS      13   170.0   47.0   217.0    218         3      -   4096
//	ckks-n14            CKKS      14   370.0   61.0   431.0    438         7      -   8192
//	ckks-n15            CKKS      15   733.0  122.0   855.0    881        15      -  16384
//	ckks-n16            CKKS      16  1455.0  244.0  1699.0   1747        31      -  32768
//	bgv-test-insecure   BGV       11   360.0   61.0   421.0     54         5     60   2048
//	ckks-test-insecure  CKKS      10   130.0   50.0   180.0     27         2      -    512
//
// log Q, log P and log QP are log2 of the products of the ciphertext primes,
// the key-switching primes, and both, computed from the primes (bgv-n13's
// 218.0 is 218 minus a fraction: every prime is just below a power of two);
// bound is MaxLogQP(log N); max level is the number of Q primes minus one;
// t bits is the bit length of the plaintext modulus t; slots is the number of
// values one ciphertext holds (N for BGV, N/2 for CKKS).
//
// What each preset is for:
//
//   - bgv-n14 (DefaultBGV) is the hybrid protocol's default: every kernel of
//     DESIGN.md fits with the session's noise flooding, and homomorphic KV
//     appends fit between two refreshes. t ≈ 2^59.
//   - bgv-n15 and bgv-n16 are the same protocol with 2 and 4 times the slots
//     (more cache tokens per ciphertext for wide models), with the same
//     primes and t, so fixed-point shares are interchangeable with
//     bgv-n14; their log QP is far below the bound.
//   - bgv-n13 is N = 8192, the ring of the CryptoGen paper, for reproducing
//     its operation counts. Its budget is tight: t ≈ 2^40 (values in
//     (-32, 32)), a small key-switching prime P, and no homomorphic KV
//     append (the client appends by encrypting at the right slot offset),
//     hence no lazy refresh.
//   - ckks-n13 to ckks-n16 are for the non-interactive FHE strategy: depth 3
//     at scale 2^40, then depth 7, 15 and 31 at scale 2^45; ckks-n16
//     (DefaultCKKS) leaves room for bootstrapping plus a block of computation.
//   - bgv-test-insecure and ckks-test-insecure are small rings for fast unit
//     tests and nothing else. bgv-test-insecure has bgv-n14's primes, t and
//     fixed point at N = 2048, so protocol tests exercise the production
//     arithmetic. Their log QP exceeds the bound of their N by far.
//
// A preset is used like this:
//
//	preset, err := params.ByName(flagValue)
//	if err != nil {
//		return err
//	}
//	if err := preset.CheckSecurity(); err != nil {
//		return err
//	}
//	if preset.Insecure && !allowInsecure {
//		return fmt.Errorf("preset %s is for tests only", preset.Name)
//	}
//	p, err := preset.BGV() // a bgv.Parameters for lattigo
//
// # Security
//
// Every secure preset keeps log2(QP) at or below the 128-bit classical bound
// for its ring degree, for a uniform ternary secret (lattigo's default
// ring.Ternary{P: 2/3}) and a discrete Gaussian error of standard deviation
// 3.2 (lattigo's default), the distributions every literal here leaves
// unset. MaxLogQP returns the bound:
//
//	log N      10  11   12   13   14   15    16
//	log QP <=  27  54  109  218  438  881  1747
//
// The values for log N 10 to 15 are Table 1 of the Homomorphic Encryption
// Standard (Albrecht et al., HomomorphicEncryption.org, 2018), ternary secret,
// 128 bits classical; lattigo's example parameters and OpenFHE use the same.
// The standard stops at 2^15. For 2^16 lattigo's examples use 1761 and
// OpenFHE's tables 1772 (older) or 1747 (current, from a rerun of the lattice
// estimator); this package takes the most conservative, 1747.
//
// Preset.CheckSecurity enforces the bound, the distributions, the agreement
// of the preset's LogN with its literal, a statistical security of at least
// MinStatSecurity = 40 bits in the fixed-point setting of BGV presets, and
// honest naming: a preset marked Insecure must say "insecure" in its name,
// and only such a preset may. Insecure presets are skipped by the check (it
// returns nil for them); they are flagged by the Insecure field, which a
// caller that must refuse them tests.
//
// The values a server returns to the client are masked with fresh uniform
// randomness and their ciphertext noise is flooded so that the whole
// session keeps statistical security κ = 40 bits, see the noise budget
// below.
//
// # Noise budget of the BGV presets
//
// The BGV moduli chains are sized for the hybrid protocol: a fresh
// encryption times plaintexts, summed over up to 2^D products (a linear
// layer), or a cipher-cipher product with relinearization and a
// rotate-and-add folding (attention), then noise flooding so that the
// client's view of the whole session is within statistical distance 2^-κ
// of one that depends only on its outputs. Package exec bounds the noise of
// every operation in the worst case (exec.NoiseModel) and package sim sizes
// the flooding of each returned ciphertext for κ plus log2 of the number of
// ciphertexts the session returns. The comment on the moduli chains in
// presets.go gives the dominant bounds and what each preset affords; in
// short, bgv-n13 holds stories260K-sized models over their whole context
// with client appends, and bgv-n14 to bgv-n16 hold every kernel with room
// for homomorphic KV concatenations between refreshes. TestNoiseBudget
// checks the bounds against lattigo and floods and decrypts at the top
// level.
//
// The plaintext moduli are primes = 1 mod 2^31, so every BGV preset batches
// N values, and lookup tables on shares (exec/mpc) can read an index from
// any bits below 2^31 of a value: t = 2^40 + 3·2^31 + 1 for bgv-n13, whose
// budget allows no more, and t = 2^59 + 2^47 + 1 (= 1 mod 2^47) for the
// others (shared, so their shares are compatible).
//
// # Fixed point
//
// Activations are additively shared modulo t and held in fixed point. A
// FixedPoint gives the conventions: FracBits f fractional bits; values
// assumed in (-2^IntBits, 2^IntBits); x is encoded as round(x·2^f), rounding
// half away from zero, negative values as t minus their magnitude (a
// two's-complement-like centered representation); decoding lifts a residue to
// (-t/2, t/2] and divides by 2^f. Encode refuses values out of range and
// non-finite ones; Decode accepts any residue.
//
// Adding encodings adds values. The product of two encodings carries 2f
// fractional bits and is truncated by 2^f. FixedPoint.Validate checks that t
// leaves room for this:
//
//	2·f + 2·IntBits + MinAccumBits + 1 <= floor(log2 t)
//
// that is, a sum of 2^MinAccumBits = 16 products of in-range values, shifted
// to be non-negative, stays below t, which is what an exact dealer-assisted
// truncation with a uniform mask needs (one bit of slack, no failure
// probability). AccumBits returns the room actually left. Probabilistic
// truncation with failure probability 2^-40 would need 40 more bits than any
// t below 2^61 offers; the statistical security is spent on noise flooding
// instead. The defaults:
//
//	preset              f  IntBits  range          resolution  AccumBits
//	bgv-n13            12        5  (-32, 32)      2.4e-4              5
//	bgv-n14..16, test  14       12  (-4096, 4096)  6.1e-5              6
//
// Both keep the rounding error of a stories260K forward pass far below the
// 0.05 logit accuracy target; IntBits = 12 leaves room for GPT-2's outlier
// activations of a few thousand. CKKS presets have no fixed point setting
// (the zero FixedPoint).
//
// # Concurrency
//
// Presets and FixedPoint values are plain values, and every function and
// method of this package is safe for concurrent use. ByName and All return
// deep copies, so modifying a returned preset changes nothing else.
package params
