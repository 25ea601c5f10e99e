-- Chat rooms, their members and their messages (docs/API.md, the book
-- club).
--
-- User ids are the accounts feature's; as for books and reviews, there is
-- no foreign key to the accounts tables, which belong to that feature.
-- Within the chat's own tables, members and messages go with their room
-- (ON DELETE CASCADE): no route deletes a room today, but an operator's
-- DELETE leaves nothing behind.
--
-- chat_rooms: name is plain text. message_count is the number of the
-- room's messages, kept in the same transaction as every insert, so that
-- a page of history never costs a COUNT(*) over the room's messages; the
-- UPDATE that bumps it also holds the room's row while a message is
-- stored, so that one room's message ids are committed in order and a
-- cursor never skips a message committed late. created_by is indexed for
-- the cap on the rooms one user may create.
--
-- chat_members: one row per member. The primary key answers "is this user
-- a member of this room" and lists a room's members; chat_members_user
-- lists a user's rooms, newest room first (the keyset of GET
-- /api/chat/rooms is the room id).
--
-- chat_messages: body is plain text, 1 to 1000 characters. The integer id
-- orders a room's history; chat_messages_room is the index a cursor page
-- walks (WHERE room_id = ? AND id < ? ORDER BY id DESC LIMIT n), so a deep
-- page costs what the first does.

-- +goose Up
CREATE TABLE chat_rooms (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    message_count  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX chat_rooms_created_by ON chat_rooms(created_by);

CREATE TABLE chat_members (
    room_id   INTEGER NOT NULL REFERENCES chat_rooms(id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL,
    added_at  BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX chat_members_user ON chat_members(user_id, room_id);

CREATE TABLE chat_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id     INTEGER NOT NULL REFERENCES chat_rooms(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX chat_messages_room ON chat_messages(room_id, id);

-- +goose Down
DROP TABLE chat_messages;
DROP TABLE chat_members;
DROP TABLE chat_rooms;
