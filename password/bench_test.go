package password_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/wardenhq/warden/password"
)

// The benchmarks run at the default parameters. One hash's time bounds the
// logins a machine can serve: about GOMAXPROCS / (seconds per op), which
// they report as logins/s.

func BenchmarkHash(b *testing.B) {
	var h password.Hasher
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
	reportLogins(b)
}

func BenchmarkVerify(b *testing.B) {
	var h password.Hasher
	ctx := context.Background()
	stored, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, "correct horse battery staple", stored); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	reportLogins(b)
}

// BenchmarkHashConcurrent hashes from 8 goroutines per CPU at once, as a
// login flood does. "one-per-CPU" is the default Hasher (MaxConcurrent =
// GOMAXPROCS, the others wait in line); "budget-only" lets the memory
// budget alone decide (13 at once at the default parameters, as before
// MaxConcurrent existed). Besides the wall time it reports the process's
// CPU time per hash: hashes beyond the CPUs finish no sooner and cost
// more CPU each.
func BenchmarkHashConcurrent(b *testing.B) {
	for _, bc := range []struct {
		name          string
		maxConcurrent int
	}{{"one-per-CPU", 0}, {"budget-only", 64}} {
		b.Run(bc.name, func(b *testing.B) {
			h, err := password.NewHasher(password.Options{MaxConcurrent: bc.maxConcurrent, MaxWait: time.Hour, MaxWaiting: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.SetParallelism(8)
			cpu0, ok := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if cpu1, _ := processCPU(); ok {
				b.ReportMetric(float64((cpu1-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			}
			b.ReportMetric(float64(h.Stats().PeakInFlight), "peak-in-flight")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
		})
	}
}

func reportLogins(b *testing.B) {
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(runtime.GOMAXPROCS(0))/perOp, "logins/s")
}
