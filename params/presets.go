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

// Plaintext moduli of the BGV presets. Both are primes = 1 mod 2^31, so they
// batch (t = 1 mod 2N) for every N up to 2^30, and a lookup table on shares
// (exec/mpc's Lookup) can read an index from any bits below 2^31 of a
// masked value: t = 1 mod 2^V makes the wrap of a masking modulo t shift
// those bits by at most one unit (exec/mpc: Ring.LookupBits).
const (
	// tSmall = 2^40 + 3·2^31 + 1, the smallest prime above 2^40 that is
	// 1 mod 2^31. Used by bgv-n13, whose budget cannot afford more.
	tSmall uint64 = 0x10180000001
	// tLarge = 2^59 + 2^47 + 1, the smallest prime above 2^59 that is
	// 1 mod 2^47. Shared by bgv-n14, bgv-n15, bgv-n16 and
	// bgv-test-insecure, so their shares are compatible. Any
	// t in (2^59, 2^60) gives the same fixed-point capacity
	// (floor(log2 t) = 59); the smallest costs the least noise.
	tLarge uint64 = 0x800800000000001
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
// Noise budget. The payload of a ciphertext is t·(c0 + c1·s) mod Q, lifted
// to (-Q/2, Q/2]: it equals m + t·e, its reduction mod t is the message,
// and decryption is exact iff its infinity norm is below Q/2. Package exec
// bounds it for every operation in the worst case (exec.NoiseModel: no
// averages, no fitted constants) and plans every primitive's levels and
// flooding with those bounds; package sim floods each ciphertext returned
// to the client for κ + log2 D bits, D being the number of ciphertexts the
// session returns (κ = StatSecurity = 40 for the whole session). With
// n = log2 N, T = log2 t and D' = log2 of the number of products summed
// into one output (the inner dimension of a linear layer; HeadDim, or the
// slots a value kernel folds, in attention), the dominant bounds are:
//
//   - a linear layer on a fresh secret-key encryption: 2T + n + 4.4 + D';
//     a rotation before the product (a baby step) would add a key switch,
//     N·B_e·Σ(digits)/P, multiplied by N·t: the planner then keeps the
//     input unrotated when that is what fits;
//   - an attention product of two encryptions of payloads a and b:
//     a + b + n, then D';
//   - the flooding: the flooded payload is about the payload plus
//     κ + log2 D + n bits, and must be below Q/2 at the level where it is
//     formed; the ciphertext is then rescaled to the lowest level at which
//     it still decrypts.
//
// The chains:
//
//   - bgv-n13 (N = 8192, as in CryptoGen): T = 40, log Q = 188 (four 47-bit
//     primes), P = 30 bits: log QP = 218, the 128-bit bound at n = 13. P is
//     much smaller than a digit: a key switch then adds about T + n + 23
//     bits, far below the products it follows, and no kernel at this preset
//     rotates a ciphertext before a product. Attention over a cache of up to
//     512 client appends fits with a session budget of up to 2^15 returned
//     ciphertexts (stories260K, its whole context); the fixed point holds
//     values in (-32, 32), so GPT-2's activations do not fit. No level is left
//     for a homomorphic concatenation: at n = 13 the client appends to the
//     KV cache by encrypting at the right slot offset.
//   - bgv-n14, bgv-n15, bgv-n16 (and bgv-test-insecure at n = 11): T = 59.0,
//     log Q = 360 (six 60-bit primes), P = 61 bits, the same primes (all
//     1 mod 2^17) for every N. The protocol has depth one between round
//     trips, so a larger N buys slots and security margin rather than depth;
//     the levels above the kernels hold homomorphic concatenations between
//     refreshes. log QP = 421 fits the n = 14 bound (438) and is far below
//     the n = 15 and n = 16 bounds.
//
// Whether a given model and session fit a preset is decided where it is
// planned (package sim refuses a session whose flooding does not fit, with
// an error naming the preset); TestPresetsHoldStories260K in package sim
// checks the sessions the README promises.
var (
	bgvQ13 = []uint64{0x7ffffffc8001, 0x7ffffff00001, 0x7fffffe70001, 0x7fffffe48001} // 4 × 47 bits, 1 mod 2^15
	bgvP13 = []uint64{0x3ffe8001}                                                     // 30 bits, 1 mod 2^15

	bgvQ = []uint64{ // 6 × 60 bits, 1 mod 2^17
		0xffffffffffc0001, 0xfffffffff840001, 0xfffffffff6a0001,
		0xfffffffff5a0001, 0xfffffffff2a0001, 0xfffffffff240001,
	}
	bgvP = []uint64{0x1fffffffffe00001} // 61 bits, 1 mod 2^17
)

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
		Doc:        "hybrid protocol at N = 8192 (as in CryptoGen): values in (-32, 32), client KV appends only, sessions up to about 2^15 returned ciphertexts; t ≈ 2^40",
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
