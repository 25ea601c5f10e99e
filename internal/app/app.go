// Package app wires a validated configuration into a running Warden server:
// keys and stores, the route table, and an http.Server with graceful
// shutdown.
//
// Contract: New either returns an App that is safe to serve or an error
// that says what to fix; nothing insecure is started half-way. Run serves
// until its context ends, then drains in-flight requests.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/files"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/accounts/redisfailures"
	"github.com/wardenhq/warden/internal/bookclub"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/mail"
	"github.com/wardenhq/warden/internal/redisconn"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/ratelimit/redislimit"
	"github.com/wardenhq/warden/revoke"
	"github.com/wardenhq/warden/revoke/redisrevoke"
	"github.com/wardenhq/warden/revoke/sqlrevoke"
	"github.com/wardenhq/warden/secure"
)

// PrimaryKeyID is the "kid" of tokens this server signs.
const PrimaryKeyID = "warden"

// App is a configured Warden server.
type App struct {
	cfg    *config.Config
	logger *slog.Logger
	router *warden.Router
	// jwt verifies the tokens this server signs; bearer also accepts
	// tokens of the external issuers in WARDEN_JWT_KEYS (the same backend
	// when there are none).
	jwt      *auth.JWT
	bearer   auth.Authenticator
	apiKeys  *auth.APIKeys // configured keys and keys stored in the database
	signer   *auth.Signer
	revoked  revoke.Store
	closers  []io.Closer // revocation stores' background work, the media directory
	db       *store.DB
	redis    redis.UniversalClient // nil without WARDEN_REDIS_URL
	accounts *accounts.Service
	bookclub *bookclub.Service
	// media stores uploaded files (avatars) in <data dir>/media/, and
	// mediaServer serves the same directory at GET /media/{path...}.
	media       *files.Store
	mediaServer *files.Server
	// newLimiter builds every rate limiter: shared in Redis with a memory
	// fallback when Redis is configured, in memory otherwise.
	newLimiter func(ratelimit.Policy) (ratelimit.Limiter, error)
	// failures counts failed logins in Redis; nil means the database.
	failures accounts.FailureCounter
	// metrics backs GET /metrics on WARDEN_METRICS_ADDR (metrics.go).
	metrics metricsState
	// csrf guards every request carrying the session cookie (router-wide)
	// and cookie-mode logins (accounts); see openCSRF.
	csrf *secure.CSRF
}

// New builds the server for cfg: it opens and migrates the database. In
// development without WARDEN_SECRET_KEY the signing secret is generated
// once in the data directory. Close releases what New opened.
func New(ctx context.Context, cfg *config.Config, logger *slog.Logger) (_ *App, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	secret, generated, err := cfg.SigningKey()
	if err != nil {
		return nil, err
	}
	if generated {
		logger.Warn("using a generated development signing key; set WARDEN_SECRET_KEY before production", slog.String("data_dir", cfg.DataDir))
	}
	a := &App{cfg: cfg, logger: logger}
	// Any failure from here on closes what was opened: operator commands
	// and tests call New many times in one process.
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err = a.openDatabase(ctx); err != nil {
		return nil, err
	}
	if err = a.openShared(ctx); err != nil {
		return nil, err
	}
	if err = a.openJWT(secret); err != nil {
		return nil, err
	}
	if err = a.openCSRF(); err != nil {
		return nil, err
	}
	if err = a.openAccounts(); err != nil {
		return nil, err
	}
	if err = a.openMedia(); err != nil {
		return nil, err
	}
	// Metrics first: the book club registers its gauges while it is wired.
	a.openMetrics()
	if err = a.openBookclub(ctx); err != nil {
		return nil, err
	}
	if cfg.APIKeys != nil {
		a.apiKeys = cfg.APIKeys.With(a.accounts.APIKeySource())
	} else if a.apiKeys, err = auth.NewAPIKeys(auth.APIKeysConfig{Sources: []auth.APIKeySource{a.accounts.APIKeySource()}}); err != nil {
		return nil, err
	}
	throttle, err := a.throttle()
	if err != nil {
		return nil, err
	}
	a.router, err = warden.NewRouter(warden.Config{
		Observer:       a.observer(),
		Throttle:       throttle,
		Logger:         logger,
		TrustedProxies: cfg.TrustedProxies,
		Headers:        secure.HeaderOptions{Production: cfg.Production(), HSTSPreload: cfg.HSTSPreload},
		CORS:           cfg.CORS,
		CSRF:           a.csrf,
		AllowedHosts:   cfg.AllowedHosts,
		// Every route carries its description: the OpenAPI document is
		// generated from the route table (see apidocs.go).
		RequireDocs: true,
	})
	if err != nil {
		return nil, err
	}
	if err = a.routes(); err != nil {
		return nil, err
	}
	if err = a.mountDocs(); err != nil {
		return nil, err
	}
	return a, nil
}

