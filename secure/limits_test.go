package secure_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/secure"
)

// bareClient sends exactly the headers a test sets: no User-Agent and no
// Accept-Encoding, so header counts are exact.
func bareClient(srv *httptest.Server) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.DisableCompression = true
	return &http.Client{Transport: tr}
}

func checkProblem(t *testing.T, resp *http.Response, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d", resp.StatusCode, status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != problem.ContentType {
		t.Errorf("Content-Type = %q, want a problem document", ct)
	}
	var p problem.Problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatalf("problem body: %v", err)
	}
	if p.Status != status || p.Detail == "" || p.Error == "" {
		t.Errorf("problem = %+v", p)
	}
}

func TestHeaderLimits(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(secure.HeaderLimits(0, 0)(ok))
	defer srv.Close()
	client := bareClient(srv)

	many := func(n int) http.Header {
		h := http.Header{}
		for i := range n {
			h.Set(fmt.Sprintf("X-H%03d", i), "v")
		}
		return h
	}
	tests := []struct {
		name   string
		header http.Header
		host   string
		want   int
	}{
		{name: "100 fields pass", header: many(100), want: 204},
		{name: "101 fields are refused", header: many(101), want: 431},
		{name: "repeated field lines each count", header: http.Header{"Cookie": make([]string, 101)}, want: 431},
		{name: "8192-byte value passes", header: http.Header{"X-Big": {strings.Repeat("a", 8192)}}, want: 204},
		{name: "8193-byte value is refused", header: http.Header{"X-Big": {strings.Repeat("a", 8193)}}, want: 431},
		{name: "oversized second value of a field is refused", header: http.Header{"X-Big": {"a", strings.Repeat("a", 8193)}}, want: 431},
		{name: "8193-byte name is refused", header: http.Header{"X-" + strings.Repeat("n", 8191): {"v"}}, want: 431},
		{name: "8193-byte host is refused", host: strings.Repeat("h", 8193), want: 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL, nil)
			for k, vs := range tt.header {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			req.Header.Set("User-Agent", "") // suppressed by net/http
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if tt.want == 204 {
				if resp.StatusCode != 204 {
					t.Fatalf("status = %d, want 204", resp.StatusCode)
				}
				return
			}
			checkProblem(t, resp, tt.want)
		})
	}
}

func TestHeaderLimitsCustom(t *testing.T) {
	h := secure.HeaderLimits(2, 4)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{name: "at both limits", header: http.Header{"A": {"1234"}, "B": {"x"}}, want: 200},
		{name: "over the count", header: http.Header{"A": {"1"}, "B": {"2"}, "C": {"3"}}, want: 431},
		{name: "over the size", header: http.Header{"A": {"12345"}}, want: 431},
		{name: "name over the size", header: http.Header{"Abcde": {"1"}}, want: 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Host = "h"
			r.Header = tt.header
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("status = %d, want %d", w.Code, tt.want)
			}
		})
	}
}

// unsized hides a reader's length so the client sends it chunked.
type unsized struct{ io.Reader }

func TestBodyLimit(t *testing.T) {
	const limit = 1024
	var reached atomic.Int32
	read := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			if secure.IsBodyTooLarge(err) {
				secure.WriteBodyTooLarge(w, err)
				return
			}
			t.Errorf("read: %v", err)
		}
		fmt.Fprint(w, n)
	})
	srv := httptest.NewServer(secure.BodyLimit(limit)(read))
	defer srv.Close()

	tests := []struct {
		name        string
		size        int
		chunked     bool
		want        int
		wantHandler bool
	}{
		{name: "under the limit with Content-Length", size: limit - 1, want: 200, wantHandler: true},
		{name: "at the limit with Content-Length", size: limit, want: 200, wantHandler: true},
		{name: "over the limit with Content-Length is refused unread", size: limit + 1, want: 413},
		{name: "far over the limit with Content-Length is refused unread", size: 1 << 20, want: 413},
		{name: "chunked at the limit", size: limit, chunked: true, want: 200, wantHandler: true},
		{name: "chunked over the limit", size: limit + 1, chunked: true, want: 413, wantHandler: true},
		{name: "chunked far over the limit", size: 1 << 20, chunked: true, want: 413, wantHandler: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached.Store(0)
			var body io.Reader = strings.NewReader(strings.Repeat("x", tt.size))
			if tt.chunked {
				body = unsized{body}
			}
			req, _ := http.NewRequest("POST", srv.URL, body)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if tt.chunked != (req.ContentLength <= 0) {
				t.Fatalf("request ContentLength = %d; chunked=%v", req.ContentLength, tt.chunked)
			}
			if tt.want == 413 {
				checkProblem(t, resp, 413)
			} else if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			if got := reached.Load() == 1; got != tt.wantHandler {
				t.Errorf("handler reached = %v, want %v", got, tt.wantHandler)
			}
		})
	}
}

func TestBodyLimitDefaultIs10MB(t *testing.T) {
	h := secure.BodyLimit(0)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, tt := range []struct {
		length int64
		want   int
	}{{10 << 20, 200}, {10<<20 + 1, 413}} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(""))
		r.ContentLength = tt.length
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("Content-Length %d: status %d, want %d", tt.length, w.Code, tt.want)
		}
	}
}

func TestBodyLimitsNestToTheSmaller(t *testing.T) {
	var got error
	h := secure.BodyLimit(10)(secure.BodyLimit(100)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, got = io.ReadAll(r.Body)
	})))
	r := httptest.NewRequest("POST", "/", unsized{strings.NewReader(strings.Repeat("x", 50))})
	r.ContentLength = -1
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !secure.IsBodyTooLarge(got) {
		t.Errorf("50 bytes under an outer 10-byte limit: err = %v", got)
	}
}

func TestIsBodyTooLarge(t *testing.T) {
	if secure.IsBodyTooLarge(nil) || secure.IsBodyTooLarge(io.ErrUnexpectedEOF) {
		t.Error("unrelated error reported as too large")
	}
	if !secure.IsBodyTooLarge(fmt.Errorf("decode: %w", &http.MaxBytesError{Limit: 1})) {
		t.Error("wrapped MaxBytesError not recognised")
	}
}

func TestApplyServerLimits(t *testing.T) {
	s := &http.Server{WriteTimeout: 5 * time.Minute}
	secure.ApplyServerLimits(s)
	if s.ReadHeaderTimeout != 5*time.Second || s.ReadTimeout != 30*time.Second ||
		s.IdleTimeout != 120*time.Second || s.MaxHeaderBytes != 1<<20 {
		t.Errorf("limits not applied: %+v", s)
	}
	if s.WriteTimeout != 5*time.Minute {
		t.Errorf("explicit WriteTimeout overwritten: %v", s.WriteTimeout)
	}
}
