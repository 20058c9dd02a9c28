//go:build !linux

package cost

// ThreadCPUSeconds is CPUSeconds where the system does not report a
// thread's CPU time (see clock_linux.go).
func ThreadCPUSeconds() float64 { return CPUSeconds() }
