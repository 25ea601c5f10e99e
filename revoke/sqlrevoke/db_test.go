package sqlrevoke_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"

	"github.com/wardenhq/warden/internal/storetest"
	"github.com/wardenhq/warden/revoke/sqlrevoke"
)

// database is one fresh database with the migrations applied. Each
// simulated instance opens its own *sql.DB on it, through a switch that
// can take the database away from that instance and a counter of its
// reads.
type database struct {
	dialect   string
	connector driver.Connector
	// admin is a connection of the test's own, to look at the tables
	// behind the Stores' backs.
	admin *sql.DB
}

var gooseDialects = map[string]goose.Dialect{
	sqlrevoke.SQLite:   goose.DialectSQLite3,
	sqlrevoke.MySQL:    goose.DialectMySQL,
	sqlrevoke.Postgres: goose.DialectPostgres,
}

// newDatabase creates an empty database on engine e (dropped when t ends)
// and applies the migrations to it.
func newDatabase(t *testing.T, e storetest.Engine) *database {
	t.Helper()
	raw := e.NewURL(t)
	d := &database{dialect: e.Name}
	var err error
	switch e.Name {
	case sqlrevoke.SQLite:
		path := strings.TrimPrefix(raw, "sqlite://")
		// WAL and a busy timeout, as the package documentation asks of
		// SQLite shared by several instances.
		d.connector = dsnConnector{registered(t, "sqlite"), "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)"}
	case sqlrevoke.MySQL:
		d.connector, err = mysqlConnector(raw)
	case sqlrevoke.Postgres:
		d.connector, err = registered(t, "pgx").(driver.DriverContext).OpenConnector(raw)
	default:
		t.Fatalf("no connector for engine %s", e.Name)
	}
	if err != nil {
		t.Fatal(err)
	}
	d.admin, _ = d.open(t)
	migrations, err := fs.Sub(sqlrevoke.Migrations, d.dialect)
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(gooseDialects[d.dialect], d.admin, migrations)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(context.Background()); err != nil {
		t.Fatalf("migrations: %v", err)
	}
	return d
}

// registered returns the driver registered under name (by the imports of
// storetest).
func registered(t *testing.T, name string) driver.Driver {
	db, err := sql.Open(name, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return db.Driver()
}

// mysqlConnector connects to the database named by a mysql:// URL.
func mysqlConnector(raw string) (driver.Connector, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	return mysql.NewConnector(cfg)
}

type dsnConnector struct {
	drv driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

// open returns a new *sql.DB on d, closed when t ends, and its switch.
func (d *database) open(t *testing.T) (*sql.DB, *fault) {
	f := &fault{}
	db := sql.OpenDB(faultConnector{d.connector, f})
	t.Cleanup(func() { db.Close() })
	return db, f
}

// rows counts the rows of warden_revocations.
func (d *database) rows(t *testing.T) int {
	t.Helper()
	var n int
	if err := d.admin.QueryRow(`SELECT COUNT(*) FROM warden_revocations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// epoch reads the revocation counter.
func (d *database) epoch(t *testing.T) int64 {
	t.Helper()
	var n int64
	if err := d.admin.QueryRow(`SELECT epoch FROM warden_revocation_epoch WHERE id = 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// fault is shared by the connections of one *sql.DB. While down, every
// operation fails as on an unreachable database, prepared statements
// included; reads counts the queries that read warden_revocations (the
// poller's epoch reads are not counted).
type fault struct {
	down  atomic.Bool
	reads atomic.Int64
}

var errDown = errors.New("test: database unreachable")

func (f *fault) use(query string) error {
	if f.down.Load() {
		return errDown
	}
	if strings.Contains(query, "warden_revocations") {
		f.reads.Add(1)
	}
	return nil
}

type faultConnector struct {
	driver.Connector
	f *fault
}

func (c faultConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.f.down.Load() {
		return nil, errDown
	}
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &faultConn{Conn: conn, f: c.f}, nil
}

// faultConn forwards to the driver's connection. Every driver in use
// implements the context methods, which database/sql prefers.
type faultConn struct {
	driver.Conn
	f *fault
}

func (c *faultConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *faultConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if c.f.down.Load() {
		return nil, errDown
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &faultStmt{Stmt: st, f: c.f, query: query}, nil
}

func (c *faultConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.f.down.Load() {
		return nil, errDown
	}
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *faultConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.f.use(query); err != nil {
		return nil, err
	}
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (c *faultConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.f.down.Load() {
		return nil, errDown
	}
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (c *faultConn) CheckNamedValue(v *driver.NamedValue) error {
	if nc, ok := c.Conn.(driver.NamedValueChecker); ok {
		return nc.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

// ResetSession retires pooled connections while the database is away, as
// broken ones would be.
func (c *faultConn) ResetSession(ctx context.Context) error {
	if c.f.down.Load() {
		return driver.ErrBadConn
	}
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

type faultStmt struct {
	driver.Stmt
	f     *fault
	query string
}

func (s *faultStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.f.use(s.query); err != nil {
		return nil, err
	}
	// Every driver the tests use implements the context interfaces.
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (s *faultStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.f.down.Load() {
		return nil, errDown
	}
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// clock is a settable clock, safe to read from the Store's goroutines.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
