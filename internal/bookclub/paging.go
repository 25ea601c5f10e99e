package bookclub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/wardenhq/warden/problem"
)

// Pagination shared by every list of the book club (books, reviews,
// followers, following, follow requests): one parser, one SQL clause
// builder and one answer shape, so that every list reads ?page=,
// ?page_size= and ?cursor= the same way and answers
// {count, page, page_size, results, next} (docs/API.md).
//
// A list is ordered by a keyset: columns whose values, taken together,
// are unique and never change (typically an id, or a creation time and an
// id). The first page may be chosen by number (?page=, an OFFSET, whose
// cost grows with depth, as Django's page numbers do); every "next" is a
// cursor holding the keyset values of the last row shown, so a client
// that follows "next" pays the same for every page however deep
// (WHERE key < last ORDER BY key LIMIT n uses the index).
//
// Cursors are opaque to clients but not secret: base64url of a small JSON
// object. They carry no authority. The filters that decide what a caller
// may see are recomputed from the request every time; a forged cursor
// can only start the list at another place in rows the caller could read
// anyway. Keyset values are therefore chosen so that they reveal nothing
// the list does not (row ids, not user ids). A cursor is bound to its
// list by a digest of the list's scope (route and filters), so that a
// cursor of one list sent to another is refused (400) rather than giving
// a confusing page; clients repeat a list's filters (?book_id=) with its
// cursor.

const (
	defaultPageSize = 20
	maxPageSize     = 100
	// maxPageNumber keeps (page-1)*page_size far from overflow; a deeper
	// page by number would be an expensive OFFSET anyway: follow "next".
	maxPageNumber = 1_000_000
	// maxCursorBytes bounds what is decoded from a query parameter.
	maxCursorBytes = 512
)

// keyCol is one column of a list's keyset.
type keyCol struct {
	// Name is the column as the query names it ("r.id").
	Name string
	// Int says the values are integers; strings otherwise. A cursor whose
	// value has the other type is refused before it reaches SQL, where
	// PostgreSQL would reject the comparison.
	Int bool
}

// keyset orders a list: by Cols, lexicographically, descending when Desc
// (newest first). The last column must make the key unique.
type keyset struct {
	Cols []keyCol
	Desc bool
}

// page is one list request: a page number and size, and, when the request
// carried a cursor, the keyset position to continue after.
type page struct {
	Number int
	Size   int
	after  []any // nil: by page number, with an OFFSET
	order  keyset
	scope  string // digest binding cursors to the list
}

// pageError is a paging parameter readPage answers 400 for, in fields.
type pageError struct{ field, msg string }

func (e *pageError) Error() string { return "bookclub: bad paging parameter " + e.field + ": " + e.msg }

// readPage reads ?page=, ?page_size= and ?cursor= for a list ordered by
// order. scope names the list and its filters ("reviews?book_id=7"): a
// cursor is accepted only by the list that issued it. On failure it has
// answered 400 and returns false.
func readPage(w http.ResponseWriter, r *http.Request, order keyset, scope string) (page, bool) {
	p, err := parsePage(r, order, scope)
	if err != nil {
		var pe *pageError
		if errors.As(err, &pe) {
			problem.New(http.StatusBadRequest, "The paging parameters are invalid.").WithField(pe.field, pe.msg).Write(w)
		} else {
			problem.Write(w, http.StatusBadRequest, "The paging parameters are invalid.")
		}
		return page{}, false
	}
	return p, true
}

func parsePage(r *http.Request, order keyset, scope string) (page, error) {
	q := r.URL.Query()
	p := page{Number: 1, Size: defaultPageSize, order: order, scope: scopeDigest(scope)}
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, &pageError{"page_size", "Use a whole number of at least 1."}
		}
		// Clamped, not refused (docs/API.md): a client asking for more
		// simply gets the most a page holds.
		p.Size = min(n, maxPageSize)
	}
	if c := q.Get("cursor"); c != "" {
		if q.Has("page") {
			return p, &pageError{"cursor", "Send either page or cursor, not both."}
		}
		cur, err := decodeCursor(c, order, p.scope)
		if err != nil {
			return p, err
		}
		p.Number, p.Size, p.after = cur.Page, cur.Size, cur.key
		return p, nil
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageNumber {
			return p, &pageError{"page", "Use a whole number from 1 to " + strconv.Itoa(maxPageNumber) + "."}
		}
		p.Number = n
	}
	return p, nil
}

