package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"
)

// memoryHeadroom is what warden serve allows itself beyond the password
// hashing budget: the runtime, connections, caches and garbage not yet
// collected. With the binary's own pages (about 30 MiB more resident,
// outside the Go runtime's count) the process stays within the budget
// plus 160 MiB under a flood of logins (bench/login measures it).
const memoryHeadroom = 112 << 20

// limitMemory makes the hashing memory budget (WARDEN_HASH_MEMORY_BUDGET_MIB)
// a bound on the whole process: it sets the Go runtime's soft memory limit
// to budget + memoryHeadroom, so that the collector runs before the heap
// doubles the live Argon2 memory (GOGC=100 alone lets a heap grow to twice
// what is live) and returns freed memory to the system beyond the limit.
// A GOMEMLIMIT in the environment wins: an operator who set one (for
// example because thousands of open sockets need more than the headroom)
// keeps it. The limit is soft: the runtime may exceed it rather than spend
// more than about half the CPU collecting, so a live heap above it slows
// the server instead of failing it. It returns the limit in force and
// whether it set it.
func limitMemory(budget int64, lookupEnv func(string) (string, bool), logger *slog.Logger) (limit int64, set bool) {
	if v, ok := lookupEnv("GOMEMLIMIT"); ok && v != "" {
		limit = debug.SetMemoryLimit(-1)
		logger.LogAttrs(context.Background(), slog.LevelInfo, "memory limit from GOMEMLIMIT",
			slog.Int64("limit_mib", limit>>20))
		return limit, false
	}
	limit = budget + memoryHeadroom
	debug.SetMemoryLimit(limit)
	logger.LogAttrs(context.Background(), slog.LevelInfo, "memory limit set",
		slog.Int64("limit_mib", limit>>20), slog.Int64("hash_budget_mib", budget>>20))
	return limit, true
}

// connectionMemory is what the limit grows by for each open chat socket or
// event stream: its goroutines, buffers and bookkeeping (bench/realtime
// measured about 50 KB each), with room for the garbage its traffic makes.
const connectionMemory = 96 << 10

// followConnections raises and lowers the soft limit set by limitMemory
// with the number of open sockets and streams (open reports it), once a
// second until ctx ends: a fixed headroom sized for a login flood would
// make the collector run without pause under ten thousand open streams,
// which need their memory as surely as hashing does. The caps on
// connections (WARDEN_WS_*, WARDEN_SSE_*) bound what it can grow to.
func followConnections(ctx context.Context, base int64, open func() int) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	current := base
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		want := base + int64(open())*connectionMemory
		// Only changes over 1 MiB: the call is cheap, but not free.
		if d := want - current; d > 1<<20 || d < -(1<<20) {
			debug.SetMemoryLimit(want)
			current = want
		}
	}
}