// openShared connects the state several instances share: with
// WARDEN_REDIS_URL the revocation list and rate limits live in Redis (the
// limits fall back to memory while Redis is down; revocation checks fail
// closed), without it in this process.
func (a *App) openShared(ctx context.Context) error {
	memoryLimiter := func(p ratelimit.Policy) (ratelimit.Limiter, error) {
		return ratelimit.NewMemory(p, ratelimit.MemoryOptions{})
	}
	if a.cfg.RedisURL == "" {
		// The database is shared by every instance (and by operator
		// commands such as "warden sessions revoke"), and it outlives a
		// restart: revocations live there.
		revoked, err := sqlrevoke.New(a.db.DB, a.db.Dialect, sqlrevoke.Options{})
		if err != nil {
			return err
		}
		a.revoked = revoked
		a.closers = append(a.closers, revoked)
		a.newLimiter = memoryLimiter
		return nil
	}
	client, err := redisconn.Open(ctx, a.cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("redis %s: %w", redisconn.Describe(a.cfg.RedisURL), err)
	}
	a.redis = client
	prefix := a.cfg.RedisPrefix
	revoked := redisrevoke.New(client, prefix)
	a.revoked = revoked
	a.closers = append(a.closers, revoked)
	a.failures = redisfailures.New(client, prefix)
	a.newLimiter = func(p ratelimit.Policy) (ratelimit.Limiter, error) {
		shared, err := redislimit.New(client, p, prefix+"rl:"+p.Name+":")
		if err != nil {
			return nil, err
		}
		local, err := memoryLimiter(p)
		if err != nil {
			return nil, err
		}
		return ratelimit.Fallback(shared, local, a.logger)
	}
	a.logger.Info("shared state in redis", slog.String("redis", redisconn.Describe(a.cfg.RedisURL)))
	return nil
}

// throttle builds the router-wide default limits
// (WARDEN_RATE_ANON_PER_MINUTE, WARDEN_RATE_USER_PER_MINUTE): per
// anonymous client and per signed-in user, shared between instances like
// every limiter from newLimiter. A setting of 0 leaves that kind of
// caller unlimited; both 0 means no throttle.
func (a *App) throttle() (func(http.Handler) http.Handler, error) {
	limiter := func(name string, perMinute int) (ratelimit.Limiter, error) {
		if perMinute == 0 {
			return nil, nil
		}
		// A minute's allowance may come at once (the burst), then it
		// refills evenly.
		return a.newLimiter(ratelimit.Policy{Name: name, Rate: float64(perMinute) / 60, Burst: perMinute})
	}
	anon, err := limiter("caller_anon", a.cfg.RateAnonPerMinute)
	if err != nil {
		return nil, err
	}
	user, err := limiter("caller_user", a.cfg.RateUserPerMinute)
	if err != nil {
		return nil, err
	}
	if anon == nil && user == nil {
		return nil, nil
	}
	return ratelimit.PerCaller(a.logger, anon, user), nil
}

// openDatabase opens and migrates the database (Migrate).
func (a *App) openDatabase(ctx context.Context) error {
	dbURL, err := store.ResolveURL(a.cfg.DatabaseURL, a.cfg.DataDir)
	if err != nil {
		return err
	}
	if a.db, err = store.Open(ctx, dbURL); err != nil {
		return err
	}
	if a.cfg.DBMaxConns > 0 {
		a.db.SetPoolSize(a.cfg.DBMaxConns)
	}
	return Migrate(ctx, a.db)
}

// Migrate brings every schema the server keeps in db up to date: the
// accounts schema, the book club's (which knows users through accounts)
// and the revocation list. New runs it; so does warden migrate.
func Migrate(ctx context.Context, db *store.DB) error {
	if err := accounts.Migrate(ctx, db); err != nil {
		return err
	}
	if err := bookclub.Migrate(ctx, db); err != nil {
		return err
	}
	return db.Migrate(ctx, "revocations", sqlrevoke.Migrations)
}

// openJWT builds the verifier of this server's own tokens and, with
// WARDEN_JWT_KEYS, a second one for external issuers' public keys: an
// HMAC secret and public keys never share a verifier.
func (a *App) openJWT(secret []byte) error {
	cfg := a.cfg
	backend := func(keys []auth.JWTKey) (*auth.JWT, error) {
		return auth.NewJWT(auth.JWTConfig{
			Keys: keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Type: "at+jwt", Revocation: a.revoked,
		})
	}
	var err error
	if a.jwt, err = backend([]auth.JWTKey{{ID: PrimaryKeyID, Algorithm: cfg.JWTAlgorithm, Secret: secret}}); err != nil {
		return err
	}
	a.bearer = a.jwt
	if len(cfg.JWTExtraKeys) > 0 {
		external, err := backend(cfg.JWTExtraKeys)
		if err != nil {
			return err
		}
		if a.bearer, err = auth.NewJWTSet(a.jwt, external); err != nil {
			return err
		}
	}
	a.signer = &auth.Signer{
		KeyID: PrimaryKeyID, Algorithm: cfg.JWTAlgorithm, Key: secret,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.AccessTTL,
	}
	return nil
}

