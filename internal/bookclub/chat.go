package bookclub

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/secure"
)

// Chat: rooms, their members and their history, on the routes of
// docs/API.md; live delivery (the WebSocket rooms and the event stream)
// calls postChatMessage and isRoomMember, and is told of messages and
// removals through notifyChatMessage and notifyMemberRemoved.
//
// Who may do what, in one place:
//   - Rooms are private to their members. To anyone else a room is not
//     there: every route under /api/chat/rooms/{id} answers a non-member
//     exactly what it answers for an unknown or malformed id (404), so
//     that room ids reveal nothing. Staff have no power here either.
//   - Anyone signed in may create a room (chat_rooms limit per user, and
//     at most maxRoomsPerUser rooms created per user, 409 beyond); the
//     creator is its first member.
//   - Only the creator adds members, and only users whose profile the
//     creator may see: an unknown username and a profile hidden from the
//     creator get the same 404 as on /api/users/{username}, so adding is
//     no way to learn that a private account exists. Adding a member
//     again changes nothing (204). A room holds at most maxRoomMembers
//     members (409 beyond).
//   - A member may leave (DELETE .../members/{their username} or
//     .../members/me); the creator may remove anyone, themselves
//     included. A creator who leaves loses the room like any other
//     member: nobody can add members to it after that, and the others
//     keep chatting. Any other removal by a member is 403, whatever the
//     username names, so members cannot probe for accounts either. A
//     removal of someone who is not a member (or of no user) is 404 for
//     the creator, the same for both.
//   - History is for members only, newest first; a removed member loses
//     it at once, and their open sockets are closed (notifyMemberRemoved).
//     Their earlier messages stay in the room.
//
// Room names and messages are plain text: markup is stripped (plainText,
// as for review titles), and they are cleaned again on the way out.

// Limits of the chat. The MySQL and PostgreSQL columns are as wide as the
// character limits.
const (
	// maxRoomNameChars is the longest room name, in characters once
	// markup is stripped and the name trimmed.
	maxRoomNameChars = 100
	// maxChatChars is the longest message, counted the same way
	// (docs/API.md: 1 to 1000 characters).
	maxChatChars = 1000
	// maxChatRawBytes bounds the text chatText is willing to clean at
	// all: the longest message in 4-byte characters with generous room
	// for markup that stripping removes. Longer input is refused without
	// being parsed.
	maxChatRawBytes = 16 << 10
	// maxRoomsPerUser bounds the rooms one user may create: with the rate
	// limit it keeps one account from filling the database with rooms.
	maxRoomsPerUser = 100
	// maxRoomMembers bounds a room: every message is fanned out to every
	// member, so the cap bounds what one message costs.
	maxRoomMembers = 1000
	// chatBodyLimit bounds the bodies of the chat routes ({name},
	// {username}): ample for a name written in JSON escapes and markup.
	chatBodyLimit = 8 << 10
)

// chatRoomRate limits room creation per user: ten at once, then one a
// minute. Creating rooms is rare for a person and cheap to script.
var chatRoomRate = ratelimit.Policy{Name: "chat_rooms", Rate: 1.0 / 60, Burst: 10}

// chatWriteRate limits each user's membership changes (adding and
// removing members), on top of the router-wide throttle.
var chatWriteRate = ratelimit.Policy{Name: "chat_write", Rate: 1, Burst: 60}

// chat holds the chat handlers; it embeds social for the user lookups
// (userByPath, visibleUser) and the failure answers it shares.
type chat struct {
	*social
}

