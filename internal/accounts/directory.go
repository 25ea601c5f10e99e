package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
)

// The directory is what other features may know of accounts: who a user
// is by name or id, and the operator's grants. Features (the book club)
// never read the accounts tables themselves, so the schema stays this
// package's to change.

// ErrInvalidPermission reports a permission name that is not
// "<area>.<action>" in lower-case ASCII letters, digits and '_'.
var ErrInvalidPermission = errors.New("accounts: a permission is <area>.<action>, lower-case letters, digits and '_' (books.add_book)")

// permissionSyntax is the one shape a permission may take. It is strict
// because the names are stored space-separated and travel in every access
// token: a space, comma or exotic character would split or forge one.
var permissionSyntax = regexp.MustCompile(`^[a-z0-9_]+\.[a-z0-9_]+$`)

// maxPermissionLength keeps a grant from bloating every token of its user.
const maxPermissionLength = 100

// maxUsernameBytes is the longest stored username (150 ASCII characters);
// a longer lookup cannot match and is answered without a query.
const maxUsernameBytes = 150

// usernamesChunk bounds the placeholders of one Usernames query, well
// under every engine's limit (SQLite's is the smallest, 32766). A page of
// a list holds at most 100 ids, so callers get one query.
const usernamesChunk = 500

// maxPreparedIDs is the most ids a Usernames query is prepared for: a
// list page's worth.
const maxPreparedIDs = 100

// ValidPermission reports whether perm is a well-formed permission name.
func ValidPermission(perm string) bool {
	return len(perm) <= maxPermissionLength && permissionSyntax.MatchString(perm)
}

// UserByUsername returns the account named name (compared as logins
// compare it: case-insensitively), or ErrNotFound.
func (s *Service) UserByUsername(ctx context.Context, name string) (*User, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxUsernameBytes {
		return nil, ErrNotFound
	}
	return s.repo.userByUsername(ctx, name)
}

// Usernames maps each id in ids that names an account to its username, in
// one query (per 500 distinct ids). Unknown ids are absent from the map, so
// a caller rendering a list decides what a deleted author looks like.
func (s *Service) Usernames(ctx context.Context, ids []string) (map[string]string, error) {
	uniq := slices.Clone(ids)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	out := make(map[string]string, len(uniq))
	for chunk := range slices.Chunk(uniq, usernamesChunk) {
		q := `SELECT id, username FROM users WHERE id IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)`
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		var rows *sql.Rows
		var err error
		if len(chunk) <= maxPreparedIDs {
			// A list page asks for up to 100 ids: at most 100 query texts,
			// each prepared once, as the hot lookups of repo are.
			var st *sql.Stmt
			if st, err = s.repo.prepared(ctx, q); err == nil {
				rows, err = st.QueryContext(ctx, args...)
			}
		} else {
			rows, err = s.cfg.DB.QueryContext(ctx, s.cfg.DB.Rebind(q), args...)
		}
		if err != nil {
			return nil, unavailable(err)
		}
		for rows.Next() {
			var id, name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return nil, unavailable(err)
			}
			out[id] = name
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, unavailable(err)
		}
	}
	return out, nil
}

// GrantPermission adds perms to the named user's permissions (warden user
// grant). The access token is built from the stored user at login and at
// refresh, so the grant reaches the user's tokens at their next login or
// refresh, not before; the user's cookie sessions end (a cookie session
// has no refresh: the user signs in again, with a new session id).
// Granting a permission the user holds is no error and ends nothing.
func (s *Service) GrantPermission(ctx context.Context, username string, perms ...string) error {
	return s.changePermissions(ctx, username, perms, "permission_granted", func(have []string, p string) []string {
		if slices.Contains(have, p) {
			return have
		}
		return append(have, p)
	})
}

// RevokePermission removes perms from the named user's permissions
// (warden user revoke). Like a grant it reaches the tokens at the next
// login or refresh: an access token already issued keeps its claims until
// it expires (15 minutes by default); warden sessions revoke ends them at
// once. The user's cookie sessions end at once.
func (s *Service) RevokePermission(ctx context.Context, username string, perms ...string) error {
	return s.changePermissions(ctx, username, perms, "permission_revoked", func(have []string, p string) []string {
		return slices.DeleteFunc(have, func(h string) bool { return h == p })
	})
}

// changePermissions applies change to the user's stored set, one perm at a
// time, as one read-modify-write in a transaction: the row is locked
// (FOR UPDATE on MySQL and PostgreSQL; SQLite's immediate transaction holds
// the write lock from BEGIN) so that two operators granting at once cannot
// lose one another's grant.
func (s *Service) changePermissions(ctx context.Context, username string, perms []string, event string, change func([]string, string) []string) error {
	if len(perms) == 0 {
		return fmt.Errorf("%w: none given", ErrInvalidPermission)
	}
	for _, p := range perms {
		if !ValidPermission(p) {
			return fmt.Errorf("%w: %q", ErrInvalidPermission, p)
		}
	}
	username = strings.TrimSpace(username)
	if username == "" || len(username) > maxUsernameBytes {
		return ErrNotFound
	}
	var userID string
	var ended []string
	now := s.now()
	err := s.cfg.DB.InTx(ctx, func(tx *sql.Tx) error {
		var stored string
		err := tx.QueryRowContext(ctx, s.cfg.DB.Rebind(`SELECT id, permissions FROM users WHERE username_key = ?`+s.repo.forUpdate()), key(username)).
			Scan(&userID, &stored)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return unavailable(err)
		}
		have := splitPerms(stored)
		for _, p := range perms {
			have = change(have, p)
		}
		next := joinPerms(have)
		if next == stored {
			return nil
		}
		if _, err = tx.ExecContext(ctx, s.cfg.DB.Rebind(`UPDATE users SET permissions = ?, updated_at = ? WHERE id = ?`), next, ms(now), userID); err != nil {
			return unavailable(err)
		}
		// Rotation on a privilege change (cookies.go): the user's cookie
		// sessions end with the change, in its transaction.
		ended, err = s.repo.endCookieSessionsTx(ctx, tx, userID, "privileges changed", now)
		return err
	})
	s.repo.accountChanged(userID)
	s.repo.sessionsEnded(len(ended) > 0, err)
	if err != nil {
		return err
	}
	if err := s.endLogins(ctx, ended...); err != nil {
		return err
	}
	for _, p := range perms {
		s.event(ctx, slog.LevelInfo, event, slog.String("user_id", userID), slog.String("permission", p))
	}
	return nil
}
