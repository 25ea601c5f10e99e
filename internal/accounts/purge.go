package accounts

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/wardenhq/warden/internal/store"
)

// Purge defaults.
const (
	// defaultPurgeInterval is how often a server deletes expired rows:
	// often enough that the tables stay near their live size, rarely
	// enough that the work is noise.
	defaultPurgeInterval = 10 * time.Minute
	// purgeMargin keeps rows this long past their expiry, so that an
	// instance whose clock runs behind still finds the rows it believes
	// live (a token it would accept is never deleted under it).
	purgeMargin = time.Hour
	// purgeBatch bounds one DELETE: each batch is its own short statement,
	// so a purge never holds a table's locks (or SQLite's write lock) for
	// long, however much has piled up.
	purgeBatch = 500
	// purgeTimeout bounds one background run; the next run goes on.
	purgeTimeout = 5 * time.Minute
)

// PurgeResult counts the rows one Purge deleted, per table.
type PurgeResult struct {
	RefreshTokens int64
	OneTimeTokens int64
	Sessions      int64
	Devices       int64
	// Registrations counts lapsed, never verified registrations (pending
	// ones included), which free their username and address.
	Registrations int64
}

// Total is the number of rows deleted.
func (p PurgeResult) Total() int64 {
	return p.RefreshTokens + p.OneTimeTokens + p.Sessions + p.Devices + p.Registrations
}

// purgeTables are the tables Purge empties of expired rows, in order:
// refresh tokens before the sessions that own them, so that deleting a
// session never cascades into a large hidden delete.
var purgeTables = []struct{ table, key string }{
	{"refresh_tokens", "token_hash"},
	{"one_time_tokens", "token_hash"},
	{"sessions", "id"},
	{"devices", "id"},
}

// Purge deletes sessions, refresh tokens and one-time (verification and
// reset) tokens that expired more than an hour ago, in batches. None of
// them can authenticate anything any more: a presented token that is gone
// gets the same 401 or 400 as an expired one. Revoked sessions are kept
// until they expire too, as the record of why they ended. The server runs
// it every PurgeInterval; operators may run it at will (warden purge).
func (s *Service) Purge(ctx context.Context) (PurgeResult, error) {
	cutoff := ms(s.now().Add(-purgeMargin))
	batch := purgeBatch
	if s.purge != nil && s.purge.batch > 0 {
		batch = s.purge.batch
	}
	var out PurgeResult
	counts := []*int64{&out.RefreshTokens, &out.OneTimeTokens, &out.Sessions, &out.Devices}
	for i, t := range purgeTables {
		n, err := s.repo.purgeExpired(ctx, t.table, t.key, cutoff, batch)
		*counts[i] = n
		if err != nil {
			return out, err
		}
	}
	// Lapsed registrations go in the same batches, until a batch comes
	// back short; the registration job also deletes some on its way.
	for {
		n, err := s.repo.purgeLapsed(ctx, s.now().Add(-lapsedPurgeMargin), batch)
		out.Registrations += n
		if err != nil {
			return out, err
		}
		if n < int64(batch) {
			break
		}
	}
	if out.Total() > 0 {
		s.log.LogAttrs(ctx, slog.LevelInfo, "expired rows purged",
			slog.Int64("refresh_tokens", out.RefreshTokens), slog.Int64("one_time_tokens", out.OneTimeTokens), slog.Int64("sessions", out.Sessions),
			slog.Int64("devices", out.Devices), slog.Int64("registrations", out.Registrations))
	}
	return out, nil
}

// purgeExpired deletes the rows of table whose expires_at is before
// cutoff, batch rows per statement, until none is left, and returns how
// many went. table and key come from purgeTables, never from input.
func (r *repo) purgeExpired(ctx context.Context, table, key string, cutoff int64, batch int) (int64, error) {
	// MySQL cannot LIMIT a subquery of the table being deleted from, but
	// limits a single-table DELETE; PostgreSQL has no DELETE ... LIMIT, and
	// SQLite only when built for it: they delete by the keys a limited
	// SELECT names. Either way the expires_at index (migration 00004)
	// finds the rows; on MySQL the full ORDER BY makes the statement
	// deterministic, which statement-based replication asks of a LIMIT.
	q := `DELETE FROM ` + table + ` WHERE ` + key + ` IN (SELECT ` + key + ` FROM ` + table + ` WHERE expires_at < ? LIMIT ?)`
	if r.db.Dialect == store.MySQL {
		q = `DELETE FROM ` + table + ` WHERE expires_at < ? ORDER BY expires_at, ` + key + ` LIMIT ?`
	}
	q = r.db.Rebind(q)
	var total int64
	for {
		res, err := r.db.ExecContext(ctx, q, cutoff, batch)
		if err != nil {
			return total, unavailable(err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, unavailable(err)
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// purger runs Purge in the background until Close.
type purger struct {
	batch  int // rows per DELETE; purgeBatch when 0 (tests set it)
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// startPurger starts the background purge every interval (the default
// when 0, none when negative). The first run waits a whole interval, so
// short-lived operator commands, which build a Service too, never purge
// behind the operator's back.
func (s *Service) startPurger(interval time.Duration) {
	if interval == 0 {
		interval = defaultPurgeInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &purger{cancel: cancel, done: make(chan struct{})}
	s.purge = p
	if interval < 0 {
		close(p.done)
		return
	}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			runCtx, cancelRun := context.WithTimeout(ctx, purgeTimeout)
			if _, err := s.Purge(runCtx); err != nil && ctx.Err() == nil {
				// Logged and retried at the next tick: rows that stay a
				// little longer are harmless.
				s.log.LogAttrs(runCtx, slog.LevelError, "purging expired rows failed", slog.String("error", err.Error()))
			}
			cancelRun()
		}
	}()
}

// Close stops the background purge, interrupting a run in progress, and
// waits for it to end; then it waits for queued mail, like Wait. Call it
// before closing the database. It is safe to call more than once.
func (s *Service) Close() error {
	if s.purge != nil {
		s.purge.once.Do(s.purge.cancel)
		<-s.purge.done
	}
	s.Wait()
	return nil
}
