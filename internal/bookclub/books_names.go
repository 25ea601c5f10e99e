package bookclub

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Usernames of the users a page shows (a book's adder), remembered for a
// minute: every list page needs them, and asking accounts costs a query
// per page that returns the same answer nearly every time. A username
// cannot change today and an account is never deleted, so nothing goes
// stale; nameTTL bounds how long a cached name could outlive a rename or
// a deletion should accounts ever offer one. Ids that name no account are
// not remembered: they are rare, and remembering them would let a miss
// hide an account created later under a reused id.

const (
	nameTTL = time.Minute
	// maxCachedNames bounds the memory: when full the cache starts over,
	// which costs one query per page for a moment and nothing else.
	maxCachedNames = 10_000
)

type nameCache struct {
	mu sync.Mutex
	m  map[string]cachedName
}

type cachedName struct {
	name  string
	until time.Time
}

// usernames maps the ids to their usernames, as accounts' Usernames does,
// asking it only for the ids not remembered.
func (s *Service) usernames(ctx context.Context, ids []string) (map[string]string, error) {
	now := s.now()
	out := make(map[string]string, len(ids))
	var missing []string
	c := &s.names
	c.mu.Lock()
	for _, id := range ids {
		if _, done := out[id]; done {
			continue
		}
		if e, ok := c.m[id]; ok && now.Before(e.until) {
			out[id] = e.name
			continue
		}
		if !slices.Contains(missing, id) { // a page holds at most 100 ids
			missing = append(missing, id)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	found, err := s.cfg.Accounts.Usernames(ctx, missing)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m)+len(found) > maxCachedNames {
		c.m = make(map[string]cachedName, len(found))
	}
	for id, name := range found {
		out[id] = name
		c.m[id] = cachedName{name: name, until: now.Add(nameTTL)}
	}
	return out, nil
}
