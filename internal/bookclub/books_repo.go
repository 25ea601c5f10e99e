package bookclub

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/wardenhq/warden/internal/store"
)

// The SQL of books. Queries use '?' placeholders (rebound per dialect);
// timestamps are Unix milliseconds, as in accounts.

// errBookNotFound is an unknown (or just deleted) book.
var errBookNotFound = errors.New("bookclub: book not found")

// bookRow is one stored book. AddedBy is the adder's user id: an id never
// changes, and the answer shows the username (Usernames, one query a page).
type bookRow struct {
	ID        int64
	Title     string
	Author    string
	ISBN      string
	AddedBy   string
	CreatedAt int64
}

const bookColumns = `id, title, author, isbn, added_by, created_at`

// booksKeyset orders the list newest first by id: ids only grow, so id
// order is creation order, and the primary key is the index a cursor page
// walks.
var booksKeyset = keyset{Cols: []keyCol{{Name: "id", Int: true}}, Desc: true}

func unixMS(t time.Time) int64 { return t.UnixMilli() }

func scanBook(row interface{ Scan(...any) error }) (bookRow, error) {
	var b bookRow
	err := row.Scan(&b.ID, &b.Title, &b.Author, &b.ISBN, &b.AddedBy, &b.CreatedAt)
	return b, err
}

// dbErr marks errors of a database that did not answer, so that the
// handlers answer 503 without details.
func dbErr(err error) error {
	if err == nil || errors.Is(err, errBookNotFound) || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return errors.Join(store.ErrUnavailable, err)
}

