package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/password"
)

// seed fills a freshly migrated Warden database (warden migrate) with
// the fixture, straight through SQL: the topology's users, its rooms
// (created by their first member) and every membership.
//
// The API would hash a password per account (Argon2id, about 37 ms here:
// six minutes for 10,000 users) and limits how fast rooms are created and
// members added; none of that is what this benchmark measures, and nobody
// logs in: the generator mints access tokens with the server's key. All
// accounts share one password hash, of a random password nobody knows.
func seed(ctx context.Context, dbPath string, t topology) error {
	db, err := store.Open(ctx, "sqlite://"+dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, err := auth.RandomToken(24)
	if err != nil {
		return err
	}
	var hasher password.Hasher
	hash, err := hasher.Hash(ctx, secret)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().UnixMilli()
	users, err := tx.PrepareContext(ctx, `INSERT INTO users (id, username, username_key, username_norm, email, email_key,
		password_hash, email_verified, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	for i := range t.users() {
		name := username(i)
		email := name + "@example.com"
		// username_key and username_norm are the lower-cased name for
		// the names this fixture uses (see accounts' usernameKey).
		lower := strings.ToLower(name)
		if _, err := users.ExecContext(ctx, userID(i), name, lower, lower, email, strings.ToLower(email), hash, true, now, now); err != nil {
			return fmt.Errorf("user %d: %w", i, err)
		}
	}
	members, err := tx.PrepareContext(ctx, `INSERT INTO chat_members (room_id, user_id, added_at) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	for room := int64(1); room <= int64(t.Rooms); room++ {
		if _, err := tx.ExecContext(ctx, `INSERT INTO chat_rooms (id, name, created_by, created_at) VALUES (?, ?, ?, ?)`,
			room, fmt.Sprintf("Benchmark room %d", room), userID(t.member(room, 0)), now); err != nil {
			return fmt.Errorf("room %d: %w", room, err)
		}
		for k := range t.Members {
			if _, err := members.ExecContext(ctx, room, userID(t.member(room, k)), now); err != nil {
				return fmt.Errorf("room %d member %d: %w", room, k, err)
			}
		}
	}
	return tx.Commit()
}
