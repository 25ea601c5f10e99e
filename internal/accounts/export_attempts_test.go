package accounts

import (
	"time"

	"github.com/wardenhq/warden/internal/store"
)

// NewSQLFailures is the database's failure counter, for the contract tests.
func NewSQLFailures(db *store.DB) FailureCounter {
	return sqlFailures{&repo{db: db, caches: newReadCaches(time.Now)}}
}
