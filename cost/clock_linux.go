//go:build linux

package cost

import "syscall"

// rusageThread is Linux's RUSAGE_THREAD: the calling thread's usage.
const rusageThread = 1

// ThreadCPUSeconds is the CPU time, user and system, that the calling OS
// thread has used so far. Around what it measures, lock the goroutine to
// its thread (runtime.LockOSThread): it then counts that goroutine's work
// alone, not the other goroutines' that the process runs meanwhile. Where
// the system does not report a thread's time it is CPUSeconds.
func ThreadCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return CPUSeconds()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
