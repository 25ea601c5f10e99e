package bookclub

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/secure"
)

// Profiles. Every user has one: a user without a row in profiles has the
// defaults (defaultProfile), and the row is created by the user's first
// change (PATCH /api/users/me), so that registration, which belongs to
// the accounts feature, writes nothing here.

// Visibilities of a profile (docs/API.md).
const (
	visPublic        = "public"
	visFollowersOnly = "followers_only"
	visPrivate       = "private"
)

// maxBioChars is the longest bio, in characters of the text as sent.
const maxBioChars = 500

// profileRow is one user's settings as stored (or the defaults).
type profileRow struct {
	Bio        string
	Visibility string
	// AvatarURL is null until an avatar exists (set by SetAvatarURL).
	AvatarURL       sql.NullString
	NotifyFollowers bool
	NotifyChat      bool
}

// defaultProfile is the profile of a user who never changed it.
var defaultProfile = profileRow{Visibility: visPublic, NotifyFollowers: true, NotifyChat: true}

// profile returns userID's profile, the defaults when there is no row.
func (c *social) profile(ctx context.Context, userID string) (profileRow, error) {
	st, err := c.preparedStmt(ctx, `SELECT bio, visibility, avatar_url, notify_followers, notify_chat FROM profiles WHERE user_id = ?`)
	if err != nil {
		return profileRow{}, err
	}
	var p profileRow
	err = st.QueryRowContext(ctx, userID).Scan(&p.Bio, &p.Visibility, &p.AvatarURL, &p.NotifyFollowers, &p.NotifyChat)
	if errors.Is(err, sql.ErrNoRows) {
		return defaultProfile, nil
	}
	return p, dbErr(err)
}

// ensureProfileTx creates userID's row with the defaults when it has
// none, so that an UPDATE can follow; two first writes at once both
// succeed (the second insert does nothing).
func (c *social) ensureProfileTx(ctx context.Context, tx *sql.Tx, userID string, now int64) error {
	db := c.cfg.DB
	q := insertIgnore(db.Dialect, "profiles", "user_id, created_at, updated_at", "?, ?, ?", "user_id", "user_id")
	_, err := tx.ExecContext(ctx, db.Rebind(q), userID, now, now)
	return err
}

// profileChange is a PATCH of the profile's own columns: nil keeps a
// value.
type profileChange struct {
	Bio, Visibility *string
}

// updateProfile applies ch to userID's profile, creating the row first.
func (c *social) updateProfile(ctx context.Context, userID string, ch profileChange) error {
	if ch.Bio == nil && ch.Visibility == nil {
		return nil
	}
	db := c.cfg.DB
	now := unixMS(c.now())
	return dbErr(db.InTx(ctx, func(tx *sql.Tx) error {
		if err := c.ensureProfileTx(ctx, tx, userID, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.Rebind(`UPDATE profiles SET bio = COALESCE(?, bio), visibility = COALESCE(?, visibility), updated_at = ? WHERE user_id = ?`),
			ch.Bio, ch.Visibility, now, userID)
		return err
	}))
}

// SetAvatarURL records userID's avatar URL (nil removes it). It leaves
// files alone: the avatar upload (avatar.go) records through the same
// swapAvatarURL and removes the file of the URL it replaced.
func (s *Service) SetAvatarURL(ctx context.Context, userID string, url *string) error {
	_, err := s.swapAvatarURL(ctx, userID, url)
	return err
}

// NotifyPrefs are a user's notification preferences.
type NotifyPrefs struct {
	// Followers: tell the user of new followers and follow requests.
	Followers bool
	// Chat: tell the user of new chat messages.
	Chat bool
}

// NotificationPrefs returns userID's preferences (both on by default),
// for the event stream, which asks before sending.
func (s *Service) NotificationPrefs(ctx context.Context, userID string) (NotifyPrefs, error) {
	p, err := (&social{s}).profile(ctx, userID)
	if err != nil {
		return NotifyPrefs{}, err
	}
	return NotifyPrefs{Followers: p.NotifyFollowers, Chat: p.NotifyChat}, nil
}

