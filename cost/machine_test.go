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
	if got := parseCPUInfo(strings.NewReader("model name\t: X\ncpu family\t: lots\nmodel\t: 3\n")); got != (cpuDescription{model: "X"}) {
		t.Errorf("a family that is no number: got %+v", got)
	}
}

// TestSameMachine: a profile's seconds hold on a machine of its CPU model
// name, family, clock (within SameClock) and core count; what either side
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
		{"clock within 2%", Machine{CPU: "AMD EPYC", Family: "26.2", MHz: 2096.017 * 1.015, Cores: 2}, true},
		// Two generations sold under one name: the family or the clock tells.
		{"another family", Machine{CPU: "AMD EPYC", Family: "25.1", MHz: 2096.017, Cores: 2}, false},
		{"another clock", Machine{CPU: "AMD EPYC", MHz: 2596, Cores: 2}, false},
		{"another name", Machine{CPU: "Intel Xeon", Family: "26.2", MHz: 2096.017, Cores: 2}, false},
		{"more cores", Machine{CPU: "AMD EPYC", Family: "26.2", MHz: 2096.017, Cores: 4}, false},
		{"nothing but the name and cores described", Machine{CPU: "AMD EPYC", Cores: 2}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Profile{CPU: tc.m.CPU, Family: tc.m.Family, MHz: tc.m.MHz, Cores: tc.m.Cores}
			if got := p.SameMachine(ref); got != tc.want {
				t.Errorf("SameMachine = %v, want %v", got, tc.want)
			}
			if same := tc.m.Key() == ref.Key(); same && !tc.want && tc.m.MHz == ref.MHz {
				t.Errorf("two machines share the key %s", ref.Key())
			}
		})
	}
	if p := (&Profile{Cores: 2}); p.SameMachine(Machine{Cores: 2}) {
		t.Error("a profile that names no CPU matched")
	}
	if got, want := ref.Key(), "amd-epyc-26-2-2096mhz-2c"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
}
