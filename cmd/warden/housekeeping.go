package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/wardenhq/warden/internal/app"
)

// defaultAPIKeyLifetime is the lifetime of a key created without
// --expires: a forgotten key stops working on its own, and a key that
// must never expire is a decision the operator states (--no-expiry).
const defaultAPIKeyLifetime = 90 * 24 * time.Hour

// apikeyLifetime reads --expires and --no-expiry: the lifetime to store,
// zero meaning never. "--expires 0" is refused rather than read as
// "never": a key without an end is asked for by name.
func apikeyLifetime(fs *flag.FlagSet, expires time.Duration, noExpiry bool) (time.Duration, error) {
	expiresSet := false
	fs.Visit(func(f *flag.Flag) { expiresSet = expiresSet || f.Name == "expires" })
	switch {
	case noExpiry && expiresSet:
		return 0, fmt.Errorf("%w: apikey create takes --expires or --no-expiry, not both", errUsage)
	case noExpiry:
		return 0, nil
	case expires <= 0:
		return 0, fmt.Errorf("%w: apikey create needs a positive --expires (for a key that never expires, say --no-expiry)", errUsage)
	}
	return expires, nil
}

// purge deletes expired sessions and tokens now, as warden serve does
// every 10 minutes; for an operator who runs no server for a while, or
// wants the tables small before a backup.
func purge(args []string, stdout io.Writer, logger *slog.Logger) error {
	if len(args) != 0 {
		return fmt.Errorf("%w: purge takes no arguments", errUsage)
	}
	return withApp(logger, func(ctx context.Context, a *app.App) error {
		res, err := a.Accounts().Purge(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "purged %d session(s), %d refresh token(s), %d one-time token(s), %d device(s), %d lapsed registration(s)\n", res.Sessions, res.RefreshTokens, res.OneTimeTokens, res.Devices, res.Registrations)
		return nil
	})
}
