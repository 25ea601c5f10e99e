package main

// External mode: the same load generator driving servers that run in
// other processes (the real warden binary, a bare server), so that the
// generator's own work is not charged to a server's process and the
// servers run exactly as deployed. bench/books uses it:
//
//	go run ./bench/load -target bare=http://127.0.0.1:9001/x \
//	    -target first=http://127.0.0.1:9002/api/books -server-pid first=1234 -json
//
// -header "Name: value" (repeatable) is sent to every target, such as a
// bearer token (bench/compare uses this mode when wrk is not installed).
// Each target is checked once (it must answer 200); its body then is the
// expected body of every later answer, byte for byte, so a target must
// answer the same bytes every time (a read-only page does). Rounds
// alternate between the targets as in the in-process mode.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wardenhq/warden/bench/internal/benchproc"
)

// namedValues is a repeatable name=value flag, in order.
type namedValues struct{ names, values []string }

func (n *namedValues) String() string { return strings.Join(n.names, ",") }

func (n *namedValues) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" || value == "" {
		return errors.New("want name=value")
	}
	n.names = append(n.names, name)
	n.values = append(n.values, value)
	return nil
}

func (n *namedValues) get(name string) string {
	for i, v := range n.names {
		if v == name {
			return n.values[i]
		}
	}
	return ""
}

// headerValues is a repeatable "Name: value" flag.
type headerValues struct{ h http.Header }

func (v *headerValues) String() string {
	if v.h == nil {
		return ""
	}
	var b strings.Builder
	_ = v.h.Write(&b)
	return b.String()
}

func (v *headerValues) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return errors.New(`want "Name: value"`)
	}
	if v.h == nil {
		v.h = http.Header{}
	}
	v.h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

var (
	targets      namedValues
	serverPIDs   namedValues
	extraHeaders headerValues
)

func init() {
	flag.Var(&targets, "target", "drive an external server instead: `name=URL` (repeatable; ratios are to the first)")
	flag.Var(&extraHeaders, "header", "with -target: a request header `\"Name: value\"` sent to every target (repeatable), such as a bearer token")
	flag.Var(&serverPIDs, "server-pid", "with -target: `name=PID` of the process serving that target, to report its CPU time per request (Linux)")
}

// externalReport is the outcome of an external run.
type externalReport struct {
	GoVersion   string         `json:"go_version"`
	GOMAXPROCS  int            `json:"gomaxprocs"`
	NumCPU      int            `json:"num_cpu"`
	Workers     int            `json:"workers"`
	Rounds      int            `json:"rounds"`
	Duration    time.Duration  `json:"duration_ns"`
	Warmup      time.Duration  `json:"warmup_ns"`
	LoadAverage string         `json:"load_average_before,omitempty"`
	Targets     []targetResult `json:"targets"`
	TotalErrors int64          `json:"total_errors"`
}

// targetResult is one target's measurements; ratios are to the first
// target's median req/s.
type targetResult struct {
	sideResult
	URL       string `json:"url"`
	BodyBytes int    `json:"body_bytes"`
	// ServerCPUPerRequestUS is the serving process's CPU time per answer in
	// each round (-server-pid); MedianServerCPUPerRequestUS their median.
	ServerCPUPerRequestUS       []float64 `json:"server_cpu_us_per_request,omitempty"`
	MedianServerCPUPerRequestUS float64   `json:"median_server_cpu_us_per_request,omitempty"`
	// Ratio is this target's median req/s over the first target's.
	Ratio float64 `json:"ratio_to_first"`
	// MeanLatencyMS is workers / req/s: each worker has one request in
	// flight at a time.
	MeanLatencyMS float64 `json:"mean_latency_ms"`
}

// runExternal drives the -target servers and prints the report; it
// returns the exit code.
func runExternal(o options, asJSON bool) int {
	progress := io.Writer(os.Stdout)
	if asJSON {
		progress = os.Stderr
	}
	rep, err := driveExternal(context.Background(), o, progress)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		return 1
	}
	if asJSON {
		if err := benchproc.WriteJSON(os.Stdout, rep); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			return 1
		}
	} else {
		printExternal(os.Stdout, rep)
	}
	if rep.TotalErrors > 0 {
		return 1
	}
	return 0
}

