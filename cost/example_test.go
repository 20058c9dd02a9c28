package cost_test

import (
	"encoding/json"
	"fmt"

	"github.com/cgsim/cgsim/cost"
)

// A primitive's cost is a sum of priced operations and communication; Scale
// repeats it, and the JSON form uses the field names scripts rely on.
func ExampleCost() {
	step := cost.Cost{CtPtMul: 64, Rotations: 5, BytesC2S: 1 << 20, Rounds: 1, PeakMemoryBytes: 1 << 30}
	tokens := step.Scale(3) // three decoding steps: counters triple, the peak does not
	fmt.Println(tokens.CtPtMul, tokens.Rotations, tokens.Rounds, tokens.PeakMemoryBytes)
	b, _ := json.Marshal(cost.Cost{Rotations: 5, ComputeSeconds: 0.25, NetworkSeconds: 0.5})
	var m map[string]float64
	json.Unmarshal(b, &m)
	fmt.Println(m["rotations"], m["seconds"])
	// Output:
	// 192 15 3 1073741824
	// 5 0.75
}

// Profile.Charge prices operations at a level; Estimates and Runs both go
// through it.
func ExampleProfile_Charge() {
	prof, err := cost.Default("bgv-n14")
	if err != nil {
		fmt.Println(err)
		return
	}
	c := prof.Charge(cost.OpRotate, prof.MaxLevel, 10)
	fmt.Println(c.Rotations, c.ComputeSeconds > 0)
	// Output: 10 true
}
