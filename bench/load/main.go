// Command load compares the throughput of a bare net/http server with the
// same handler behind the full Warden pipeline, over real HTTP/1.1
// keep-alive connections on the loopback interface.
//
// In one run it starts both servers on 127.0.0.1 ephemeral ports and drives
// them with an in-process load generator, alternating bare/pipeline rounds
// to cancel drift (thermal, other processes, GC state). Each round warms the
// side up, then counts responses for a fixed duration; every response must be
// 200 with the expected body, or it counts as an error.
//
//	go run ./bench/load                       # 3 rounds of 10s per side, 16 workers
//	go run ./bench/load -rounds 5 -duration 20s -workers 64
//	go run ./bench/load -json                 # results as JSON on stdout
//	go run ./bench/load -cpuprofile load.pprof
//	go tool pprof -tagfocus side=pipeline -top -cum load.pprof
//
// Besides requests per second, each round reports the CPU time the process
// used per request and how many CPUs it kept busy, which tell a slower
// pipeline from a machine that other processes were using at the time.
//
// The load generator shares the machine's CPUs with both servers, so the
// ratio is of end-to-end throughput on this machine, not of server CPU
// cost alone; see bench/README.md.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/wardenhq/warden/bench/internal/benchproc"
	"github.com/wardenhq/warden/internal/benchfixture"
	"github.com/wardenhq/warden/secure"
)

// TargetRatio is the goal: the pipeline at 90% or more of bare
// net/http throughput.
const TargetRatio = 0.90

// options are the knobs of one run.
type options struct {
	Workers  int
	Duration time.Duration // measured time per round and side
	Warmup   time.Duration // unmeasured time before each measured round
	Rounds   int
	// HeadersControl adds a third server: the bare handler sending the
	// pipeline's response headers, to show what sending them costs.
	HeadersControl bool
}

// sideResult is one server's measurements.
type sideResult struct {
	Name string `json:"name"`
	// RPS is the throughput of each round, in order.
	RPS []float64 `json:"rps"`
	// MedianRPS is the median of RPS.
	MedianRPS float64 `json:"median_rps"`
	// Requests counts 200 answers with the expected body in measured time.
	Requests int64 `json:"requests"`
	// Errors counts transport errors, other statuses and wrong bodies,
	// warm-up included.
	Errors int64 `json:"errors"`
	// FirstError describes the first error, for diagnosis.
	FirstError string `json:"first_error,omitempty"`
	// CPUPerRequestUS is, for each round, the CPU time this process used
	// (load generator and servers together) per good response, in
	// microseconds; empty where the platform cannot tell.
	CPUPerRequestUS []float64 `json:"cpu_per_request_us,omitempty"`
	// MedianCPUPerRequestUS is the median of CPUPerRequestUS.
	MedianCPUPerRequestUS float64 `json:"median_cpu_per_request_us,omitempty"`
	// CPUsBusy is, for each round, the CPU time this process used divided
	// by the wall time: how many of the GOMAXPROCS CPUs it kept busy. Well
	// under GOMAXPROCS means other processes took the CPUs, or the side
	// was bound by latency rather than CPU.
	CPUsBusy []float64 `json:"cpus_busy,omitempty"`
	// AllocBytesPerRequest is, for each round, the bytes the process
	// allocated (servers and load generator) per good response, and
	// GCCycles the garbage collections the round ran.
	AllocBytesPerRequest []float64 `json:"alloc_bytes_per_request"`
	GCCycles             []uint32  `json:"gc_cycles"`
}

