package bookclub

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/secure"
)

// PermAddBook is the permission POST /api/books needs (docs/API.md). An
// operator grants it: warden user grant --username NAME --permission
// books.add_book.
const PermAddBook = "books.add_book"

// Limits of a book's members, in characters; the MySQL and PostgreSQL
// columns are as wide.
const (
	maxTitleChars  = 200
	maxAuthorChars = 200
	// bookBodyLimit bounds a book's request body: the members above, in
	// JSON escapes at worst, fit with room to spare.
	bookBodyLimit = 8 << 10
)

// bookWriteRate limits adding, changing and deleting books per user, on
// top of the router-wide throttle: a holder of books.add_book is trusted
// to add books, not to flood the catalogue.
var bookWriteRate = ratelimit.Policy{Name: "books_write", Rate: 1, Burst: 60}

// mountBooks registers /api/books. Reading is open to anyone; a bearer
// token, when sent, is checked all the same, so that the router-wide
// throttle counts a signed-in reader as the user rather than the address.
func (s *Service) mountBooks(r *warden.Router) error {
	l, err := s.cfg.NewLimiter(bookWriteRate)
	if err != nil {
		return err
	}
	writeLimit := warden.Limit(l, ratelimit.ByUser())
	bearer := s.signedIn()
	anyone := warden.Require(guard.AllowAny)
	// Owner-or-staff is decided per book in the handler, once the book
	// is loaded; the guard only turns anonymous callers away (401).
	signedIn := warden.Require(guard.IsAuthenticated)
	r.With(warden.Tags("books"), bearer).Group("/api/books", func(r *warden.Router) {
		r.Get("/", s.handleListBooks, anyone, docListBooks)
		r.Post("/", s.handleAddBook, warden.Require(guard.HasPermission(PermAddBook)), writeLimit, warden.BodyLimit(bookBodyLimit), docAddBook)
		r.Get("/{id}", s.handleGetBook, anyone, docGetBook)
		r.Patch("/{id}", s.handleUpdateBook, signedIn, writeLimit, warden.BodyLimit(bookBodyLimit), docUpdateBook)
		r.Delete("/{id}", s.handleDeleteBook, signedIn, writeLimit, docDeleteBook)
	})
	return nil
}

// bookView is a book as the API answers it.
type bookView struct {
	ID     int64  `json:"id"`
	Title  string `json:"title"`
	Author string `json:"author"`
	// ISBN is 10 or 13 characters without separators, or "" when unknown.
	ISBN string `json:"isbn"`
	// AddedBy is the username of the user who added the book, null once
	// that account is gone.
	AddedBy   *string   `json:"added_by"`
	CreatedAt time.Time `json:"created_at"`
}

// bookInput is the body of POST /api/books. Members other than these are
// ignored (secure.DecodeJSON), never applied: added_by, id and
// created_at come from the server.
type bookInput struct {
	Title  string `json:"title"`
	Author string `json:"author"`
	ISBN   string `json:"isbn,omitempty"`
}

// bookPatch is the body of PATCH /api/books/{id}: a member left out (or
// null) keeps its value; isbn "" clears the ISBN.
type bookPatch struct {
	Title  *string `json:"title,omitempty"`
	Author *string `json:"author,omitempty"`
	ISBN   *string `json:"isbn,omitempty"`
}

