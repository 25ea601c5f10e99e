// Command timing measures whether the anonymous account flows answer in the
// same time for a registered address as for an unknown one (API.md: the
// registration flow is no oracle, in time either).
//
// IN PROCESS: it builds the real server (app.New with a SQLite database and
// the development outbox in a temporary directory), serves its handler on a
// 127.0.0.1 ephemeral port with the server's own http.Server settings, and
// times complete HTTP/1.1 requests from a client in the same process. The
// client and the server share the CPUs; an attacker on a network sees these
// differences plus network jitter.
//
//	go run ./bench/timing                 # 400 samples per side for reset and resend, 60 for register and login
//	go run ./bench/timing -n 2000 -n-hash 200
//	go run ./bench/timing -json
//
// For each flow it alternates the two sides in random order, one request at
// a time, and waits after each answer (off the clock) until the server's
// background job is done, plus -settle (2 ms), so that one request's job
// never lands in the next one's time. With -settle 0 the medians differ by
// a few percent (see bench/README.md): the end of the previous request's
// job overlaps the next request. It reports the median time of each side, the ratio of
// the medians, and how often a single request is classified correctly by
// the best threshold between the two medians (50% is a coin toss; the
// security review got 92% for password-reset before the fix).
//
// Flows (registered side first):
//   - password-reset: a verified account's address / an unknown address;
//   - resend-verification: an unverified account's address / an unknown one;
//   - control: password-reset for two unknown addresses (no difference);
//   - register: a taken address / a free one (fresh usernames each time);
//   - login by address with a pending registration's password: a taken
//     address / a free one (both answer 403).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/wardenhq/warden/bench/internal/benchproc"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/app"
	"github.com/wardenhq/warden/internal/config"
)

const (
	probePassword = "a timing probe passphrase"
	ownerPassword = "the owners' own passphrase"
)

// flowResult is one flow's measurements.
type flowResult struct {
	Flow       string  `json:"flow"`
	Registered string  `json:"registered_side"`
	Unknown    string  `json:"unknown_side"`
	Samples    int     `json:"samples_per_side"`
	RegMedian  float64 `json:"registered_median_ms"`
	UnkMedian  float64 `json:"unknown_median_ms"`
	Ratio      float64 `json:"ratio"`
	Accuracy   float64 `json:"single_shot_accuracy"`
	Status     int     `json:"status"`
}

type report struct {
	Mode       string       `json:"mode"`
	GoVersion  string       `json:"go_version"`
	GOMAXPROCS int          `json:"gomaxprocs"`
	Flows      []flowResult `json:"flows"`
}

type options struct {
	N, NHash int           // samples per side: cheap flows, flows that hash
	Settle   time.Duration // pause after each request's job
}

func main() {
	var o options
	var asJSON bool
	flag.IntVar(&o.N, "n", 400, "samples per side for password-reset and resend-verification")
	flag.IntVar(&o.NHash, "n-hash", 60, "samples per side for register and login (each hashes a password)")
	flag.DurationVar(&o.Settle, "settle", 2*time.Millisecond, "pause after each request's background job has run, off the clock")
	flag.BoolVar(&asJSON, "json", false, "print the results as JSON")
	flag.Parse()
	rep, err := run(context.Background(), o, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "timing:", err)
		os.Exit(1)
	}
	if asJSON {
		_ = benchproc.WriteJSON(os.Stdout, rep)
		return
	}
	printReport(os.Stdout, rep)
}

func printReport(w io.Writer, rep *report) {
	fmt.Fprintf(w, "%s, %s, GOMAXPROCS=%d\n\n", rep.Mode, rep.GoVersion, rep.GOMAXPROCS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "flow\tregistered side\tmedian\tunknown side\tmedian\tratio\tsingle-shot accuracy\tsamples")
	for _, f := range rep.Flows {
		fmt.Fprintf(tw, "%s\t%s\t%.3f ms\t%s\t%.3f ms\t%.3f\t%.0f%%\t%d\n",
			f.Flow, f.Registered, f.RegMedian, f.Unknown, f.UnkMedian, f.Ratio, 100*f.Accuracy, f.Samples)
	}
	tw.Flush()
}

// server is the app under test and a client for it.
type server struct {
	settle time.Duration
	app    *app.App
	base   string
	client *http.Client
}

func start(ctx context.Context, dir string) (*server, func(), error) {
	env := map[string]string{
		"WARDEN_DATA_DIR":             dir,
		"WARDEN_AUTH_RATE_PER_MINUTE": "100000",
		"WARDEN_RATE_ANON_PER_MINUTE": "0",
		"WARDEN_PUBLIC_URL":           "https://timing.example.com",
	}
	cfg, err := config.Load(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return nil, nil, err
	}
	a, err := app.New(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	srv := a.Server()
	go func() { _ = srv.Serve(ln) }()
	s := &server{app: a, base: "http://" + ln.Addr().String(),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: time.Minute}}
	stop := func() {
		_ = srv.Close()
		_ = a.Close()
	}
	return s, stop, nil
}

// post sends one JSON request and returns its status and duration, the
// body read to the end.
func (s *server) post(path string, body any) (int, time.Duration, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, 0, err
	}
	req, err := http.NewRequest("POST", s.base+path, bytes.NewReader(raw))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(t0), err
}

// side is one half of a comparison: the request to send for sample i.
type side struct {
	label string
	req   func(i int) (path string, body any)
}

