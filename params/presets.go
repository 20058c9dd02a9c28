package params

import (
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
	"github.com/tuneinsight/lattigo/v5/schemes/ckks"
)

const (
	// DefaultBGV is the name of the default preset of the hybrid protocol.
	// bgv-n14 is the smallest ring that fits every kernel of the protocol
	// with public-key encryptions and leaves room for homomorphic KV
	// concatenation; bgv-n13 (N = 8192, as in the CryptoGen paper) fits a
	// restricted protocol only (see the package documentation).
	DefaultBGV = "bgv-n14"

	// DefaultCKKS is the name of the default preset of the FHE strategy.
	DefaultCKKS = "ckks-n16"
)

// Plaintext moduli of the BGV presets. Both are primes = 1 mod 2^17, so they
// batch (t = 1 mod 2N) for every N up to 2^16.
const (
	// tSmall = 2^40 + 5·2^18 + 1, the smallest prime above 2^40 that is
	// 1 mod 2^17. Used by bgv-n13, whose budget cannot afford more.
	tSmall uint64 = 0x10000140001
	// tLarge = 2^59 + 37·2^17 + 1, the smallest prime above 2^59 that is
	// 1 mod 2^17. Shared by bgv-n14, bgv-n15, bgv-n16 and
	// bgv-test-insecure, so their shares are compatible. Any
	// t in (2^59, 2^60) gives the same fixed-point capacity
	// (floor(log2 t) = 59); the smallest costs the least noise.
	tLarge uint64 = 0x8000000004a0001
)

// Fixed-point settings of the BGV presets (see FixedPoint.Validate for the
// condition 2f + 2·IntBits + MinAccumBits + 1 <= floor(log2 t)).
//
// The accuracy target is the stories260K logits within 0.05 of the float64
// reference. One truncation errs by at most one unit 2^-f; a forward pass of
// stories260K truncates each value a few dozen times, so f = 12 (2.4e-4 per
// truncation) and f = 14 (6.1e-5) keep the accumulated rounding error one to
// two orders of magnitude below 0.05; the polynomial approximations of the
// non-linear layers, not f, dominate the error.
var (
	// fpSmall: t ≈ 2^40, floor(log2 t) = 40: f = 12, values in (-32, 32),
	// AccumBits = 40 - 1 - 2·17 = 5.
	fpSmall = FixedPoint{FracBits: 12, IntBits: 5, StatSecurity: 40, T: tSmall}
	// fpLarge: t ≈ 2^59, floor(log2 t) = 59: f = 14, values in (-4096, 4096)
	// (room for GPT-2's outlier activations of a few thousand),
	// AccumBits = 59 - 1 - 2·26 = 6.
	fpLarge = FixedPoint{FracBits: 14, IntBits: 12, StatSecurity: 40, T: tLarge}
)