// views turns rows into answers, with the adders' usernames looked up
// for the whole page at once (usernames: remembered, else one query).
func (s *Service) views(r *http.Request, rows []bookRow) ([]bookView, error) {
	ids := make([]string, len(rows))
	for i, b := range rows {
		ids[i] = b.AddedBy
	}
	names, err := s.usernames(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	out := make([]bookView, len(rows))
	for i, b := range rows {
		out[i] = bookView{ID: b.ID, Title: b.Title, Author: b.Author, ISBN: b.ISBN, CreatedAt: time.UnixMilli(b.CreatedAt).UTC()}
		if name, ok := names[b.AddedBy]; ok {
			out[i].AddedBy = &name
		}
	}
	return out, nil
}

func (s *Service) viewOne(w http.ResponseWriter, r *http.Request, status int, b bookRow) {
	v, err := s.views(r, []bookRow{b})
	if err != nil {
		s.failBooks(w, r, err)
		return
	}
	warden.WriteJSON(w, status, v[0])
}

// firstPage is the rendered first page (GET /api/books without a query),
// which every client loads first: it is answered again while the books'
// version is the one it was rendered at, and for nameTTL at most, which
// bounds how long an adder's username could lag behind a rename. The
// version is read from the database on every request, so a write through
// any instance is seen by the next request on every other.
type firstPage struct {
	version int64
	until   time.Time
	body    []byte
}

func (s *Service) handleListBooks(w http.ResponseWriter, r *http.Request) {
	p, ok := readPage(w, r, booksKeyset, "books")
	if !ok {
		return
	}
	count, version, err := s.bookStats(r.Context())
	if err != nil {
		s.failBooks(w, r, err)
		return
	}
	first := r.URL.RawQuery == ""
	if first {
		if c := s.firstPage.Load(); c != nil && c.version == version && s.now().Before(c.until) {
			writeJSONBody(w, c.body)
			return
		}
	}
	rows, err := s.listBooks(r.Context(), p)
	if err != nil {
		s.failBooks(w, r, err)
		return
	}
	views, err := s.views(r, rows)
	if err != nil {
		s.failBooks(w, r, err)
		return
	}
	// rows and views line up, so the key of the page's last row is the
	// key of its last view.
	list := pageOf(p, count, views, func(v bookView) []any { return []any{v.ID} }, func(v bookView) bookView { return v })
	body := renderBookList(list)
	if first {
		// A request that read an older version may store after one that
		// read a newer: its page is then never answered (the version
		// differs) and the next request renders again.
		s.firstPage.Store(&firstPage{version: version, until: s.now().Add(nameTTL), body: body})
	}
	writeJSONBody(w, body)
}

func (s *Service) handleAddBook(w http.ResponseWriter, r *http.Request) {
	var in bookInput
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	verr := problem.New(http.StatusBadRequest, "The request has invalid fields.")
	b := bookRow{
		Title:   checkText(verr, "title", in.Title, maxTitleChars),
		Author:  checkText(verr, "author", in.Author, maxAuthorChars),
		ISBN:    checkISBN(verr, in.ISBN),
		AddedBy: auth.FromContext(r.Context()).UserID,
	}
	if len(verr.Fields) > 0 {
		verr.Write(w)
		return
	}
	if err := s.insertBook(r.Context(), &b, s.now()); err != nil {
		s.failBooks(w, r, err)
		return
	}
	s.viewOne(w, r, http.StatusCreated, b)
}

func (s *Service) handleGetBook(w http.ResponseWriter, r *http.Request) {
	b, ok := s.bookOf(w, r)
	if !ok {
		return
	}
	s.viewOne(w, r, http.StatusOK, b)
}

func (s *Service) handleUpdateBook(w http.ResponseWriter, r *http.Request) {
	b, ok := s.writableBook(w, r)
	if !ok {
		return
	}
	var in bookPatch
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	verr := problem.New(http.StatusBadRequest, "The request has invalid fields.")
	var ch bookChange
	if in.Title != nil {
		v := checkText(verr, "title", *in.Title, maxTitleChars)
		ch.Title = &v
	}
	if in.Author != nil {
		v := checkText(verr, "author", *in.Author, maxAuthorChars)
		ch.Author = &v
	}
	if in.ISBN != nil {
		v := checkISBN(verr, *in.ISBN)
		ch.ISBN = &v
	}
	if len(verr.Fields) > 0 {
		verr.Write(w)
		return
	}
	b, err := s.updateBook(r.Context(), b.ID, ch, s.now())
	if err != nil {
		s.failBooks(w, r, err)
		return
	}
	s.viewOne(w, r, http.StatusOK, b)
}

func (s *Service) handleDeleteBook(w http.ResponseWriter, r *http.Request) {
	b, ok := s.writableBook(w, r)
	if !ok {
		return
	}
	if err := s.deleteBook(r.Context(), b.ID); err != nil {
		s.failBooks(w, r, err)
		return
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "book deleted", slog.Int64("book_id", b.ID), slog.String("user_id", auth.FromContext(r.Context()).UserID))
	w.WriteHeader(http.StatusNoContent)
}

// bookOf loads the book the path names; it has answered 404 (an unknown
// or malformed id) or 503 when it returns false.
func (s *Service) bookOf(w http.ResponseWriter, r *http.Request) (bookRow, bool) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		s.failBooks(w, r, errBookNotFound)
		return bookRow{}, false
	}
	b, err := s.book(r.Context(), id)
	if err != nil {
		s.failBooks(w, r, err)
		return bookRow{}, false
	}
	return b, true
}

