// Package storetest gives each test its own empty database on every engine
// the environment offers: a SQLite file always, and a MySQL/MariaDB or
// PostgreSQL database when WARDEN_TEST_MYSQL_DSN or
// WARDEN_TEST_POSTGRES_DSN is set. Each database is dropped when its test
// ends, so tests can share one server.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardenhq/warden/internal/store"
)

// Engine is one database to run a test against.
type Engine struct {
	Name string
	// NewURL creates a fresh, empty database and returns its URL.
	NewURL func(t testing.TB) string
}

// Engines lists SQLite and every server engine whose address is set.
func Engines() []Engine {
	out := []Engine{{Name: "sqlite", NewURL: func(t testing.TB) string {
		return "sqlite://" + filepath.Join(t.TempDir(), "warden.db")
	}}}
	if dsn := os.Getenv("WARDEN_TEST_MYSQL_DSN"); dsn != "" {
		out = append(out, Engine{Name: "mysql", NewURL: func(t testing.TB) string { return serverDatabase(t, dsn) }})
	}
	if dsn := os.Getenv("WARDEN_TEST_POSTGRES_DSN"); dsn != "" {
		out = append(out, Engine{Name: "postgres", NewURL: func(t testing.TB) string { return serverDatabase(t, dsn) }})
	}
	return out
}

// Each runs fn once per engine as a subtest.
func Each(t *testing.T, fn func(t *testing.T, e Engine)) {
	for _, e := range Engines() {
		t.Run(e.Name, func(t *testing.T) { fn(t, e) })
	}
}

// serverDatabase creates warden_test_<random> on the server named by dsn
// and drops it when t ends.
func serverDatabase(t testing.TB, dsn string) string {
	t.Helper()
	admin, err := store.Connect(dsn)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "warden_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("storetest: create database: %v", err)
	}
	t.Cleanup(func() {
		drop := "DROP DATABASE IF EXISTS " + name
		if admin.Dialect == store.Postgres {
			drop += " WITH (FORCE)"
		}
		if _, err := admin.ExecContext(context.Background(), drop); err != nil {
			t.Errorf("storetest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
