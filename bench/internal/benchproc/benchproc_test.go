package benchproc

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := append([]float64(nil), c.in...)
		if got := Median(in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
		for i := range in {
			if in[i] != c.in[i] {
				t.Errorf("Median reordered its argument: %v", in)
			}
		}
	}
}

// TestBareAnswersBodyAndHeaders serves a Bare handler and checks the
// answer a client gets, twice (values are shared between responses and
// must stay intact).
func TestBareAnswersBodyAndHeaders(t *testing.T) {
	b := Bare{Body: []byte(`{"ok":true}` + "\n"), Header: http.Header{"X-Frame-Options": {"DENY"}, "Vary": {"Origin"}}}
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	for range 2 {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != string(b.Body) || resp.Header.Get("Content-Length") != "12" ||
			resp.Header.Get("Content-Type") != "application/json; charset=utf-8" ||
			resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Vary") != "Origin" {
			t.Fatalf("got %d %v %q", resp.StatusCode, resp.Header, body)
		}
	}
}

func TestParseHeaderBlockRoundTrip(t *testing.T) {
	h := http.Header{"Ratelimit": {`"caller_user";r=999999;t=1`}, "Content-Security-Policy": {"default-src 'none'; frame-ancestors 'none'"}}
	var sb strings.Builder
	if err := h.Write(&sb); err != nil {
		t.Fatal(err)
	}
	got, err := parseHeaderBlock(sb.String())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		if got.Get(k) != v[0] {
			t.Errorf("%s: got %q, want %q", k, got.Get(k), v[0])
		}
	}
	if _, err := parseHeaderBlock("no colon here\r\n"); err == nil {
		t.Error("a line without a colon was accepted")
	}
}

// FuzzParseHeaderBlock: any input parses into a header or an error,
// never a panic, and what http.Header.Write writes parses back.
func FuzzParseHeaderBlock(f *testing.F) {
	f.Add("X-Frame-Options: DENY\r\nVary: Origin\r\n")
	f.Add("bad line\n")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHeaderBlock(s)
		if err != nil {
			return
		}
		var sb strings.Builder
		if err := h.Write(&sb); err != nil {
			t.Fatal(err)
		}
		if _, err := parseHeaderBlock(sb.String()); err != nil {
			t.Errorf("re-parsing %q: %v", sb.String(), err)
		}
	})
}

const statusSample = "Name:\twarden\nVmPeak:\t 1300000 kB\nVmHWM:\t  350208 kB\nVmRSS:\t  120000 kB\nThreads:\t8\n"

func TestParseStatusMemory(t *testing.T) {
	m, err := parseStatusMemory(statusSample)
	if err != nil {
		t.Fatal(err)
	}
	if m.Peak != 350208<<10 || m.RSS != 120000<<10 {
		t.Errorf("got %+v", m)
	}
	for _, bad := range []string{
		"",
		"VmRSS:\t 12 kB\n",                            // no peak
		"VmHWM:\t 12 kB\nVmRSS:\t 12 MB\n",            // unit
		"VmHWM:\t 12 kB\nVmRSS:\t -12 kB\n",           // negative
		"VmHWM:\t 12 kB\nVmRSS:\t x kB\n",             // not a number
		"VmHWM:\t 12 kB\nVmRSS:\t 1 2 kB\n",           // extra field
		"VmHWM:\t 12 kB\nVmRSS:\t 9e99 kB\n",          // not an integer
		"VmHWM:\t 99999999999999 kB\nVmRSS:\t 1 kB\n", // beyond any machine
	} {
		if m, err := parseStatusMemory(bad); err == nil {
			t.Errorf("parseStatusMemory(%q) = %+v, want an error", bad, m)
		}
	}
}

// TestProcMemoryOfSelf reads this process's own status file.
func TestProcMemoryOfSelf(t *testing.T) {
	m, err := ProcMemory(os.Getpid())
	if err != nil {
		t.Skip("no /proc:", err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("got %+v: want 0 < RSS <= peak", m)
	}
}

// FuzzParseStatusMemory: any input gives a memory reading or an error,
// never a panic, and a reading is never negative.
func FuzzParseStatusMemory(f *testing.F) {
	f.Add(statusSample)
	f.Add("VmRSS: 1 kB\nVmHWM: 2 kB\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseStatusMemory(s)
		if err == nil && (m.RSS < 0 || m.Peak < 0) {
			t.Errorf("parseStatusMemory(%q) = %+v", s, m)
		}
	})
}
