package bookclub

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/secure"
)

// Reviews. Anyone reads public reviews; a private review is its author's
// alone, and anyone else (staff included) gets the 404 of an unknown id.
// Only the author changes or deletes a review: another signed-in user
// gets 403 for a review they can see and 404 for one they cannot, so a
// refusal never confirms that a private review exists.
//
// A review names its book by id. An unknown book_id in a body is a 400
// (fields.book_id), not a 404: the request's path names the review
// collection, which exists; what is wrong is a member of the body. When a
// book is deleted its reviews go with it (ON DELETE CASCADE).

// Limits of a review's members, in characters as sent: oversize input is
// refused, never truncated, even where markup stripping would shorten it.
const (
	maxReviewTitleChars = 200
	maxReviewTextChars  = 10000
	// reviewBodyLimit bounds a review's body: the longest text, in JSON
	// \u escapes at worst (six bytes a character), with room for the rest.
	reviewBodyLimit = 64<<10 + 6*maxReviewTextChars
)

// reviewsKeyset orders reviews newest first by id (ids only grow).
var reviewsKeyset = keyset{Cols: []keyCol{{Name: "r.id", Int: true}}, Desc: true}

// reviewRow is one stored review.
type reviewRow struct {
	ID, BookID           int64
	UserID               string
	Title, Text          string
	Rating               int
	IsPublic             bool
	CreatedAt, UpdatedAt int64
}

const reviewColumns = `r.id, r.book_id, r.user_id, r.title, r.review_text, r.rating, r.is_public, r.created_at, r.updated_at`

func scanReview(row interface{ Scan(...any) error }) (reviewRow, error) {
	var v reviewRow
	err := row.Scan(&v.ID, &v.BookID, &v.UserID, &v.Title, &v.Text, &v.Rating, &v.IsPublic, &v.CreatedAt, &v.UpdatedAt)
	return v, err
}

