package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/password"
)

// TestMain lets the test binary play the generator and hash-time children.
func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "gen":
		exitOn(runGenerator())
		os.Exit(0)
	case "hash":
		exitOn(runHashTime())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestGenerateCountsAnswers drives a stand-in login endpoint that answers
// the known user 200, unknown names 401, and every third request 503
// (half of them without Retry-After), and checks what the generator
// counts.
func TestGenerateCountsAnswers(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c credential
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		switch i := n.Add(1); {
		case i%3 == 0:
			if i%2 == 0 {
				w.Header().Set("Retry-After", "2")
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		case c.Username == "alice" && c.Password == "pw":
			_, _ = w.Write([]byte(`{"access":"token"}`))
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	measuring := false
	res, err := generate(genConfig{URL: srv.URL, Clients: 3, Users: []credential{{"alice", "pw"}}, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond},
		func() { measuring = true })
	if err != nil {
		t.Fatal(err)
	}
	if !measuring {
		t.Error("the end of the warm-up was not signalled")
	}
	if res.Status[200] == 0 || res.Status[401] == 0 || res.Status[503] == 0 || res.NoRetryAfter == 0 || res.NoRetryAfter > res.Status[503] {
		t.Errorf("counts %+v", res)
	}
	if res.Errors != 0 || res.BadBody != 0 || res.All.P50 <= 0 || res.OK.Max < res.OK.P50 {
		t.Errorf("result %+v", res)
	}
	if _, err := generate(genConfig{URL: srv.URL, Clients: 0, Duration: time.Second}, func() {}); err == nil {
		t.Error("no clients accepted")
	}
}

// TestGenerateCountsBadTokensAndErrors: a 200 without an access token and
// a server that is gone are counted, not mistaken for logins.
func TestGenerateCountsBadTokensAndErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"access":""}`))
	}))
	res, err := generate(genConfig{URL: srv.URL, Clients: 1, Users: []credential{{"a", "b"}}, Duration: 100 * time.Millisecond}, func() {})
	if err != nil || res.BadBody == 0 || res.BadBody != res.Status[200] {
		t.Errorf("%+v %v", res, err)
	}
	srv.Close()
	res, err = generate(genConfig{URL: srv.URL, Clients: 1, Duration: 100 * time.Millisecond}, func() {})
	if err != nil || res.Errors == 0 || res.FirstError == "" {
		t.Errorf("%+v %v", res, err)
	}
}

func TestProblemsAndReport(t *testing.T) {
	ok := genResult{Elapsed: 10 * time.Second, Status: map[int]int64{200: 500}}
	r := &report{
		NumCPU: 2, Params: password.DefaultParams(), BudgetMiB: 256, Clients: 8, Duration: 10 * time.Second,
		Hash:  []hashResult{{GOMAXPROCS: 2, Single: 40 * time.Millisecond, CPU: 40 * time.Millisecond}},
		Limit: 50,
		Rounds: []round{
			{Gen: ok, LoginsPerSec: 46, CPUPerLogin: 43},
			{Gen: genResult{Elapsed: 10 * time.Second, Status: map[int]int64{200: 450, 503: 2}}, LoginsPerSec: 45, CPUPerLogin: 44},
		},
		Flood: &flood{Clients: 64, Users: 8, Duration: 20 * time.Second,
			Gen:    genResult{Elapsed: 20 * time.Second, Status: map[int]int64{200: 100, 401: 800, 503: 5000}},
			Memory: phaseMemory{Peak: 200 << 20},
			Health: health{Asked: 200, OK: 200, Max: 12}},
	}
	if p := r.problems(); len(p) != 0 {
		t.Errorf("problems %v", p)
	}
	var out bytes.Buffer
	printReport(&out, r)
	for _, want := range []string{
		"| **median** | **45.5** | **0.91x** | 43.5 | |",
		"logins/s vs the Argon2id limit (50.0/s): 0.91x; target >= 0.90x: met",
		"By CPU time: one hash alone 40.0 ms, the server per login 43.5 ms: **0.92x**",
		"| MiB | 0 | **200** | 0 | 0 | 416: met |",
		"200 of 200 answered 200",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}

	r.Rounds[0].Gen.Status[401] = 1
	r.Flood.Gen.NoRetryAfter = 1
	r.Flood.Health.OK = 199
	r.Flood.Memory.Peak = 500 << 20
	if p := r.problems(); len(p) != 3 {
		t.Errorf("problems %v: want the 401, the refusal without Retry-After and the failed health check", p)
	}
	out.Reset()
	printReport(&out, r)
	if !strings.Contains(out.String(), "416: NOT met") {
		t.Errorf("memory verdict missing:\n%s", out.String())
	}
}

// TestHashTime runs the hash-time measurement once at the server's
// parameters.
func TestHashTime(t *testing.T) {
	h, err := hashTime(hashConfig{Params: password.DefaultParams(), Hashes: 1})
	if err != nil {
		t.Fatal(err)
	}
	if h.GOMAXPROCS < 1 || h.Single <= 0 || h.SingleMin > h.Single || h.Parallel <= 0 || h.Limit() <= 0 {
		t.Errorf("%+v", h)
	}
}

// TestRunSmoke runs the whole program briefly: warden builds, users are
// created, logins succeed, the flood is answered with 200/401/503 and the
// health checks with 200. It asserts nothing about speed or memory.
func TestRunSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds warden and runs it")
	}
	o := options{users: 2, clients: 2, floodClients: 6, rounds: 1, duration: time.Second, warmup: 200 * time.Millisecond,
		flood: time.Second, hashes: 1, budgetMiB: 256}
	r, err := run(o)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.problems(); len(p) > 0 {
		t.Fatalf("problems: %v", p)
	}
	if len(r.Hash) != 2 || r.Limit <= 0 || len(r.Rounds) != 1 || r.Rounds[0].Gen.Status[200] == 0 || r.Throughput == nil || r.Flood == nil || r.Flood.Memory.Peak <= 0 {
		t.Errorf("report %+v", r)
	}
}
