package params_test

import (
	"fmt"
	"math/bits"

	"github.com/cgsim/cgsim/params"
)

// Look up a preset by the name given on the command line, check it, and
// read its shape.
func ExampleByName() {
	p, err := params.ByName("bgv-n14")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Name, p.Scheme, "log N", p.LogN)
	fmt.Println("secure:", p.CheckSecurity() == nil, "insecure flag:", p.Insecure)
	fmt.Printf("log QP %.1f, levels 0..%d, %d slots, t has %d bits\n",
		p.LogQP(), p.MaxLevel(), p.Slots(), bits.Len64(p.PlaintextModulus()))
	bp, err := p.BGV()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("lattigo agrees:", bp.MaxSlots() == p.Slots(), bp.PlaintextModulus() == p.PlaintextModulus())

	_, err = params.ByName("bgv-n12")
	fmt.Println(err)
	// Output:
	// bgv-n14 BGV log N 14
	// secure: true insecure flag: false
	// log QP 421.0, levels 0..5, 16384 slots, t has 60 bits
	// lattigo agrees: true true
	// params: unknown preset "bgv-n12" (known: bgv-n13, bgv-n14, bgv-n15, bgv-n16, ckks-n13, ckks-n14, ckks-n15, ckks-n16, bgv-test-insecure, ckks-test-insecure)
}

// Test presets are skipped by the security check but flagged.
func ExamplePreset_CheckSecurity() {
	for _, p := range params.All() {
		bound, _ := params.MaxLogQP(p.LogN)
		status := "ok"
		if err := p.CheckSecurity(); err != nil {
			status = err.Error()
		} else if p.Insecure {
			status = "INSECURE, tests only"
		}
		fmt.Printf("%-18s log QP %6.1f <= %4.0f? %s\n", p.Name, p.LogQP(), bound, status)
	}

	// A deliberately oversized literal: one more 54-bit prime at log N 13.
	big, _ := params.ByName("bgv-n13")
	big.BGVLiteral.Q = append(big.BGVLiteral.Q, 0x3fffffffe7c001)
	fmt.Println(big.CheckSecurity())
	// Output:
	// bgv-n13            log QP  218.0 <=  218? ok
	// bgv-n14            log QP  421.0 <=  438? ok
	// bgv-n15            log QP  421.0 <=  881? ok
	// bgv-n16            log QP  421.0 <= 1747? ok
	// ckks-n13           log QP  217.0 <=  218? ok
	// ckks-n14           log QP  431.0 <=  438? ok
	// ckks-n15           log QP  855.0 <=  881? ok
	// ckks-n16           log QP 1699.0 <= 1747? ok
	// bgv-test-insecure  log QP  421.0 <=   54? INSECURE, tests only
	// ckks-test-insecure log QP  180.0 <=   27? INSECURE, tests only
	// params: preset "bgv-n13": log2(QP) = 272.00 exceeds the 128-bit bound 218 for log N = 13
}

func ExampleMaxLogQP() {
	for logN := 13; logN <= 17; logN++ {
		b, err := params.MaxLogQP(logN)
		fmt.Println(logN, b, err)
	}
	// Output:
	// 13 218 <nil>
	// 14 438 <nil>
	// 15 881 <nil>
	// 16 1747 <nil>
	// 17 0 params: no 128-bit security bound for log N = 17 (known for log N 10..16)
}

// Encode shares' values in the fixed point of the default BGV preset,
// multiply two encodings modulo t, and decode the product at 2f fractional
// bits.
func ExampleFixedPoint() {
	p, _ := params.ByName(params.DefaultBGV)
	fp := p.FixedPoint
	fmt.Println("f =", fp.FracBits, "IntBits =", fp.IntBits, "scale =", fp.Scale(), "valid:", fp.Validate() == nil)

	a, _ := fp.Encode(-1.5)
	b, _ := fp.Encode(2.25)
	fmt.Println(fp.Decode(a), fp.Decode(b), "a = t - 1.5·2^14:", a == fp.T-24576)

	// a·b mod t carries 2f fractional bits. The numbers are small enough
	// for uint64 arithmetic here: -1.5·2^14 · 2.25·2^14 fits easily.
	neg := fp.T - a // 1.5·2^14
	prod := fp.T - neg*b%fp.T
	wide := params.FixedPoint{FracBits: 2 * fp.FracBits, IntBits: 2 * fp.IntBits, T: fp.T}
	fmt.Println(wide.Decode(prod))

	_, err := fp.Encode(5000)
	fmt.Println(err)
	// Output:
	// f = 14 IntBits = 12 scale = 16384 valid: true
	// -1.5 2.25 a = t - 1.5·2^14: true
	// -3.375
	// params: fixed point: 5000 is out of range (-2^12, 2^12)
}
