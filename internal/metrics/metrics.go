// Package metrics keeps the server's operational metrics and serves them
// in the Prometheus text format.
//
// Contract:
//   - Every series lives in the Metrics' own registry, never in the
//     Prometheus default one, so that two servers in one process (tests)
//     and libraries that register globally cannot mix their series.
//   - Metrics implements warden.Observer: requests by route pattern and
//     status, their latency by route, authentication failures by reason
//     and rate-limit refusals by policy. Every label value comes from a
//     bounded set the server chose (registered patterns, status codes,
//     auth.Failures, configured policy names), never from a request's text,
//     so no client can grow the number of series.
//   - Observing a request takes a read lock and a map lookup once its
//     series exists, and allocates nothing.
//   - The handler exposes what the process is doing (routes, traffic,
//     refusals, the Go runtime) and has no authentication of its own: it
//     must be served on a listener reachable only by the monitoring system
//     (see WARDEN_METRICS_ADDR), never on the public one.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
)

// durationBuckets are the upper bounds, in seconds, of the request
// latency histogram: from a cached read (1 ms) through a password hash
// (a few hundred ms) to a slow upload (30 s). Streams and sockets, which
// are observed when they end, land in the last bucket or above.
func durationBuckets() []float64 {
	return []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
}

// The handler's limits: a scrape gathers every series, so a client that
// opens many at once or never finishes one must not tie the process up.
const (
	maxScrapesInFlight = 4
	scrapeTimeout      = 10 * time.Second
)

// Metrics holds the server's series. Create it with New; it is safe for
// concurrent use.
type Metrics struct {
	reg    *prometheus.Registry
	logger *slog.Logger

	requests     series[routeStatus, prometheus.Counter]
	durations    series[string, prometheus.Observer]
	authFailures series[auth.Failure, prometheus.Counter]
	rateLimited  series[string, prometheus.Counter]
}

var _ warden.Observer = (*Metrics)(nil)

type routeStatus struct {
	route  string
	status int
}

// New returns Metrics with the Go runtime and process collectors and the
// request, authentication and rate-limit series registered. The handler
// logs gathering errors to logger (slog.Default when nil).
func New(logger *slog.Logger) *Metrics {
	if logger == nil {
		logger = slog.Default()
	}
	m := &Metrics{reg: prometheus.NewRegistry(), logger: logger}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "warden_http_requests_total",
		Help: "Requests served, by route pattern (\"unmatched\" for requests that reached no route) and status code.",
	}, []string{"route", "status"})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "warden_http_request_duration_seconds",
		Help:    "Time from a request's arrival to its handler's return, by route pattern; a stream's whole life.",
		Buckets: durationBuckets(),
	}, []string{"route"})
	authFailures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "warden_auth_failures_total",
		Help: "Requests refused by authentication, by reason (invalid, expired, revoked, unavailable).",
	}, []string{"reason"})
	rateLimited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "warden_rate_limited_total",
		Help: "Requests refused with 429 by a rate limit, by policy name.",
	}, []string{"policy"})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		requests, durations, authFailures, rateLimited,
	)
	// strconv runs once per new series, not per request.
	m.requests.init(func(k routeStatus) prometheus.Counter {
		return requests.WithLabelValues(k.route, strconv.Itoa(k.status))
	})
	m.durations.init(func(route string) prometheus.Observer { return durations.WithLabelValues(route) })
	m.authFailures.init(func(f auth.Failure) prometheus.Counter { return authFailures.WithLabelValues(string(f)) })
	m.rateLimited.init(func(p string) prometheus.Counter { return rateLimited.WithLabelValues(p) })
	// Every reason exists from the start at 0, so that the first failure
	// shows as an increase rather than as a new series.
	for _, f := range auth.Failures() {
		m.authFailures.get(f)
	}
	return m
}

// Request implements warden.Observer.
func (m *Metrics) Request(route string, status int, d time.Duration) {
	m.requests.get(routeStatus{route, status}).Inc()
	m.durations.get(route).Observe(d.Seconds())
}

// AuthFailure implements warden.Observer.
func (m *Metrics) AuthFailure(reason auth.Failure) { m.authFailures.get(reason).Inc() }

// RateLimited implements warden.Observer.
func (m *Metrics) RateLimited(policy string) { m.rateLimited.get(policy).Inc() }

// GaugeFunc registers a gauge whose value f returns at each scrape, such
// as the number of open streams. name is the full metric name
// ("warden_sse_streams_open"). f runs on the scraping goroutine and must
// be safe for concurrent use and quick. GaugeFunc panics on an invalid
// name (anything but letters, digits and underscores, or a leading
// digit) or one already registered: gauges are registered at start-up,
// where such a mistake must stop the server.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.mustRegister(name, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// CounterFunc is GaugeFunc for a value that only grows (a count of
// refusals kept elsewhere); its name should end in _total.
func (m *Metrics) CounterFunc(name, help string, f func() float64) {
	m.mustRegister(name, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

func (m *Metrics) mustRegister(name string, c prometheus.Collector) {
	if !classicName(name) {
		panic(fmt.Sprintf("metrics: %q is not a metric name: use letters, digits and underscores, not starting with a digit", name))
	}
	if err := m.reg.Register(c); err != nil {
		panic(fmt.Sprintf("metrics: registering %q: %v", name, err))
	}
}

// Handler serves every series in the Prometheus text format (compressed
// when the client asks). It answers a fifth concurrent scrape, and one
// that takes over ten seconds, with 503.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(m.logger.Handler(), slog.LevelError),
		Registry:            m.reg,
		MaxRequestsInFlight: maxScrapesInFlight,
		Timeout:             scrapeTimeout,
	})
}

// classicName reports whether name fits [a-zA-Z_][a-zA-Z0-9_]*. The
// client library accepts any UTF-8 name, which scrapers of the classic
// text format, and the people querying it, handle badly; the server's
// own names never need more. (Colons are reserved for recording rules.)
func classicName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// series caches the child of a labelled metric per label value: the
// vectors' own lookup hashes the labels and takes a variadic slice, which
// allocates on every request.
type series[K comparable, V any] struct {
	mu     sync.RWMutex
	m      map[K]V
	create func(K) V
}

func (s *series[K, V]) init(create func(K) V) {
	s.m, s.create = map[K]V{}, create
}

func (s *series[K, V]) get(k K) V {
	s.mu.RLock()
	v, ok := s.m[k]
	s.mu.RUnlock()
	if ok {
		return v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok = s.m[k]; !ok {
		v = s.create(k)
		s.m[k] = v
	}
	return v
}
