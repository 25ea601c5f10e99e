package accounts

import (
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/wardenhq/warden/internal/store"
)

// Usernames are read by other people, so two accounts must never look
// alike. The rule is deliberately narrow: after NFKC normalisation a
// username is 3 to 150 of the ASCII letters a-z and A-Z, digits, '.', '_'
// and '-'. That shuts out, without any table to keep current:
//   - compatibility variants (fullwidth "ａｌｉｃｅ", mathematical or
//     circled letters), which NFKC turns into the plain name, so that they
//     are the same name and therefore taken;
//   - letters of other scripts that look like Latin ones (Cyrillic "а",
//     Greek "ο"), mixed-script names and every whole-script confusable,
//     since nothing outside ASCII survives;
//   - invisible characters (zero-width space, joiners, bidi controls) and
//     combining marks;
//   - '@', so that a username never looks like an email address (login
//     accepts either in one field);
//   - '+' and the other symbols Django allows, which only serve
//     look-alikes of email addresses.
//
// Allowing non-ASCII letters safely would need the Unicode confusables
// data (UTS #39), which no dependency ships, plus a single-script rule;
// until then an ASCII repertoire is the sound choice. Case is folded for
// uniqueness ("Alice" is taken once "alice" exists) but kept for display.
// Within ASCII, l/I/1 and O/0 still resemble each other in some fonts;
// that is left to the operator's eye.
const (
	minUsernameRunes = 3
	maxUsernameRunes = 150
	// maxUsernameKeyRunes is the width of users.username_norm on MySQL.
	// Only old, non-ASCII names can fold to keys this long.
	maxUsernameKeyRunes = 600
)

// usernameRune reports whether r may appear in a new username.
func usernameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// checkUsername validates a requested username and returns the form to
// store: its NFKC normalisation, so that the stored name is the one every
// reader sees.
func checkUsername(v *ValidationError, raw string) string {
	name := norm.NFKC.String(raw)
	n := utf8.RuneCountInString(name)
	switch {
	case !utf8.ValidString(raw) || n < minUsernameRunes || n > maxUsernameRunes:
		v.add("username", "Use 3 to 150 characters.")
	case strings.ContainsRune(name, '@'):
		v.add("username", "A username cannot contain @: it must not look like an email address.")
	case strings.IndexFunc(name, func(r rune) bool { return !usernameRune(r) }) >= 0:
		v.add("username", "Use only the letters a-z and A-Z, digits and the characters . _ - : letters of other alphabets, look-alike and invisible characters, spaces and other symbols are not accepted.")
	}
	return name
}

// usernameKey is what makes two usernames the same one: NFKC, Unicode
// full case folding, then NFKC again (case folding can undo a
// normalisation). It is stored in users.username_norm under a unique
// index. For the names checkUsername admits it is the lower-cased name.
func usernameKey(name string) string {
	folded := cases.Fold().String(norm.NFKC.String(strings.TrimSpace(name)))
	return norm.NFKC.String(folded)
}

// backfillUsernameKeys fills users.username_norm for accounts made before
// the column existed: migration 00004 adds it empty, since neither NFKC
// nor case folding can be written in portable SQL. It runs after every
// migration and finds nothing to do once done (the unique index serves
// the IS NULL search). Accounts are keyed oldest first; an old account
// whose name folds onto an older one's (both predate the rule) gets a key
// no username can have, and is logged for the operator: it can still log
// in by its exact name, and nobody can register a third look-alike.
func backfillUsernameKeys(ctx context.Context, db *store.DB) error {
	const batch = 500
	for {
		rows, err := db.QueryContext(ctx, db.Rebind(`SELECT id, username FROM users WHERE username_norm IS NULL ORDER BY created_at, id LIMIT ?`), batch)
		if err != nil {
			return unavailable(err)
		}
		type user struct{ id, name string }
		var todo []user
		for rows.Next() {
			var u user
			if err := rows.Scan(&u.id, &u.name); err != nil {
				rows.Close()
				return unavailable(err)
			}
			todo = append(todo, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return unavailable(err)
		}
		for _, u := range todo {
			if err := setUsernameKey(ctx, db, u.id, u.name); err != nil {
				return err
			}
		}
		if len(todo) < batch {
			return nil
		}
	}
}

// setUsernameKey stores the key of one existing account, or a key unique
// to it ('#' cannot occur in a username) when its own is taken or too
// long.
func setUsernameKey(ctx context.Context, db *store.DB, id, name string) error {
	update := db.Rebind(`UPDATE users SET username_norm = ? WHERE id = ? AND username_norm IS NULL`)
	k := usernameKey(name)
	if utf8.RuneCountInString(k) <= maxUsernameKeyRunes {
		_, err := db.ExecContext(ctx, update, k, id)
		if err == nil {
			return nil
		}
		if !isUniqueViolation(err) {
			return unavailable(err)
		}
	}
	slog.Default().Warn("an existing username collides with an older one after normalisation; new look-alikes of it are refused, and the operator may want to rename it",
		slog.String("user_id", id))
	_, err := db.ExecContext(ctx, update, "#"+id, id)
	return unavailable(err)
}

// usernameTakenTx reports whether name, or any name that normalises to the
// same key, belongs to an account.
func (r *repo) usernameTakenTx(ctx context.Context, tx *sql.Tx, name string) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, r.db.Rebind(`SELECT COUNT(*) FROM users WHERE username_key = ? OR username_norm = ?`), key(name), usernameKey(name)).Scan(&n)
	if err != nil {
		return false, unavailable(err)
	}
	return n > 0, nil
}
