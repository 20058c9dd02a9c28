package cost

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Machine is what a profile records of the machine it was measured on,
// and what estimate and validate compare with the machine they run on: a
// profile's seconds hold for its CPU model and core count (and, a little,
// for the Go version that compiled the measurement).
type Machine struct {
	CPU       string  // the CPU model ("" if unknown)
	MHz       float64 // the first core's clock when described (0 if unknown)
	Cores     int
	GoVersion string
	OS, Arch  string // "" in a profile's record, which does not keep them
}

// ThisMachine describes the machine the process runs on. The CPU model
// is read from /proc/cpuinfo where there is one.
func ThisMachine() Machine {
	cpu, mhz := cpuInfo()
	return Machine{CPU: cpu, MHz: mhz, Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
}

func (m Machine) String() string {
	cpu := m.CPU
	if cpu == "" {
		cpu = "unknown CPU"
	}
	parts := []string{cpu}
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
	return Machine{CPU: p.CPU, MHz: p.MHz, Cores: p.Cores, GoVersion: p.GoVersion}
}

// SameMachine reports whether the profile was measured on a machine with
// m's CPU model and core count; false if the profile does not say.
func (p *Profile) SameMachine(m Machine) bool {
	return p.CPU != "" && p.CPU == m.CPU && p.Cores == m.Cores
}

// cpuInfo is the first "model name" and "cpu MHz" of /proc/cpuinfo (""
// and 0 where there is none).
func cpuInfo() (model string, mhz float64) {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "", 0
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() && (model == "" || mhz == 0) {
		k, v, ok := strings.Cut(sc.Text(), ":")
		switch k, v = strings.TrimSpace(k), strings.TrimSpace(v); {
		case !ok:
		case k == "model name" && model == "":
			model = v
		case k == "cpu MHz" && mhz == 0:
			if x, err := strconv.ParseFloat(v, 64); err == nil && x > 0 && x < 1e6 {
				mhz = x
			}
		}
	}
	return model, mhz
}
