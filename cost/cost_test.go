package cost

import (
	"encoding/json"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestAddScale(t *testing.T) {
	a := Cost{CtPtMul: 3, Rotations: 5, BytesC2S: 100, Rounds: 1, ComputeSeconds: 0.5, PeakMemoryBytes: 1000, LevelsConsumed: 2}
	b := Cost{CtPtMul: 1, Rotations: 2, BytesS2C: 40, Rounds: 2, NetworkSeconds: 0.25, PeakMemoryBytes: 700, LevelsConsumed: 3}
	tests := []struct {
		name string
		got  Cost
		want Cost
	}{
		// Counters and seconds add; peak memory and levels keep the max.
		{"add", a.Add(b), Cost{CtPtMul: 4, Rotations: 7, BytesC2S: 100, BytesS2C: 40, Rounds: 3,
			ComputeSeconds: 0.5, NetworkSeconds: 0.25, PeakMemoryBytes: 1000, LevelsConsumed: 3}},
		// Running a step three times triples its counters but not its peak.
		{"scale", a.Scale(3), Cost{CtPtMul: 9, Rotations: 15, BytesC2S: 300, Rounds: 3,
			ComputeSeconds: 1.5, PeakMemoryBytes: 1000, LevelsConsumed: 2}},
		{"sum", Sum(a, b, Cost{}), a.Add(b)},
		{"zero is neutral", a.Add(Cost{}), a},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %+v\nwant %+v", tt.got, tt.want)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	c := Cost{ComputeSeconds: 1.25, NetworkSeconds: 0.5, OfflineSeconds: 9}
	// Offline seconds are not online time.
	if got := c.Seconds(); got != 1.75 {
		t.Errorf("Seconds() = %v, want 1.75", got)
	}
}

// TestJSONFieldNames checks the field names that DESIGN.md promises to
// scripts, and the round trip through JSON.
func TestJSONFieldNames(t *testing.T) {
	design := []string{"ct_pt_mul", "ct_ct_mul", "rotations", "rescales", "adds", "encryptions",
		"decryptions", "refreshes", "bootstraps", "triples", "bytes_c2s", "bytes_s2c", "rounds",
		"offline_bytes", "compute_seconds", "network_seconds", "seconds", "peak_memory_bytes"}
	c := Cost{CtPtMul: 1, Rounds: 2, ComputeSeconds: 1, NetworkSeconds: 2, PeakMemoryBytes: 7}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, name := range design {
		if _, ok := m[name]; !ok {
			t.Errorf("JSON lacks %q: %s", name, b)
		}
	}
	if m["seconds"] != 3.0 {
		t.Errorf("seconds = %v, want 3 (compute 1 + network 2)", m["seconds"])
	}
	if len(m) != len(FieldNames()) {
		t.Errorf("JSON has %d fields, FieldNames %d", len(m), len(FieldNames()))
	}
	var back Cost
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != c {
		t.Errorf("round trip: got %+v, want %+v", back, c)
	}
	if got, want := len(c.Values()), len(FieldNames()); got != want {
		t.Errorf("Values has %d entries, FieldNames %d", got, want)
	}
}

func TestCounterDiff(t *testing.T) {
	a := Cost{Rotations: 5, BytesC2S: 10, ComputeSeconds: 1}
	b := Cost{Rotations: 6, BytesC2S: 10, ComputeSeconds: 2}
	d := CounterDiff(a, b)
	// Only the rotation count differs; seconds are never compared.
	if len(d) != 1 || d[0].Field != "rotations" || d[0].A != 5 || d[0].B != 6 {
		t.Errorf("CounterDiff = %v, want [rotations: 5 vs 6]", d)
	}
	if d := CounterDiff(a, a); d != nil {
		t.Errorf("CounterDiff(a, a) = %v, want none", d)
	}
}

func testProfile() *Profile {
	p := &Profile{Params: "test", Scheme: "BGV", LogN: 10, MaxLevel: 1, Seconds: map[Op][]float64{}}
	for i, op := range Ops() {
		// Level 1 costs twice level 0; ops are told apart by their index.
		base := float64(i+1) * 1e-3
		p.Seconds[op] = []float64{base, 2 * base}
	}
	return p
}

func TestCharge(t *testing.T) {
	p := testProfile()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	c := p.Charge(OpRotateHoisted, 1, 3).Add(p.Charge(OpRotate, 0, 2)).Add(p.Charge(OpMulPlain, 1, 4))
	if c.Rotations != 5 || c.CtPtMul != 4 {
		t.Errorf("counters: %+v", c)
	}
	want := 3*p.Time(OpRotateHoisted, 1) + 2*p.Time(OpRotate, 0) + 4*p.Time(OpMulPlain, 1)
	if math.Abs(c.ComputeSeconds-want) > 1e-12 {
		t.Errorf("ComputeSeconds = %v, want %v", c.ComputeSeconds, want)
	}
	// Every op lands in exactly one counter.
	for _, op := range Ops() {
		c := p.Charge(op, 0, 1)
		if d := CounterDiff(c, Cost{}); len(d) != 1 {
			t.Errorf("Charge(%s) touched %v", op, d)
		}
	}
}

func TestProfileValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *Profile)
		want   string
	}{
		{"missing op", func(p *Profile) { delete(p.Seconds, OpRescale) }, "no timing"},
		{"short row", func(p *Profile) { p.Seconds[OpAdd] = []float64{1} }, "levels"},
		{"zero time", func(p *Profile) { p.Seconds[OpAdd][0] = 0 }, "seconds"},
		{"NaN time", func(p *Profile) { p.Seconds[OpAdd][1] = math.NaN() }, "seconds"},
		{"unknown op", func(p *Profile) { p.Seconds["teleport"] = []float64{1, 1} }, "unknown op"},
		{"no name", func(p *Profile) { p.Params = "" }, "no params"},
		{"some dealer ops", func(p *Profile) { p.Seconds[OpDealTriple] = []float64{1, 1} }, "all together"},
		{"short dealer row", func(p *Profile) { withOffline(p); p.Seconds[OpDeal] = []float64{1} }, "levels"},
		{"zero dealer time", func(p *Profile) { withOffline(p); p.Seconds[OpDealCompare][1] = 0 }, "seconds"},
		{"short optional row", func(p *Profile) { p.Seconds[OpDecode] = []float64{1} }, "levels"},
		{"zero optional time", func(p *Profile) { p.Seconds[OpShareProtocol] = []float64{0, 0} }, "seconds"},
		{"NaN clock", func(p *Profile) { p.MHz = math.NaN() }, "implausible machine"},
		{"negative cores", func(p *Profile) { p.Cores = -1 }, "implausible machine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testProfile()
			tt.mutate(p)
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestChargeOptional checks the optional operations, priced by a profile
// that measured them and, by one that did not (measured before they
// existed), as what they were once counted as: each in the counter of
// what it stands in for, so that a profile's age moves no counter.
func TestChargeOptional(t *testing.T) {
	const level, n = 1, 3
	tests := []struct {
		op      Op
		counter func(c Cost) int64
		absent  func(p *Profile) float64 // the seconds of one without a price
	}{
		{OpDecode, func(c Cost) int64 { return c.Encodes }, func(p *Profile) float64 { return p.Time(OpEncode, level) }},
		{OpEncodeCoeffs, func(c Cost) int64 { return c.Encodes }, func(p *Profile) float64 { return p.Time(OpEncode, level) }},
		{OpDecodeCoeffs, func(c Cost) int64 { return c.Encodes }, func(p *Profile) float64 { return p.Time(OpEncode, level) }},
		{OpShareProtocol, func(c Cost) int64 { return c.ShareOps }, func(p *Profile) float64 { return p.Time(OpShare, 0) }},
		{OpDCF, func(c Cost) int64 { return c.DCFLevels }, func(p *Profile) float64 { return 4 * p.Time(OpShare, 0) }},
		{OpExpand, func(c Cost) int64 { return c.SeedCoeffs }, func(p *Profile) float64 { return p.Time(OpShare, 0) }},
		{OpLUT, func(c Cost) int64 { return c.LUTEntries }, func(p *Profile) float64 { return 2 * p.Time(OpShare, 0) }},
	}
	for _, tt := range tests {
		t.Run(string(tt.op), func(t *testing.T) {
			old, priced := testProfile(), testProfile()
			priced.Seconds[tt.op] = []float64{7e-3, 9e-3}
			for _, p := range []*Profile{old, priced} {
				if err := p.Validate(); err != nil {
					t.Fatal(err)
				}
			}
			want := tt.absent(old)
			if c := old.Charge(tt.op, level, n); tt.counter(c) != n || math.Abs(c.ComputeSeconds-n*want) > 1e-15 {
				t.Errorf("without a price: %+v, want %d counted and %v s", c, n, n*want)
			}
			// Per-level ops keep their level; the rest are priced at 0.
			want = priced.Seconds[tt.op][0]
			if isEncoding(tt.op) {
				want = priced.Seconds[tt.op][level]
			}
			c := priced.Charge(tt.op, level, n)
			if tt.counter(c) != n || math.Abs(c.ComputeSeconds-n*want) > 1e-15 {
				t.Errorf("priced: %+v, want %d counted and %v s", c, n, n*want)
			}
			if d := CounterDiff(c, Cost{}); len(d) != 1 {
				t.Errorf("Charge(%s) touched %v", tt.op, d)
			}
		})
	}
}

// withOffline adds the dealer's operations to p, each op its own price.
func withOffline(p *Profile) *Profile {
	for i, op := range OfflineOps() {
		s := float64(i+1) * 1e-6
		p.Seconds[op] = []float64{s, s}
	}
	return p
}

// TestChargeOffline checks the dealer's operations: their seconds are
// offline seconds, they touch no counter and no online seconds, and a
// profile without them (one written before they existed) prices them at
// zero.
func TestChargeOffline(t *testing.T) {
	tests := []struct {
		name   string
		prof   *Profile
		priced bool
	}{
		{"priced", withOffline(testProfile()), true},
		{"absent", testProfile(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.prof.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := tt.prof.PricesOffline(); got != tt.priced {
				t.Errorf("PricesOffline() = %v, want %v", got, tt.priced)
			}
			for _, op := range OfflineOps() {
				c := tt.prof.Charge(op, 1, 3)
				want := 0.0
				if tt.priced {
					want = 3 * tt.prof.Time(op, 1)
				}
				if c != (Cost{OfflineSeconds: want}) {
					t.Errorf("Charge(%s, 1, 3) = %+v, want offline seconds %v and nothing else", op, c, want)
				}
				if c.Seconds() != 0 {
					t.Errorf("Charge(%s) adds %v online seconds", op, c.Seconds())
				}
			}
		})
	}
}

// TestChargeDealLookup checks the optional OpDealLookup: its own price in
// a profile that has it, a tenth of a triple's dealing in one that prices
// the dealer without it, zero in one without the dealer; offline seconds
// only, in each.
func TestChargeDealLookup(t *testing.T) {
	own := withOffline(testProfile())
	own.Seconds[OpDealLookup] = []float64{5e-9, 5e-9}
	for _, tt := range []struct {
		name string
		prof *Profile
		want float64 // seconds of one
	}{
		{"priced", own, 5e-9},
		{"older", withOffline(testProfile()), withOffline(testProfile()).Time(OpDealTriple, 1) / 10},
		{"no-dealer", testProfile(), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.prof.Validate(); err != nil {
				t.Fatal(err)
			}
			c := tt.prof.Charge(OpDealLookup, 1, 4)
			if math.Abs(c.OfflineSeconds-4*tt.want) > 1e-18 || CounterDiff(c, Cost{}) != nil || c.ComputeSeconds != 0 {
				t.Errorf("Charge(deal_lookup, 1, 4) = %+v, want %v offline seconds and nothing else", c, 4*tt.want)
			}
		})
	}
}

func TestProfileFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/p.json"
	p := withOffline(testProfile())
	p.Note = "dealer measured apart"
	if err := SaveProfile(path, p); err != nil {
		t.Fatal(err)
	}
	back, err := LoadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("round trip: got %+v, want %+v", back, p)
	}
	// A failed save (invalid profile) leaves the old file intact.
	bad := testProfile()
	bad.Seconds[OpAdd][0] = -1
	if err := SaveProfile(path, bad); err == nil {
		t.Fatal("saving an invalid profile succeeded")
	}
	if again, err := LoadProfile(path); err != nil || !reflect.DeepEqual(again, p) {
		t.Errorf("old file lost after a failed save: %v", err)
	}
	// Corrupt files are errors, not panics.
	for name, content := range map[string]string{
		"truncated":     `{"params": "x", "log_n": 13`,
		"unknown field": `{"params": "x", "colour": 1}`,
		"empty":         ``,
	} {
		bad := dir + "/bad.json"
		if err := os.WriteFile(bad, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadProfile(bad); err == nil {
			t.Errorf("%s profile loaded without error", name)
		}
	}
	if _, err := LoadProfile(dir + "/missing.json"); err == nil {
		t.Error("missing profile loaded without error")
	}
}

