// Command compare measures Warden from outside, as a user would, side by
// side with its peers, in one run on one machine:
//
//	go run ./bench/compare            # 3 interleaved rounds of 6 s per target, wrk -t2 -c64
//	go run ./bench/compare -smoke     # a few seconds: every target answers 200s at a non-zero rate
//	go run ./bench/compare -json      # the report as JSON on stdout
//
// It builds and starts, each in a process of its own on 127.0.0.1:
//
//   - bare: a net/http handler answering the JSON body of Warden's
//     GET /api/demo/jwt, with Content-Type and Content-Length only;
//   - bare+headers: the same handler sending every response header that
//     Warden's route sent (security headers, CORS, no-store, RateLimit,
//     request id): the physical cost of the headers the route owes;
//   - gin: a typical Gin stack (bench/peers/gin, a module of its own):
//     logger, recovery, gin-contrib/cors, security headers, a per-IP
//     x/time/rate limit, golang-jwt, the same JSON answer;
//   - the real warden serve, in development mode (demo routes on), its
//     access log on and written to a file, CORS allowing the origin every
//     request carries, the router-wide throttle on but never refusing;
//     measured on GET /api/demo/jwt (JWT, revocation, guard, CORS,
//     headers, throttle, access log) and GET /api/auth/me (the same plus
//     the session check and the user read from SQLite), with the token
//     of a real user (warden user create) who logged in once.
//
// Every request carries a bearer token and an Origin header, on every
// target, so that each server parses the same request. Before measuring,
// each target is asked once and must answer 200 with the expected body.
//
// The load generator runs in its own process: wrk (Debian's package) when
// it is on PATH, else bench/load's generator (-loadgen go). Rounds are
// interleaved (each round drives every target once, in an order that
// rotates) so that drift on a shared machine falls on every target alike;
// each ratio is taken within a round, and the table gives the median and
// the spread (min–max) over rounds. The serving process's CPU time per
// request comes from /proc.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wardenhq/warden/bench/internal/benchproc"
)

// The targets.
const (
	// JWTVsHeadersTarget: Warden's JWT route at 0.90x or more of a bare
	// handler sending the same response headers.
	JWTVsHeadersTarget = 0.90
	// JWTVsGinTarget: Warden's JWT route at 1.6x or more of the Gin stack.
	JWTVsGinTarget = 1.6
	// MeVsBareTarget: GET /api/auth/me at 0.5x or more of bare net/http.
	MeVsBareTarget = 0.5
)

// origin is the allowed CORS origin every request carries.
const origin = "http://localhost:3000"

type options struct {
	rounds           int
	duration, warmup time.Duration
	threads, conns   int
	loadgen          string // "wrk", "go" or "" (wrk when on PATH)
	smoke, asJSON    bool
	keep             bool
	serverLog        string
}

func main() {
	benchproc.ServeBareIfChild("compare")
	var o options
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds; each drives every target once")
	flag.DurationVar(&o.duration, "duration", 6*time.Second, "measured time per round and target (whole seconds for wrk)")
	flag.DurationVar(&o.warmup, "warmup", 1*time.Second, "unmeasured load before each measured run")
	flag.IntVar(&o.threads, "threads", 2, "load generator threads (wrk -t)")
	flag.IntVar(&o.conns, "connections", 64, "keep-alive connections (wrk -c; workers of the Go generator)")
	flag.StringVar(&o.loadgen, "loadgen", "", "`wrk` or `go` (bench/load in external mode); default: wrk when on PATH")
	flag.BoolVar(&o.smoke, "smoke", false, "run 1 round of 1 s with 8 connections and assert that every target served 200s at a non-zero rate; no timing is asserted")
	flag.BoolVar(&o.asJSON, "json", false, "print the report as JSON on stdout")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binaries, data, logs)")
	flag.StringVar(&o.serverLog, "server-log", "", "write warden serve's log (one access line per request) to `file`; default: a file in the temporary directory")
	flag.Parse()
	if o.smoke {
		o.rounds, o.duration, o.warmup, o.conns, o.threads = 1, time.Second, 0, 8, 1
	}
	if o.rounds < 1 || o.duration < time.Second || o.warmup < 0 || o.threads < 1 || o.conns < o.threads {
		fmt.Fprintln(os.Stderr, "compare: -rounds at least 1, -duration at least 1s, -connections at least -threads")
		os.Exit(2)
	}
	rep, err := run(context.Background(), o)
	benchproc.Finish("compare", rep, err, o.asJSON, printReport, (*report).problems)
	if o.smoke {
		fmt.Fprintln(os.Stderr, "compare: smoke: every target served 200s at a non-zero rate")
	}
}

