package main

// The machine's Argon2id limit, measured by a child process of its own
// (this program run again with childEnv=hash) with password.Hasher at the
// server's parameters, while the server is idle.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/wardenhq/warden/bench/internal/benchproc"
	"github.com/wardenhq/warden/password"
)

// hashConfig configures a hash-time run.
type hashConfig struct {
	Params password.Params `json:"params"`
	// Hashes is the number of hashes timed one at a time, and also the
	// number run on every CPU at once for the parallel rate.
	Hashes int `json:"hashes"`
}

// hashResult is one hash-time run.
type hashResult struct {
	GOMAXPROCS int `json:"gomaxprocs"`
	// Single is the median time of one hash computed alone; SingleMin the
	// fastest.
	Single    time.Duration `json:"single_ns"`
	SingleMin time.Duration `json:"single_min_ns"`
	// CPU is the process's CPU time per hash computed alone (from /proc,
	// 10 ms ticks; 0 when unknown): unlike the wall time, other processes
	// on the machine barely change it.
	CPU time.Duration `json:"cpu_ns,omitempty"`
	// Parallel is the rate of hashes per second with GOMAXPROCS
	// goroutines hashing at once: what the cores do together, memory
	// bandwidth shared.
	Parallel float64 `json:"parallel_per_second"`
}

// Limit is the Argon2id limit: cores divided by one hash's time.
func (h hashResult) Limit() float64 {
	if h.Single <= 0 {
		return 0
	}
	return float64(h.GOMAXPROCS) / h.Single.Seconds()
}

func runHashTime() error {
	var c hashConfig
	if err := json.Unmarshal([]byte(os.Getenv(configEnv)), &c); err != nil {
		return fmt.Errorf("hash-time configuration: %w", err)
	}
	res, err := hashTime(c)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// hashTime times c.Hashes hashes one at a time, then the same number per
// CPU with every CPU hashing. The Hasher gets a budget that never makes a
// hash wait, so that only Argon2id (and its allocation) is timed.
func hashTime(c hashConfig) (*hashResult, error) {
	procs := runtime.GOMAXPROCS(0)
	h, err := password.NewHasher(password.Options{Params: c.Params, MemoryBudget: int64(procs+1) * int64(c.Params.Memory) << 10})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	const pw = "correct horse battery staple"
	if _, err := h.Hash(ctx, pw); err != nil { // warm-up: the heap grows once
		return nil, err
	}
	times := make([]float64, 0, c.Hashes)
	minimum := time.Duration(1<<63 - 1)
	cpu0, cpuOK := benchproc.PIDCPU(os.Getpid())
	for range c.Hashes {
		t0 := time.Now()
		if _, err := h.Hash(ctx, pw); err != nil {
			return nil, err
		}
		d := time.Since(t0)
		times = append(times, float64(d))
		minimum = min(minimum, d)
	}
	cpu1, _ := benchproc.PIDCPU(os.Getpid())
	var cpu time.Duration
	if cpuOK {
		cpu = (cpu1 - cpu0) / time.Duration(c.Hashes)
	}
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	t0 := time.Now()
	for range procs {
		wg.Go(func() {
			for range c.Hashes {
				if _, err := h.Hash(ctx, pw); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return &hashResult{
		GOMAXPROCS: procs,
		Single:     time.Duration(benchproc.Median(times)),
		SingleMin:  minimum,
		CPU:        cpu,
		Parallel:   float64(procs*c.Hashes) / elapsed.Seconds(),
	}, nil
}