// Moduli chains of the BGV presets.
//
// Noise budget. Notation: n = log2 N, T = log2 t, κ = StatSecurity = 40,
// D = log2 of the number of products summed into one output (the inner
// dimension of a linear layer; d_head or the context length in attention);
// all sizes in bits. The payload of a ciphertext is t·(c0 + c1·s) mod Q,
// lifted to (-Q/2, Q/2]: it equals m + t·e, its reduction mod t is the
// message, and decryption is exact iff its infinity norm is below Q/2.
// lattigo's BGV keeps ciphertexts in this form (plaintexts are scaled by
// t^-1 mod Q and products multiplied by t), so the bounds below apply to it
// as is. "Measured" numbers are the maximum over the N coefficients of one
// run, from TestNoiseBudget (go test -v -run NoiseBudget).
//
//  1. Fresh encryption. With a special modulus P, lattigo's public-key
//     encryption has error standard deviation σ = sqrt((h+1)/12) ≈ sqrt(N/18)
//     (rlwe.Parameters.NoiseFreshPK); at 10 standard deviations the payload
//     is below T + n/2 + 1.5. Secret-key encryption (σ = 3.2, bound 19.2):
//     T + 4.3. Measured (public key): 46.3 to 46.5 at n = 13, 66.0 to 67.2 at
//     n = 14..16, 1.3 to 1.7 bits below the model.
//
//  2. One ct-pt product by a plaintext with coefficients uniform in [0, t)
//     (what SIMD encoding of arbitrary values mod t gives; lattigo lifts
//     them to [0, t), not to the centered range). The payload (m + t·e)·m'
//     has a systematic part m·m' of size up to N·t²/4 and a random part
//     t·e·m' of standard deviation about t²·√N·σ/√3, both near 2T + n - 2.
//     Measured: 2T + n - 1.9 to -0.4. We count 2T + n + 2.
//
//  3. Sums of 2^D products, with rotations in between. The systematic parts
//     of different products need not cancel, so we count linear growth, +D.
//     Measured for 64 products: +4.5 (no rotation) to +7.1 (successive
//     rotations, the worst pattern) above 2T + n, against the model's +8.
//     Key switching adds about one fresh noise, since the special modulus P
//     is at least as large as the Q prime of every decomposition digit; it
//     leaves (2) unchanged. Linear layer: B_lin = 2T + n + D + 2.
//
//  4. One ct-ct product with relinearization of two fresh encryptions adds
//     t²·e·e', of standard deviation t²·√N·σ² ≈ t²·N^1.5/18 for public-key
//     encryptions: measured 2T + 1.5n - 1.8 to -1.4 (n = 11..16). For
//     secret-key encryptions σ = 3.2 and (2) dominates: measured
//     2T + n - 0.7. A rotate-and-add folding over 2^D slots adds less than D
//     (measured +2.8 to +3.9 for D = 6). Attention kernels:
//     B_att = 2T + 1.5n + D + 1 (public key), 2T + n + D + 2 (secret key).
//
//  5. Noise flooding. Before a ciphertext goes to the client the server adds
//     t·E with E uniform in [-2^(κ-1)·N·B/t, 2^(κ-1)·N·B/t], and a fresh
//     public-key encryption of zero to re-randomize c1. By the smudging
//     lemma the statistical distance to a ciphertext that depends only on
//     the result is at most N·(B/t)/(2·2^(κ-1)·N·B/t) = 2^-κ over all N
//     coefficients. Decryption stays exact if 2^(B+κ-1+n)·(1 + 2^-κ) < Q/2:
//
//     log Q >= B + κ + n + 1.
//
// Hence, at the level where the flooded ciphertext is formed:
//
//	log Q >= 2T + 2n + D + κ + 3     linear layer; attention with secret-key encryptions
//	log Q >= 2T + 2.5n + D + κ + 2   attention with public-key encryptions
//
// Rescaling preserves the ratio Q/B until the payload reaches its rounding
// floor T + n/2 + 2, so after flooding the server may switch down to the
// lowest level with log Q_l >= T + 1.5n + κ + 3 (2 primes at n = 13, 3 at
// n >= 14) and send a smaller ciphertext. A homomorphic KV concatenation
// (rotation and a 0/1 selection mask, a ct-pt product as in 2) followed by
// one 60-bit rescale leaves the noise about n/2 bits above a fresh
// encryption: it costs one prime and n/2 bits of margin.
//
// The presets:
//
//   - bgv-n13: T = 40.0, log Q = 163.0 (55 + 54 + 54), P = 55 bits. With
//     D <= 13 the linear layer needs 162: it fits with 1 bit to spare.
//     Attention needs 167.5 with public-key encryptions and does not fit; it
//     needs 162 with secret-key encryptions (the client owns the secret key)
//     and fits. No level is left for a homomorphic concatenation: at n = 13
//     the client appends to the KV cache by encrypting at the right slot
//     offset, the cache is never modified homomorphically, and lazy refresh
//     never triggers. 2T + 2n + D + κ + 3 <= 163 forces T <= 40.5: this is
//     why bgv-n13 has its own, smaller t.
//   - bgv-n14, bgv-n15, bgv-n16 (and bgv-test-insecure at n = 11): T = 59.0,
//     log Q = 360 (six 60-bit primes), P = 61 bits, the same primes (all
//     1 mod 2^17) for every N. With D <= 14 the linear layer needs 203, 205,
//     207 and attention with public-key encryptions 209, 211.5, 214: 146 to
//     151 bits remain, about two homomorphic concatenations between
//     refreshes. The chain is the same at every N on purpose: the protocol
//     has depth one between round trips, so a larger N buys slots and
//     security margin rather than depth, and ciphertexts grow only linearly
//     in N. log QP = 421 fits the n = 14 bound (438) and is far below the
//     n = 15 and n = 16 bounds.
var (
	bgvQ13 = []uint64{0x7ffffffffb4001, 0x3fffffffef8001, 0x3fffffffeb8001} // 55 + 54 + 54 bits, 1 mod 2^14
	bgvP13 = []uint64{0x7fffffffeac001}                                     // 55 bits, 1 mod 2^14

	bgvQ = []uint64{ // 6 × 60 bits, 1 mod 2^17
		0xffffffffffc0001, 0xfffffffff840001, 0xfffffffff6a0001,
		0xfffffffff5a0001, 0xfffffffff2a0001, 0xfffffffff240001,
	}
	bgvP = []uint64{0x1fffffffffe00001} // 61 bits, 1 mod 2^17
)