// reviewView is a review as the API answers it. title and review_text are
// cleaned again on the way out (social_html.go).
type reviewView struct {
	ID     int64 `json:"id"`
	BookID int64 `json:"book_id"`
	// User is the author's username; null once that account is gone.
	User  *string `json:"user"`
	Title string  `json:"title"`
	// ReviewText is sanitized HTML: p, br, strong, em, u, ul, ol, li and
	// a (href, title; rel="nofollow noopener") only.
	ReviewText string    `json:"review_text"`
	Rating     int       `json:"rating"`
	IsPublic   bool      `json:"is_public"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// reviewInput is the body of POST /api/reviews; every member is required.
// Other members (id, user, created_at) are ignored, never applied.
type reviewInput struct {
	BookID     *int64  `json:"book_id"`
	Title      *string `json:"title"`
	ReviewText *string `json:"review_text"`
	Rating     *int    `json:"rating"`
	IsPublic   *bool   `json:"is_public"`
}

// reviewPatch is the body of PATCH /api/reviews/{id}: a member left out
// (or null) keeps its value. book_id is not read: a review stays with its
// book.
type reviewPatch struct {
	Title      *string `json:"title,omitempty"`
	ReviewText *string `json:"review_text,omitempty"`
	Rating     *int    `json:"rating,omitempty"`
	IsPublic   *bool   `json:"is_public,omitempty"`
}

// checkReviewTitle returns the title as plain text: required, at most
// maxReviewTitleChars as sent, one line, no bidirectional controls.
func checkReviewTitle(p *problem.Problem, raw string) string {
	if utf8.RuneCountInString(raw) > maxReviewTitleChars {
		p.WithField("title", "Use at most "+strconv.Itoa(maxReviewTitleChars)+" characters.")
		return ""
	}
	if strings.ContainsAny(raw, "\r\n") || strings.IndexFunc(raw, badTextRune) >= 0 {
		p.WithField("title", "Control characters are not allowed.")
		return ""
	}
	title := strings.TrimSpace(plainText(raw))
	if title == "" {
		p.WithField("title", "This field is required; markup does not count.")
	}
	return title
}

// checkReviewText returns the review as sanitized HTML: required, at most
// maxReviewTextChars as sent, and with some text left once the markup the
// allow-list refuses is gone.
func checkReviewText(p *problem.Problem, raw string) string {
	if utf8.RuneCountInString(raw) > maxReviewTextChars {
		p.WithField("review_text", "Use at most "+strconv.Itoa(maxReviewTextChars)+" characters.")
		return ""
	}
	if strings.IndexFunc(raw, badTextRune) >= 0 {
		p.WithField("review_text", "Control characters are not allowed.")
		return ""
	}
	clean := sanitizeReview(raw)
	if strings.TrimSpace(plainText(clean)) == "" {
		p.WithField("review_text", "This field is required; markup does not count.")
	}
	return clean
}

func checkRating(p *problem.Problem, n int) {
	if n < 1 || n > 5 {
		p.WithField("rating", "Use a whole number from 1 to 5.")
	}
}

func required(p *problem.Problem, field string) {
	p.WithField(field, "This field is required.")
}

// review loads review id as the caller may see it: errNoSuchReview for an
// unknown id and for another user's private review alike.
func (c *social) review(r *http.Request) (reviewRow, error) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		return reviewRow{}, errNoSuchReview
	}
	st, err := c.preparedStmt(r.Context(), `SELECT `+reviewColumns+` FROM reviews r WHERE r.id = ?`)
	if err != nil {
		return reviewRow{}, err
	}
	v, err := scanReview(st.QueryRowContext(r.Context(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return reviewRow{}, errNoSuchReview
	}
	if err != nil {
		return reviewRow{}, dbErr(err)
	}
	if !v.IsPublic && v.UserID != callerID(r) {
		return reviewRow{}, errNoSuchReview
	}
	return v, nil
}

// ownReview loads the review for a change: errNoSuchReview as review
// answers it, then errNotYourReview (403) for a review the caller can see
// but did not write.
func (c *social) ownReview(r *http.Request) (reviewRow, error) {
	v, err := c.review(r)
	if err == nil && v.UserID != callerID(r) {
		err = errNotYourReview
	}
	return v, err
}

// reviewViews turns rows into answers, with the authors' usernames looked
// up in one query.
func (c *social) reviewViews(ctx context.Context, rows []reviewRow) ([]reviewView, error) {
	ids := make([]string, len(rows))
	for i, v := range rows {
		ids[i] = v.UserID
	}
	names, err := c.usernames(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]reviewView, len(rows))
	for i, v := range rows {
		out[i] = reviewView{
			ID: v.ID, BookID: v.BookID, Title: plainText(v.Title), ReviewText: sanitizeReview(v.Text),
			Rating: v.Rating, IsPublic: v.IsPublic,
			CreatedAt: time.UnixMilli(v.CreatedAt).UTC(), UpdatedAt: time.UnixMilli(v.UpdatedAt).UTC(),
		}
		if name, ok := names[v.UserID]; ok {
			out[i].User = &name
		}
	}
	return out, nil
}

func (c *social) writeReview(w http.ResponseWriter, r *http.Request, status int, v reviewRow) {
	views, err := c.reviewViews(r.Context(), []reviewRow{v})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	warden.WriteJSON(w, status, views[0])
}

// handleListReviews lists public reviews and the caller's own private
// ones, newest first, optionally of one book (?book_id=; repeat it with
// the cursor).
func (c *social) handleListReviews(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	me := callerID(r)
	where, args := `r.is_public = TRUE`, []any{}
	if me != "" {
		where, args = `(r.is_public = TRUE OR r.user_id = ?)`, []any{me}
	}
	scope := "reviews"
	if raw := r.URL.Query().Get("book_id"); raw != "" {
		id, ok := parseID(raw)
		if !ok {
			problem.New(http.StatusBadRequest, "The book_id filter is invalid.").WithField("book_id", "Use a book's id, a positive whole number.").Write(w)
			return
		}
		where += ` AND r.book_id = ?`
		args = append(args, id)
		scope += "\x00book=" + raw
	}
	p, ok := readPage(w, r, reviewsKeyset, scope)
	if !ok {
		return
	}
	count, err := c.countRows(ctx, `reviews r`, where, args)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	q := `SELECT ` + reviewColumns + ` FROM reviews r WHERE ` + where
	rows, err := queryPage(ctx, c.Service, q, args, p, func(rows *sql.Rows) (reviewRow, error) { return scanReview(rows) })
	if err != nil {
		c.fail(w, r, err)
		return
	}
	views, err := c.reviewViews(ctx, rows)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	// rows and views line up, so a view's id is its row's key.
	list := pageOf(p, count, views, func(v reviewView) []any { return []any{v.ID} }, func(v reviewView) reviewView { return v })
	warden.WriteJSON(w, http.StatusOK, list)
}

func (c *social) handleAddReview(w http.ResponseWriter, r *http.Request) {
	var in reviewInput
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	verr := problem.New(http.StatusBadRequest, "The request has invalid fields.")
	var v reviewRow
	if in.BookID == nil {
		required(verr, "book_id")
	} else if *in.BookID < 1 {
		verr.WithField("book_id", "No book has this id.")
	} else {
		v.BookID = *in.BookID
	}
	if in.Title == nil {
		required(verr, "title")
	} else {
		v.Title = checkReviewTitle(verr, *in.Title)
	}
	if in.ReviewText == nil {
		required(verr, "review_text")
	} else {
		v.Text = checkReviewText(verr, *in.ReviewText)
	}
	if in.Rating == nil {
		required(verr, "rating")
	} else {
		checkRating(verr, *in.Rating)
		v.Rating = *in.Rating
	}
	if in.IsPublic == nil {
		required(verr, "is_public")
	} else {
		v.IsPublic = *in.IsPublic
	}
	if v.BookID > 0 {
		// Checked here for the answer; the foreign key checks it again at
		// the insert, against a book deleted meanwhile.
		if _, err := c.book(r.Context(), v.BookID); errors.Is(err, errBookNotFound) {
			verr.WithField("book_id", "No book has this id.")
		} else if err != nil {
			c.fail(w, r, err)
			return
		}
	}
	if len(verr.Fields) > 0 {
		verr.Write(w)
		return
	}
	v.UserID = callerID(r)
	if err := c.insertReview(r.Context(), &v); err != nil {
		if errors.Is(err, errBookNotFound) {
			problem.New(http.StatusBadRequest, "The request has invalid fields.").WithField("book_id", "No book has this id.").Write(w)
			return
		}
		c.fail(w, r, err)
		return
	}
	c.writeReview(w, r, http.StatusCreated, v)
}

// insertReview stores v and sets its id and times. A book deleted since
// the check is errBookNotFound: the insert finds it gone under the lock
// the transaction takes (SQLite) or through the foreign key.
func (c *social) insertReview(ctx context.Context, v *reviewRow) error {
	db := c.cfg.DB
	v.CreatedAt = unixMS(c.now())
	v.UpdatedAt = v.CreatedAt
	return dbErr(db.InTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, db.Rebind(`SELECT 1 FROM books WHERE id = ?`), v.BookID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return errBookNotFound
		} else if err != nil {
			return err
		}
		args := []any{v.BookID, v.UserID, v.Title, v.Text, v.Rating, v.IsPublic, v.CreatedAt, v.UpdatedAt}
		insert := `INSERT INTO reviews (book_id, user_id, title, review_text, rating, is_public, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
		if db.Dialect == store.MySQL {
			res, err := tx.ExecContext(ctx, insert, args...)
			if err != nil {
				return err
			}
			v.ID, err = res.LastInsertId()
			return err
		}
		return tx.QueryRowContext(ctx, db.Rebind(insert+` RETURNING id`), args...).Scan(&v.ID)
	}))
}

