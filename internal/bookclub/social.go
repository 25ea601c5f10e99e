package bookclub

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/ratelimit"
)

// The social half of the book club: profiles (profiles.go), follows
// (follows.go) and reviews (reviews.go), on the routes of docs/API.md.
//
// Who sees what, in one place:
//   - A profile is seen per its visibility: public by anyone, followers_only
//     by its approved followers and its owner, private by its owner only.
//     A profile the caller may not see answers exactly what an unknown
//     username answers (socialNotFound): the same status, body and headers,
//     so that a private account's existence is not revealed. The followers
//     and following lists of a user follow the profile's rule.
//   - In those lists, a user whose own profile is private is shown only to
//     the list's owner and to that user: being listed would otherwise
//     reveal the account that its 404 hides. Counts shown with a profile
//     and with a list apply the same rule, so they match the results.
//   - Staff have no power over social data: docs/API.md gives reviews to
//     their owners ("owner only") and profiles to their visibility, and
//     moderation is not part of the contract. Staff are ordinary users
//     here (books are another matter: owner or staff).
//
// Private accounts keep their followers: making a profile private hides
// it, and its lists, from them (the rule above) without deleting anything,
// so that turning back to followers_only restores what the owner had
// approved. Pending requests are kept as well; the owner may still approve
// or decline them, and nobody can send a new one (404).

// socialWriteRate limits each user's social writes (profile changes,
// follows, request answers, reviews) on top of the router-wide throttle:
// each follow may notify its target, and each review is shown to everyone.
var socialWriteRate = ratelimit.Policy{Name: "social_write", Rate: 1, Burst: 60}

// socialBodyLimit bounds the profile and follow bodies; reviews have
// their own (reviewBodyLimit).
const socialBodyLimit = 16 << 10

// social holds what the social handlers share; its methods are the
// handlers, kept off Service so that their names stay clear of the books
// code in the same package.
type social struct {
	*Service
}

// mountSocial registers /api/users and /api/reviews. Every route takes a
// bearer token when one is sent (an invalid one is a 401 even where the
// route is public), since what a caller sees depends on who it is; and
// every answer is marked no-store for the same reason: a shared cache
// must not hand one caller's view to another.
func (s *Service) mountSocial(r *warden.Router) error {
	l, err := s.cfg.NewLimiter(socialWriteRate)
	if err != nil {
		return err
	}
	c := &social{s}
	writeLimit := warden.Limit(l, ratelimit.ByUser())
	anyone := warden.Require(guard.AllowAny)
	signedIn := warden.Require(guard.IsAuthenticated)
	base := r.With(s.signedIn(), warden.NoStore())

	base.With(warden.Tags("users")).Group("/api/users", func(r *warden.Router) {
		r.Get("/{username}", c.handleProfile, anyone, docProfile)
		r.Patch("/me", c.handlePatchMe, signedIn, writeLimit, warden.BodyLimit(socialBodyLimit), docPatchMe)
		r.Get("/{username}/followers", c.handleFollowers, anyone, docFollowers)
		r.Get("/{username}/following", c.handleFollowing, anyone, docFollowing)
		r.Post("/{username}/follow", c.handleFollow, signedIn, writeLimit, docFollow)
		r.Delete("/{username}/follow", c.handleUnfollow, signedIn, writeLimit, docUnfollow)
		r.Get("/me/follow-requests", c.handleFollowRequests, signedIn, docFollowRequests)
		r.Post("/me/follow-requests/{username}", c.handleApprove, signedIn, writeLimit, docApprove)
		r.Delete("/me/follow-requests/{username}", c.handleDecline, signedIn, writeLimit, docDecline)
	})
	base.With(warden.Tags("reviews")).Group("/api/reviews", func(r *warden.Router) {
		r.Get("/", c.handleListReviews, anyone, docListReviews)
		r.Post("/", c.handleAddReview, signedIn, writeLimit, warden.BodyLimit(reviewBodyLimit), docAddReview)
		r.Get("/{id}", c.handleGetReview, anyone, docGetReview)
		r.Patch("/{id}", c.handleUpdateReview, signedIn, writeLimit, warden.BodyLimit(reviewBodyLimit), docUpdateReview)
		r.Delete("/{id}", c.handleDeleteReview, signedIn, writeLimit, docDeleteReview)
	})
	return nil
}