// bgvBudget records, for each BGV preset, the noise regime it is sized for
// (see the comment on the moduli chains). The tests check the chains
// against it and against measured noise.
type bgvBudget struct {
	sumBits    int  // D: log2 of the number of products summed into one output
	attnSKOnly bool // attention fits only with secret-key encryptions
}

var bgvBudgets = map[string]bgvBudget{
	"bgv-n13":           {sumBits: 13, attnSKOnly: true},
	"bgv-n14":           {sumBits: 14},
	"bgv-n15":           {sumBits: 14},
	"bgv-n16":           {sumBits: 14},
	"bgv-test-insecure": {sumBits: 14},
}

// Moduli chains of the CKKS presets, for the FHE strategy. The first prime
// holds the message above the scale (10 to 15 bits of integer part), each
// further prime is one level of depth at the default scale, and P covers the
// key-switching digits. All primes are 1 mod 2^17.
var (
	ckksQ40 = []uint64{0x10000140001, 0xffffe80001, 0xffffc40001} // 3 × 40 bits, near 2^40
	ckksQ45 = []uint64{                                           // 31 × 45 bits, near 2^45
		0x2000000a0001, 0x2000000e0001, 0x1fffffc20001, 0x200000440001, 0x200000500001,
		0x200000620001, 0x2000006a0001, 0x1fffff980001, 0x200000860001, 0x1fffff7e0001,
		0x200000a60001, 0x200000aa0001, 0x200000b20001, 0x200000c80001, 0x1fffff360001,
		0x200000e20001, 0x200000fe0001, 0x1fffff060001, 0x1ffffede0001, 0x1ffffeca0001,
		0x200001520001, 0x1ffffeb40001, 0x2000019a0001, 0x200001a00001, 0x1ffffe760001,
		0x1ffffe640001, 0x1ffffe520001, 0x200001e80001, 0x1ffffe0c0001, 0x1ffffdee0001,
		0x200002480001,
	}
	ckksP61 = []uint64{0x1fffffffffe00001, 0x1fffffffffc80001, 0x1fffffffffb40001, 0x1fffffffff500001} // 4 × 61 bits

	ckksQ0N13 uint64 = 0x3ffffffd20001   // 50 bits
	ckksP0N13 uint64 = 0x7ffffff00001    // 47 bits
	ckksPTest uint64 = 0x3ffffffb80001   // 50 bits
	ckksQ0N14 uint64 = 0x7fffffffba0001  // 55 bits
	ckksQ0N15 uint64 = 0x3ffffffffbe0001 // 58 bits
	ckksQ0N16 uint64 = 0xffffffffffc0001 // 60 bits
)

// chain returns a new slice holding first followed by rest.
func chain(first uint64, rest []uint64) []uint64 {
	return append([]uint64{first}, rest...)
}