// target is one server and route under load.
type target struct {
	Name string `json:"name"`
	What string `json:"what"`
	URL  string `json:"url"`
	// header is sent on every request.
	header http.Header
	pid    int
	want   []byte // the body of the check before measuring
	// Rounds in the order run; RPS and CPU per request per round.
	RPS       []float64 `json:"rps"`
	CPUPerReq []float64 `json:"server_cpu_us_per_request,omitempty"`
	Requests  int64     `json:"requests"`
	// Failures counts answers other than 2xx/3xx and socket errors
	// (connect, read, write, timeout), warm-up included.
	Failures  int64  `json:"failures"`
	FirstFail string `json:"first_failure,omitempty"`
}

// The targets, in the report's order; the ratios name them.
const (
	tBare    = "bare"
	tHeaders = "bare+headers"
	tGin     = "gin"
	tJWT     = "warden-jwt"
	tMe      = "warden-me"
)

// report is the outcome of a run.
type report struct {
	GoVersion   string        `json:"go_version"`
	NumCPU      int           `json:"num_cpu"`
	LoadAverage string        `json:"load_average_before,omitempty"`
	LoadGen     string        `json:"load_generator"`
	Threads     int           `json:"threads"`
	Connections int           `json:"connections"`
	Rounds      int           `json:"rounds"`
	Duration    time.Duration `json:"duration_ns"`
	Warmup      time.Duration `json:"warmup_ns"`
	Smoke       bool          `json:"smoke"`
	AccessLog   string        `json:"access_log"`
	Targets     []*target     `json:"targets"`
	Ratios      []ratio       `json:"ratios"`
}