// report is the outcome of a run.
type report struct {
	GoVersion  string        `json:"go_version"`
	GOOS       string        `json:"goos"`
	GOARCH     string        `json:"goarch"`
	GOMAXPROCS int           `json:"gomaxprocs"`
	NumCPU     int           `json:"num_cpu"`
	Workers    int           `json:"workers"`
	Rounds     int           `json:"rounds"`
	Duration   time.Duration `json:"duration_ns"`
	Warmup     time.Duration `json:"warmup_ns"`
	// LoadAverage is the 1-minute load average before the run (Linux);
	// well above zero means other processes competed for the CPUs.
	LoadAverage string     `json:"load_average_before,omitempty"`
	Pipeline    string     `json:"pipeline"`
	Bare        sideResult `json:"bare"`
	Warden      sideResult `json:"warden"`
	// Ratio is median pipeline req/s / median bare req/s.
	Ratio float64 `json:"ratio"`
	// RoundRatios is pipeline/bare req/s within each round.
	RoundRatios []float64 `json:"round_ratios"`
	MedianRound float64   `json:"median_round_ratio"`
	// CPURatio is bare CPU per request / pipeline CPU per request (medians):
	// the throughput ratio a CPU-bound machine would show, and less
	// disturbed than Ratio by other processes competing for the CPUs.
	CPURatio       float64 `json:"cpu_ratio,omitempty"`
	Target         float64 `json:"target_ratio"`
	MeetsTarget    bool    `json:"meets_target"`
	TotalErrors    int64   `json:"total_errors"`
	AccessLogNotes string  `json:"access_log"`
	// HeadersControl is the bare handler plus the pipeline's response
	// headers (-headers-control), and HeadersRatio its median req/s over
	// bare's.
	HeadersControl *sideResult `json:"bare_with_pipeline_headers,omitempty"`
	HeadersRatio   float64     `json:"headers_ratio,omitempty"`
}

func main() {
	var o options
	flag.IntVar(&o.Workers, "workers", 16, "concurrent client workers, each on its own keep-alive connection")
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "measured duration of each round, per side")
	flag.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured warm-up before each measured round")
	flag.IntVar(&o.Rounds, "rounds", 3, "alternating bare/pipeline rounds")
	asJSON := flag.Bool("json", false, "print the results as JSON on stdout (progress goes to stderr)")
	flag.BoolVar(&o.HeadersControl, "headers-control", false, "also drive the bare handler sending the pipeline's response headers, to isolate what the headers cost")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (servers and load generator) to `file`")
	flag.Parse()
	if o.Workers < 1 || o.Rounds < 1 || o.Duration <= 0 || o.Warmup < 0 {
		fmt.Fprintln(os.Stderr, "load: -workers and -rounds must be at least 1, -duration positive, -warmup not negative")
		os.Exit(2)
	}
	if len(targets.names) > 0 {
		os.Exit(runExternal(o, *asJSON)) // external.go
	}

	progress := io.Writer(os.Stdout)
	if *asJSON {
		progress = os.Stderr
	}
	stopProfile := func() {}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "load: cpu profile:", err)
			os.Exit(1)
		}
		stopProfile = func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}
	}
	rep, err := run(context.Background(), o, progress)
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	if *asJSON {
		if err := benchproc.WriteJSON(os.Stdout, rep); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
	} else {
		printReport(os.Stdout, rep)
	}
	if rep.TotalErrors > 0 {
		os.Exit(1)
	}
}

// side is one server under test and the client that drives it.
type side struct {
	name   string
	labels pprof.LabelSet
	url    string
	header http.Header // sent on every request
	want   []byte      // the body every answer must have
	client *http.Client
	srv    *http.Server
	res    sideResult
	errMu  sync.Mutex
}