// canSee reports whether viewerID ("" when anonymous) may see the profile
// of owner, whose profile is p.
func (c *social) canSee(ctx context.Context, viewerID string, owner person, p profileRow) (bool, error) {
	if viewerID != "" && viewerID == owner.ID {
		return true, nil
	}
	switch p.Visibility {
	case visPublic:
		return true, nil
	case visFollowersOnly:
		if viewerID == "" {
			return false, nil
		}
		return c.follows(ctx, viewerID, owner.ID)
	}
	return false, nil // private, or a value this version does not know
}

// lookup resolves the path's {username} and loads that user's profile.
// For an unknown name it reads a profile all the same (of no user), so
// that an unknown name and a private profile cost the same queries before
// their identical 404s.
func (c *social) lookup(r *http.Request) (person, profileRow, error) {
	u, err := c.userByPath(r)
	if err != nil && !errors.Is(err, errNoSuchUser) {
		return person{}, profileRow{}, err
	}
	p, perr := c.profile(r.Context(), u.ID)
	if err == nil {
		err = perr
	}
	if err != nil {
		return person{}, profileRow{}, err
	}
	return u, p, nil
}

// visibleUser resolves the path's {username} to a user whose profile the
// caller may see, with that profile; errNoSuchUser otherwise, the same
// for an unknown name as for a hidden profile.
func (c *social) visibleUser(r *http.Request) (person, profileRow, error) {
	u, p, err := c.lookup(r)
	if err != nil {
		return person{}, profileRow{}, err
	}
	ok, err := c.canSee(r.Context(), callerID(r), u, p)
	if err != nil {
		return person{}, profileRow{}, err
	}
	if !ok {
		return person{}, profileRow{}, errNoSuchUser
	}
	return u, p, nil
}

// profileView is a profile as others see it (docs/API.md).
type profileView struct {
	Username string `json:"username"`
	// Bio is plain text.
	Bio string `json:"bio"`
	// AvatarURL is null until the user uploads an avatar.
	AvatarURL  *string `json:"avatar_url"`
	Visibility string  `json:"visibility"`
	// Followers and Following count the approved follows the caller may
	// see listed (see GET .../followers).
	Followers int64 `json:"followers"`
	Following int64 `json:"following"`
}

// ownProfileView is the owner's own profile: the public members plus the
// personal ones, which nobody else is shown.
type ownProfileView struct {
	profileView
	FirstName       string `json:"first_name"`
	LastName        string `json:"last_name"`
	NotifyFollowers bool   `json:"notify_followers"`
	NotifyChat      bool   `json:"notify_chat"`
}

func (c *social) viewOf(ctx context.Context, viewerID string, u person, p profileRow) (profileView, error) {
	v := profileView{Username: u.Username, Bio: plainText(p.Bio), Visibility: p.Visibility}
	if p.AvatarURL.Valid {
		v.AvatarURL = &p.AvatarURL.String
	}
	var err error
	if v.Followers, err = c.countFollows(ctx, followersOf, u.ID, viewerID); err != nil {
		return v, err
	}
	v.Following, err = c.countFollows(ctx, followingOf, u.ID, viewerID)
	return v, err
}

