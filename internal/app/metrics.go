package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/internal/metrics"
	"github.com/wardenhq/warden/secure"
)

// GET /metrics (WARDEN_METRICS_ADDR). The series are built in New, so
// that the router observes every request and features can register their
// gauges (RegisterGauge) while they are wired; the listener opens in
// Serve, apart from the API's: /metrics has no authentication, and a
// separate address is what lets an operator keep it off the public
// network. With the setting empty nothing is built and the router has no
// Observer, so the pipeline pays nothing.

// metricsShutdown bounds how long a scrape in progress may delay the
// end of Serve.
const metricsShutdown = 5 * time.Second

// metricsState is what the App keeps for GET /metrics.
type metricsState struct {
	series *metrics.Metrics // nil when WARDEN_METRICS_ADDR is empty

	mu   sync.Mutex
	addr string // the listener's address while Serve runs
}

// openMetrics builds the series when WARDEN_METRICS_ADDR is set, with the
// gauges of what New itself owns: the database pool and the password
// hasher's queue.
func (a *App) openMetrics() {
	if a.cfg.MetricsAddr == "" {
		return
	}
	a.metrics.series = metrics.New(a.logger)
	db := a.db
	a.RegisterGauge("warden_db_connections_max", "The database connections this process may open (WARDEN_DB_MAX_CONNS).",
		func() float64 { return float64(db.Stats().MaxOpenConnections) })
	a.RegisterGauge("warden_db_connections_in_use", "Database connections serving a request now.",
		func() float64 { return float64(db.Stats().InUse) })
	a.metrics.series.CounterFunc("warden_db_connection_waits_total",
		"Requests that waited for a free database connection.",
		func() float64 { return float64(db.Stats().WaitCount) })
	if h := a.cfg.Hasher; h != nil {
		a.RegisterGauge("warden_password_hash_waiting",
			"Password hashes and verifications waiting for room in the hashing memory budget.",
			func() float64 { return float64(h.Stats().Waiting) })
		a.RegisterGauge("warden_password_hash_in_flight",
			"Password hashes and verifications computing now.",
			func() float64 { return float64(h.Stats().InFlight) })
		a.RegisterGauge("warden_password_hash_slots",
			"Password hashes allowed to run at once: one per CPU, fewer if WARDEN_HASH_MEMORY_BUDGET_MIB allows fewer.",
			func() float64 { return float64(h.Stats().Slots) })
		a.metrics.series.CounterFunc("warden_password_hash_busy_total",
			"Password hashes and verifications refused (503) because the memory budget stayed full.",
			func() float64 { return float64(h.Stats().Busy) })
	}
}

// observer is the router's Observer: nil, not a nil *Metrics, when
// metrics are off, so that the router skips observing altogether.
func (a *App) observer() warden.Observer {
	if a.metrics.series == nil {
		return nil
	}
	return a.metrics.series
}

// RegisterGauge adds to GET /metrics a gauge named name (the full name,
// such as "warden_sse_streams_open") whose value f returns at each
// scrape: open streams and sockets, queue depths. f runs on the scrape's
// goroutine, concurrently with requests, so it must be safe for
// concurrent use and quick. With WARDEN_METRICS_ADDR empty it does
// nothing. Call it while the App is wired (in New, before Serve); it
// panics on an invalid or already registered name, a mistake to catch at
// start-up.
func (a *App) RegisterGauge(name, help string, f func() float64) {
	if a.metrics.series == nil {
		return
	}
	a.metrics.series.GaugeFunc(name, help, f)
}

// MetricsAddr returns the address GET /metrics is served on while Serve
// runs (with WARDEN_METRICS_ADDR=127.0.0.1:0, the port the system chose),
// and "" when metrics are off or not being served.
func (a *App) MetricsAddr() string {
	a.metrics.mu.Lock()
	defer a.metrics.mu.Unlock()
	return a.metrics.addr
}

// startMetrics listens on WARDEN_METRICS_ADDR and serves GET /metrics
// there, and nothing else; stop shuts that server down. A listen failure
// is returned: the operator asked for metrics, and a server silently
// without them would go unmonitored. With metrics off, stop does nothing.
func (a *App) startMetrics() (stop func(), err error) {
	if a.metrics.series == nil {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", a.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.series.Handler())
	srv := &http.Server{
		Handler:  mux,
		ErrorLog: slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	// The API's limits suit a scraper too: slow or idle clients are cut
	// off, and a scrape is small next to the write timeout.
	secure.ApplyServerLimits(srv)
	addr := ln.Addr().String()
	a.metrics.mu.Lock()
	a.metrics.addr = addr
	a.metrics.mu.Unlock()

	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.logger.Error("metrics server stopped", slog.String("error", err.Error()))
		}
	}()
	attrs := []slog.Attr{slog.String("addr", addr)}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		a.logger.LogAttrs(context.Background(), slog.LevelWarn,
			"GET /metrics has no authentication and listens beyond loopback; make sure only the monitoring system can reach it", attrs...)
	} else {
		a.logger.LogAttrs(context.Background(), slog.LevelInfo, "metrics serving", attrs...)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), metricsShutdown)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close() // a scrape that would not finish
		}
		<-done
		a.metrics.mu.Lock()
		a.metrics.addr = ""
		a.metrics.mu.Unlock()
	}, nil
}