func TestDefaultUnknown(t *testing.T) {
	_, err := Default("no-such-preset")
	if err == nil || !strings.Contains(err.Error(), "cgsim calibrate") {
		t.Errorf("Default(unknown) = %v, want an error that says how to calibrate", err)
	}
}

func TestTally(t *testing.T) {
	p := testProfile()
	tally := NewTally(p)
	done := make(chan bool)
	// Two goroutines record at once, as the two parties of a Run do.
	for g := 0; g < 2; g++ {
		go func() {
			for i := 0; i < 100; i++ {
				tally.Op(OpRotate, 1, 1)
			}
			done <- true
		}()
	}
	<-done
	<-done
	tally.Add(Cost{BytesC2S: 10, PeakMemoryBytes: 5})
	want := p.Charge(OpRotate, 1, 200).Add(Cost{BytesC2S: 10, PeakMemoryBytes: 5})
	got := tally.Cost()
	if d := CounterDiff(got, want); d != nil || math.Abs(got.ComputeSeconds-want.ComputeSeconds) > 1e-9 {
		t.Errorf("tally %+v, want %+v (%v)", got, want, d)
	}
}

// TestDefaultProfiles checks every embedded profile loads, validates and
// is filed under its own preset name.
func TestDefaultProfiles(t *testing.T) {
	names := DefaultNames()
	if len(names) == 0 {
		t.Fatal("no embedded profiles")
	}
	for _, name := range names {
		p, err := Default(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if p.Params != name {
			t.Errorf("file %s.json holds the profile of %s", name, p.Params)
		}
		if !p.PricesOffline() {
			t.Errorf("%s does not price the dealer's operations", name)
		}
	}
}

// TestAddCoversEveryField sets each field of Cost in turn (found by
// reflection, so a field added later is found too) and checks that Add,
// Scale, CounterDiff and Values handle it: additive fields double under
// Add and triple under Scale(3), `combine:"max"` fields keep the larger
// value and do not scale.
func TestAddCoversEveryField(t *testing.T) {
	typ := reflect.TypeOf(Cost{})
	for i := range typ.NumField() {
		sf := typ.Field(i)
		t.Run(sf.Name, func(t *testing.T) {
			var one Cost
			f := reflect.ValueOf(&one).Elem().Field(i)
			get := func(c Cost) float64 {
				v := reflect.ValueOf(c).Field(i)
				if v.Kind() == reflect.Float64 {
					return v.Float()
				}
				return float64(v.Int())
			}
			if f.Kind() == reflect.Float64 {
				f.SetFloat(2)
			} else {
				f.SetInt(2)
			}
			isMax := sf.Tag.Get("combine") == "max"
			sum, scaled := get(one.Add(one)), get(one.Scale(3))
			if isMax && (sum != 2 || scaled != 2) {
				t.Errorf("max field: Add gives %g, Scale(3) %g; want 2 and 2", sum, scaled)
			}
			if !isMax && (sum != 4 || scaled != 6) {
				t.Errorf("Add gives %g, Scale(3) %g; want 4 and 6", sum, scaled)
			}
			if isMax && get(Cost{}.Add(one)) != 2 {
				t.Error("max field: Add of a zero cost loses the value")
			}
			found := false
			for _, v := range one.Values() {
				found = found || v == 2
			}
			if !found {
				t.Error("not in Values")
			}
			if f.Kind() != reflect.Float64 && len(CounterDiff(one, Cost{})) != 1 {
				t.Error("CounterDiff misses it")
			}
		})
	}
}

// TestOffline: Offline moves compute seconds into offline seconds and
// keeps every counter and the other seconds.
func TestOffline(t *testing.T) {
	c := Cost{Encryptions: 2, Encodes: 3, ShareOps: 5, ComputeSeconds: 1.5, OfflineSeconds: 0.25, NetworkSeconds: 7}
	want := Cost{Encryptions: 2, Encodes: 3, ShareOps: 5, ComputeSeconds: 0, OfflineSeconds: 1.75, NetworkSeconds: 7}
	if got := c.Offline(); got != want {
		t.Errorf("Offline() = %+v, want %+v", got, want)
	}
}