// mountChat registers /api/chat/rooms. Every route is for signed-in
// callers and marked no-store: what a caller sees is their own rooms.
func (s *Service) mountChat(r *warden.Router) error {
	rooms, err := s.cfg.NewLimiter(chatRoomRate)
	if err != nil {
		return err
	}
	writes, err := s.cfg.NewLimiter(chatWriteRate)
	if err != nil {
		return err
	}
	c := &chat{&social{s}}
	signedIn := warden.Require(guard.IsAuthenticated)
	writeLimit := warden.Limit(writes, ratelimit.ByUser())
	r.With(warden.Tags("chat"), s.signedIn(), warden.NoStore()).Group("/api/chat/rooms", func(r *warden.Router) {
		r.Get("/", c.handleRooms, signedIn, docChatRooms)
		r.Post("/", c.handleCreateRoom, signedIn, warden.Limit(rooms, ratelimit.ByUser()), warden.BodyLimit(chatBodyLimit), docCreateRoom)
		r.Post("/{id}/members", c.handleAddMember, signedIn, writeLimit, warden.BodyLimit(chatBodyLimit), docAddMember)
		r.Delete("/{id}/members/{username}", c.handleRemoveMember, signedIn, writeLimit, docRemoveMember)
		r.Get("/{id}/messages", c.handleMessages, signedIn, docChatMessages)
	})
	return nil
}

