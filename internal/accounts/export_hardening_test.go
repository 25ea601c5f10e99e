package accounts

import "github.com/wardenhq/warden/internal/store"

// DBForTest exposes the service's database to the black-box tests, which
// count rows that no endpoint shows: successor refresh tokens, purged rows.
func (s *Service) DBForTest() *store.DB { return s.cfg.DB }

// SetPurgeBatchForTest makes Purge delete n rows per statement, so that a
// test with a handful of rows still exercises several batches.
func (s *Service) SetPurgeBatchForTest(n int) { s.purge.batch = n }
