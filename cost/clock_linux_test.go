//go:build linux

package cost

import (
	"runtime"
	"testing"
	"time"
)

// TestThreadCPUSecondsIsThisThreads: while a goroutine locked to its
// thread waits, another goroutine's busy loop advances the process's CPU
// time but not the waiting thread's. The loop runs until the process
// clock has seen 100 ms of it; the waiting thread may be charged a little
// (waking up, the runtime's work on it), far below half of that.
func TestThreadCPUSecondsIsThisThreads(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	thread, process := ThreadCPUSeconds(), CPUSeconds()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for CPUSeconds()-process < 0.1 {
			for i := 0; i < 1e5; i++ {
				_ = i * i
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the busy loop did not reach 100 ms of CPU time in a minute")
	}
	dThread, dProcess := ThreadCPUSeconds()-thread, CPUSeconds()-process
	if dProcess < 0.1 || dThread > dProcess/2 {
		t.Errorf("thread %.3f s, process %.3f s of CPU time", dThread, dProcess)
	}
}
