package cost

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// Machine is what a profile records of the machine it was measured on,
// and what estimate and validate compare with the machine they run on: a
// profile's seconds hold for its CPU model and core count (and, a little,
// for the Go version that compiled the measurement).
type Machine struct {
	CPU       string // the CPU model ("" if unknown)
	Cores     int
	GoVersion string
	OS, Arch  string
}

// ThisMachine describes the machine the process runs on. The CPU model
// is read from /proc/cpuinfo where there is one.
func ThisMachine() Machine {
	return Machine{CPU: cpuModel(), Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
}

func (m Machine) String() string {
	cpu := m.CPU
	if cpu == "" {
		cpu = "unknown CPU"
	}
	return fmt.Sprintf("%s, %d cores, %s/%s, %s", cpu, m.Cores, m.OS, m.Arch, m.GoVersion)
}

// Key is a short name of the machine's CPU model and core count, for file
// names (see cgsim's --profile auto).
func (m Machine) Key() string {
	var b strings.Builder
	for _, r := range strings.ToLower(m.CPU) {
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
	if len(cpu) > 60 {
		cpu = cpu[:60]
	}
	return fmt.Sprintf("%s-%dc", cpu, m.Cores)
}

// MachineOf is the machine a profile records (CPU "" for a profile that
// does not record one, such as those measured before it did).
func (p *Profile) MachineOf() Machine {
	return Machine{CPU: p.CPU, Cores: p.Cores, GoVersion: p.GoVersion}
}

// SameMachine reports whether the profile was measured on a machine with
// m's CPU model and core count; false if the profile does not say.
func (p *Profile) SameMachine(m Machine) bool {
	return p.CPU != "" && p.CPU == m.CPU && p.Cores == m.Cores
}

// cpuModel is the "model name" of /proc/cpuinfo ("" if there is none).
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