// run starts both servers, drives them in alternating rounds and returns
// the measurements. Progress lines go to progress.
func run(ctx context.Context, o options, progress io.Writer) (*report, error) {
	f, err := benchfixture.NewFixture(benchfixture.Options{})
	if err != nil {
		return nil, fmt.Errorf("build the pipeline: %w", err)
	}
	bareMux := http.NewServeMux()
	bareMux.Handle("GET "+benchfixture.Path, benchfixture.Handler())

	// Both sides get the same request, token and Origin included, so that
	// the difference is what the pipeline does with them, not the bytes
	// the bare server would not have had to parse.
	hdr := http.Header{}
	hdr.Set("Authorization", f.Authorization())
	hdr.Set("Origin", benchfixture.Origin)
	hdr.Set("Accept", "application/json")
	bare, err := startSide(ctx, "bare net/http", "bare", bareMux, hdr, o.Workers)
	if err != nil {
		return nil, err
	}
	defer bare.close()
	wd, err := startSide(ctx, "warden pipeline", "pipeline", f.Router, hdr, o.Workers)
	if err != nil {
		return nil, err
	}
	defer wd.close()

	if err := bare.check(ctx, false); err != nil {
		return nil, err
	}
	if err := wd.check(ctx, true); err != nil {
		return nil, err
	}
	sides := []*side{bare, wd}
	var ctl *side
	if o.HeadersControl {
		ctl, err = startSide(ctx, "bare + headers", "headers", withPipelineHeaders(f, benchfixture.Handler()), hdr, o.Workers)
		if err != nil {
			return nil, err
		}
		defer ctl.close()
		if err := ctl.check(ctx, false); err != nil {
			return nil, err
		}
		sides = []*side{bare, ctl, wd}
	}

	rep := &report{
		GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		Workers: o.Workers, Rounds: o.Rounds, Duration: o.Duration, Warmup: o.Warmup,
		Pipeline:       benchfixture.PipelineDescription(),
		Target:         TargetRatio,
		AccessLogNotes: "slog JSON handler writing to io.Discard: the formatting cost is measured, disk I/O is not",
	}
	rep.LoadAverage = benchproc.LoadAverage()
	if rep.LoadAverage != "" {
		note := ""
		if l, err := strconv.ParseFloat(rep.LoadAverage, 64); err == nil && l >= 0.5 {
			note = " (other processes are using these CPUs: expect noisy numbers)"
		}
		fmt.Fprintf(progress, "load average before the run: %s%s\n", rep.LoadAverage, note)
	}
	fmt.Fprintf(progress, "GOMAXPROCS=%d NumCPU=%d %s %s/%s; the load generator and both servers share these CPUs\n",
		rep.GOMAXPROCS, rep.NumCPU, rep.GoVersion, rep.GOOS, rep.GOARCH)
	fmt.Fprintf(progress, "workers=%d duration=%v warmup=%v rounds=%d (alternating sides)\n", o.Workers, o.Duration, o.Warmup, o.Rounds)
	fmt.Fprintf(progress, "pipeline: %s\n", rep.Pipeline)

	for round := 1; round <= o.Rounds; round++ {
		for _, s := range sides {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if o.Warmup > 0 {
				s.drive(o.Workers, o.Warmup)
			}
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			cpu0, cpuOK := processCPU()
			n, elapsed := s.drive(o.Workers, o.Duration)
			cpu1, _ := processCPU()
			runtime.ReadMemStats(&m1)
			rps := float64(n) / elapsed.Seconds()
			s.res.Requests += n
			s.res.RPS = append(s.res.RPS, rps)
			allocNote := ""
			if n > 0 {
				perReq := float64(m1.TotalAlloc-m0.TotalAlloc) / float64(n)
				s.res.AllocBytesPerRequest = append(s.res.AllocBytesPerRequest, perReq)
				s.res.GCCycles = append(s.res.GCCycles, m1.NumGC-m0.NumGC)
				allocNote = fmt.Sprintf(", %.1f KB allocated/request, %d GCs", perReq/1024, m1.NumGC-m0.NumGC)
			}
			cpuNote := ""
			if cpuOK && n > 0 {
				us := float64((cpu1 - cpu0).Microseconds()) / float64(n)
				busy := (cpu1 - cpu0).Seconds() / elapsed.Seconds()
				s.res.CPUPerRequestUS = append(s.res.CPUPerRequestUS, us)
				s.res.CPUsBusy = append(s.res.CPUsBusy, busy)
				cpuNote = fmt.Sprintf(", %.1f CPU-us/request, %.2f CPUs busy", us, busy)
			}
			fmt.Fprintf(progress, "round %d  %-16s %8.0f req/s  (%d requests in %v%s%s, %d errors so far)\n",
				round, s.name, rps, n, elapsed.Round(time.Millisecond), cpuNote, allocNote, s.errors())
		}
		rep.RoundRatios = append(rep.RoundRatios, wd.res.RPS[round-1]/bare.res.RPS[round-1])
	}
	for _, s := range sides {
		s.res.Name = s.name
		s.res.MedianRPS = benchproc.Median(s.res.RPS)
		s.res.MedianCPUPerRequestUS = benchproc.Median(s.res.CPUPerRequestUS)
	}
	rep.Bare, rep.Warden = bare.res, wd.res
	rep.TotalErrors = rep.Bare.Errors + rep.Warden.Errors
	if ctl != nil {
		res := ctl.res
		rep.HeadersControl = &res
		if rep.Bare.MedianRPS > 0 {
			rep.HeadersRatio = res.MedianRPS / rep.Bare.MedianRPS
		}
		rep.TotalErrors += res.Errors
	}
	if rep.Bare.MedianRPS > 0 {
		rep.Ratio = rep.Warden.MedianRPS / rep.Bare.MedianRPS
	}
	rep.MedianRound = benchproc.Median(rep.RoundRatios)
	if rep.Warden.MedianCPUPerRequestUS > 0 {
		rep.CPURatio = rep.Bare.MedianCPUPerRequestUS / rep.Warden.MedianCPUPerRequestUS
	}
	rep.MeetsTarget = rep.Ratio >= TargetRatio
	return rep, nil
}

