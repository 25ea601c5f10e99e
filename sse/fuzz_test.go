package sse_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/sse"
)

// deadlineRecorder is an httptest.ResponseRecorder that accepts
// deadlines, so that the fuzz target runs Serve in process, thousands of
// times a second, with the same code path as a real connection.
type deadlineRecorder struct{ *httptest.ResponseRecorder }

func (deadlineRecorder) SetWriteDeadline(time.Time) error { return nil }
func (deadlineRecorder) SetReadDeadline(time.Time) error  { return nil }

// FuzzSend checks that whatever event name and data a caller passes, a
// client reads back exactly that one event (data with its line endings
// as LF) or nothing at all: data can never inject a field (event:, id:,
// retry:) or a second event.
func FuzzSend(f *testing.F) {
	for _, seed := range []struct {
		event string
		data  string
	}{
		{"follower", `{"username":"ada"}`},
		{"", ""},
		{"x", "a\nevent: injected\nid: 7\nretry: 1\n\ndata: second"},
		{"x", "\r\n\r\n"},
		{"x", "a\rb\r\nc\n"},
		{"a\nid: 1", "x"},
		{" spaced ", " data "},
		{"x", "\xff"},
		{"x", ":comment\n:"},
		{"data", "\x00nul"},
	} {
		f.Add(seed.event, []byte(seed.data))
	}
	s, err := sse.New(sse.Config{RetryAfter: 3 * time.Second, Logger: discardLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		var sendErr error
		rec := deadlineRecorder{httptest.NewRecorder()}
		req := httptest.NewRequest(http.MethodGet, "/events", nil)
		s.Serve(rec, req, "fuzz", func(_ context.Context, st *sse.Stream) error {
			sendErr = st.Send(name, data)
			return nil
		})
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		p := newStreamReader(bufio.NewReader(bytes.NewReader(rec.Body.Bytes())))
		got, err := p.next()

		validName := utf8.ValidString(name) && strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0
		switch {
		case !validName:
			if !errors.Is(sendErr, sse.ErrInvalidEvent) {
				t.Fatalf("name %q: Send %v, want ErrInvalidEvent", name, sendErr)
			}
		case !utf8.Valid(data):
			if !errors.Is(sendErr, sse.ErrInvalidData) {
				t.Fatalf("data %q: Send %v, want ErrInvalidData", data, sendErr)
			}
		default:
			if sendErr != nil {
				t.Fatalf("Send(%q, %q): %v", name, data, sendErr)
			}
			if err != nil {
				t.Fatalf("no event read: %v in %q", err, rec.Body)
			}
			wantType := name
			if wantType == "" {
				wantType = "message"
			}
			wantData := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(data))
			if got.Type != wantType || got.Data != wantData || got.ID != "" {
				t.Fatalf("Send(%q, %q) read back as %+v from %q", name, data, got, rec.Body)
			}
			got, err = p.next()
		}
		if err != io.EOF {
			t.Fatalf("an extra event %+v (%v) from %q", got, err, rec.Body)
		}
		if p.idSeen || p.retry != 3000 || p.unknown != 0 {
			t.Fatalf("id seen %v, retry %d, unknown fields %d in %q", p.idSeen, p.retry, p.unknown, rec.Body)
		}
	})
}
