package cost

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// Cost is what some piece of secure computation costs: operation counts,
// communication, seconds and memory. The zero value is "free".
//
// Additive fields are summed by Add and multiplied by Scale. Fields tagged
// `combine:"max"` (peak memory, levels consumed) are not additive: Add keeps
// the larger of the two. The total seconds are not stored: Seconds derives
// them from ComputeSeconds and NetworkSeconds.
type Cost struct {
	// Homomorphic operations.
	CtPtMul        int64 `json:"ct_pt_mul"`      // ciphertext-plaintext multiplications
	CtCtMul        int64 `json:"ct_ct_mul"`      // ciphertext-ciphertext multiplications, relinearization included
	Rotations      int64 `json:"rotations"`      // slot rotations (automorphisms with key switching), hoisted ones included
	Rescales       int64 `json:"rescales"`       // rescales (BGV modulus switches, CKKS rescales)
	Adds           int64 `json:"adds"`           // ciphertext additions and subtractions
	Encodes        int64 `json:"encodes"`        // plaintext encodings and decodings
	Encryptions    int64 `json:"encryptions"`    // public- or secret-key encryptions
	Decryptions    int64 `json:"decryptions"`    // decryptions
	Serializations int64 `json:"serializations"` // ciphertexts marshalled for sending
	Refreshes      int64 `json:"refreshes"`      // ciphertexts refreshed through the client
	Bootstraps     int64 `json:"bootstraps"`     // bootstrapping operations

	// Two-party computation on shares.
	ShareOps   int64 `json:"share_ops"`   // element-wise modular operations on shares, local to a party
	DCFLevels  int64 `json:"dcf_levels"`  // levels of comparison keys evaluated (one per bit of the share ring per comparison, per party)
	LUTEntries int64 `json:"lut_entries"` // entries of lookup tables read (per table, lookup and party: a product and a sum)
	SeedCoeffs int64 `json:"seed_coeffs"` // coefficients (per prime) of client ciphertexts expanded from their seeds by the server
	Triples    int64 `json:"triples"`     // Beaver triples (or equivalent correlated randomness) consumed

	// Online communication, counted once by the sender, per direction.
	BytesC2S int64 `json:"bytes_c2s"` // bytes sent by the client to the server
	BytesS2C int64 `json:"bytes_s2c"` // bytes sent by the server to the client
	Rounds   int64 `json:"rounds"`    // round trips between the parties

	// Offline work, done before the input exists, kept apart from the
	// online cost: the dealer's material, and the server's pads for the
	// ciphertexts it returns (exec's returnCost).
	OfflineBytes   int64   `json:"offline_bytes"`   // bytes of correlated randomness sent by the dealer
	OfflineSeconds float64 `json:"offline_seconds"` // seconds to deal the material and expand it at both parties (not to send it), and to make the pads

	// Online seconds.
	ComputeSeconds float64 `json:"compute_seconds"` // local computation of both parties (a run measures it as CPU time)
	NetworkSeconds float64 `json:"network_seconds"` // latency and transfer time
	// WallSeconds is the measured wall time of a run's computation (both
	// parties in one process, the dealer's inline work included), kept
	// beside its CPU time; estimates leave it zero. It is not part of
	// Seconds.
	WallSeconds float64 `json:"wall_seconds"`

	// Non-additive quantities.
	PeakMemoryBytes int64 `json:"peak_memory_bytes" combine:"max"` // largest memory held at once
	LevelsConsumed  int64 `json:"levels_consumed" combine:"max"`   // largest number of levels any ciphertext lost
}

// Seconds is the online wall time: compute plus network.
func (c Cost) Seconds() float64 { return c.ComputeSeconds + c.NetworkSeconds }

// Offline returns c as work done before the input exists: its compute
// seconds become offline seconds; its counters stay.
func (c Cost) Offline() Cost {
	c.OfflineSeconds += c.ComputeSeconds
	c.ComputeSeconds = 0
	return c
}

// Add returns c + o: additive fields are summed, the others keep their
// maximum. It is written out field by field (the estimate engine calls it
// millions of times); TestAddCoversEveryField fails if a new field is
// left out.
func (c Cost) Add(o Cost) Cost {
	c.CtPtMul += o.CtPtMul
	c.CtCtMul += o.CtCtMul
	c.Rotations += o.Rotations
	c.Rescales += o.Rescales
	c.Adds += o.Adds
	c.Encodes += o.Encodes
	c.Encryptions += o.Encryptions
	c.Decryptions += o.Decryptions
	c.Serializations += o.Serializations
	c.Refreshes += o.Refreshes
	c.Bootstraps += o.Bootstraps
	c.ShareOps += o.ShareOps
	c.DCFLevels += o.DCFLevels
	c.LUTEntries += o.LUTEntries
	c.SeedCoeffs += o.SeedCoeffs
	c.Triples += o.Triples
	c.BytesC2S += o.BytesC2S
	c.BytesS2C += o.BytesS2C
	c.Rounds += o.Rounds
	c.OfflineBytes += o.OfflineBytes
	c.OfflineSeconds += o.OfflineSeconds
	c.ComputeSeconds += o.ComputeSeconds
	c.NetworkSeconds += o.NetworkSeconds
	c.WallSeconds += o.WallSeconds
	c.PeakMemoryBytes = max(c.PeakMemoryBytes, o.PeakMemoryBytes)
	c.LevelsConsumed = max(c.LevelsConsumed, o.LevelsConsumed)
	return c
}