// withPipelineHeaders wraps h so that it sends the response headers the
// pipeline sends (security, CORS, rate-limit and request-id headers),
// copied from one request through f's Router: the cost of the headers
// alone, without the work that decides them.
func withPipelineHeaders(f *benchfixture.Fixture, h http.Handler) http.Handler {
	r := httptest.NewRequest(http.MethodGet, benchfixture.Path, nil)
	r.Header.Set("Authorization", f.Authorization())
	r.Header.Set("Origin", benchfixture.Origin)
	w := httptest.NewRecorder()
	f.Router.ServeHTTP(w, r)
	extra := make([]struct {
		key   string
		value []string
	}, 0, len(w.Header()))
	for k, v := range w.Header() {
		if k != "Content-Type" && k != "Content-Length" {
			extra = append(extra, struct {
				key   string
				value []string
			}{k, slices.Clip(v)})
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		for _, e := range extra {
			hdr[e.key] = e.value
		}
		h.ServeHTTP(w, r)
	})
}

// startSide serves h on a fresh 127.0.0.1 port, with the server limits
// Warden recommends (the same on both sides), and builds a keep-alive
// client for it.
func startSide(ctx context.Context, name, label string, h http.Handler, header http.Header, workers int) (*side, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("%s: listen: %w", name, err)
	}
	srv := &http.Server{Handler: h}
	secure.ApplyServerLimits(srv)
	// Goroutines inherit profiler labels, so every server and client
	// goroutine of this side is labelled: go tool pprof -tagfocus side=pipeline.
	labels := pprof.Labels("side", label)
	go pprof.Do(context.Background(), labels, func(context.Context) { _ = srv.Serve(ln) })
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        workers,
		MaxIdleConnsPerHost: workers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &side{
		name:   name,
		labels: labels,
		url:    "http://" + ln.Addr().String() + benchfixture.Path,
		header: header,
		want:   []byte(benchfixture.ResponseBody),
		client: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		srv:    srv,
	}, nil
}

func (s *side) close() {
	s.client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

func (s *side) newRequest() (*http.Request, error) {
	req, err := http.NewRequest(http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range s.header {
		req.Header[k] = v
	}
	return req, nil
}

// fetch sends one request as the load does, outside the measurement,
// and reads the answer whole.
func (s *side) fetch(ctx context.Context) (*http.Response, []byte, error) {
	req, err := s.newRequest()
	if err != nil {
		return nil, nil, err
	}
	resp, err := s.client.Do(req.WithContext(ctx))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.name, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: read body: %w", s.name, err)
	}
	return resp, body, nil
}

// check sends one request before measuring and insists on the expected
// answer; for the pipeline also on its headers, and on a 401 without the
// token, which shows authentication is really enforced.
func (s *side) check(ctx context.Context, pipeline bool) error {
	resp, body, err := s.fetch(ctx)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(body) != benchfixture.ResponseBody {
		return fmt.Errorf("%s: got %d %q, want 200 %q", s.name, resp.StatusCode, body, benchfixture.ResponseBody)
	}
	if !pipeline {
		return nil
	}
	want := map[string]string{
		"Access-Control-Allow-Origin": benchfixture.Origin,
		"X-Content-Type-Options":      "nosniff",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			return fmt.Errorf("%s: %s is %q, want %q", s.name, k, got, v)
		}
	}
	for _, k := range []string{"Strict-Transport-Security", "Content-Security-Policy", "RateLimit", "RateLimit-Policy", "X-Request-Id"} {
		if resp.Header.Get(k) == "" {
			return fmt.Errorf("%s: response lacks %s", s.name, k)
		}
	}
	anon, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return err
	}
	resp, err = s.client.Do(anon)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("%s: a request without a token got %d, want 401", s.name, resp.StatusCode)
	}
	return nil
}

