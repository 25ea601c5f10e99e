package main

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wardenhq/warden/bench/internal/benchproc"
)

// histogram counts latencies in microseconds, lock-free: for each power
// of two, 16 linear sub-buckets, so a percentile is within about 6% of
// the true value over the whole range.
type histogram struct {
	counts [64 * 16]atomic.Int64
	max    atomic.Int64
}

func bucketOf(us int64) int {
	if us < 16 {
		return int(max(us, 0))
	}
	e := bits.Len64(uint64(us)) - 5 // us >> e is in [16, 32)
	return e*16 + int(uint64(us)>>e)
}

// bucketValue is the middle of bucket b, in microseconds.
func bucketValue(b int) float64 {
	if b < 32 {
		return float64(b)
	}
	e := b/16 - 1
	lo := float64(uint64(b%16+16) << e)
	return lo + float64(uint64(1)<<e)/2
}

func (h *histogram) record(d time.Duration) {
	us := d.Microseconds()
	h.counts[min(bucketOf(us), len(h.counts)-1)].Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// quantiles returns the latencies, in milliseconds, below which the
// fractions qs of the recorded values lie (0 with none recorded).
func (h *histogram) quantiles(qs ...float64) []float64 {
	var total int64
	counts := make([]int64, len(h.counts))
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
		total += counts[i]
	}
	out := make([]float64, len(qs))
	if total == 0 {
		return out
	}
	for j, q := range qs {
		rank := int64(math.Ceil(q * float64(total)))
		var seen int64
		for i, c := range counts {
			seen += c
			if seen >= max(rank, 1) {
				out[j] = min(bucketValue(i), float64(h.max.Load())) / 1000
				break
			}
		}
	}
	return out
}

// procSample is what /proc tells about a process at one moment.
type procSample struct {
	At    time.Time
	RSSKB int64         // VmRSS
	HWMKB int64         // VmHWM, the peak RSS so far
	CPU   time.Duration // user plus system, all threads
}

// readProc samples process pid (Linux); ok is false when it cannot.
func readProc(pid int) (s procSample, ok bool) {
	s.At = time.Now()
	m, err := benchproc.ProcMemory(pid)
	if err != nil {
		return s, false
	}
	s.RSSKB, s.HWMKB = m.RSS>>10, m.Peak>>10
	s.CPU, ok = benchproc.PIDCPU(pid)
	return s, ok
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// raiseFileLimit lifts the soft limit on open files to the hard limit:
// thousands of streams need as many descriptors in the server and in the
// generator. Children inherit it, warden serve included.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
	}
	return l.Cur, nil
}

// gcLine is one line of the Go runtime's GODEBUG=gctrace=1 output:
//
//	gc 12 @3.456s 2%: ... ms cpu, 40->42->21 MB, 44 MB goal, 3 MB stacks, 0 MB globals, 2 P
type gcLine struct {
	At       time.Duration // since the process started
	LiveMB   float64       // heap live after the cycle (the third of a->b->c)
	GoalMB   float64
	StacksMB float64
}

// parseGCLine reads one gctrace line; ok is false for any other line.
func parseGCLine(line string) (g gcLine, ok bool) {
	rest, found := strings.CutPrefix(line, "gc ")
	if !found {
		return g, false
	}
	_, rest, found = strings.Cut(rest, " @")
	if !found {
		return g, false
	}
	at, rest, found := strings.Cut(rest, "s ")
	if !found {
		return g, false
	}
	secs, err := strconv.ParseFloat(at, 64)
	if err != nil || secs < 0 || secs > 1e9 {
		return g, false
	}
	g.At = time.Duration(secs * float64(time.Second))
	seen := 0
	for field := range strings.SplitSeq(rest, ", ") {
		num, unit, found := strings.Cut(strings.TrimSpace(field), " MB")
		if !found {
			continue
		}
		switch strings.TrimSpace(unit) {
		case "":
			if parts := strings.Split(num, "->"); len(parts) == 3 {
				g.LiveMB, err = strconv.ParseFloat(parts[2], 64)
				seen++
			}
		case "goal":
			g.GoalMB, err = strconv.ParseFloat(num, 64)
			seen++
		case "stacks":
			g.StacksMB, err = strconv.ParseFloat(num, 64)
			seen++
		}
		if err != nil {
			return g, false
		}
	}
	return g, seen == 3
}
