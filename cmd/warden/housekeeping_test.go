package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/store"
)

var keyIDLine = regexp.MustCompile(`(?m)^id:\s+(\S+)$`)

// TestAPIKeyCreateLifetimes: a key expires after 90 days by default,
// --expires sets another lifetime, only --no-expiry makes one that never
// expires, and --survives-reset is stored.
func TestAPIKeyCreateLifetimes(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("WARDEN_DATA_DIR", dir)
	create := func(args ...string) (string, int, string) {
		t.Helper()
		var out, errs bytes.Buffer
		code := run(append([]string{"apikey", "create", "--name", "ci"}, args...), strings.NewReader(""), &out, &errs)
		id := ""
		if m := keyIDLine.FindStringSubmatch(out.String()); m != nil {
			id = m[1]
		}
		return id, code, errs.String()
	}
	type stored struct {
		lifetime      time.Duration // 0: never expires
		survivesReset bool
	}
	read := func(id string) stored {
		t.Helper()
		db, err := store.Open(context.Background(), "sqlite://"+filepath.Join(dir, "warden.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var created int64
		var expires sql.NullInt64
		var s stored
		if err := db.QueryRow(`SELECT created_at, expires_at, survives_reset FROM api_keys WHERE id = ?`, id).Scan(&created, &expires, &s.survivesReset); err != nil {
			t.Fatal(err)
		}
		if expires.Valid {
			s.lifetime = time.Duration(expires.Int64-created) * time.Millisecond
		}
		return s
	}

	for _, tc := range []struct {
		args []string
		want stored
	}{
		{nil, stored{lifetime: 90 * 24 * time.Hour}},
		{[]string{"--expires", "720h"}, stored{lifetime: 720 * time.Hour}},
		{[]string{"--no-expiry"}, stored{}},
		{[]string{"--survives-reset"}, stored{lifetime: 90 * 24 * time.Hour, survivesReset: true}},
	} {
		id, code, errs := create(tc.args...)
		if code != 0 || id == "" {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errs)
		}
		if got := read(id); got != tc.want {
			t.Fatalf("%v: stored %+v, want %+v", tc.args, got, tc.want)
		}
	}
	for _, args := range [][]string{{"--expires", "0"}, {"--expires", "-1h"}, {"--no-expiry", "--expires", "1h"}} {
		if _, code, errs := create(args...); code != 2 || !strings.Contains(errs, "expir") {
			t.Fatalf("%v: exit %d, want 2: %s", args, code, errs)
		}
	}
}

func TestPurgeCommand(t *testing.T) {
	t.Setenv("WARDEN_DATA_DIR", t.TempDir())
	var out, errs bytes.Buffer
	if code := run([]string{"purge"}, strings.NewReader(""), &out, &errs); code != 0 || !strings.Contains(out.String(), "purged 0 session(s)") {
		t.Fatalf("exit %d: %s %s", code, out.String(), errs.String())
	}
	if code := run([]string{"purge", "now"}, strings.NewReader(""), &out, &errs); code != 2 {
		t.Fatalf("purge with an argument: exit %d", code)
	}
}
