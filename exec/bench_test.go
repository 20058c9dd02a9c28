package exec

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/montanaflynn/stats"

	"github.com/cgsim/cgsim/internal/hetest"
)

// BenchmarkPrimitives runs every primitive at log N 13 and 14 and reports,
// besides ns/op, the Estimate's compute seconds (est-s/op) and the ratio
// of the estimate to the measured median (est/measured). With
// CGSIM_BENCH_TABLE=1 it also prints, once all have run, a markdown table
// row per primitive from its last (largest b.N) run: the testing package
// runs each sub-benchmark with b.N = 1 before the requested count, and
// that single run's median is noise.
func BenchmarkPrimitives(b *testing.B) {
	var rows []string
	for _, preset := range []string{"bgv-n13", "bgv-n14"} {
		e := hetest.ForBench(b, preset)
		for _, bc := range primitiveCases(b, e) {
			rows = append(rows, "")
			row := &rows[len(rows)-1]
			b.Run(preset+"/"+bc.name, func(b *testing.B) {
				sess, err := NewSession(e.Params, bc.prim)
				if err != nil {
					b.Fatal(err)
				}
				defer sess.Close()
				// Warm-up (and cache setup): at least one run and a quarter
				// of a second, so that the heap and the allocator reach the
				// state they keep over many runs (a single warm-up left the
				// millisecond cases 20-40% slow over their first ten runs).
				for warm := time.Now(); ; {
					if err := bc.run(sess, hetest.NopTally()); err != nil {
						b.Fatal(err)
					}
					if time.Since(warm) > time.Second/4 {
						break
					}
				}
				// The garbage of the session's key generation (and of the
				// previous cases) is not the primitive's: collect it before
				// timing. The Runs' own garbage is collected while they run.
				runtime.GC()
				times := make([]float64, 0, b.N)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					start := time.Now()
					if err := bc.run(sess, hetest.NopTally()); err != nil {
						b.Fatal(err)
					}
					times = append(times, time.Since(start).Seconds())
				}
				b.StopTimer()
				med, err := stats.Median(times)
				if err != nil {
					b.Fatal(err)
				}
				// The run makes its pads inline: the estimate's offline
				// seconds are in the measured time too.
				e := bc.prim.Estimate().Add(bc.extra)
				est := e.ComputeSeconds + e.OfflineSeconds
				b.ReportMetric(est, "est-s/op")
				b.ReportMetric(est/med, "est/measured")
				*row = fmt.Sprintf("| %s | %s | %.4f | %.4f | %+.0f%% |", preset, bc.name, med, est, 100*(est/med-1))
			})
		}
	}
	if os.Getenv("CGSIM_BENCH_TABLE") != "" {
		fmt.Printf("\n| preset | primitive | measured s (median of b.N) | estimated s | est/meas - 1 |\n|---|---|---|---|---|\n")
		for _, r := range rows {
			if r != "" {
				fmt.Println(r)
			}
		}
	}
}
