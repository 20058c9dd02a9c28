//go:build unix

package cost

import "syscall"

// CPUSeconds is the CPU time, user and system, that this process has used
// so far on all its threads. It is the clock of measured compute: other
// processes' load does not advance it (it falls back to wall time if the
// system refuses the query).
func CPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return wallSeconds()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