// Scale returns c repeated n times: additive fields are multiplied by n, the
// others are unchanged (running a step n times does not raise its peak).
func (c Cost) Scale(n int64) Cost {
	c.CtPtMul *= n
	c.CtCtMul *= n
	c.Rotations *= n
	c.Rescales *= n
	c.Adds *= n
	c.Encodes *= n
	c.Encryptions *= n
	c.Decryptions *= n
	c.Serializations *= n
	c.Refreshes *= n
	c.Bootstraps *= n
	c.ShareOps *= n
	c.DCFLevels *= n
	c.LUTEntries *= n
	c.SeedCoeffs *= n
	c.Triples *= n
	c.BytesC2S *= n
	c.BytesS2C *= n
	c.Rounds *= n
	c.OfflineBytes *= n
	f := float64(n)
	c.OfflineSeconds *= f
	c.ComputeSeconds *= f
	c.NetworkSeconds *= f
	c.WallSeconds *= f
	return c
}

// Sum adds up a list of costs.
func Sum(cs ...Cost) Cost {
	var total Cost
	for _, c := range cs {
		total = total.Add(c)
	}
	return total
}

// Difference is one counter on which two costs disagree.
type Difference struct {
	Field string // the JSON name of the counter
	A, B  int64  // the two values
}

func (d Difference) String() string { return fmt.Sprintf("%s: %d vs %d", d.Field, d.A, d.B) }

// CounterDiff lists the integer counters on which a and b differ, in the
// order of the JSON form. Seconds are not compared: they are measured on one
// side and predicted on the other. It is what the Run-equals-Estimate tests
// and cgsim validate check.
func CounterDiff(a, b Cost) []Difference {
	av, bv := reflect.ValueOf(a), reflect.ValueOf(b)
	var diffs []Difference
	for _, f := range layout {
		if f.float {
			continue
		}
		x, y := av.Field(f.index).Int(), bv.Field(f.index).Int()
		if x != y {
			diffs = append(diffs, Difference{Field: f.name, A: x, B: y})
		}
	}
	return diffs
}

// FieldNames lists the JSON field names of a Cost in the order of the JSON
// form: the struct fields, then the derived "seconds".
func FieldNames() []string {
	names := make([]string, 0, len(layout)+1)
	for _, f := range layout {
		names = append(names, f.name)
	}
	return append(names, "seconds")
}

// Values returns the fields of c in the order of FieldNames, as float64, for
// tables and CSV.
func (c Cost) Values() []float64 {
	v := reflect.ValueOf(c)
	vals := make([]float64, 0, len(layout)+1)
	for _, f := range layout {
		if f.float {
			vals = append(vals, v.Field(f.index).Float())
		} else {
			vals = append(vals, float64(v.Field(f.index).Int()))
		}
	}
	return append(vals, c.Seconds())
}

// MarshalJSON writes c with the field names of DESIGN.md, including the
// derived "seconds".
func (c Cost) MarshalJSON() ([]byte, error) {
	type plain Cost
	return json.Marshal(struct {
		plain
		Seconds float64 `json:"seconds"`
	}{plain(c), c.Seconds()})
}

// UnmarshalJSON reads the form written by MarshalJSON; "seconds" is derived
// and ignored on input.
func (c *Cost) UnmarshalJSON(data []byte) error {
	type plain Cost
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("cost: %w", err)
	}
	*c = Cost(p)
	return nil
}

// field describes one field of Cost for the generic operations above.
type field struct {
	index int
	name  string
	float bool // float64 seconds (additive)
	max   bool // combined by maximum, not summed
}

// layout is computed once from the struct tags, so that adding a field to
// Cost needs no change to Add, Scale, CounterDiff or the JSON form.
var layout = func() []field {
	t := reflect.TypeOf(Cost{})
	fs := make([]field, t.NumField())
	for i := range fs {
		sf := t.Field(i)
		fs[i] = field{
			index: i,
			name:  sf.Tag.Get("json"),
			float: sf.Type.Kind() == reflect.Float64,
			max:   sf.Tag.Get("combine") == "max",
		}
	}
	return fs
}()