// presets is the registry, in the order of Names. Xs and Xe are left unset:
// lattigo substitutes the uniform ternary secret and the discrete Gaussian
// error of standard deviation 3.2 that the security bound assumes.
var presets = []Preset{
	{
		Name: "bgv-n13", Scheme: BGV, LogN: 13,
		BGVLiteral: bgv.ParametersLiteral{LogN: 13, Q: bgvQ13, P: bgvP13, PlaintextModulus: tSmall},
		Doc:        "hybrid protocol at N = 8192 (as in CryptoGen): linear layers, attention with secret-key encryptions only, no homomorphic KV append; t ≈ 2^40",
		FixedPoint: fpSmall,
	},
	{
		Name: "bgv-n14", Scheme: BGV, LogN: 14,
		BGVLiteral: bgv.ParametersLiteral{LogN: 14, Q: bgvQ, P: bgvP, PlaintextModulus: tLarge},
		Doc:        "hybrid protocol default: every kernel with public-key encryptions, about two homomorphic KV appends per refresh; t ≈ 2^59",
		FixedPoint: fpLarge,
	},
	{
		Name: "bgv-n15", Scheme: BGV, LogN: 15,
		BGVLiteral: bgv.ParametersLiteral{LogN: 15, Q: bgvQ, P: bgvP, PlaintextModulus: tLarge},
		Doc:        "hybrid protocol with twice the slots of bgv-n14 (more KV tokens per ciphertext), same modulus chain and t",
		FixedPoint: fpLarge,
	},
	{
		Name: "bgv-n16", Scheme: BGV, LogN: 16,
		BGVLiteral: bgv.ParametersLiteral{LogN: 16, Q: bgvQ, P: bgvP, PlaintextModulus: tLarge},
		Doc:        "hybrid protocol with four times the slots of bgv-n14 (large models), same modulus chain and t",
		FixedPoint: fpLarge,
	},
	{
		Name: "ckks-n13", Scheme: CKKS, LogN: 13,
		CKKSLiteral: ckks.ParametersLiteral{LogN: 13, Q: chain(ckksQ0N13, ckksQ40), P: []uint64{ckksP0N13}, LogDefaultScale: 40},
		Doc:         "FHE strategy, small: depth 3 at scale 2^40",
	},
	{
		Name: "ckks-n14", Scheme: CKKS, LogN: 14,
		CKKSLiteral: ckks.ParametersLiteral{LogN: 14, Q: chain(ckksQ0N14, ckksQ45[:7]), P: ckksP61[:1], LogDefaultScale: 45},
		Doc:         "FHE strategy: depth 7 at scale 2^45",
	},
	{
		Name: "ckks-n15", Scheme: CKKS, LogN: 15,
		CKKSLiteral: ckks.ParametersLiteral{LogN: 15, Q: chain(ckksQ0N15, ckksQ45[:15]), P: ckksP61[:2], LogDefaultScale: 45},
		Doc:         "FHE strategy: depth 15 at scale 2^45",
	},
	{
		Name: "ckks-n16", Scheme: CKKS, LogN: 16,
		CKKSLiteral: ckks.ParametersLiteral{LogN: 16, Q: chain(ckksQ0N16, ckksQ45[:31]), P: ckksP61[:4], LogDefaultScale: 45},
		Doc:         "FHE strategy default: depth 31 at scale 2^45, room for bootstrapping plus a block of computation",
	},
	{
		Name: "bgv-test-insecure", Scheme: BGV, LogN: 11, Insecure: true,
		BGVLiteral: bgv.ParametersLiteral{LogN: 11, Q: bgvQ, P: bgvP, PlaintextModulus: tLarge},
		Doc:        "INSECURE, unit tests only: bgv-n14's modulus chain, t and fixed point at N = 2048",
		FixedPoint: fpLarge,
	},
	{
		Name: "ckks-test-insecure", Scheme: CKKS, LogN: 10, Insecure: true,
		CKKSLiteral: ckks.ParametersLiteral{LogN: 10, Q: chain(ckksQ0N13, ckksQ40[:2]), P: []uint64{ckksPTest}, LogDefaultScale: 40},
		Doc:         "INSECURE, unit tests only: depth 2 at scale 2^40, N = 1024",
	},
}