// where returns the keyset condition that starts the page after the
// cursor's row, with its arguments, or "" (and nil) for a page chosen by
// number. For columns (a, b) descending it is
// (a < ? OR (a = ? AND b < ?)): written out rather than as a row value
// comparison, which MySQL does not use an index for.
func (p page) where() (string, []any) {
	if p.after == nil {
		return "", nil
	}
	op := ">"
	if p.order.Desc {
		op = "<"
	}
	var ors []string
	var args []any
	for i, c := range p.order.Cols {
		var ands []string
		for j := range i {
			ands = append(ands, p.order.Cols[j].Name+" = ?")
			args = append(args, p.after[j])
		}
		ands = append(ands, c.Name+" "+op+" ?")
		args = append(args, p.after[i])
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

// orderLimit returns "ORDER BY ... LIMIT ? OFFSET ?" and its arguments.
// It asks for one row more than the page holds: that row's presence is
// how the page knows there is a next one, without a second query.
func (p page) orderLimit() (string, []any) {
	dir := " ASC"
	if p.order.Desc {
		dir = " DESC"
	}
	cols := make([]string, len(p.order.Cols))
	for i, c := range p.order.Cols {
		cols[i] = c.Name + dir
	}
	offset := 0
	if p.after == nil {
		offset = (p.Number - 1) * p.Size
	}
	return "ORDER BY " + strings.Join(cols, ", ") + " LIMIT ? OFFSET ?", []any{p.Size + 1, offset}
}

// listView is the answer of every list route.
type listView[T any] struct {
	Count    int64 `json:"count"`
	Page     int   `json:"page"`
	PageSize int   `json:"page_size"`
	Results  []T   `json:"results"`
	// Next is the cursor of the following page, for ?cursor=; null on
	// the last page.
	Next *string `json:"next"`
}

// pageOf builds the answer from count (every row the filters admit) and
// rows, as many as orderLimit asked for (one more than a page when there
// is a next page); key returns a row's keyset values in keyset order, and
// view turns a row into its result.
func pageOf[R, T any](p page, count int64, rows []R, key func(R) []any, view func(R) T) listView[T] {
	out := listView[T]{Count: count, Page: p.Number, PageSize: p.Size, Results: make([]T, 0, min(len(rows), p.Size))}
	more := len(rows) > p.Size
	if more {
		rows = rows[:p.Size]
	}
	for _, r := range rows {
		out.Results = append(out.Results, view(r))
	}
	if more && len(rows) > 0 {
		c := encodeCursor(cursor{Page: p.Number + 1, Size: p.Size, key: key(rows[len(rows)-1]), scope: p.scope})
		out.Next = &c
	}
	return out
}

// cursor is the decoded form of ?cursor=.
type cursor struct {
	Page  int
	Size  int
	key   []any
	scope string
}

// wireCursor is what a cursor encodes. Short member names keep URLs short.
type wireCursor struct {
	P int               `json:"p"`
	S int               `json:"s"`
	K []json.RawMessage `json:"k"`
	O string            `json:"o"`
}

func scopeDigest(scope string) string {
	sum := sha256.Sum256([]byte("bookclub list scope\x00" + scope))
	return hex.EncodeToString(sum[:6])
}

func encodeCursor(c cursor) string {
	w := wireCursor{P: c.Page, S: c.Size, O: c.scope}
	for _, v := range c.key {
		b, _ := json.Marshal(v) // int64 and string values: cannot fail
		w.K = append(w.K, b)
	}
	b, _ := json.Marshal(w)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errCursor = &pageError{"cursor", "The cursor is invalid or belongs to another list; start again from the first page."}

// decodeCursor checks every part of a cursor, since it comes from the
// client: its size, its encoding, its page and size within the limits a
// page number has, its scope, and each key value's type against the
// keyset.
func decodeCursor(s string, order keyset, scope string) (cursor, error) {
	if len(s) > maxCursorBytes {
		return cursor{}, errCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, errCursor
	}
	var w wireCursor
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil || dec.More() {
		return cursor{}, errCursor
	}
	if w.O != scope || w.P < 2 || w.P > maxPageNumber || w.S < 1 || w.S > maxPageSize || len(w.K) != len(order.Cols) {
		return cursor{}, errCursor
	}
	c := cursor{Page: w.P, Size: w.S, scope: w.O, key: make([]any, len(w.K))}
	for i, col := range order.Cols {
		if col.Int {
			var n int64 // refuses strings, fractions and out-of-range numbers
			if json.Unmarshal(w.K[i], &n) != nil {
				return cursor{}, errCursor
			}
			c.key[i] = n
			continue
		}
		var str string
		if json.Unmarshal(w.K[i], &str) != nil {
			return cursor{}, errCursor
		}
		c.key[i] = str
	}
	return c, nil
}

// queryPage runs query, a SELECT whose text ends with its WHERE clause
// (args are its arguments), for page p: it adds the cursor's condition, the
// order and the limit, prepares the statement once (preparedStmt) and reads
// each row with scan. Like orderLimit, it returns one row more than the
// page holds when there is a next page.
func queryPage[T any](ctx context.Context, s *Service, query string, args []any, p page, scan func(*sql.Rows) (T, error)) ([]T, error) {
	args = slices.Clip(args) // appending must not write into the caller's array
	if kw, kargs := p.where(); kw != "" {
		query += ` AND ` + kw
		args = append(args, kargs...)
	}
	tail, targs := p.orderLimit()
	st, err := s.preparedStmt(ctx, query+` `+tail)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, append(slices.Clip(args), targs...)...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := make([]T, 0, p.Size+1)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, v)
	}
	return out, dbErr(rows.Err())
}
