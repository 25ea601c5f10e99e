package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/wardenhq/warden/bench/internal/benchproc"
)

// TestMain lets the test binary serve as the bare server child.
func TestMain(m *testing.M) {
	benchproc.ServeBareIfChild("compare")
	os.Exit(m.Run())
}

const wrkOK = `Running 6s test @ http://127.0.0.1:41234/api/demo/jwt
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.01ms    1.10ms  30.12ms   90.00%
    Req/Sec    16.01k     1.20k   18.00k    70.00%
  191234 requests in 6.01s, 122.10MB read
Requests/sec:  31819.30
Transfer/sec:     20.32MB
`

const wrkFailures = `Running 1s test @ http://127.0.0.1:41234/api/demo/jwt
  1 threads and 8 connections
  1000 requests in 1.00s, 1.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 97
Requests/sec:   1000.00
Transfer/sec:      1.00MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOK)
	if err != nil {
		t.Fatal(err)
	}
	if r.requests != 191234 || r.rps != 31819.30 || r.failures != 0 {
		t.Errorf("got %+v", r)
	}
	r, err = parseWrk(wrkFailures)
	if err != nil {
		t.Fatal(err)
	}
	// 97 refused answers and 3 socket errors; the rate counts good answers.
	if r.failures != 100 || r.requests != 900 || r.rps != 900 || r.failNote == "" {
		t.Errorf("got %+v", r)
	}
	for _, bad := range []string{
		"",
		"Requests/sec: 12\n",                    // no count
		"  12 requests in 1s\n",                 // no rate
		"  x requests in 1s\nRequests/sec: 1\n", // malformed count
		"  12 requests in 1s\nRequests/sec: -1\n",
		"  12 requests in 1s\nRequests/sec: 1\n  Socket errors: connect x\n",
		"  12 requests in 1s\nRequests/sec: 1\n  Non-2xx or 3xx responses: -3\n",
	} {
		if _, err := parseWrk(bad); err == nil {
			t.Errorf("parseWrk(%q) accepted", bad)
		}
	}
}

// FuzzParseWrk: whatever wrk prints, parsing returns an error or counts
// that are not negative, good requests no more than counted.
func FuzzParseWrk(f *testing.F) {
	f.Add(wrkOK)
	f.Add(wrkFailures)
	f.Fuzz(func(t *testing.T, out string) {
		r, err := parseWrk(out)
		if err != nil {
			return
		}
		if r.requests < 0 || r.failures < 0 || r.rps < 0 {
			t.Errorf("negative result %+v from %q", r, out)
		}
	})
}

func TestRatiosAndReport(t *testing.T) {
	ts := []*target{
		{Name: tBare, What: "b", RPS: []float64{30000, 32000}, CPUPerReq: []float64{20, 20}, Requests: 1},
		{Name: tHeaders, What: "h", RPS: []float64{25000, 26000}, CPUPerReq: []float64{25, 26}, Requests: 1},
		{Name: tGin, What: "g", RPS: []float64{15000, 16000}, CPUPerReq: []float64{50, 52}, Requests: 1},
		{Name: tJWT, What: "j", RPS: []float64{22500, 24700}, CPUPerReq: []float64{30, 30}, Requests: 1},
		{Name: tMe, What: "m", RPS: []float64{15000, 16000}, CPUPerReq: []float64{40}, Requests: 1},
	}
	rep := &report{Targets: ts, Ratios: ratios(ts), Rounds: 2}
	jwtHdr := rep.ratio(tJWT, tHeaders)
	if jwtHdr == nil || jwtHdr.Target != JWTVsHeadersTarget {
		t.Fatalf("jwt vs headers: %+v", jwtHdr)
	}
	if jwtHdr.RPS.Min != 0.9 || jwtHdr.RPS.Max != 0.95 || jwtHdr.RPS.Median != 0.925 {
		t.Errorf("throughput spread %+v", jwtHdr.RPS)
	}
	if jwtHdr.CPU.Min != 25.0/30 || jwtHdr.CPU.Max != 26.0/30 {
		t.Errorf("CPU spread %+v", jwtHdr.CPU)
	}
	if me := rep.ratio(tMe, tBare); len(me.CPU.Rounds) != 1 {
		t.Errorf("a round without a CPU figure was compared: %+v", me.CPU)
	}
	if p := rep.problems(); len(p) != 0 {
		t.Errorf("problems %v", p)
	}
	var out bytes.Buffer
	printReport(&out, rep)
	for _, want := range []string{
		"| warden-jwt | 23,600 (22,500–24,700) | 0.76x (0.75–0.77) | 0.93x (0.90–0.95) | 1.52x (1.50–1.54) |",
		"- warden-jwt / bare+headers: 0.93x req/s (rounds 0.90–0.95), 0.85x by CPU per request; target >= 0.90x: met",
		"- warden-jwt / gin: 1.52x req/s (rounds 1.50–1.54), 1.70x by CPU per request; target >= 1.60x: NOT met",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}

	ts[3].Failures, ts[3].FirstFail = 3, "Non-2xx or 3xx responses: 3"
	ts[4].RPS[1] = 0
	if p := rep.problems(); len(p) != 2 {
		t.Errorf("problems %v, want the failures and the idle round", p)
	}
}