// compare times n requests of each side, in random order within each
// pair, and checks that every answer has status want.
func (s *server) compare(flow string, n, want int, reg, unk side) (flowResult, error) {
	var tr, tu []float64
	for i := range n {
		order := []int{0, 1}
		if rand.IntN(2) == 1 {
			order = []int{1, 0}
		}
		for _, which := range order {
			sd := reg
			if which == 1 {
				sd = unk
			}
			path, body := sd.req(i)
			status, d, err := s.post(path, body)
			if err != nil {
				return flowResult{}, err
			}
			if status != want {
				return flowResult{}, fmt.Errorf("%s %s: status %d, want %d", flow, sd.label, status, want)
			}
			// Off the clock: let the job this request queued finish, and
			// the worker that ran it wind down, so that it does not land
			// in the next request's time.
			s.app.Accounts().Wait()
			time.Sleep(s.settle)
			ms := float64(d.Microseconds()) / 1000
			if which == 0 {
				tr = append(tr, ms)
			} else {
				tu = append(tu, ms)
			}
		}
	}
	r := flowResult{Flow: flow, Registered: reg.label, Unknown: unk.label, Samples: n, Status: want,
		RegMedian: median(tr), UnkMedian: median(tu)}
	r.Ratio = r.RegMedian / r.UnkMedian
	r.Accuracy = accuracy(tr, tu)
	return r, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// accuracy is the share of single samples that a threshold halfway between
// the two medians puts on the right side ("slower" is the side with the
// larger median).
func accuracy(a, b []float64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	ma, mb := median(a), median(b)
	thr := (ma + mb) / 2
	slowA := ma >= mb
	var right int
	for _, x := range a {
		if (x >= thr) == slowA {
			right++
		}
	}
	for _, x := range b {
		if (x >= thr) != slowA {
			right++
		}
	}
	return float64(right) / float64(len(a)+len(b))
}

func run(ctx context.Context, o options, progress io.Writer) (*report, error) {
	if o.N < 1 || o.NHash < 1 {
		return nil, errors.New("-n and -n-hash must be at least 1")
	}
	dir, err := os.MkdirTemp("", "warden-timing-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	s, stop, err := start(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer stop()
	s.settle = o.Settle

	svc := s.app.Accounts()
	if _, err := svc.CreateUser(ctx, accounts.RegisterInput{Username: "timing-known", Email: "known@example.com", Password: ownerPassword},
		accounts.CreateOptions{Verified: true}); err != nil {
		return nil, err
	}
	if _, err := svc.CreateUser(ctx, accounts.RegisterInput{Username: "timing-waiting", Email: "waiting@example.com", Password: ownerPassword},
		accounts.CreateOptions{}); err != nil {
		return nil, err
	}
	// One taken address per register/login sample, as an attacker probes
	// each address once.
	fmt.Fprintf(progress, "creating %d accounts...\n", o.NHash)
	for i := range o.NHash {
		if _, err := svc.CreateUser(ctx, accounts.RegisterInput{Username: fmt.Sprintf("timing-owner%d", i), Email: fmt.Sprintf("taken%d@example.com", i), Password: ownerPassword},
			accounts.CreateOptions{Verified: true}); err != nil {
			return nil, err
		}
	}
	rep := &report{Mode: "in process (server handler and client in one process, loopback HTTP/1.1)",
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	fixed := func(path, email string) func(int) (string, any) {
		return func(int) (string, any) { return path, map[string]string{"email": email} }
	}
	steps := []struct {
		flow     string
		n, want  int
		reg, unk side
	}{
		// Unknown addresses as long as the registered ones, so that the
		// two requests differ in nothing but the account.
		{"password-reset", o.N, 200,
			side{"verified account", fixed("/api/auth/password-reset", "known@example.com")},
			side{"unknown address", fixed("/api/auth/password-reset", "nobdy@example.com")}},
		{"resend-verification", o.N, 200,
			side{"unverified account", fixed("/api/auth/resend-verification", "waiting@example.com")},
			side{"unknown address", fixed("/api/auth/resend-verification", "nowhere@example.com")}},
		// Control: two unknown addresses. Its ratio and accuracy are what
		// no difference looks like on this machine at this moment.
		{"control: password-reset, both unknown", o.N, 200,
			side{"unknown address", fixed("/api/auth/password-reset", "nobdy@example.com")},
			side{"unknown address", fixed("/api/auth/password-reset", "nbody@example.com")}},
		{"register", o.NHash, 201,
			side{"taken address", func(i int) (string, any) {
				return "/api/auth/register", map[string]string{"username": fmt.Sprintf("probe-t%d", i), "email": fmt.Sprintf("taken%d@example.com", i), "password": probePassword}
			}},
			side{"free address", func(i int) (string, any) {
				return "/api/auth/register", map[string]string{"username": fmt.Sprintf("probe-f%d", i), "email": fmt.Sprintf("free%d@example.com", i), "password": probePassword}
			}}},
		// The register step left a pending registration on each taken<i>@
		// and an unverified account on each free<i>@, all with
		// probePassword.
		{"login by address (pending password)", o.NHash, 403,
			side{"taken address", func(i int) (string, any) {
				return "/api/auth/login", map[string]string{"username": fmt.Sprintf("taken%d@example.com", i), "password": probePassword}
			}},
			side{"free address", func(i int) (string, any) {
				return "/api/auth/login", map[string]string{"username": fmt.Sprintf("free%d@example.com", i), "password": probePassword}
			}}},
	}
	for _, st := range steps {
		fmt.Fprintf(progress, "timing %s: %d samples per side...\n", st.flow, st.n)
		r, err := s.compare(st.flow, st.n, st.want, st.reg, st.unk)
		if err != nil {
			return nil, err
		}
		rep.Flows = append(rep.Flows, r)
	}
	return rep, nil
}
