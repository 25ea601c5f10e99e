package problem_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wardenhq/warden/problem"
)

func TestSecondsRoundsUpToAtLeastOne(t *testing.T) {
	for d, want := range map[time.Duration]int64{
		0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 5 * time.Second: 5, -time.Second: 1,
	} {
		if got := problem.Seconds(d); got != want {
			t.Errorf("Seconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestUnavailableAndWriteRetry(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("Content-Encoding", "gzip") // a handler's, for a body it no longer sends
	problem.Unavailable(w, "The store is down.")
	var p problem.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "5" || p.Status != 503 ||
		p.Detail != "The store is down." || p.Error != p.Detail || p.Title != "Service Unavailable" {
		t.Fatalf("%d Retry-After %q %+v", w.Code, w.Header().Get("Retry-After"), p)
	}
	if w.Header().Get("Content-Type") != problem.ContentType || w.Header().Get("Content-Encoding") != "" {
		t.Fatalf("headers %v", w.Header())
	}
	w = httptest.NewRecorder()
	problem.WriteRetry(w, http.StatusTooManyRequests, 1500*time.Millisecond, "Slow down.")
	if w.Code != 429 || w.Header().Get("Retry-After") != "2" {
		t.Fatalf("%d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
}
