package warden_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/wardenhq/warden"
)

// TestWriteJSONFraming: every answer is json.Marshal's bytes and a
// newline, with its own Content-Length, whatever was encoded before it:
// bodies are encoded into reused buffers, and a large one, a small one and
// one that fails must not leave anything in the next.
func TestWriteJSONFraming(t *testing.T) {
	type page struct {
		Items []string `json:"items"`
		Note  string   `json:"note"`
	}
	values := []any{
		page{Items: []string{strings.Repeat("a", 200<<10)}}, // beyond what is kept for reuse
		page{Items: []string{strings.Repeat("b", 10<<10), "<script>"}, Note: "html is escaped"},
		map[string]int{"n": 1},
		page{Note: "é & \u2028"},
		[]int{},
	}
	for i, v := range values {
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Encoding", "gzip") // a handler's mistake: the body is not compressed
		warden.WriteJSON(rec, http.StatusCreated, v)
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, '\n')
		if got := rec.Body.String(); got != string(want) {
			t.Fatalf("value %d: body %.80q..., want %.80q...", i, got, want)
		}
		h := rec.Result().Header
		if rec.Code != http.StatusCreated || h.Get("Content-Type") != warden.JSONContentType ||
			h.Get("Content-Length") != strconv.Itoa(len(want)) || h.Get("Content-Encoding") != "" {
			t.Fatalf("value %d: status %d, headers %v", i, rec.Code, h)
		}
		if i == 1 {
			// A panic on an unencodable value between two answers.
			func() {
				defer func() { _ = recover() }()
				warden.WriteJSON(httptest.NewRecorder(), http.StatusOK, map[string]any{"f": func() {}})
				t.Fatal("an unencodable value did not panic")
			}()
		}
	}
}