func run(ctx context.Context, o options) (*report, error) {
	gen, err := newLoadGen(o)
	if err != nil {
		return nil, err
	}
	root, tmp, remove, err := benchproc.Workdir("warden-compare-", o.keep)
	if err != nil {
		return nil, err
	}
	defer remove()

	benchproc.Say("building warden, the Gin peer%s", gen.buildNote())
	wardenBin, ginBin := filepath.Join(tmp, "warden"), filepath.Join(tmp, "gin-peer")
	if err := benchproc.Build(root, wardenBin, "./cmd/warden"); err != nil {
		return nil, err
	}
	if err := benchproc.Build(filepath.Join(root, "bench", "peers", "gin"), ginBin, "."); err != nil {
		return nil, err
	}
	if err := gen.build(root, tmp); err != nil {
		return nil, err
	}

	// Warden: a real user, logged in once.
	w, err := benchproc.NewWarden(wardenBin, filepath.Join(tmp, "data"), "WARDEN_CORS_ALLOWED_ORIGINS="+origin)
	if err != nil {
		return nil, err
	}
	const username, password = "bench", "correct horse battery staple"
	if _, err := w.CreateUser(username, password); err != nil {
		return nil, err
	}
	logPath := o.serverLog
	if logPath == "" {
		logPath = filepath.Join(tmp, "warden.log")
	}
	defer w.Stop()
	if err := w.StartLog(logPath); err != nil {
		return nil, err
	}
	access, err := w.Login(username, password)
	if err != nil {
		return nil, err
	}
	wardenHeader := requestHeader(access)
	jwtURL, meURL := w.Base()+"/api/demo/jwt", w.Base()+"/api/auth/me"
	jwtResp, jwtBody, err := get(jwtURL, wardenHeader)
	if err != nil {
		return nil, err
	}
	if jwtResp.Header.Get("Access-Control-Allow-Origin") != origin || jwtResp.Header.Get("X-Content-Type-Options") == "" {
		return nil, fmt.Errorf("warden's JWT route answered without CORS or security headers: %v", jwtResp.Header)
	}
	_, meBody, err := get(meURL, wardenHeader)
	if err != nil {
		return nil, err
	}

	// The bare servers answer the JWT route's body; one with its headers.
	bare, bareAddr, err := benchproc.StartBare(tmp, tBare, benchproc.Bare{Body: jwtBody})
	if err != nil {
		return nil, err
	}
	defer benchproc.Stop(bare)
	bh, bhAddr, err := benchproc.StartBare(tmp, tHeaders, benchproc.Bare{Body: jwtBody, Header: routeHeaders(jwtResp.Header)})
	if err != nil {
		return nil, err
	}
	defer benchproc.Stop(bh)

	// The Gin peer, with a key of its own and a token like Warden's.
	ginCmd, ginAddr, ginToken, err := startGin(ginBin, filepath.Join(tmp, "gin.log"), jwtBody)
	if err != nil {
		return nil, err
	}
	defer benchproc.Stop(ginCmd)

	targets := []*target{
		{Name: tBare, What: "net/http, the same JSON body", URL: "http://" + bareAddr + "/api/demo/jwt", header: wardenHeader, pid: bare.Process.Pid, want: jwtBody},
		{Name: tHeaders, What: "net/http, the same body and every response header Warden's route sends", URL: "http://" + bhAddr + "/api/demo/jwt", header: wardenHeader, pid: bh.Process.Pid, want: jwtBody},
		{Name: tGin, What: "Gin: logger, recovery, gin-contrib/cors, security headers, x/time/rate per IP, golang-jwt", URL: "http://" + ginAddr + "/api/demo/jwt", header: requestHeader(ginToken), pid: ginCmd.Process.Pid,
			want: bytes.TrimSuffix(jwtBody, []byte("\n"))}, // c.JSON ends without the newline warden.WriteJSON adds
		{Name: tJWT, What: "warden serve GET /api/demo/jwt: JWT, revocation, guard, CORS, headers, throttle, access log", URL: jwtURL, header: wardenHeader, pid: w.PID(), want: jwtBody},
		{Name: tMe, What: "warden serve GET /api/auth/me: as above, plus the session check and the user read (SQLite)", URL: meURL, header: wardenHeader, pid: w.PID(), want: meBody},
	}
	for _, t := range targets {
		if err := t.check(); err != nil {
			return nil, err
		}
	}

	rep := &report{
		GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(), LoadAverage: benchproc.LoadAverage(),
		LoadGen: gen.name(), Threads: o.threads, Connections: o.conns, Rounds: o.rounds,
		Duration: o.duration, Warmup: o.warmup, Smoke: o.smoke, Targets: targets,
		AccessLog: "warden serve's stderr (JSON, one line per request) and Gin's logger, each to a file",
	}
	benchproc.Say("load average %s; %s -t%d -c%d; %d rounds of %v (after %v warm-up) per target", rep.LoadAverage, gen.name(), o.threads, o.conns, o.rounds, o.duration, o.warmup)
	for round := range o.rounds {
		for i := range targets {
			// The order rotates, so that no target always follows the
			// same one (a server still collecting garbage, say).
			t := targets[(i+round)%len(targets)]
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if o.warmup > 0 {
				res, err := gen.run(t, o.warmup)
				if err != nil {
					return nil, err
				}
				t.addFailures(res)
			}
			cpu0, cpuOK := benchproc.PIDCPU(t.pid)
			res, err := gen.run(t, o.duration)
			if err != nil {
				return nil, err
			}
			cpu1, _ := benchproc.PIDCPU(t.pid)
			t.addFailures(res)
			t.Requests += res.requests
			t.RPS = append(t.RPS, res.rps)
			note := ""
			if cpuOK && res.requests > 0 {
				us := float64((cpu1 - cpu0).Microseconds()) / float64(res.requests)
				t.CPUPerReq = append(t.CPUPerReq, us)
				note = fmt.Sprintf(", server %.1f CPU-us/request", us)
			}
			benchproc.Say("round %d  %-13s %8.0f req/s%s", round+1, t.Name, res.rps, note)
		}
	}
	rep.Ratios = ratios(targets)
	return rep, nil
}

// requestHeader is what every request carries.
func requestHeader(token string) http.Header {
	return http.Header{
		"Authorization": {"Bearer " + token},
		"Origin":        {origin},
		"Accept":        {"application/json"},
	}
}

// routeHeaders are the response headers the bare+headers server copies
// from Warden's answer: all but those net/http or the handler write
// themselves.
func routeHeaders(h http.Header) http.Header {
	out := h.Clone()
	for _, k := range []string{"Date", "Content-Length", "Content-Type"} {
		delete(out, k)
	}
	return out
}