func driveExternal(ctx context.Context, o options, progress io.Writer) (*externalReport, error) {
	rep := &externalReport{
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		Workers: o.Workers, Rounds: o.Rounds, Duration: o.Duration, Warmup: o.Warmup, LoadAverage: benchproc.LoadAverage(),
	}
	var sides []*side
	pids := make([]int, len(targets.names))
	for i, name := range targets.names {
		s := externalSide(name, targets.values[i], o.Workers)
		defer s.client.CloseIdleConnections()
		if err := s.fetchWant(ctx); err != nil {
			return nil, err
		}
		if p := serverPIDs.get(name); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil {
				return nil, fmt.Errorf("-server-pid %s=%s: %w", name, p, err)
			}
			pids[i] = n
		}
		sides = append(sides, s)
	}
	fmt.Fprintf(progress, "load average before the run: %s; GOMAXPROCS=%d NumCPU=%d; workers=%d duration=%v warmup=%v rounds=%d\n",
		rep.LoadAverage, rep.GOMAXPROCS, rep.NumCPU, o.Workers, o.Duration, o.Warmup, o.Rounds)
	results := make([]targetResult, len(sides))
	for round := 1; round <= o.Rounds; round++ {
		for i, s := range sides {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if o.Warmup > 0 {
				s.drive(o.Workers, o.Warmup)
			}
			cpu0, cpuOK := benchproc.PIDCPU(pids[i])
			n, elapsed := s.drive(o.Workers, o.Duration)
			cpu1, _ := benchproc.PIDCPU(pids[i])
			rps := float64(n) / elapsed.Seconds()
			s.res.Requests += n
			s.res.RPS = append(s.res.RPS, rps)
			note := ""
			if cpuOK && n > 0 {
				us := float64((cpu1 - cpu0).Microseconds()) / float64(n)
				results[i].ServerCPUPerRequestUS = append(results[i].ServerCPUPerRequestUS, us)
				note = fmt.Sprintf(", server %.1f CPU-us/request", us)
			}
			fmt.Fprintf(progress, "round %d  %-12s %8.0f req/s  (%d requests in %v%s, %d errors so far)\n",
				round, s.name, rps, n, elapsed.Round(time.Millisecond), note, s.errors())
		}
	}
	for i, s := range sides {
		s.res.Name = s.name
		s.res.MedianRPS = benchproc.Median(s.res.RPS)
		r := &results[i]
		r.sideResult = s.res
		r.URL = s.url
		r.BodyBytes = len(s.want)
		r.MedianServerCPUPerRequestUS = benchproc.Median(r.ServerCPUPerRequestUS)
		if first := sides[0].res.MedianRPS; first > 0 {
			r.Ratio = s.res.MedianRPS / first
		}
		if s.res.MedianRPS > 0 {
			r.MeanLatencyMS = float64(o.Workers) / s.res.MedianRPS * 1000
		}
		rep.TotalErrors += s.res.Errors
	}
	rep.Targets = results
	return rep, nil
}

// externalSide is a client for a server in another process.
func externalSide(name, url string, workers int) *side {
	h := extraHeaders.h.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Accept", "application/json")
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        workers,
		MaxIdleConnsPerHost: workers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &side{
		name:   name,
		labels: pprof.Labels("side", name),
		url:    url,
		header: h,
		client: &http.Client{Transport: tr, Timeout: 10 * time.Second},
	}
}

// fetchWant asks the target once; its 200 body is the expected body of
// every later answer.
func (s *side) fetchWant(ctx context.Context) error {
	resp, body, err := s.fetch(ctx)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		return fmt.Errorf("%s: got %d with %d bytes, want 200 with a body", s.name, resp.StatusCode, len(body))
	}
	s.want = body
	return nil
}

func printExternal(w io.Writer, r *externalReport) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tmedian req/s\tratio to first\tmean latency ms\tserver CPU-us/req\tbody bytes\trequests\terrors\t")
	for _, t := range r.Targets {
		fmt.Fprintf(tw, "%s\t%.0f\t%.3fx\t%.2f\t%.1f\t%d\t%d\t%d\t\n", t.Name, t.MedianRPS, t.Ratio, t.MeanLatencyMS, t.MedianServerCPUPerRequestUS, t.BodyBytes, t.Requests, t.Errors)
	}
	_ = tw.Flush()
	for _, t := range r.Targets {
		if t.Errors > 0 {
			fmt.Fprintf(w, "ERRORS on %s: %d, first: %s\n", t.Name, t.Errors, t.FirstError)
		}
	}
}
