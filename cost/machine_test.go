package cost

import (
	"strings"
	"testing"
)

// TestParseCPUInfo reads the first core of a /proc/cpuinfo as a cloud's
// virtual machine writes it (two cores; the second says other things,
// which must not be read).
func TestParseCPUInfo(t *testing.T) {
	const cpuinfo = `processor	: 0
vendor_id	: AuthenticAMD
cpu family	: 26
model		: 2
model name	: AMD EPYC
stepping	: 1
cpu MHz		: 2096.017
cache size	: 1024 KB

processor	: 1
vendor_id	: AuthenticAMD
cpu family	: 25
model		: 17
model name	: Other
cpu MHz		: 2596.000
`
	got := parseCPUInfo(strings.NewReader(cpuinfo))
	if want := (cpuDescription{model: "AMD EPYC", family: "26.2", mhz: 2096.017}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// Without a model name the first core still ends at its blank line.
	if got := parseCPUInfo(strings.NewReader("cpu family\t: 6\nmodel\t: 85\n\ncpu family\t: 7\ncpu MHz\t: 3000\n")); got != (cpuDescription{family: "6.85"}) {
		t.Errorf("no model name: got %+v", got)
	}
	if got := parseCPUInfo(strings.NewReader("model name\t: X\ncpu family\t: lots\nmodel\t: 3\n")); got != (cpuDescription{model: "X"}) {
		t.Errorf("a family that is no number: got %+v", got)
	}
}

// TestSameMachine: a profile's seconds hold on a machine of its CPU model
// name, family, clock (within ClockTolerance) and core count; what either side
// does not describe is not compared, but the model name must be there.
func TestSameMachine(t *testing.T) {
	ref := Machine{CPU: "AMD EPYC", Family: "26.2", MHz: 2096.017, Cores: 2}
	for _, tc := range []struct {
		name string
		m    Machine
		want bool
	}{
		{"same", ref, true},
		{"another Go", Machine{CPU: "AMD EPYC", Family: "26.2", MHz: 2096.017, Cores: 2, GoVersion: "go1.99"}, true},
		{"clock within ClockTolerance", Machine{CPU: "AMD EPYC", Family: "26.2", MHz: 2096.017 * 1.015, Cores: 2}, true},
		// Two generations sold under one name: the family or the clock tells.
		{"another family", Machine{CPU: "AMD EPYC", Family: "25.1", MHz: 2096.017, Cores: 2}, false},
		{"another clock", Machine{CPU: "AMD EPYC", MHz: 2596, Cores: 2}, false},
		{"another name", Machine{CPU: "Intel Xeon", Family: "26.2", MHz: 2096.017, Cores: 2}, false},
		{"more cores", Machine{CPU: "AMD EPYC", Family: "26.2", MHz: 2096.017, Cores: 4}, false},
		{"nothing but the name and cores described", Machine{CPU: "AMD EPYC", Cores: 2}, true},
		{"no family described", Machine{CPU: "AMD EPYC", MHz: 2096.017, Cores: 2}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Profile{CPU: tc.m.CPU, Family: tc.m.Family, MHz: tc.m.MHz, Cores: tc.m.Cores}
			if got := p.SameMachine(ref); got != tc.want {
				t.Errorf("SameMachine = %v, want %v", got, tc.want)
			}
			// A key names the model, family and cores: the profile kept
			// under it is measured again if its clock is not this one's.
			wantKey := tc.m.CPU == ref.CPU && tc.m.Family == ref.Family && tc.m.Cores == ref.Cores
			if same := tc.m.Key() == ref.Key(); same != wantKey {
				t.Errorf("keys %s and %s: same %v", tc.m.Key(), ref.Key(), same)
			}
		})
	}
	if p := (&Profile{Cores: 2}); p.SameMachine(Machine{Cores: 2}) {
		t.Error("a profile that names no CPU matched")
	}
	if got := (Machine{Family: "26.2", Cores: 2}).Key(); got != "unknown-cpu-26-2-2c" {
		t.Errorf("a machine that names no CPU: key %q", got)
	}
	if got, want := ref.Key(), "amd-epyc-26-2-2c"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
}
