// Package store opens Warden's database by URL and applies its embedded
// migrations.
//
// Contract: Open returns a *DB whose schema is current, or an error; it
// never serves on a half-migrated schema. Queries are written once with '?'
// placeholders and run through DB.Rebind, so callers never splice values
// into SQL. SQLite (the default) runs in WAL mode with synchronous=FULL,
// foreign keys on and write transactions that take the write lock at BEGIN
// (so two read-then-write transactions cannot deadlock), which makes an
// acknowledged write survive kill -9 and power loss alike.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// Dialects.
const (
	SQLite   = "sqlite"
	MySQL    = "mysql"
	Postgres = "postgres"
)

//go:embed migrations
var migrations embed.FS

// ErrUnavailable wraps errors from a database that did not answer.
var ErrUnavailable = errors.New("store: database unavailable")

// DB is an open, migrated database.
type DB struct {
	*sql.DB
	Dialect string
}

// DefaultURL is the SQLite database inside dataDir.
func DefaultURL(dataDir string) (string, error) {
	abs, err := filepath.Abs(filepath.Join(dataDir, "warden.db"))
	if err != nil {
		return "", err
	}
	return "sqlite://" + filepath.ToSlash(abs), nil
}

// Open connects to rawURL (sqlite:///abs/path.db), checks the connection and
// applies pending migrations.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	db, err := connect(rawURL)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func connect(rawURL string) (*DB, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// The URL may carry a password; never repeat it.
		return nil, errors.New("store: the database URL is not a valid URL")
	}
	switch u.Scheme {
	case "sqlite", "sqlite3":
		path := u.Path
		if u.Host != "" {
			// sqlite://relative/path.db: keep the host as the first element.
			path = u.Host + u.Path
		}
		if path == "" {
			return nil, errors.New("store: sqlite URL needs a path, such as sqlite:///var/lib/warden/warden.db")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Set("_txlock", "immediate")
		db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return &DB{DB: db, Dialect: SQLite}, nil
	case "mysql", "postgres", "postgresql":
		return nil, fmt.Errorf("store: %s is not supported by this build yet; use sqlite:///path.db", u.Scheme)
	}
	return nil, fmt.Errorf("store: unknown database scheme %q; use sqlite:///path.db", u.Scheme)
}

// Migrate applies every pending migration of this dialect.
func (db *DB) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+db.Dialect)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.DB, sub)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// Rebind rewrites '?' placeholders for the dialect ($1, $2... on
// PostgreSQL). Queries must not contain '?' elsewhere.
func (db *DB) Rebind(query string) string {
	if db.Dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// Ping checks that the database answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// InTx runs fn in a transaction, committing when fn returns nil.
func (db *DB) InTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