// writableBook loads the book and checks that the caller may change it:
// the user who added it, or staff (owner-or-read-only). Books are public,
// so an unknown book is a 404 before the 403: existence is no secret.
func (s *Service) writableBook(w http.ResponseWriter, r *http.Request) (bookRow, bool) {
	b, ok := s.bookOf(w, r)
	if !ok {
		return b, false
	}
	id := auth.FromContext(r.Context())
	if !guard.IsOwner(id, b.AddedBy) && !guard.IsStaff(r, id) {
		guard.Deny(w, id)
		return b, false
	}
	return b, true
}

// parseID accepts a book id as the API writes it: decimal digits without
// sign or leading zero, a positive int64. Anything else names no book.
func parseID(s string) (int64, bool) {
	if s == "" || len(s) > 19 || s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// checkText trims s and checks that it holds 1 to max characters of
// text: valid UTF-8 (DecodeJSON has checked it already) without control
// characters, which have no place in a title and could break a log line
// or a terminal.
func checkText(p *problem.Problem, field, s string, max int) string {
	s = strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		p.WithField(field, "This field is required.")
	case n > max:
		p.WithField(field, "Use at most "+strconv.Itoa(max)+" characters.")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		p.WithField(field, "Control characters are not allowed.")
	}
	return s
}

// checkISBN accepts "" (no ISBN) or an ISBN-10 or ISBN-13 written with or
// without hyphens and spaces, and returns it without them (an ISBN-10's
// check character X upper-cased). The check digit is not verified: a
// catalogue entry with a mistyped ISBN is the adder's to fix, and the
// syntax is what keeps the column clean.
func checkISBN(p *problem.Problem, s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if len(s) > 32 {
		p.WithField("isbn", "Enter an ISBN of 10 or 13 digits.")
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '-' || c == ' ':
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case (c == 'x' || c == 'X') && i == len(s)-1:
			b.WriteByte('X')
		default:
			p.WithField("isbn", "Enter an ISBN of 10 or 13 digits.")
			return ""
		}
	}
	out := b.String()
	if len(out) == 13 && !strings.HasSuffix(out, "X") || len(out) == 10 {
		return out
	}
	p.WithField("isbn", "Enter an ISBN of 10 or 13 digits.")
	return ""
}

// failBooks answers err without internal details.
func (s *Service) failBooks(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errBookNotFound):
		problem.Write(w, http.StatusNotFound, "No book has this id.")
	case errors.Is(err, store.ErrUnavailable):
		s.log.LogAttrs(r.Context(), slog.LevelError, "database unavailable", slog.String("error", err.Error()))
		problem.Unavailable(w, "The service is temporarily unavailable; try again shortly.")
	default:
		s.log.LogAttrs(r.Context(), slog.LevelError, "books request failed", slog.String("error", err.Error()))
		problem.Write(w, http.StatusInternalServerError, "An internal error occurred.")
	}
}
