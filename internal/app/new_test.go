package app_test

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/app"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/redisconn/redistest"
)

// TestFailedNewClosesWhatItOpened makes New fail after it has connected to
// Redis and opened the database (the mail URL is refused last), and checks
// that no connection stays open on the private Redis server.
func TestFailedNewClosesWhatItOpened(t *testing.T) {
	srv := redistest.StartServer(t)
	vars := map[string]string{
		"WARDEN_DATA_DIR":   t.TempDir(),
		"WARDEN_REDIS_URL":  srv.URL(),
		"WARDEN_SECRET_KEY": "failed-new-test-secret-of-32-bytes-or-more",
		// A URL to Load, but no mail server to the mailer.
		"WARDEN_SMTP_URL": "ftp://mail.example",
	}
	cfg, err := config.Load(nil, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil))); err == nil {
		a.Close()
		t.Fatal("New accepted a mail URL the mailer refuses")
	}

	probe := redistest.OpenURL(t, srv.URL())
	connected := regexp.MustCompile(`connected_clients:(\d+)`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := probe.Info(context.Background(), "clients").Result()
		if err != nil {
			t.Fatal(err)
		}
		m := connected.FindStringSubmatch(info)
		if m != nil && m[1] == "1" { // the probe itself
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis connections left open by the failed New: %v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
