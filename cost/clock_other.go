//go:build !unix

package cost

// CPUSeconds is wall time on systems without getrusage (see clock_unix.go).
func CPUSeconds() float64 { return wallSeconds() }
