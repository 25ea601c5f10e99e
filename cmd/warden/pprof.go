//go:build wardenpprof

// Built only with -tags wardenpprof, for a benchmark machine: warden serve
// exactly as shipped plus Go's profiler, since a heap profile cannot be
// taken from outside the process. The shipped binary has no profiler: it
// has no authentication and reveals memory contents.
//
//	go build -tags wardenpprof -o /tmp/pprofwarden ./cmd/warden
//	go run ./bench/realtime -warden-bin /tmp/pprofwarden -scenario sse -side warden -rounds 1
//	go tool pprof -sample_index=inuse_space -top http://127.0.0.1:6060/debug/pprof/heap   # while it runs

package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // the profiler, on http.DefaultServeMux
	"os"
)

func init() { beforeServe = serveProfiler }

// serveProfiler serves net/http/pprof on PPROF_ADDR (default
// 127.0.0.1:6060), which must be a loopback address.
func serveProfiler() error {
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
	return nil
}
