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
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/config"
	"github.com/wardenhq/warden/revoke"
	"github.com/wardenhq/warden/secure"
)

// PrimaryKeyID is the "kid" of tokens this server signs.
const PrimaryKeyID = "warden"

// App is a configured Warden server.
type App struct {
	cfg     *config.Config
	logger  *slog.Logger
	router  *warden.Router
	jwt     *auth.JWT
	apiKeys *auth.APIKeys // nil when no API keys are configured
	signer  *auth.Signer
	revoked revoke.Store
}

// New builds the server for cfg. In development without WARDEN_SECRET_KEY
// the signing secret is generated once in the data directory.
func New(cfg *config.Config, logger *slog.Logger) (*App, error) {
	if logger == nil {
		logger = slog.Default()
	}
	secret := cfg.SecretKey
	if len(secret) == 0 {
		if cfg.Production() {
			return nil, errors.New("WARDEN_SECRET_KEY is required in production")
		}
		var err error
		if secret, err = config.DevSecret(cfg.DataDir); err != nil {
			return nil, err
		}
		logger.Warn("using a generated development signing key; set WARDEN_SECRET_KEY before production", slog.String("data_dir", cfg.DataDir))
	}
	a := &App{cfg: cfg, logger: logger, revoked: revoke.NewMemory(revoke.MemoryOptions{})}
	keys := append([]auth.JWTKey{{ID: PrimaryKeyID, Algorithm: cfg.JWTAlgorithm, Secret: secret}}, cfg.JWTExtraKeys...)
	var err error
	a.jwt, err = auth.NewJWT(auth.JWTConfig{
		Keys:       keys,
		Issuer:     cfg.JWTIssuer,
		Audience:   cfg.JWTAudience,
		Type:       "at+jwt",
		Revocation: a.revoked,
	})
	if err != nil {
		return nil, err
	}
	a.signer = &auth.Signer{
		KeyID: PrimaryKeyID, Algorithm: cfg.JWTAlgorithm, Key: secret,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.AccessTTL,
	}
	if cfg.APIKeys != nil {
		if a.apiKeys, err = auth.NewAPIKeys(auth.APIKeysConfig{Keys: cfg.APIKeys}); err != nil {
			return nil, err
		}
	}
	var cors *secure.CORS
	if len(cfg.CORSOrigins) > 0 {
		cors, err = secure.NewCORS(secure.CORSPolicy{
			AllowedOrigins:   cfg.CORSOrigins,
			AllowCredentials: cfg.CORSCredentials,
			AllowedHeaders:   []string{"Authorization", "Content-Type", "X-API-Key", "X-CSRF-Token"},
			MaxAge:           10 * time.Minute,
		})
		if err != nil {
			return nil, err
		}
	}
	a.router, err = warden.NewRouter(warden.Config{
		Logger:         logger,
		TrustedProxies: cfg.TrustedProxies,
		Headers:        secure.HeaderOptions{Production: cfg.Production(), TrustedProxies: cfg.TrustedProxies},
		CORS:           cors,
	})
	if err != nil {
		return nil, err
	}
	if err := a.routes(); err != nil {
		return nil, err
	}
	return a, nil
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

// Serve is Run on an existing listener.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := a.Server()
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
