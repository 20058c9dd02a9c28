package exec_test

import (
	"fmt"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/exec"
	"github.com/cgsim/cgsim/params"
)

// A decode linear layer y = W x on a 2 x 3 matrix: the client holds one
// share of x, the server the other and W; each ends with a share of y.
func ExampleLinear() {
	pr, _ := params.ByName("bgv-test-insecure") // insecure: for examples and tests only
	p, _ := pr.BGV()
	prof, _ := cost.Default(pr.Name) // the embedded profile: the packing chosen does not depend on this machine

	l, err := exec.NewLinear(p, prof, 2, 3, 1, exec.Decode)
	if err != nil {
		fmt.Println(err)
		return
	}
	sess, err := exec.NewSession(p, l) // key exchange: only l's rotation keys
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sess.Close()

	t := p.PlaintextModulus()
	w := exec.Matrix{Rows: 2, Cols: 3, Data: []uint64{1, 2, 3, 4, 5, 6}}
	x, _ := exec.ShareOf([]uint64{1, 0, 2}, t)
	tally := cost.NewTally(prof)
	y, err := l.Run(sess, tally, w, x)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("W x =", y.Reveal(t))
	fmt.Println("Run counters equal Estimate's:", len(cost.CounterDiff(tally.Cost(), l.Estimate())) == 0)
	fmt.Println("message in the", l.Domain(), "- rotations:", l.RotationCount())
	// Output:
	// W x = [7 16]
	// Run counters equal Estimate's: true
	// message in the coefficients - rotations: 0
}

// The feature-major decode kernels of one GPT-2 layer over 128 cached
// tokens at bgv-n14 (N = 16384): the counts the README compares with
// CryptoGen's, from the plans alone (no key is generated).
func ExampleFeatureScores() {
	pr, _ := params.ByName("bgv-n14")
	prof, _ := cost.Default(pr.Name)
	pl, err := exec.PlannerFor(pr, prof)
	if err != nil {
		fmt.Println(err)
		return
	}
	sh := exec.AttentionShape{Heads: 12, KVHeads: 12, HeadDim: 64, Context: 128}
	classes := exec.MaxFeatureClasses(pl.Params.MaxSlots(), sh.Heads, sh.HeadDim)
	sc, err := pl.FeatureScores(sh, classes)
	if err != nil {
		fmt.Println(err)
		return
	}
	vk, err := pl.FeatureValues(sh, classes)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := sc.Estimate().Add(vk.Estimate())
	fmt.Println("classes:", classes, "tokens per cache ciphertext:", sc.Layout.TokensPerCt(), "key ciphertexts per group:", sc.Layout.Diagonals())
	fmt.Println("ct-pt products:", c.CtPtMul, "ct-ct products:", c.CtCtMul, "rotations:", c.Rotations)
	// Output:
	// classes: 8 tokens per cache ciphertext: 128 key ciphertexts per group: 8
	// ct-pt products: 32 ct-ct products: 0 rotations: 8
}
