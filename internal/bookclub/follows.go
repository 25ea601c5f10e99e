package bookclub

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"slices"

	"github.com/wardenhq/warden"
)

// Follows. A row of follows says follower_id follows followee_id, or, with
// pending set, asked to: following a public user takes effect at once;
// following a followers_only user is a request until the followee approves
// it; a private user cannot be followed (nor told from an unknown one). A
// user has one row per followee, so repeating a follow, an unfollow or an
// answer to a request changes nothing more.

// followsKeyset orders follow lists newest first by the row's id, which
// is what a list's cursor then holds: a row id, never a user id.
var followsKeyset = keyset{Cols: []keyCol{{Name: "f.id", Int: true}}, Desc: true}

// followDir is one direction of the graph: the followers of a user (rows
// whose followee is the user, listing followers) or whom a user follows.
type followDir struct {
	match, listed string // columns: the user's, the listed users'
	scope         string
}

var (
	followersOf = followDir{match: "followee_id", listed: "follower_id", scope: "followers"}
	followingOf = followDir{match: "follower_id", listed: "followee_id", scope: "following"}
)

// approvedFollows returns the FROM and WHERE of userID's approved follows
// in direction d, as viewerID may see them: a listed user whose profile
// is private is left out unless the viewer is the list's owner or that
// user (see social.go). The profiles join is a LEFT JOIN because a user
// without a profile row is public.
func approvedFollows(d followDir, userID, viewerID string) (from, where string, args []any) {
	from = `follows f LEFT JOIN profiles p ON p.user_id = f.` + d.listed
	where = `f.` + d.match + ` = ? AND f.pending = FALSE`
	args = []any{userID}
	if viewerID != userID {
		where += ` AND (p.visibility IS NULL OR p.visibility <> 'private' OR f.` + d.listed + ` = ?)`
		args = append(args, viewerID)
	}
	return from, where, args
}

// countFollows counts userID's approved follows in direction d that
// viewerID may see.
func (c *social) countFollows(ctx context.Context, d followDir, userID, viewerID string) (int64, error) {
	from, where, args := approvedFollows(d, userID, viewerID)
	return c.countRows(ctx, from, where, args)
}

func (c *social) countRows(ctx context.Context, from, where string, args []any) (int64, error) {
	st, err := c.preparedStmt(ctx, `SELECT COUNT(*) FROM `+from+` WHERE `+where)
	if err != nil {
		return 0, err
	}
	var n int64
	err = st.QueryRowContext(ctx, args...).Scan(&n)
	return n, dbErr(err)
}

// followRow is one listed follow: its row id (the keyset) and the listed
// user's id.
type followRow struct {
	ID     int64
	UserID string
}

// listFollowRows returns the rows of page p of the follows that from and
// where select, listing column listed.
func (c *social) listFollowRows(ctx context.Context, from, where, listed string, args []any, p page) ([]followRow, error) {
	q := `SELECT f.id, f.` + listed + ` FROM ` + from + ` WHERE ` + where
	return queryPage(ctx, c.Service, q, args, p, func(rows *sql.Rows) (f followRow, err error) {
		err = rows.Scan(&f.ID, &f.UserID)
		return f, err
	})
}

// writeUserList answers one page of a list of users: usernames, newest
// follow first. An account that no longer exists is left out of the
// results (it has no name to show); the count may then exceed them.
func (c *social) writeUserList(w http.ResponseWriter, r *http.Request, p page, from, where, listed string, args []any) {
	ctx := r.Context()
	count, err := c.countRows(ctx, from, where, args)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	rows, err := c.listFollowRows(ctx, from, where, listed, args, p)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ids := make([]string, len(rows))
	for i, f := range rows {
		ids[i] = f.UserID
	}
	names, err := c.usernames(ctx, ids)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	list := pageOf(p, count, rows, func(f followRow) []any { return []any{f.ID} }, func(f followRow) string { return names[f.UserID] })
	list.Results = slices.DeleteFunc(list.Results, func(name string) bool { return name == "" })
	warden.WriteJSON(w, http.StatusOK, list)
}

// handleFollowers and handleFollowing list a user's approved follows,
// under the profile's visibility rule: a caller who may not see the
// profile gets the same 404 as for an unknown user.
func (c *social) handleFollowers(w http.ResponseWriter, r *http.Request) {
	c.handleFollowList(w, r, followersOf)
}

func (c *social) handleFollowing(w http.ResponseWriter, r *http.Request) {
	c.handleFollowList(w, r, followingOf)
}