// get asks u once with header and insists on a 200 with a body.
func get(u string, header http.Header) (*http.Response, []byte, error) {
	resp, body, err := benchproc.Get(u, header)
	if err == nil && len(body) == 0 {
		err = fmt.Errorf("GET %s: an empty body", u)
	}
	return resp, body, err
}

// check asks the target once: a 200 with the expected body.
func (t *target) check() error {
	_, body, err := get(t.URL, t.header)
	if err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	if !bytes.Equal(body, t.want) {
		return fmt.Errorf("%s: answered %q, want %q", t.Name, body, t.want)
	}
	return nil
}

func (t *target) addFailures(r runResult) {
	t.Failures += r.failures
	if t.FirstFail == "" && r.failures > 0 {
		t.FirstFail = r.failNote
	}
}

// startGin starts the Gin peer with a fresh key and returns it, its
// address and an access token for it with the claims of Warden's answer
// (so that both answer the same body).
func startGin(bin, logPath string, jwtBody []byte) (*exec.Cmd, string, string, error) {
	var who struct {
		UserID      string   `json:"user_id"`
		IsStaff     bool     `json:"is_staff"`
		IsAdmin     bool     `json:"is_admin"`
		Permissions []string `json:"permissions"`
	}
	if err := json.Unmarshal(jwtBody, &who); err != nil {
		return nil, "", "", err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	now := time.Now()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": who.UserID, "iss": "warden", "aud": "warden", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "jti": hex.EncodeToString(jti),
		"is_staff": who.IsStaff, "is_admin": who.IsAdmin, "permissions": who.Permissions,
	}).SignedString(key)
	if err != nil {
		return nil, "", "", err
	}
	cmd := exec.Command(bin, "-log", logPath, "-origin", origin, "-issuer", "warden")
	cmd.Env = append(os.Environ(), "GIN_PEER_SECRET="+hex.EncodeToString(key))
	addr, err := benchproc.StartServer("gin peer", cmd)
	if err != nil {
		return nil, "", "", err
	}
	return cmd, addr, token, nil
}

// ratio compares one target with another, round by round: by
// throughput (RPS: the target's req/s over the reference's) and by server
// CPU time per request (CPU: the reference's over the target's, the
// throughput a server bound by its own CPU would reach, which other
// processes on the machine disturb less).
type ratio struct {
	Of, To   string
	RPS, CPU spread
	// Target is the goal for the throughput ratio (0: none).
	Target float64 `json:",omitempty"`
}

// spread is a ratio's value in each round, their median, minimum and
// maximum.
type spread struct {
	Rounds           []float64
	Median, Min, Max float64
}

func newSpread(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	return spread{Rounds: xs, Median: benchproc.Median(xs), Min: slices.Min(xs), Max: slices.Max(xs)}
}

// cell formats s for the table: median (min–max), or "" without rounds.
func (s spread) cell() string {
	if len(s.Rounds) == 0 {
		return ""
	}
	return fmt.Sprintf("%.2fx (%.2f–%.2f)", s.Median, s.Min, s.Max)
}

// ratios compares every target with bare, bare+headers and gin, round by
// round.
func ratios(ts []*target) []ratio {
	byName := map[string]*target{}
	for _, t := range ts {
		byName[t.Name] = t
	}
	goals := map[[2]string]float64{
		{tJWT, tHeaders}: JWTVsHeadersTarget,
		{tJWT, tGin}:     JWTVsGinTarget,
		{tMe, tBare}:     MeVsBareTarget,
	}
	var out []ratio
	for _, t := range ts {
		for _, ref := range []string{tBare, tHeaders, tGin} {
			r := byName[ref]
			if r == nil || r == t {
				continue
			}
			out = append(out, ratio{
				Of: t.Name, To: ref, Target: goals[[2]string{t.Name, ref}],
				RPS: newSpread(perRound(t.RPS, r.RPS)),
				CPU: newSpread(perRound(r.CPUPerReq, t.CPUPerReq)),
			})
		}
	}
	return out
}

// perRound divides a by b round by round, skipping rounds where b is 0
// (or missing).
func perRound(a, b []float64) []float64 {
	var out []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			out = append(out, a[i]/b[i])
		}
	}
	return out
}

// problems lists what makes the run fail: a target that failed requests
// or served none. Timing is never a failure.
func (r *report) problems() []string {
	var p []string
	for _, t := range r.Targets {
		if t.Failures > 0 {
			p = append(p, fmt.Sprintf("%s: %d failed requests (%s)", t.Name, t.Failures, t.FirstFail))
		}
		if t.Requests == 0 || slices.Contains(t.RPS, 0) {
			p = append(p, fmt.Sprintf("%s: a round served no request", t.Name))
		}
	}
	return p
}

