package accounts_test

import (
	"context"
	"testing"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/accounts/failuretest"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/storetest"
)

// TestSQLFailureCounter holds the database's counter to the contract,
// Reserve's atomicity included, on every engine.
func TestSQLFailureCounter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		failuretest.Run(t, func(t *testing.T) accounts.FailureCounter {
			db, err := store.Open(context.Background(), e.NewURL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := accounts.Migrate(context.Background(), db); err != nil {
				t.Fatal(err)
			}
			return accounts.NewSQLFailures(db)
		})
	})
}