// writeOwnProfile answers the caller's own profile with status.
func (c *social) writeOwnProfile(w http.ResponseWriter, r *http.Request, status int, userID string) {
	ctx := r.Context()
	acct, err := c.cfg.Accounts.User(ctx, userID)
	if err != nil {
		c.fail(w, r, accountErr(err))
		return
	}
	p, err := c.profile(ctx, userID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v, err := c.viewOf(ctx, userID, person{ID: acct.ID, Username: acct.Username}, p)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	warden.WriteJSON(w, status, ownProfileView{
		profileView: v, FirstName: acct.FirstName, LastName: acct.LastName,
		NotifyFollowers: p.NotifyFollowers, NotifyChat: p.NotifyChat,
	})
}

func (c *social) handleProfile(w http.ResponseWriter, r *http.Request) {
	u, p, err := c.visibleUser(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	viewer := callerID(r)
	if viewer == u.ID {
		c.writeOwnProfile(w, r, http.StatusOK, u.ID)
		return
	}
	v, err := c.viewOf(r.Context(), viewer, u, p)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	warden.WriteJSON(w, http.StatusOK, v)
}

// profilePatch is the body of PATCH /api/users/me: only these members are
// read (docs/API.md), so avatar_url, username, is_staff or anything else
// a client sends is ignored, never applied. A member that is absent or
// null keeps its value.
type profilePatch struct {
	FirstName  *string `json:"first_name,omitempty"`
	LastName   *string `json:"last_name,omitempty"`
	Bio        *string `json:"bio,omitempty"`
	Visibility *string `json:"visibility,omitempty"`
}

func (c *social) handlePatchMe(w http.ResponseWriter, r *http.Request) {
	var in profilePatch
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	// Every field is checked before anything is written, and every error
	// is reported at once.
	verr := problem.New(http.StatusBadRequest, "The request has invalid fields.")
	for field, msgs := range nameErrors(in.FirstName, in.LastName) {
		for _, m := range msgs {
			verr.WithField(field, m)
		}
	}
	var ch profileChange
	if in.Bio != nil {
		bio := checkBio(verr, *in.Bio)
		ch.Bio = &bio
	}
	if in.Visibility != nil {
		switch v := *in.Visibility; v {
		case visPublic, visFollowersOnly, visPrivate:
			ch.Visibility = &v
		default:
			// Exact values only: "PUBLIC" or " private" are refused
			// rather than guessed at, so the stored value is always one
			// the visibility checks know.
			verr.WithField("visibility", "Use public, followers_only or private.")
		}
	}
	if len(verr.Fields) > 0 {
		verr.Write(w)
		return
	}
	me := callerID(r)
	// Names first: they are the accounts feature's, in another table, so
	// the two writes are not one transaction. Both are idempotent, and a
	// failure of the second answers 503; repeating the request completes
	// it.
	if err := c.cfg.Accounts.UpdateNames(r.Context(), me, in.FirstName, in.LastName); err != nil {
		c.fail(w, r, accountErr(err))
		return
	}
	if err := c.updateProfile(r.Context(), me, ch); err != nil {
		c.fail(w, r, err)
		return
	}
	c.writeOwnProfile(w, r, http.StatusOK, me)
}

// nameErrors checks first and last name by the accounts feature's rules.
func nameErrors(first, last *string) map[string][]string {
	var verr *accounts.ValidationError
	if errors.As(accounts.CheckNames(first, last), &verr) {
		return verr.Fields
	}
	return nil
}

// checkBio checks a bio and returns it as plain text. Oversize input is
// refused, not truncated, and measured as sent: a bio that markup
// stripping would shorten must fit all the same. Line breaks and tabs are
// text; other control characters, and the bidirectional overrides and
// isolates that can make text read differently from what it is (U+202A-E,
// U+2066-9), are refused.
func checkBio(p *problem.Problem, s string) string {
	if n := utf8.RuneCountInString(s); n > maxBioChars {
		p.WithField("bio", "Use at most "+strconv.Itoa(maxBioChars)+" characters.")
		return ""
	}
	if strings.IndexFunc(s, badTextRune) >= 0 {
		p.WithField("bio", "Control characters are not allowed.")
		return ""
	}
	return strings.TrimSpace(plainText(s))
}

// badTextRune reports the characters multi-line user text may not hold.
func badTextRune(r rune) bool {
	if r == '\n' || r == '\r' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}