func (c *social) handleGetReview(w http.ResponseWriter, r *http.Request) {
	v, err := c.review(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.writeReview(w, r, http.StatusOK, v)
}

func (c *social) handleUpdateReview(w http.ResponseWriter, r *http.Request) {
	v, err := c.ownReview(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var in reviewPatch
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	verr := problem.New(http.StatusBadRequest, "The request has invalid fields.")
	var title, text *string
	if in.Title != nil {
		t := checkReviewTitle(verr, *in.Title)
		title = &t
	}
	if in.ReviewText != nil {
		t := checkReviewText(verr, *in.ReviewText)
		text = &t
	}
	if in.Rating != nil {
		checkRating(verr, *in.Rating)
	}
	if len(verr.Fields) > 0 {
		verr.Write(w)
		return
	}
	ctx := r.Context()
	db := c.cfg.DB
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		// COALESCE keeps what the PATCH did not name, in one statement;
		// the author's id in the WHERE keeps the write the author's even
		// if the row changed hands (it cannot today) since the check.
		if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE reviews SET title = COALESCE(?, title), review_text = COALESCE(?, review_text), rating = COALESCE(?, rating), is_public = COALESCE(?, is_public), updated_at = ? WHERE id = ? AND user_id = ?`),
			title, text, in.Rating, in.IsPublic, unixMS(c.now()), v.ID, v.UserID); err != nil {
			return err
		}
		var err error
		v, err = scanReview(tx.QueryRowContext(ctx, db.Rebind(`SELECT `+reviewColumns+` FROM reviews r WHERE r.id = ?`), v.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return errNoSuchReview // deleted meanwhile
		}
		return err
	})
	if err != nil {
		if !errors.Is(err, errNoSuchReview) {
			err = dbErr(err)
		}
		c.fail(w, r, err)
		return
	}
	c.writeReview(w, r, http.StatusOK, v)
}

func (c *social) handleDeleteReview(w http.ResponseWriter, r *http.Request) {
	v, err := c.ownReview(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	db := c.cfg.DB
	if _, err := db.ExecContext(r.Context(), db.Rebind(`DELETE FROM reviews WHERE id = ? AND user_id = ?`), v.ID, v.UserID); err != nil {
		c.fail(w, r, dbErr(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