// preparedStmt returns the statement for a hot read query, prepared once per
// service: on SQLite, parsing the SQL of the two list queries cost about
// as much as running them.
func (s *Service) preparedStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.cfg.DB.PrepareContext(ctx, s.cfg.DB.Rebind(query))
	if err != nil {
		return nil, dbErr(err)
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// bookStats reads the kept count (book_count), not COUNT(*): a list
// request must not cost a scan of the table, whatever page it asks for.
// version changes with every write to books (bumpBooks).
func (s *Service) bookStats(ctx context.Context) (count, version int64, err error) {
	st, err := s.preparedStmt(ctx, `SELECT n, version FROM book_count WHERE id = 1`)
	if err != nil {
		return 0, 0, err
	}
	if err := st.QueryRowContext(ctx).Scan(&count, &version); err != nil {
		return 0, 0, dbErr(err)
	}
	return count, version, nil
}

// bumpBooks records, in tx, a write to books that changed their number by
// delta: the count and the version move with the rows, in the same
// transaction.
func bumpBooks(ctx context.Context, tx *sql.Tx, db *store.DB, delta int) error {
	_, err := tx.ExecContext(ctx, db.Rebind(`UPDATE book_count SET n = n + ?, version = version + 1 WHERE id = 1`), delta)
	return err
}

// listBooks returns the rows of page p (one more than a page holds when
// there is a next page; see pageOf).
func (s *Service) listBooks(ctx context.Context, p page) ([]bookRow, error) {
	q := `SELECT ` + bookColumns + ` FROM books`
	where, args := p.where()
	if where != "" {
		q += ` WHERE ` + where
	}
	tail, tailArgs := p.orderLimit()
	q += ` ` + tail
	// Two query texts in all (by number or by cursor), so the cache of
	// prepared statements stays small.
	st, err := s.preparedStmt(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, append(args, tailArgs...)...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := make([]bookRow, 0, p.Size+1)
	for rows.Next() {
		b, err := scanBook(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, b)
	}
	return out, dbErr(rows.Err())
}

// book returns the book with id, or errBookNotFound.
func (s *Service) book(ctx context.Context, id int64) (bookRow, error) {
	st, err := s.preparedStmt(ctx, `SELECT `+bookColumns+` FROM books WHERE id = ?`)
	if err != nil {
		return bookRow{}, err
	}
	b, err := scanBook(st.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return bookRow{}, errBookNotFound
	}
	return b, dbErr(err)
}

// insertBook stores b and sets its id, and counts it in the same
// transaction, so that count never disagrees with the rows.
func (s *Service) insertBook(ctx context.Context, b *bookRow, now time.Time) error {
	db := s.cfg.DB
	b.CreatedAt = unixMS(now)
	return dbErr(db.InTx(ctx, func(tx *sql.Tx) error {
		args := []any{b.Title, b.Author, b.ISBN, b.AddedBy, b.CreatedAt, b.CreatedAt}
		insert := `INSERT INTO books (title, author, isbn, added_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`
		if db.Dialect == store.MySQL {
			// MySQL has no RETURNING; the id of this connection's insert.
			res, err := tx.ExecContext(ctx, insert, args...)
			if err != nil {
				return err
			}
			if b.ID, err = res.LastInsertId(); err != nil {
				return err
			}
		} else if err := tx.QueryRowContext(ctx, db.Rebind(insert+` RETURNING id`), args...).Scan(&b.ID); err != nil {
			return err
		}
		return bumpBooks(ctx, tx, db, 1)
	}))
}

// bookChange is a PATCH: nil members stay as they are.
type bookChange struct {
	Title, Author, ISBN *string
}

// updateBook applies ch to book id and returns the book as stored, or
// errBookNotFound when it was deleted meanwhile.
func (s *Service) updateBook(ctx context.Context, id int64, ch bookChange, now time.Time) (bookRow, error) {
	db := s.cfg.DB
	var b bookRow
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		// COALESCE keeps a member the PATCH did not name, in one
		// statement, so two PATCHes of different members both hold.
		// MySQL counts only the rows whose values changed, so RowsAffected
		// cannot tell a PATCH that changes nothing from a missing book:
		// the read below does.
		if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE books SET title = COALESCE(?, title), author = COALESCE(?, author), isbn = COALESCE(?, isbn), updated_at = ? WHERE id = ?`),
			ch.Title, ch.Author, ch.ISBN, unixMS(now), id); err != nil {
			return err
		}
		var err error
		b, err = scanBook(tx.QueryRowContext(ctx, db.Rebind(`SELECT `+bookColumns+` FROM books WHERE id = ?`), id))
		if errors.Is(err, sql.ErrNoRows) {
			return errBookNotFound
		}
		if err != nil {
			return err
		}
		return bumpBooks(ctx, tx, db, 0)
	})
	return b, dbErr(err)
}

// deleteBook removes book id and uncounts it; errBookNotFound when it was
// gone already (a concurrent DELETE), so that it is uncounted once.
func (s *Service) deleteBook(ctx context.Context, id int64) error {
	db := s.cfg.DB
	return dbErr(db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.Rebind(`DELETE FROM books WHERE id = ?`), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return errBookNotFound
		}
		return bumpBooks(ctx, tx, db, -1)
	}))
}

// recountBooks sets book_count from the rows, once per start (Migrate):
// the count is kept by this service's own transactions, and a row added
// or removed by hand (an operator's SQL, a seeding script) would
// otherwise skew it for good. The counter row is locked first, so that a
// concurrent insert is either counted by COUNT(*) (committed before) or
// adds its one after (blocked on the lock until then), never both or
// neither.
func recountBooks(ctx context.Context, db *store.DB) error {
	return db.InTx(ctx, func(tx *sql.Tx) error {
		lock := `SELECT n FROM book_count WHERE id = 1`
		if db.Dialect != store.SQLite {
			lock += ` FOR UPDATE` // SQLite's immediate transaction holds the write lock already
		}
		var old int64
		if err := tx.QueryRowContext(ctx, lock).Scan(&old); err != nil {
			return err
		}
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM books`).Scan(&n); err != nil {
			return err
		}
		if n == old {
			return nil
		}
		_, err := tx.ExecContext(ctx, db.Rebind(`UPDATE book_count SET n = ?, version = version + 1 WHERE id = 1`), n)
		return err
	})
}