// roomView is a room as the API answers it.
type roomView struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// CreatedBy is the creator's username; null once that account is
	// gone.
	CreatedBy *string   `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// messageView is a message of a room's history.
type messageView struct {
	ID     int64 `json:"id"`
	RoomID int64 `json:"room_id"`
	// Message is plain text.
	Message string `json:"message"`
	// User is the author's username; null once that account is gone.
	User      *string   `json:"user"`
	Timestamp time.Time `json:"timestamp"`
}

// roomInput is the body of POST /api/chat/rooms; other members are
// ignored.
type roomInput struct {
	Name *string `json:"name"`
}

// memberInput is the body of POST /api/chat/rooms/{id}/members.
type memberInput struct {
	Username *string `json:"username"`
}

// chatMessage is one stored message, as live delivery sends it.
type chatMessage struct {
	ID       int64
	RoomID   int64
	UserID   string
	Username string
	// Body is plain text (chatText).
	Body      string
	CreatedAt time.Time
}

// chatTextError is a message chatText refuses; its Error is a sentence
// for the client (the WebSocket error frame), which names the rule and
// never echoes the text.
type chatTextError string

func (e chatTextError) Error() string { return string(e) }

const (
	errChatEmpty    chatTextError = "The message is empty; markup does not count."
	errChatTooLong  chatTextError = "Use at most 1000 characters."
	errChatControl  chatTextError = "Control characters are not allowed."
	errChatEncoding chatTextError = "The message is not valid UTF-8 text."
)

// chatText validates and normalises a client's message text: markup
// stripped, trimmed, 1..1000 characters (runes) → ok, else an error with
// a user-facing message. The error is a chatTextError (errors.As), which
// tells a refused text from a failure of the service. Line breaks and
// tabs are text; other control characters and the bidirectional
// overrides (badTextRune) are refused after stripping, so that an entity
// (&#1;) cannot bring back what the raw check would refuse.
func chatText(raw string) (string, error) {
	if len(raw) > maxChatRawBytes {
		return "", errChatTooLong
	}
	if !utf8.ValidString(raw) {
		return "", errChatEncoding
	}
	text := strings.TrimSpace(plainText(raw))
	if strings.IndexFunc(text, badTextRune) >= 0 {
		return "", errChatControl
	}
	switch n := utf8.RuneCountInString(text); {
	case n == 0:
		return "", errChatEmpty
	case n > maxChatChars:
		return "", errChatTooLong
	}
	return text, nil
}

// checkRoomName returns the name as plain text: one line, 1 to
// maxRoomNameChars characters once markup is stripped and the name
// trimmed.
func checkRoomName(p *problem.Problem, raw *string) string {
	if raw == nil {
		required(p, "name")
		return ""
	}
	name := strings.TrimSpace(plainText(*raw))
	if strings.ContainsAny(name, "\r\n") || strings.IndexFunc(name, badTextRune) >= 0 {
		p.WithField("name", "Control characters are not allowed.")
		return ""
	}
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		p.WithField("name", "This field is required; markup does not count.")
	case n > maxRoomNameChars:
		p.WithField("name", "Use at most "+strconv.Itoa(maxRoomNameChars)+" characters.")
	}
	return name
}

// postChatMessage validates text, checks membership, stores the message and calls s.notifyChatMessage with every member's user id. errNotMember when the user is not (or no longer) a member or the room does not exist.
// A refused text is a chatTextError; other errors are the database's.
// The author's username is looked up before anything is stored, so that
// a stored message is always announced.
func (s *Service) postChatMessage(ctx context.Context, roomID int64, userID, text string) (chatMessage, error) {
	body, err := chatText(text)
	if err != nil {
		return chatMessage{}, err
	}
	if roomID < 1 || userID == "" {
		return chatMessage{}, errNotMember
	}
	names, err := s.usernames(ctx, []string{userID})
	if err != nil {
		return chatMessage{}, dbErr(err)
	}
	now := unixMS(s.now())
	id, members, err := s.insertMessage(ctx, roomID, userID, body, now)
	if err != nil {
		return chatMessage{}, err
	}
	m := chatMessage{ID: id, RoomID: roomID, UserID: userID, Username: names[userID], Body: body, CreatedAt: msTime(now)}
	// The message is stored: it is announced even if the sender's
	// connection goes away meanwhile.
	s.notifyChatMessage(context.WithoutCancel(ctx), m, members)
	return m, nil
}

// roomOf loads the room the path names, if the caller is one of its
// members; otherwise it has answered 404 (the same for an unknown, a
// malformed and someone else's room) or 503, and returns false.
func (c *chat) roomOf(w http.ResponseWriter, r *http.Request) (roomRow, bool) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		c.fail(w, r, errNotMember)
		return roomRow{}, false
	}
	v, err := c.memberRoom(r.Context(), id, callerID(r))
	if err != nil {
		c.fail(w, r, err)
		return roomRow{}, false
	}
	return v, true
}

// roomViews turns rows into answers, with the creators' usernames looked
// up for the whole page at once.
func (c *chat) roomViews(ctx context.Context, rows []roomRow) ([]roomView, error) {
	ids := make([]string, len(rows))
	for i, v := range rows {
		ids[i] = v.CreatedBy
	}
	names, err := c.Service.usernames(ctx, ids)
	if err != nil {
		return nil, dbErr(err)
	}
	out := make([]roomView, len(rows))
	for i, v := range rows {
		out[i] = roomView{ID: v.ID, Name: plainText(v.Name), CreatedAt: msTime(v.CreatedAt)}
		if name, ok := names[v.CreatedBy]; ok {
			out[i].CreatedBy = &name
		}
	}
	return out, nil
}

func (c *chat) handleRooms(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	me := callerID(r)
	p, ok := readPage(w, r, chatRoomsKeyset, "chat_rooms")
	if !ok {
		return
	}
	count, err := c.countRows(ctx, `chat_members m`, `m.user_id = ?`, []any{me})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	rows, err := c.listMyRooms(ctx, me, p)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	views, err := c.roomViews(ctx, rows)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	// rows and views line up, so a view's id is its row's key.
	warden.WriteJSON(w, http.StatusOK, pageOf(p, count, views, func(v roomView) []any { return []any{v.ID} }, func(v roomView) roomView { return v }))
}

func (c *chat) handleCreateRoom(w http.ResponseWriter, r *http.Request) {
	var in roomInput
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	verr := problem.New(http.StatusBadRequest, "The request has invalid fields.")
	name := checkRoomName(verr, in.Name)
	if len(verr.Fields) > 0 {
		verr.Write(w)
		return
	}
	v, err := c.createRoom(r.Context(), name, callerID(r))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	views, err := c.roomViews(r.Context(), []roomRow{v})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	warden.WriteJSON(w, http.StatusCreated, views[0])
}

func (c *chat) handleAddMember(w http.ResponseWriter, r *http.Request) {
	room, ok := c.roomOf(w, r)
	if !ok {
		return
	}
	if room.CreatedBy != callerID(r) {
		c.fail(w, r, errNotCreator)
		return
	}
	var in memberInput
	if !secure.DecodeJSON(w, r, &in) {
		return
	}
	if in.Username == nil || *in.Username == "" {
		verr := problem.New(http.StatusBadRequest, "The request has invalid fields.")
		required(verr, "username")
		verr.Write(w)
		return
	}
	// The name is resolved exactly as the {username} of /api/users
	// routes is, visibility included: visibleUser reads it from the
	// path, so it is put there (this route's pattern has no such
	// wildcard of its own).
	r.SetPathValue("username", *in.Username)
	u, _, err := c.visibleUser(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := c.addRoomMember(r.Context(), room.ID, u.ID); err != nil {
		c.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *chat) handleRemoveMember(w http.ResponseWriter, r *http.Request) {
	room, ok := c.roomOf(w, r)
	if !ok {
		return
	}
	me := callerID(r)
	u, err := c.userByPath(r)
	if err != nil && !errors.Is(err, errNoSuchUser) {
		c.fail(w, r, err)
		return
	}
	// A member who is not the creator may remove themselves only; any
	// other name is 403 before it is looked at any further, so that the
	// answer does not depend on whether it names an account.
	if room.CreatedBy != me && (err != nil || u.ID != me) {
		c.fail(w, r, errNotCreator)
		return
	}
	if err != nil {
		c.fail(w, r, errMemberNotFound)
		return
	}
	if err := c.removeRoomMember(r.Context(), room.ID, u.ID); err != nil {
		c.fail(w, r, err)
		return
	}
	c.log.LogAttrs(r.Context(), slog.LevelInfo, "chat member removed", slog.Int64("room_id", room.ID), slog.String("user_id", u.ID), slog.String("by", me))
	// The removal is committed: the removed member's sockets must close
	// even if the caller hangs up now (docs/API.md: within 5 s).
	c.notifyMemberRemoved(context.WithoutCancel(r.Context()), room.ID, u.ID)
	w.WriteHeader(http.StatusNoContent)
}

func (c *chat) handleMessages(w http.ResponseWriter, r *http.Request) {
	room, ok := c.roomOf(w, r)
	if !ok {
		return
	}
	// The room is part of the scope: a cursor of one room's history is
	// refused by another's.
	p, ok := readPage(w, r, chatMessagesKeyset, "chat_messages\x00room="+strconv.FormatInt(room.ID, 10))
	if !ok {
		return
	}
	ctx := r.Context()
	rows, err := c.listMessages(ctx, room.ID, p)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ids := make([]string, len(rows))
	for i, m := range rows {
		ids[i] = m.UserID
	}
	names, err := c.Service.usernames(ctx, ids)
	if err != nil {
		c.fail(w, r, dbErr(err))
		return
	}
	// The count is the room's kept one, read with the membership check:
	// no COUNT(*) over a long history on every page.
	list := pageOf(p, room.Messages, rows, func(m messageRow) []any { return []any{m.ID} }, func(m messageRow) messageView {
		v := messageView{ID: m.ID, RoomID: m.RoomID, Message: plainText(m.Body), Timestamp: msTime(m.CreatedAt)}
		if name, ok := names[m.UserID]; ok {
			v.User = &name
		}
		return v
	})
	warden.WriteJSON(w, http.StatusOK, list)
}

// Sentences of the chat's refusals.
const (
	chatNoRoom   = "No chat room you are a member of has this id."
	chatNoMember = "This room has no member with this username."
)

// fail answers err without internal details; what is not the chat's own
// is answered as the social routes answer it.
func (c *chat) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errNotMember):
		problem.Write(w, http.StatusNotFound, chatNoRoom)
	case errors.Is(err, errMemberNotFound):
		problem.Write(w, http.StatusNotFound, chatNoMember)
	case errors.Is(err, errNotCreator):
		guard.Deny(w, auth.FromContext(r.Context()))
	case errors.Is(err, errTooManyRooms):
		problem.Write(w, http.StatusConflict, "You have created "+strconv.Itoa(maxRoomsPerUser)+" chat rooms, the most one user may create.")
	case errors.Is(err, errRoomFull):
		problem.Write(w, http.StatusConflict, "This room has "+strconv.Itoa(maxRoomMembers)+" members, the most a room may have.")
	default:
		c.social.fail(w, r, err)
	}
}

// The Doc options of the /api/chat/rooms routes.

// newRoomDoc and newMemberDoc are roomInput and memberInput as
// documented: the member required.
type newRoomDoc struct {
	Name string `json:"name"`
}

type newMemberDoc struct {
	Username string `json:"username"`
}

var (
	chatBusy     = warden.Problem("The database is not answering; retry after Retry-After.")
	chatNotFound = warden.Problem("No room has this id, or the caller is not one of its members: the two answers are identical.")
	roomIDParam  = warden.Param{Name: "id", Type: int64(0), Description: "The room's id."}
)

var (
	docChatRooms = warden.Doc(warden.Operation{
		Summary:     "The caller's chat rooms",
		Description: "The rooms the caller is a member of, newest room first.",
		Query:       pageParams,
		Responses: map[int]any{
			200: listView[roomView]{},
			400: warden.Problem("A paging parameter is invalid."),
			503: chatBusy,
		},
	})
	docCreateRoom = warden.Doc(warden.Operation{
		Summary: "Create a chat room",
		Description: "name is plain text (markup removed), 1 to 100 characters once trimmed. The caller is the room's creator and its first member. " +
			"Limited per user (policy chat_rooms: 10 at once, then one a minute; 429 with Retry-After), and a user may create at most " + strconv.Itoa(maxRoomsPerUser) + " rooms (409), rooms they have left included.",
		Request: newRoomDoc{},
		Responses: map[int]any{
			201: roomView{},
			400: warden.Problem("Invalid name: missing, empty once markup is removed, over 100 characters, or holding control characters."),
			409: warden.Problem("The caller has created 100 rooms, the most one user may create."),
			503: chatBusy,
		},
	})
	docAddMember = warden.Doc(warden.Operation{
		Summary: "Add a member to a chat room",
		Description: "For the room's creator only. The user must be one whose profile the creator may see (an unknown username and a hidden profile answer the same 404). " +
			"Adding a member again answers 204 and changes nothing. A room holds at most " + strconv.Itoa(maxRoomMembers) + " members (409).",
		Path:    []warden.Param{roomIDParam},
		Request: newMemberDoc{},
		Responses: map[int]any{
			204: nil,
			400: warden.Problem("username is missing or empty."),
			403: warden.Problem("The caller is a member but not the room's creator."),
			404: warden.Problem("No room the caller is a member of has this id; or no user the caller may see has this username."),
			409: warden.Problem("The room has 1000 members, the most a room may have."),
			503: chatBusy,
		},
	})
	docRemoveMember = warden.Doc(warden.Operation{
		Summary: "Remove a member from a chat room, or leave it",
		Description: "The creator may remove any member, themselves included (a creator who leaves loses the room like any member, and nobody can add members after that); any other member may remove only themselves (their username, or me). " +
			"The removed member loses the room's history at once and their open sockets in the room are closed; their messages stay.",
		Path: []warden.Param{roomIDParam, {Name: "username", Description: "The member's username, or me for the caller."}},
		Responses: map[int]any{
			204: nil,
			403: warden.Problem("The caller is not the room's creator and named someone else (whether or not the name is an account or a member)."),
			404: warden.Problem("No room the caller is a member of has this id; or, for the creator, the room has no member with this username (the same for an unknown username)."),
			503: chatBusy,
		},
	})
	docChatMessages = warden.Doc(warden.Operation{
		Summary:     "A chat room's history",
		Description: "For members only. Messages newest first; message is plain text, timestamp RFC 3339 in UTC. Follow next (a cursor) to page back: each page costs the same however deep.",
		Path:        []warden.Param{roomIDParam},
		Query:       pageParams,
		Responses: map[int]any{
			200: listView[messageView]{},
			400: warden.Problem("A paging parameter is invalid, or the cursor belongs to another list."),
			404: chatNotFound,
			503: chatBusy,
		},
	})
)