// Errors of the social handlers, answered by fail.
var (
	// errNoSuchUser is an unknown username, or a profile the caller may
	// not see: one error, so that the two cannot be told apart.
	errNoSuchUser = errors.New("bookclub: no such user")
	// errNoRequest is approving or declining a follow request that does
	// not exist.
	errNoRequest = errors.New("bookclub: no such follow request")
	// errSelfFollow is following (or unfollowing) oneself.
	errSelfFollow    = errors.New("bookclub: cannot follow oneself")
	errNoSuchReview  = errors.New("bookclub: no such review")
	errNotYourReview = errors.New("bookclub: review of another user")
)

// socialNotFound is the one answer for a username that names no profile
// the caller may see. Its sentence does not say which of the two it is.
const socialNotFound = "No user has this username."

// fail answers err without internal details.
func (c *social) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errNoSuchUser):
		problem.Write(w, http.StatusNotFound, socialNotFound)
	case errors.Is(err, errNoRequest):
		problem.Write(w, http.StatusNotFound, "This user has no pending follow request to you.")
	case errors.Is(err, errSelfFollow):
		problem.Write(w, http.StatusBadRequest, "You cannot follow yourself.")
	case errors.Is(err, errNoSuchReview):
		problem.Write(w, http.StatusNotFound, "No review has this id.")
	case errors.Is(err, errNotYourReview):
		guard.Deny(w, auth.FromContext(r.Context()))
	case errors.Is(err, store.ErrUnavailable):
		c.log.LogAttrs(r.Context(), slog.LevelError, "database unavailable", slog.String("error", err.Error()))
		problem.Unavailable(w, "The service is temporarily unavailable; try again shortly.")
	default:
		c.log.LogAttrs(r.Context(), slog.LevelError, "social request failed", slog.String("error", err.Error()))
		problem.Write(w, http.StatusInternalServerError, "An internal error occurred.")
	}
}

// callerID is the signed-in caller's user id, or "" when anonymous.
func callerID(r *http.Request) string {
	if id := auth.FromContext(r.Context()); id != nil {
		return id.UserID
	}
	return ""
}

// person is a user as the social code needs one: an id to store and a
// username to show.
type person struct {
	ID, Username string
}

// meName is the path segment that names the caller ("/api/users/me"). It
// can name nobody else: usernames have at least 3 characters.
const meName = "me"

// userByPath resolves the {username} of the path: "me" is the caller
// (errNoSuchUser when anonymous). A name that no account could have
// (surrounding spaces, control characters, over 150 bytes) is unknown
// without a lookup, so that " alice" is not quietly read as "alice";
// others are looked up as logins are, ignoring case.
func (c *social) userByPath(r *http.Request) (person, error) {
	name := r.PathValue("username")
	if name == meName {
		id := callerID(r)
		if id == "" {
			return person{}, errNoSuchUser
		}
		u, err := c.cfg.Accounts.User(r.Context(), id)
		if err != nil {
			return person{}, accountErr(err)
		}
		return person{ID: u.ID, Username: u.Username}, nil
	}
	if name == "" || len(name) > 150 || strings.TrimSpace(name) != name || !utf8.ValidString(name) ||
		strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return person{}, errNoSuchUser
	}
	u, err := c.cfg.Accounts.UserByUsername(r.Context(), name)
	if err != nil {
		return person{}, accountErr(err)
	}
	return person{ID: u.ID, Username: u.Username}, nil
}

// accountErr maps the directory's errors to the social ones.
func accountErr(err error) error {
	if errors.Is(err, accounts.ErrNotFound) {
		return errNoSuchUser
	}
	return dbErr(err)
}

// usernames maps user ids to usernames in one query; ids of accounts that
// no longer exist are absent.
func (c *social) usernames(ctx context.Context, ids []string) (map[string]string, error) {
	if len(ids) == 0 {
		return map[string]string{}, nil
	}
	names, err := c.cfg.Accounts.Usernames(ctx, ids)
	return names, dbErr(err)
}

// message is the body of an answer that carries only a sentence.
type message struct {
	Message string `json:"message"`
}

// writeMessage answers a sentence with status.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	warden.WriteJSON(w, status, message{Message: msg})
}

// insertIgnore returns the statement that inserts a row unless one with
// the same unique key exists, for the dialect: ON CONFLICT DO NOTHING
// (SQLite, PostgreSQL), or a no-op update on MySQL, which has no DO
// NOTHING (INSERT IGNORE would also swallow errors other than the
// duplicate).
func insertIgnore(dialect, table, columns, values, conflict, firstCol string) string {
	q := `INSERT INTO ` + table + ` (` + columns + `) VALUES (` + values + `)`
	if dialect == store.MySQL {
		return q + ` ON DUPLICATE KEY UPDATE ` + firstCol + ` = ` + firstCol
	}
	return q + ` ON CONFLICT (` + conflict + `) DO NOTHING`
}
