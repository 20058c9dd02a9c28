package cost

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Machine is what a profile records of the machine it was measured on,
// and what estimate and validate compare with the machine they run on: a
// profile's seconds hold for its CPU (model name, family and clock) and
// core count (and, a little, for the Go version that compiled the
// measurement). A model name alone does not tell CPUs apart: a cloud's
// virtual machines of two generations both say "AMD EPYC".
type Machine struct {
	CPU       string  // the CPU model name ("" if unknown)
	Family    string  // the CPU family and model numbers, "26.2" ("" if unknown)
	MHz       float64 // the first core's clock when described (0 if unknown)
	Cores     int
	GoVersion string
	OS, Arch  string // "" in a profile's record, which does not keep them
}

// ThisMachine describes the machine the process runs on. The CPU is read
// from /proc/cpuinfo where there is one; its clock is the nominal one
// that cpufreq describes (base, else the maximum), and where the kernel
// does not scale the frequency (a virtual machine) the clock
// /proc/cpuinfo describes, which is then the nominal one too.
func ThisMachine() Machine {
	c := cpuInfo()
	if mhz := nominalMHz(); mhz > 0 {
		c.mhz = mhz
	}
	return Machine{CPU: c.model, Family: c.family, MHz: c.mhz, Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
}

// ClockTolerance is how far apart (relative) two nominal clocks of one
// CPU model may read and still be one machine's: two generations sold
// under one model name differ by far more.
const ClockTolerance = 0.02

func (m Machine) String() string {
	cpu := m.CPU
	if cpu == "" {
		cpu = "unknown CPU"
	}
	parts := []string{cpu}
	if m.Family != "" {
		parts = append(parts, "family "+m.Family)
	}
	if m.MHz > 0 {
		parts = append(parts, fmt.Sprintf("%.0f MHz", m.MHz))
	}
	parts = append(parts, fmt.Sprintf("%d cores", m.Cores))
	if m.OS != "" || m.Arch != "" {
		parts = append(parts, m.OS+"/"+m.Arch)
	}
	if m.GoVersion != "" {
		parts = append(parts, m.GoVersion)
	}
	return strings.Join(parts, ", ")
}

// Key is a short name of the machine's CPU (model name, family) and core
// count, for file names (see cgsim's --profile auto, which measures again
// a profile kept under its key whose clock is not this machine's).
func (m Machine) Key() string {
	id := m.CPU
	if id == "" {
		id = "unknown cpu"
	}
	if m.Family != "" {
		id += " " + m.Family
	}
	var b strings.Builder
	for _, r := range strings.ToLower(id) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	cpu := strings.Trim(b.String(), "-")
	if cpu == "" {
		cpu = "unknown-cpu"
	}
	if len(cpu) > 80 {
		cpu = strings.TrimRight(cpu[:80], "-")
	}
	return fmt.Sprintf("%s-%dc", cpu, m.Cores)
}

// MachineOf is the machine a profile records (CPU "" for a profile that
// does not record one, such as those measured before it did).
func (p *Profile) MachineOf() Machine {
	return Machine{CPU: p.CPU, Family: p.Family, MHz: p.MHz, Cores: p.Cores, GoVersion: p.GoVersion}
}

// SameMachine reports whether the profile was measured on a machine with
// m's CPU model name and core count, and, where both describe them, its
// family and its clock (within ClockTolerance); false if the profile does not
// name its CPU.
func (p *Profile) SameMachine(m Machine) bool {
	if p.CPU == "" || p.CPU != m.CPU || p.Cores != m.Cores {
		return false
	}
	if p.Family != "" && m.Family != "" && p.Family != m.Family {
		return false
	}
	return p.MHz <= 0 || m.MHz <= 0 || math.Abs(p.MHz-m.MHz) <= ClockTolerance*max(p.MHz, m.MHz)
}

// cpuDescription is what /proc/cpuinfo says of the first core.
type cpuDescription struct {
	model, family string
	mhz           float64
}

// cpuInfo reads the first core's description in /proc/cpuinfo (empty
// where there is none).
func cpuInfo() cpuDescription {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return cpuDescription{}
	}
	defer f.Close()
	return parseCPUInfo(io.LimitReader(f, 1<<20))
}

// parseCPUInfo reads the first core's "model name", "cpu family",
// "model" and "cpu MHz" lines; the family is "family.model" when both
// numbers are there.
func parseCPUInfo(r io.Reader) cpuDescription {
	var d cpuDescription
	var fam, mod string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok && k == "" && (d.model != "" || fam != "" || mod != "" || d.mhz != 0) {
			break // the blank line after the first core
		}
		switch {
		case !ok:
		case k == "model name" && d.model == "":
			d.model = v
		case k == "cpu family" && fam == "":
			fam = number(v)
		case k == "model" && mod == "":
			mod = number(v)
		case k == "cpu MHz" && d.mhz == 0:
			if x, err := strconv.ParseFloat(v, 64); err == nil && x > 0 && x < 1e6 {
				d.mhz = x
			}
		}
	}
	if fam != "" && mod != "" {
		d.family = fam + "." + mod
	}
	return d
}

// number is v if it is a small decimal number, else "".
func number(v string) string {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < 1<<16 {
		return strconv.Itoa(n)
	}
	return ""
}

// nominalMHz is the first core's nominal clock as cpufreq describes it
// (its base frequency, else its maximum), 0 where there is no cpufreq.
func nominalMHz() float64 {
	for _, f := range []string{"base_frequency", "cpuinfo_max_freq"} {
		b, err := os.ReadFile("/sys/devices/system/cpu/cpu0/cpufreq/" + f)
		if err != nil {
			continue
		}
		if khz, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64); err == nil && khz > 0 && khz < 1e9 {
			return khz / 1000
		}
	}
	return 0
}
