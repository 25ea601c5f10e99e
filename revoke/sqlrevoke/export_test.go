package sqlrevoke

import "context"

// Sweep runs one sweep now, for tests that cannot wait for the sweeper.
func (s *Store) Sweep(ctx context.Context) error { return s.sweep(ctx) }
