package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/bench/internal/benchproc"
)

// wrkGen is wrk, Debian's package: C, event-driven, keep-alive, no body
// check (each target was checked once before).
type wrkGen struct{ threads, conns int }

func (g *wrkGen) name() string            { return "wrk" }
func (g *wrkGen) buildNote() string       { return "" }
func (g *wrkGen) build(_, _ string) error { return nil }

func (g *wrkGen) run(t *target, d time.Duration) (runResult, error) {
	args := []string{"-t", strconv.Itoa(g.threads), "-c", strconv.Itoa(g.conns),
		"-d", strconv.Itoa(int(d.Round(time.Second)/time.Second)) + "s", "--timeout", "5s"}
	for _, k := range slices.Sorted(maps.Keys(t.header)) {
		for _, v := range t.header[k] {
			args = append(args, "-H", k+": "+v)
		}
	}
	out, err := exec.Command("wrk", append(args, t.URL)...).CombinedOutput()
	if err != nil {
		return runResult{}, fmt.Errorf("wrk %s: %w: %s", t.Name, err, out)
	}
	res, err := parseWrk(string(out))
	if err != nil {
		return runResult{}, fmt.Errorf("wrk %s: %w: %s", t.Name, err, out)
	}
	return res, nil
}

// parseWrk reads wrk's summary: the request count, Requests/sec, and the
// failure lines it prints only when there were failures ("Non-2xx or 3xx
// responses: N", "Socket errors: connect N, read N, write N, timeout N").
func parseWrk(out string) (runResult, error) {
	var r runResult
	var haveCount, haveRate bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.Contains(line, " requests in "):
			n, err := strconv.ParseInt(strings.Fields(line)[0], 10, 64)
			if err != nil || n < 0 {
				return r, fmt.Errorf("request count in %q", line)
			}
			r.requests, haveCount = n, true
		case strings.HasPrefix(line, "Requests/sec:"):
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, "Requests/sec:")), 64)
			if err != nil || v < 0 {
				return r, fmt.Errorf("rate in %q", line)
			}
			r.rps, haveRate = v, true
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:"):
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "Non-2xx or 3xx responses:")), 10, 64)
			if err != nil || n < 0 {
				return r, fmt.Errorf("failure count in %q", line)
			}
			r.failures += n
			r.failNote = line
		case strings.HasPrefix(line, "Socket errors:"):
			for _, part := range strings.Split(strings.TrimPrefix(line, "Socket errors:"), ",") {
				f := strings.Fields(part)
				if len(f) != 2 {
					return r, fmt.Errorf("socket errors in %q", line)
				}
				n, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil || n < 0 {
					return r, fmt.Errorf("socket errors in %q", line)
				}
				r.failures += n
			}
			if r.failNote == "" {
				r.failNote = line
			}
		}
	}
	if !haveCount || !haveRate {
		return r, errors.New("no request count or rate in wrk's output")
	}
	// Requests/sec counts every answer, failed ones too; only good ones
	// count here.
	if r.failures > 0 && r.requests > 0 {
		good := max(r.requests-r.failures, 0)
		r.rps *= float64(good) / float64(r.requests)
		r.requests = good
	}
	return r, nil
}

// goGen is bench/load in external mode, in a process of its own: one
// request at a time per worker and keep-alive connection, every body
// compared with the first answer's.
type goGen struct {
	workers int
	bin     string
}

func (g *goGen) name() string      { return "bench/load" }
func (g *goGen) buildNote() string { return " and bench/load (wrk is not on PATH)" }

func (g *goGen) build(root, tmp string) error {
	g.bin = filepath.Join(tmp, "load")
	return benchproc.Build(root, g.bin, "./bench/load")
}

func (g *goGen) run(t *target, d time.Duration) (runResult, error) {
	args := []string{"-json", "-workers", strconv.Itoa(g.workers), "-rounds", "1",
		"-duration", d.String(), "-warmup", "0", "-target", t.Name + "=" + t.URL}
	for k, vs := range t.header {
		if k == "Accept" {
			continue // bench/load sends it itself
		}
		for _, v := range vs {
			args = append(args, "-header", k+": "+v)
		}
	}
	out, runErr := exec.Command(g.bin, args...).Output()
	var rep struct {
		Targets []struct {
			Requests  int64     `json:"requests"`
			RPS       []float64 `json:"rps"`
			Errors    int64     `json:"errors"`
			FirstErr  string    `json:"first_error"`
			MedianRPS float64   `json:"median_rps"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(out, &rep); err != nil || len(rep.Targets) != 1 {
		return runResult{}, fmt.Errorf("bench/load %s: %v %v", t.Name, runErr, err)
	}
	s := rep.Targets[0]
	return runResult{requests: s.Requests, rps: s.MedianRPS, failures: s.Errors, failNote: s.FirstErr}, nil
}