// drive runs workers goroutines, each sending one request at a time on its
// keep-alive connection, for d. It returns the good answers counted and the
// time from start until the last worker finished its last request.
// Requests that fail count in s.res.Errors.
func (s *side) drive(workers int, d time.Duration) (int64, time.Duration) {
	var stop atomic.Bool
	var good atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	for range workers {
		wg.Add(1)
		go pprof.Do(context.Background(), s.labels, func(context.Context) {
			defer wg.Done()
			req, err := s.newRequest()
			if err != nil {
				s.fail(err)
				return
			}
			var buf bytes.Buffer
			var n int64
			for !stop.Load() {
				if err := s.once(req, &buf); err != nil {
					s.fail(err)
					continue
				}
				n++
			}
			good.Add(n)
		})
	}
	wg.Wait()
	return good.Load(), time.Since(start)
}

// once sends req and checks the answer. The body is read to the end so the
// connection is reused.
func (s *side) once(req *http.Request, buf *bytes.Buffer) error {
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return fmt.Errorf("read body: %w", err)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("status %d", resp.StatusCode)
	case !bytes.Equal(buf.Bytes(), s.want):
		return fmt.Errorf("unexpected body %q", buf.Bytes())
	}
	return nil
}

func (s *side) fail(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	s.res.Errors++
	if s.res.FirstError == "" {
		s.res.FirstError = err.Error()
	}
	if s.res.Errors > 1000 {
		// Something is badly wrong (a server gone); do not spin on it.
		time.Sleep(time.Millisecond)
	}
}

func (s *side) errors() int64 {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.res.Errors
}

func printReport(w io.Writer, r *report) {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "ratio pipeline/bare (median rps): %.3fx  (target >= %.2fx: %s)\n", r.Ratio, r.Target, benchproc.Verdict(r.MeetsTarget))
	fmt.Fprintf(w, "ratio within each round: %s (median %.3fx)\n", formatEach("%.3fx", r.RoundRatios), r.MedianRound)
	if r.CPURatio > 0 {
		fmt.Fprintf(w, "CPU ratio (bare / pipeline CPU-us per request, whole process): %.3fx\n", r.CPURatio)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tmedian req/s\trounds req/s\tCPU-us/req\trequests\terrors\t")
	all := []sideResult{r.Bare, r.Warden}
	if r.HeadersControl != nil {
		all = []sideResult{r.Bare, *r.HeadersControl, r.Warden}
	}
	for _, s := range all {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.1f\t%d\t%d\t\n", s.Name, s.MedianRPS, formatEach("%.0f", s.RPS), s.MedianCPUPerRequestUS, s.Requests, s.Errors)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "GOMAXPROCS=%d, %d workers, %v per round after %v warm-up, %d rounds per side\n",
		r.GOMAXPROCS, r.Workers, r.Duration, r.Warmup, r.Rounds)
	fmt.Fprintf(w, "rate limit: memory, %d/s burst %d, high enough never to refuse\n", benchfixture.RateLimitRate, benchfixture.RateLimitBurst)
	fmt.Fprintf(w, "access log: %s\n", r.AccessLogNotes)
	if r.HeadersControl != nil {
		fmt.Fprintf(w, "bare + the pipeline's response headers / bare (median req/s): %.3fx: what sending the headers alone costs\n", r.HeadersRatio)
	}
	for _, s := range all {
		if s.Errors > 0 {
			fmt.Fprintf(w, "ERRORS on %s: %d, first: %s\n", s.Name, s.Errors, s.FirstError)
		}
	}
}

// formatEach formats every value with format, separated by spaces.
func formatEach(format string, xs []float64) string {
	var b bytes.Buffer
	for i, x := range xs {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, format, x)
	}
	return b.String()
}
