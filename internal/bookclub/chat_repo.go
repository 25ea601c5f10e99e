package bookclub

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/wardenhq/warden/internal/store"
)

// The SQL of chat (chat.go): rooms, members and messages. Queries use '?'
// placeholders (rebound per dialect); timestamps are Unix milliseconds.

// Errors of the chat, answered by chat.fail.
var (
	// errNotMember is a room the user is not (or no longer) a member of,
	// or one that does not exist: one error, so that nobody outside a
	// room learns whether it exists.
	errNotMember = errors.New("bookclub: not a member of this chat room")
	// errMemberNotFound is a removal naming a user who is not a member
	// (or no user at all).
	errMemberNotFound = errors.New("bookclub: no such member of the chat room")
	// errNotCreator is a member asking for what only the room's creator
	// may do.
	errNotCreator = errors.New("bookclub: only the room's creator may do this")
	// errTooManyRooms is a user who has created maxRoomsPerUser rooms.
	errTooManyRooms = errors.New("bookclub: too many chat rooms created")
	// errRoomFull is a room of maxRoomMembers members.
	errRoomFull = errors.New("bookclub: chat room full")
)

// chatErr is dbErr that lets the chat's own errors through: they are
// answers, not a database that failed to answer.
func chatErr(err error) error {
	for _, known := range []error{errNotMember, errMemberNotFound, errNotCreator, errTooManyRooms, errRoomFull} {
		if errors.Is(err, known) {
			return err
		}
	}
	return dbErr(err)
}

// roomRow is one stored room, with its kept number of messages.
type roomRow struct {
	ID        int64
	Name      string
	CreatedBy string
	CreatedAt int64
	Messages  int64
}

const roomColumns = `r.id, r.name, r.created_by, r.created_at, r.message_count`

func scanRoom(row interface{ Scan(...any) error }) (roomRow, error) {
	var v roomRow
	err := row.Scan(&v.ID, &v.Name, &v.CreatedBy, &v.CreatedAt, &v.Messages)
	return v, err
}

// messageRow is one stored message.
type messageRow struct {
	ID, RoomID int64
	UserID     string
	Body       string
	CreatedAt  int64
}

// chatRoomsKeyset orders the caller's rooms newest room first; the cursor
// holds a room id of a room the caller is in, which tells it nothing new.
var chatRoomsKeyset = keyset{Cols: []keyCol{{Name: "m.room_id", Int: true}}, Desc: true}

// chatMessagesKeyset orders a room's history newest first by id (ids only
// grow, in commit order within a room: insertMessage).
var chatMessagesKeyset = keyset{Cols: []keyCol{{Name: "cm.id", Int: true}}, Desc: true}

// memberRoom returns room id if userID is one of its members, or
// errNotMember (for an unknown room too).
func (s *Service) memberRoom(ctx context.Context, id int64, userID string) (roomRow, error) {
	st, err := s.preparedStmt(ctx, `SELECT `+roomColumns+` FROM chat_rooms r JOIN chat_members m ON m.room_id = r.id WHERE r.id = ? AND m.user_id = ?`)
	if err != nil {
		return roomRow{}, err
	}
	v, err := scanRoom(st.QueryRowContext(ctx, id, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return roomRow{}, errNotMember
	}
	return v, dbErr(err)
}

// isRoomMember reports whether userID is a member of room roomID (false
// for a room that does not exist). The WebSocket handler asks it before
// the upgrade and again while the socket is open.
func (s *Service) isRoomMember(ctx context.Context, roomID int64, userID string) (bool, error) {
	if roomID < 1 || userID == "" {
		return false, nil
	}
	st, err := s.preparedStmt(ctx, `SELECT 1 FROM chat_members WHERE room_id = ? AND user_id = ?`)
	if err != nil {
		return false, err
	}
	var one int
	err = st.QueryRowContext(ctx, roomID, userID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, dbErr(err)
}

// lockRow returns q (a SELECT of one row) so that it locks the row until
// the transaction ends: FOR UPDATE on MySQL and PostgreSQL, unchanged on
// SQLite, whose immediate transactions hold the write lock already.
func lockRow(db *store.DB, q string) string {
	if db.Dialect == store.SQLite {
		return q
	}
	return q + ` FOR UPDATE`
}

// insertID runs insert (with args) in tx and returns the new row's id:
// RETURNING where the dialect has it, the connection's last insert id on
// MySQL.
func insertID(ctx context.Context, tx *sql.Tx, db *store.DB, insert string, args ...any) (int64, error) {
	var id int64
	if db.Dialect == store.MySQL {
		res, err := tx.ExecContext(ctx, insert, args...)
		if err != nil {
			return 0, err
		}
		return res.LastInsertId()
	}
	err := tx.QueryRowContext(ctx, db.Rebind(insert+` RETURNING id`), args...).Scan(&id)
	return id, err
}

// createRoom stores a room named name, created by userID, with its creator
// as its first member, unless userID has created maxRoomsPerUser rooms
// (errTooManyRooms; rooms the creator has left count too, since the rows
// stay). The count and the insert must not interleave with another
// creation by the same user, or two requests at the cap could both pass:
// the user's profile row is the lock (the avatar upload uses it the same
// way), taken before counting, so that the count a second request reads
// includes the first one's room.
func (s *Service) createRoom(ctx context.Context, name, userID string) (roomRow, error) {
	db := s.cfg.DB
	now := unixMS(s.now())
	v := roomRow{Name: name, CreatedBy: userID, CreatedAt: now}
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		if err := (&social{s}).ensureProfileTx(ctx, tx, userID, now); err != nil {
			return err
		}
		var one int
		if err := tx.QueryRowContext(ctx, db.Rebind(lockRow(db, `SELECT 1 FROM profiles WHERE user_id = ?`)), userID).Scan(&one); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, db.Rebind(`SELECT COUNT(*) FROM chat_rooms WHERE created_by = ?`), userID).Scan(&n); err != nil {
			return err
		}
		if n >= maxRoomsPerUser {
			return errTooManyRooms
		}
		var err error
		v.ID, err = insertID(ctx, tx, db, `INSERT INTO chat_rooms (name, created_by, created_at) VALUES (?, ?, ?)`, name, userID, now)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.Rebind(`INSERT INTO chat_members (room_id, user_id, added_at) VALUES (?, ?, ?)`), v.ID, userID, now)
		return err
	})
	return v, chatErr(err)
}

