package main

import (
	"bytes"
	"context"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLimitMemoryFollowsTheHashBudget(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	var log bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&log, nil))
	noEnv := func(string) (string, bool) { return "", false }

	limit, set := limitMemory(256<<20, noEnv, logger)
	if !set || limit != 256<<20+memoryHeadroom || debug.SetMemoryLimit(-1) != limit {
		t.Fatalf("limit %d set %v, runtime %d; want %d set", limit, set, debug.SetMemoryLimit(-1), 256<<20+memoryHeadroom)
	}
	if !strings.Contains(log.String(), `"limit_mib":368`) {
		t.Errorf("log %q: want the limit in MiB", log.String())
	}

	// An empty GOMEMLIMIT is as good as none.
	empty := func(k string) (string, bool) { return "", k == "GOMEMLIMIT" }
	if limit, set := limitMemory(64<<20, empty, logger); !set || limit != 64<<20+memoryHeadroom {
		t.Errorf("empty GOMEMLIMIT: limit %d set %v", limit, set)
	}
}

func TestLimitMemoryKeepsGOMEMLIMIT(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	// What the runtime read from GOMEMLIMIT at start-up.
	debug.SetMemoryLimit(2 << 30)
	env := func(k string) (string, bool) {
		if k == "GOMEMLIMIT" {
			return "2GiB", true
		}
		return "", false
	}
	limit, set := limitMemory(256<<20, env, slog.New(slog.DiscardHandler))
	if set || limit != 2<<30 || debug.SetMemoryLimit(-1) != 2<<30 {
		t.Errorf("limit %d set %v, runtime %d; want GOMEMLIMIT's 2 GiB kept", limit, set, debug.SetMemoryLimit(-1))
	}
}

func TestTheMemoryLimitFollowsOpenConnections(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	base := int64(300 << 20)
	debug.SetMemoryLimit(base)
	var open atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go followConnections(ctx, base, func() int { return int(open.Load()) })
	waitLimit := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for debug.SetMemoryLimit(-1) != want {
			if time.Now().After(deadline) {
				t.Fatalf("limit %d, want %d", debug.SetMemoryLimit(-1), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	open.Store(1000)
	waitLimit(base + 1000*connectionMemory)
	open.Store(0)
	waitLimit(base)
}