func (r *report) ratio(of, to string) *ratio {
	for i := range r.Ratios {
		if r.Ratios[i].Of == of && r.Ratios[i].To == to {
			return &r.Ratios[i]
		}
	}
	return nil
}

// printReport writes the markdown tables that bench/README.md keeps.
func printReport(w io.Writer, r *report) {
	fmt.Fprintf(w, "\n%s -t%d -c%d, %d interleaved rounds of %v per target (after %v warm-up each); %d CPUs shared by the load generator and the servers; load average before %s; %s\n\n",
		r.LoadGen, r.Threads, r.Connections, r.Rounds, r.Duration, r.Warmup, r.NumCPU, r.LoadAverage, r.GoVersion)
	table := func(title string, abs func(*target) string, pick func(ratio) spread) {
		fmt.Fprintf(w, "| target | %s | vs bare | vs bare + same headers | vs Gin |\n", title)
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, t := range r.Targets {
			cells := make([]string, 0, 3)
			for _, to := range []string{tBare, tHeaders, tGin} {
				switch rt := r.ratio(t.Name, to); {
				case to == t.Name:
					cells = append(cells, "1")
				case rt == nil:
					cells = append(cells, "")
				default:
					cells = append(cells, pick(*rt).cell())
				}
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", t.Name, abs(t), strings.Join(cells, " | "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Throughput (each ratio taken within a round: median, min–max over rounds):")
	fmt.Fprintln(w)
	table("req/s, median (min–max)", func(t *target) string {
		return fmt.Sprintf("%s (%s–%s)", thousands(benchproc.Median(t.RPS)), thousands(slices.Min(t.RPS)), thousands(slices.Max(t.RPS)))
	}, func(rt ratio) spread { return rt.RPS })
	fmt.Fprintln(w, "Server CPU time per request (from /proc; ratio: the reference's CPU time over the target's):")
	fmt.Fprintln(w)
	table("server CPU µs/request, median (min–max)", func(t *target) string {
		if len(t.CPUPerReq) == 0 {
			return ""
		}
		return fmt.Sprintf("%.1f (%.1f–%.1f)", benchproc.Median(t.CPUPerReq), slices.Min(t.CPUPerReq), slices.Max(t.CPUPerReq))
	}, func(rt ratio) spread { return rt.CPU })
	fmt.Fprintln(w, "Targets:")
	fmt.Fprintln(w)
	for _, t := range r.Targets {
		fmt.Fprintf(w, "- %s: %s\n", t.Name, t.What)
	}
	fmt.Fprintln(w)
	for _, rt := range r.Ratios {
		if rt.Target == 0 {
			continue
		}
		fmt.Fprintf(w, "- %s / %s: %.2fx req/s (rounds %.2f–%.2f), %.2fx by CPU per request; target >= %.2fx: %s\n",
			rt.Of, rt.To, rt.RPS.Median, rt.RPS.Min, rt.RPS.Max, rt.CPU.Median, rt.Target, benchproc.Verdict(rt.RPS.Median >= rt.Target))
	}
}

// thousands formats a rate as a whole number with comma separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// runResult is one load generator run against one target.
type runResult struct {
	requests int64
	rps      float64
	failures int64
	failNote string
}

// loadGen drives one target for a while from another process.
type loadGen interface {
	name() string
	buildNote() string
	build(root, tmp string) error
	run(t *target, d time.Duration) (runResult, error)
}

func newLoadGen(o options) (loadGen, error) {
	switch o.loadgen {
	case "":
		if _, err := exec.LookPath("wrk"); err == nil {
			return &wrkGen{threads: o.threads, conns: o.conns}, nil
		}
		return &goGen{workers: o.conns}, nil
	case "wrk":
		if _, err := exec.LookPath("wrk"); err != nil {
			return nil, errors.New("wrk is not on PATH (apt-get install wrk), or use -loadgen go")
		}
		return &wrkGen{threads: o.threads, conns: o.conns}, nil
	case "go":
		return &goGen{workers: o.conns}, nil
	}
	return nil, fmt.Errorf("-loadgen %q: want wrk or go", o.loadgen)
}