// openAccounts builds the identity service and its mailer.
func (a *App) openAccounts() error {
	cfg, db := a.cfg, a.db
	var err error
	var mailer mail.Mailer
	if cfg.SMTPURL != "" {
		mailer, err = mail.NewSMTP(cfg.SMTPURL, cfg.MailFrom, a.logger)
	} else {
		mailer, err = mail.NewOutbox(filepath.Join(cfg.DataDir, "outbox"), cfg.MailFrom, a.logger)
	}
	if err != nil {
		return err
	}
	a.accounts, err = accounts.New(accounts.Config{
		DB: db, Hasher: cfg.Hasher, Policy: cfg.PasswordPolicy, Mailer: mailer, PublicURL: cfg.PublicURL,
		Signer: a.signer, JWT: a.jwt, Logger: a.logger,
		RefreshTTL: cfg.RefreshTTL, RefreshGrace: refreshGrace(cfg.RefreshGrace),
		RefreshSecret: accounts.RefreshSecretFrom(a.signer.Key),
		SessionIdle:   cfg.SessionIdle,
		SessionMax:    cfg.SessionMax,
		CSRF:          a.csrf,
		AuthRate:      ratelimit.Policy{Name: "auth", Rate: float64(cfg.AuthRatePerMinute) / 60, Burst: cfg.AuthRatePerMinute},
		NewLimiter:    a.newLimiter,
		Failures:      a.failures,
	})
	return err
}

// openCSRF builds the cross-origin request forgery protection of browser
// mode: every unsafe request that carries the session cookie, and every
// cookie-mode login, must come from this site (Sec-Fetch-Site
// same-origin, or an Origin equal to the Host) or from an origin trusted
// on purpose: those CORS allows, and the public URL's (the web console's
// own origin, which a proxy's rewritten Host may hide from the Origin
// check).
func (a *App) openCSRF() error {
	trusted := a.cfg.CORS.Origins()
	if u, err := url.Parse(a.cfg.PublicURL); err == nil {
		if origin, err := secure.ParseOrigin(u.Scheme + "://" + u.Host); err == nil {
			trusted = append(trusted, origin)
		}
	}
	var err error
	a.csrf, err = secure.NewCSRF(secure.CSRFOptions{TrustedOrigins: trusted, Cookies: []string{accounts.SessionCookie}})
	return err
}

// openMedia opens <data dir>/media/ for writing (created with mode 0700:
// only the server reads it, through its route) and for serving. Both go
// through an os.Root on the directory, so no name leads outside it. Every
// instance must see the same directory: on several machines it is a
// shared volume, like the database.
func (a *App) openMedia() error {
	dir := filepath.Join(a.cfg.DataDir, "media")
	media, err := files.OpenStore(dir)
	if err != nil {
		return err
	}
	a.media = media
	a.closers = append(a.closers, media)
	srv, err := files.NewServer(dir, files.Options{Logger: a.logger})
	if err != nil {
		return err
	}
	a.mediaServer = srv
	a.closers = append(a.closers, srv)
	return nil
}

// refreshGrace maps the configured grace (0 meaning none) to the service's
// convention (0 meaning the default, negative meaning none).
func refreshGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// Production reports whether the production rules apply.
func (a *App) Production() bool { return a.cfg.Production() }

// Accounts returns the identity service, for operator commands.
func (a *App) Accounts() *accounts.Service { return a.accounts }

// Close waits for queued mail and closes the database and Redis.
func (a *App) Close() error {
	if a.accounts != nil {
		a.accounts.Close() // stops the purge of expired rows, then waits for mail
	}
	var errs []error
	if a.bookclub != nil {
		errs = append(errs, a.bookclub.Close())
	}
	for _, c := range a.closers {
		errs = append(errs, c.Close())
	}
	if a.db != nil {
		errs = append(errs, a.db.Close())
	}
	if a.redis != nil {
		errs = append(errs, a.redis.Close())
	}
	return errors.Join(errs...)
}

// Handler returns the root handler, for tests and embedding.
func (a *App) Handler() http.Handler { return a.router }

// Signer returns the token signer of this server.
func (a *App) Signer() *auth.Signer { return a.signer }

// Server returns an http.Server for a's handler with timeouts against slow
// clients.
func (a *App) Server() *http.Server {
	srv := &http.Server{
		Addr:     a.cfg.Addr,
		Handler:  a.router,
		ErrorLog: slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	secure.ApplyServerLimits(srv)
	return srv
}

// Run listens on the configured address and serves until ctx ends, then
// shuts down gracefully, giving in-flight requests up to 30 seconds.
func (a *App) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.cfg.Addr, err)
	}
	return a.Serve(ctx, ln)
}

// Serve is Run on an existing listener. With WARDEN_METRICS_ADDR it also
// serves GET /metrics there, until the API's shutdown is over.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	stopMetrics, err := a.startMetrics()
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
	srv := a.Server()
	// Open sockets and event streams never go idle: end them when the
	// shutdown starts, or srv.Shutdown would wait for its deadline.
	srv.RegisterOnShutdown(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.bookclub.Shutdown(ctx); err != nil {
			a.logger.Warn("realtime connections did not all close", slog.Any("error", err))
		}
	})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.logger.Info("warden serving", slog.String("addr", ln.Addr().String()), slog.String("env", a.cfg.Env))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.logger.Info("shutting down; draining requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
