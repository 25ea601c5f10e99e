package benchproc

import (
	"io"
	"net/http"
	"net/http/httptest"
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
	srv := httptest.NewServer(b.handler())
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