func (c *social) handleFollowList(w http.ResponseWriter, r *http.Request, d followDir) {
	u, _, err := c.visibleUser(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p, ok := readPage(w, r, followsKeyset, d.scope+"\x00"+u.ID)
	if !ok {
		return
	}
	from, where, args := approvedFollows(d, u.ID, callerID(r))
	c.writeUserList(w, r, p, from, where, d.listed, args)
}

// handleFollowRequests lists the pending requests to the caller. Every
// requester is shown, private ones included: asking to follow the caller
// told the caller who they are.
func (c *social) handleFollowRequests(w http.ResponseWriter, r *http.Request) {
	me := callerID(r)
	p, ok := readPage(w, r, followsKeyset, "follow-requests\x00"+me)
	if !ok {
		return
	}
	c.writeUserList(w, r, p, `follows f`, `f.followee_id = ? AND f.pending = TRUE`, "follower_id", []any{me})
}

// follows reports whether followerID is an approved follower of
// followeeID.
func (c *social) follows(ctx context.Context, followerID, followeeID string) (bool, error) {
	st, err := c.preparedStmt(ctx, `SELECT pending FROM follows WHERE follower_id = ? AND followee_id = ?`)
	if err != nil {
		return false, err
	}
	var pending bool
	err = st.QueryRowContext(ctx, followerID, followeeID).Scan(&pending)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil && !pending, dbErr(err)
}

// follow makes followerID follow followeeID, as a pending request when
// request is set, and reports whether the follow is (still) pending and
// whether this call changed anything (a new follow or request, or a
// request turned into a follow), so that a repeated follow notifies no
// one. An approved follow stays approved whatever is asked; a pending one
// becomes approved when request is not set (the followee has turned
// public since the request was made).
func (c *social) follow(ctx context.Context, followerID, followeeID string, request bool) (pending, changed bool, err error) {
	db := c.cfg.DB
	now := unixMS(c.now())
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		changed = false // InTx may run this again
		q := insertIgnore(db.Dialect, "follows", "follower_id, followee_id, pending, created_at", "?, ?, ?, ?", "follower_id, followee_id", "follower_id")
		res, err := tx.ExecContext(ctx, db.Rebind(q), followerID, followeeID, request, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n > 0 {
			changed = true
		}
		if !request {
			res, err := tx.ExecContext(ctx, db.Rebind(`UPDATE follows SET pending = FALSE WHERE follower_id = ? AND followee_id = ? AND pending = TRUE`), followerID, followeeID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n > 0 {
				changed = true
			}
		}
		return tx.QueryRowContext(ctx, db.Rebind(`SELECT pending FROM follows WHERE follower_id = ? AND followee_id = ?`), followerID, followeeID).Scan(&pending)
	})
	return pending, changed, dbErr(err)
}

// handleFollow follows the path's user: 204 when the follow is in effect
// (a public user, or one who approved the caller before), 202 when it is
// a request waiting for a followers_only user's approval, 404 for an
// unknown or private user alike, 400 for oneself.
func (c *social) handleFollow(w http.ResponseWriter, r *http.Request) {
	me := callerID(r)
	u, p, err := c.lookup(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if u.ID == me {
		c.fail(w, r, errSelfFollow)
		return
	}
	var request bool
	switch p.Visibility {
	case visPublic:
	case visFollowersOnly:
		request = true
	default:
		c.fail(w, r, errNoSuchUser)
		return
	}
	pending, changed, err := c.follow(r.Context(), me, u.ID, request)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if changed && p.NotifyFollowers {
		c.notifyFollower(r.Context(), u.ID, me, pending)
	}
	if pending {
		writeMessage(w, http.StatusAccepted, "Follow request sent; you will follow "+u.Username+" once they approve it.")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleUnfollow ends the caller's follow of the path's user, or
// withdraws the caller's request: 204, also when there was none. The one
// exception keeps private accounts hidden: for a private user the caller
// had no follow or request with, the answer is the 404 of an unknown
// user; a caller who did have one knows the account already.
func (c *social) handleUnfollow(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	me := callerID(r)
	u, err := c.userByPath(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if u.ID == me {
		c.fail(w, r, errSelfFollow)
		return
	}
	db := c.cfg.DB
	res, err := db.ExecContext(ctx, db.Rebind(`DELETE FROM follows WHERE follower_id = ? AND followee_id = ?`), me, u.ID)
	if err != nil {
		c.fail(w, r, dbErr(err))
		return
	}
	if n, err := res.RowsAffected(); err != nil {
		c.fail(w, r, dbErr(err))
		return
	} else if n == 0 {
		p, err := c.profile(ctx, u.ID)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if p.Visibility != visPublic && p.Visibility != visFollowersOnly {
			c.fail(w, r, errNoSuchUser)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// requester resolves the path's {username} for an answer to a follow
// request. An unknown name is errNoRequest, the answer for a known user
// without a request: the answers must not tell which names exist.
func (c *social) requester(r *http.Request) (person, error) {
	u, err := c.userByPath(r)
	if errors.Is(err, errNoSuchUser) || err == nil && u.ID == callerID(r) {
		return person{}, errNoRequest
	}
	return u, err
}

// handleApprove approves the path user's request to follow the caller:
// 204, the user is now a follower; also 204 when the user already is one
// (a repeated approval). 404 when there is neither.
func (c *social) handleApprove(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	me := callerID(r)
	u, err := c.requester(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	db := c.cfg.DB
	res, err := db.ExecContext(ctx, db.Rebind(`UPDATE follows SET pending = FALSE WHERE follower_id = ? AND followee_id = ? AND pending = TRUE`), u.ID, me)
	if err != nil {
		c.fail(w, r, dbErr(err))
		return
	}
	n, err := res.RowsAffected()
	if err != nil {
		c.fail(w, r, dbErr(err))
		return
	}
	if n == 0 {
		ok, err := c.follows(ctx, u.ID, me)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if !ok {
			c.fail(w, r, errNoRequest)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleDecline deletes the path user's pending request to follow the
// caller: 204; 404 when there is none. It never removes an approved
// follower: declining is an answer to a request.
func (c *social) handleDecline(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	me := callerID(r)
	u, err := c.requester(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	db := c.cfg.DB
	res, err := db.ExecContext(ctx, db.Rebind(`DELETE FROM follows WHERE follower_id = ? AND followee_id = ? AND pending = TRUE`), u.ID, me)
	if err != nil {
		c.fail(w, r, dbErr(err))
		return
	}
	if n, err := res.RowsAffected(); err != nil {
		c.fail(w, r, dbErr(err))
		return
	} else if n == 0 {
		c.fail(w, r, errNoRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
