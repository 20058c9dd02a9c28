package cost

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// FuzzReadProfile checks that no profile file makes ReadProfile panic, and
// that what it accepts prices every op it has at every level to a finite,
// positive number of seconds, however many operations a generation makes
// (a profile of 1e308 s per op made estimates +Inf, which JSON cannot
// hold). The seeds are the embedded profiles and damaged ones.
func FuzzReadProfile(f *testing.F) {
	for _, name := range DefaultNames() {
		p, err := Default(name)
		if err != nil {
			f.Fatal(err)
		}
		var b bytes.Buffer
		if err := WriteProfile(&b, p); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
		f.Add(b.Bytes()[:b.Len()/2])
		f.Add(bytes.Replace(b.Bytes(), []byte(`"max_level": `), []byte(`"max_level": 1`), 1))
	}
	f.Add([]byte(`{"params": "x", "log_n": 13, "max_level": 0, "seconds": {"add": [1e308]}}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadProfile(bytes.NewReader(data))
		if err != nil {
			return
		}
		for op, row := range p.Seconds {
			for lvl := range row {
				c := p.Charge(op, lvl, 1<<40)
				if s := c.ComputeSeconds + c.OfflineSeconds; !(s > 0) || math.IsInf(s, 0) {
					t.Fatalf("%s at level %d: 2^40 operations priced %v s", op, lvl, s)
				}
			}
		}
	})
}

// TestReadProfileBounds checks the bounds ReadProfile puts on a file: an
// operation priced beyond MaxOpSeconds, data after the profile, and a file
// beyond 1 MiB are errors.
func TestReadProfileBounds(t *testing.T) {
	p, err := Default(DefaultNames()[0])
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteProfile(&b, p); err != nil {
		t.Fatal(err)
	}
	good := b.String()
	// priced returns the profile's JSON with one add priced s seconds.
	priced := func(s float64) string {
		q := *p
		q.Seconds = map[Op][]float64{}
		for op, row := range p.Seconds {
			q.Seconds[op] = append([]float64(nil), row...)
		}
		q.Seconds[OpAdd][0] = s
		b, err := json.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name, data, want string
	}{
		{"1e308 s per add", priced(1e308), "1e+308 seconds"},
		{"an hour and a second", priced(MaxOpSeconds + 1), "3601 seconds"},
		{"data after it", good + "{}", "after"},
		{"beyond 1 MiB", good + strings.Repeat(" ", 1<<20), "larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadProfile(strings.NewReader(tt.data)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := ReadProfile(strings.NewReader(priced(MaxOpSeconds))); err != nil {
		t.Errorf("an add of MaxOpSeconds: %v", err)
	}
	if _, err := ReadProfile(strings.NewReader(good + "\n")); err != nil {
		t.Errorf("a written profile does not read back: %v", err)
	}
}
