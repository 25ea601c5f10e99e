// Command pprofserve is warden serve with Go's profiler, for finding where
// the server's memory and time go under bench/realtime's load: warden has
// no profiling endpoint, and a heap profile cannot be taken from outside
// the process.
//
// It serves exactly as `warden serve` does (the same settings from the
// environment, app.New, App.Run) and, in addition, net/http/pprof on
// PPROF_ADDR (default 127.0.0.1:6060; a loopback address only, since the
// profiler has no authentication and reveals memory contents). Use it
// only on a benchmark machine:
//
//	go build -o /tmp/pprofwarden ./bench/realtime/pprofserve
//	go run ./bench/realtime -warden-bin /tmp/pprofwarden -scenario sse -side warden -rounds 1
//	go tool pprof -sample_index=inuse_space -top http://127.0.0.1:6060/debug/pprof/heap   # while it runs
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // the profiler, on http.DefaultServeMux
	"os"
	"os/signal"
	"syscall"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/internal/app"
	"github.com/wardenhq/warden/internal/config"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pprofserve:", err)
		os.Exit(1)
	}
}

func run() error {
	// Like warden, the first argument names the command; only serve is
	// offered.
	if len(os.Args) > 1 && os.Args[1] != "serve" {
		return fmt.Errorf("only serve is supported, not %q", os.Args[1])
	}
	addr := os.Getenv("PPROF_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6060"
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("PPROF_ADDR %q: use a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() { _ = http.Serve(ln, http.DefaultServeMux) }()

	// As warden serve does: the log through a LogWriter, so that the
	// profile shows the access log as the real server pays for it.
	lw := warden.NewLogWriter(os.Stderr, warden.LogWriterOptions{})
	defer func() { _ = lw.Close() }()
	logger := slog.New(lw.JSONHandler(nil))
	cfg, err := config.Load(nil, os.LookupEnv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Run(ctx)
}