// addRoomMember makes userID a member of room roomID; a member already is
// left as is (nil). The room's row is held while the members are counted
// and the row inserted, so that two additions at the cap cannot both pass
// (errRoomFull).
func (s *Service) addRoomMember(ctx context.Context, roomID int64, userID string) error {
	db := s.cfg.DB
	return chatErr(db.InTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, db.Rebind(lockRow(db, `SELECT 1 FROM chat_rooms WHERE id = ?`)), roomID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return errNotMember
		}
		if err != nil {
			return err
		}
		var already, n int
		if err := tx.QueryRowContext(ctx, db.Rebind(`SELECT COUNT(*) FROM chat_members WHERE room_id = ? AND user_id = ?`), roomID, userID).Scan(&already); err != nil {
			return err
		}
		if already > 0 {
			return nil
		}
		if err := tx.QueryRowContext(ctx, db.Rebind(`SELECT COUNT(*) FROM chat_members WHERE room_id = ?`), roomID).Scan(&n); err != nil {
			return err
		}
		if n >= maxRoomMembers {
			return errRoomFull
		}
		_, err = tx.ExecContext(ctx, db.Rebind(`INSERT INTO chat_members (room_id, user_id, added_at) VALUES (?, ?, ?)`), roomID, userID, unixMS(s.now()))
		return err
	}))
}

// removeRoomMember removes userID from room roomID, or answers
// errMemberNotFound when there was no such member (a removal repeated, or
// raced by another).
func (s *Service) removeRoomMember(ctx context.Context, roomID int64, userID string) error {
	db := s.cfg.DB
	res, err := db.ExecContext(ctx, db.Rebind(`DELETE FROM chat_members WHERE room_id = ? AND user_id = ?`), roomID, userID)
	if err != nil {
		return dbErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbErr(err)
	}
	if n == 0 {
		return errMemberNotFound
	}
	return nil
}

// insertMessage stores body as userID's message in room roomID and
// returns its id and the user ids of the room's members at that moment;
// errNotMember when userID is not a member (or the room does not exist).
// The membership check is the UPDATE that counts the message: it holds
// the room's row until the commit, so a room's messages are numbered and
// committed one at a time, in order (a reader following a cursor never
// passes over a message that commits after a later one), and the count
// moves with the rows.
func (s *Service) insertMessage(ctx context.Context, roomID int64, userID, body string, now int64) (int64, []string, error) {
	db := s.cfg.DB
	var id int64
	var members []string
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.Rebind(`UPDATE chat_rooms SET message_count = message_count + 1 WHERE id = ? AND EXISTS (SELECT 1 FROM chat_members WHERE room_id = ? AND user_id = ?)`),
			roomID, roomID, userID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return errNotMember
		}
		if id, err = insertID(ctx, tx, db, `INSERT INTO chat_messages (room_id, user_id, body, created_at) VALUES (?, ?, ?, ?)`, roomID, userID, body, now); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, db.Rebind(`SELECT user_id FROM chat_members WHERE room_id = ?`), roomID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m string
			if err := rows.Scan(&m); err != nil {
				return err
			}
			members = append(members, m)
		}
		return rows.Err()
	})
	return id, members, chatErr(err)
}

// listMyRooms returns the rows of page p of the rooms userID is a member
// of (one more than a page holds when there is a next page; see pageOf).
func (s *Service) listMyRooms(ctx context.Context, userID string, p page) ([]roomRow, error) {
	q := `SELECT ` + roomColumns + ` FROM chat_members m JOIN chat_rooms r ON r.id = m.room_id WHERE m.user_id = ?`
	return queryPage(ctx, s, q, []any{userID}, p, func(rows *sql.Rows) (roomRow, error) { return scanRoom(rows) })
}

// listMessages returns the rows of page p of room roomID's history.
func (s *Service) listMessages(ctx context.Context, roomID int64, p page) ([]messageRow, error) {
	q := `SELECT cm.id, cm.room_id, cm.user_id, cm.body, cm.created_at FROM chat_messages cm WHERE cm.room_id = ?`
	return queryPage(ctx, s, q, []any{roomID}, p, func(rows *sql.Rows) (v messageRow, err error) {
		err = rows.Scan(&v.ID, &v.RoomID, &v.UserID, &v.Body, &v.CreatedAt)
		return v, err
	})
}

// msTime is a stored timestamp as the API shows it: UTC, to the
// millisecond, as every time of the book club.
func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
