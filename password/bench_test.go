package password_test

import (
	"context"
	"runtime"
	"testing"

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

func reportLogins(b *testing.B) {
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(runtime.GOMAXPROCS(0))/perOp, "logins/s")
}
