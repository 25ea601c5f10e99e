package accounts

import (
	"context"
	"database/sql"
)

// The names a user shows are account data (login answers them, /me
// reports them), so they stay in the users table and change only through
// this package; the book club's PATCH /api/users/me calls in here for
// first_name and last_name and keeps the rest of the profile itself.

// CheckNames validates a first and last name change by the rules of
// registration (at most 150 characters, no control characters); nil
// leaves a name unchanged and is not checked. It returns a
// *ValidationError naming first_name and last_name, or nil, so that a
// caller can report every invalid field of a request at once before
// writing any of them.
func CheckNames(first, last *string) error {
	verr := &ValidationError{}
	if first != nil {
		validateName(verr, "first_name", *first)
	}
	if last != nil {
		validateName(verr, "last_name", *last)
	}
	return verr.orNil()
}

// UpdateNames sets the first and/or last name of the user with userID;
// nil leaves a name as it is, so a partial update never blanks the other
// name. It answers a *ValidationError for invalid names (see CheckNames)
// and ErrNotFound for an unknown user.
func (s *Service) UpdateNames(ctx context.Context, userID string, first, last *string) error {
	if err := CheckNames(first, last); err != nil {
		return err
	}
	if first == nil && last == nil {
		return nil
	}
	// One statement with COALESCE rather than a read and a write: two
	// requests changing one name each cannot undo each other's change.
	var f, l sql.NullString
	if first != nil {
		f = sql.NullString{String: *first, Valid: true}
	}
	if last != nil {
		l = sql.NullString{String: *last, Valid: true}
	}
	res, err := s.cfg.DB.ExecContext(ctx, s.cfg.DB.Rebind(`UPDATE users SET first_name = COALESCE(?, first_name), last_name = COALESCE(?, last_name), updated_at = ? WHERE id = ?`),
		f, l, ms(s.now()), userID)
	s.repo.accountChanged(userID)
	if err != nil {
		return unavailable(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return unavailable(err)
	}
	if n > 0 {
		return nil
	}
	// MySQL counts changed rows, not matched ones: the same names written
	// twice within a millisecond change nothing. Only a lookup tells that
	// apart from an unknown user.
	_, err = s.repo.userByID(ctx, userID)
	return err
}
