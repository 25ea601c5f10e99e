package main

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The fixture every process of the benchmark agrees on: the seeding of
// Warden's database, both baseline hubs and the generator derive users,
// rooms and messages from the same numbers, so that the baseline sends
// the same bytes as Warden (ids, usernames and texts of equal length).

// topology is the chat fixture: Rooms rooms of Members members each;
// user i is a member of room i/Members+1 only. Room ids start at 1.
type topology struct {
	Rooms   int `json:"rooms"`
	Members int `json:"members"`
}

func (t topology) users() int { return t.Rooms * t.Members }

// roomOf is the one room user i belongs to.
func (t topology) roomOf(i int) int64 { return int64(i/t.Members) + 1 }

// member is the k-th member (from 0) of room.
func (t topology) member(room int64, k int) int { return int(room-1)*t.Members + k }

// userID is user i's account id, shaped like Warden's (a UUID).
func userID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1) }

// username is user i's username.
func username(i int) string { return fmt.Sprintf("rt%06d", i+1) }

// userIndex inverts userID; ok is false for anything else.
func userIndex(id string) (int, bool) {
	const prefix = "00000000-0000-4000-8000-"
	if len(id) != len(prefix)+12 || !strings.HasPrefix(id, prefix) {
		return 0, false
	}
	n, err := strconv.Atoi(id[len(prefix):])
	if err != nil || n < 1 {
		return 0, false
	}
	return n - 1, true
}

// chatTime is a message's time as Warden's chat keeps it: milliseconds,
// in UTC (encoding/json renders it in RFC 3339, trailing zeros dropped).
func chatTime(t time.Time) time.Time {
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// Chat message texts carry their own send time and sequence number, so
// that a receiver measures the latency from the generator's clock without
// any table: "<unix ns, 19 digits>-<seq, 10 digits> " and then letters
// up to the message's size. Markup stripping and trimming leave such a
// text unchanged.
const (
	stampDigits = 19
	seqDigits   = 10
	stampLen    = stampDigits + 1 + seqDigits
	// minMessageBytes is the shortest text that holds a stamp.
	minMessageBytes = stampLen + 2
)

// messageText returns a text of size bytes (at least minMessageBytes)
// stamped with sent and seq.
func messageText(sent time.Time, seq uint64, size int) string {
	size = max(size, minMessageBytes)
	var b strings.Builder
	b.Grow(size)
	fmt.Fprintf(&b, "%0*d-%0*d ", stampDigits, sent.UnixNano(), seqDigits, seq%1e10)
	for i := 0; b.Len() < size; i++ {
		b.WriteByte('a' + byte(i%26))
	}
	return b.String()
}

// messageKey precedes the text in both Warden's and the baselines' JSON
// (the SSE event's data and the WebSocket frame).
var messageKey = []byte(`"message":"`)

// parseStamp finds the stamp of the chat message in a JSON payload (an
// event's data or a WebSocket frame) without decoding the rest of it,
// which would cost the generator more than the server spends on some
// deliveries. ok is false when payload holds no well-formed stamp.
func parseStamp(payload []byte) (sentNS int64, seq uint64, ok bool) {
	i := bytes.Index(payload, messageKey)
	if i < 0 {
		return 0, 0, false
	}
	p := payload[i+len(messageKey):]
	if len(p) < stampLen || p[stampDigits] != '-' {
		return 0, 0, false
	}
	ns, ok1 := digits(p[:stampDigits])
	s, ok2 := digits(p[stampDigits+1 : stampLen])
	if !ok1 || !ok2 || ns > 1<<62 {
		return 0, 0, false
	}
	return int64(ns), s, true
}

// digits parses a run of at most 19 ASCII digits.
func digits(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
