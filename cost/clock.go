package cost

import "time"

var processStart = time.Now()

// wallSeconds is the wall time since the process started.
func wallSeconds() float64 { return time.Since(processStart).Seconds() }
