-- Chat rooms, their members and their messages; see the SQLite migration
-- for the choices. VARCHAR lengths count characters under utf8mb4: the
-- service checks the same limits in characters (a room name at most 100,
-- a message at most 1000). Foreign keys need an index on room_id: the
-- primary key of chat_members and chat_messages_room lead with it.

-- +goose Up
CREATE TABLE chat_rooms (
    id             BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name           VARCHAR(100) NOT NULL,
    created_by     VARCHAR(64) NOT NULL,
    created_at     BIGINT NOT NULL,
    message_count  BIGINT NOT NULL DEFAULT 0,
    INDEX chat_rooms_created_by (created_by)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE chat_members (
    room_id   BIGINT NOT NULL,
    user_id   VARCHAR(64) NOT NULL,
    added_at  BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id),
    INDEX chat_members_user (user_id, room_id),
    FOREIGN KEY (room_id) REFERENCES chat_rooms(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE chat_messages (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    room_id     BIGINT NOT NULL,
    user_id     VARCHAR(64) NOT NULL,
    body        VARCHAR(1000) NOT NULL,
    created_at  BIGINT NOT NULL,
    INDEX chat_messages_room (room_id, id),
    FOREIGN KEY (room_id) REFERENCES chat_rooms(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE chat_messages;
DROP TABLE chat_members;
DROP TABLE chat_rooms;
