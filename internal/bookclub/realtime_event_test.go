package bookclub

import (
	"bytes"
	"testing"
)

// FuzzDecodeEvent: any bytes on the shared bus decode to an event or are
// refused, never panic; what encode writes decodes to the same event.
func FuzzDecodeEvent(f *testing.F) {
	f.Add(event{Kind: kindChatMessage, Frame: []byte(`{"type":"chat_message"}`), Data: []byte(`{"room_id":1}`)}.encode())
	f.Add(event{Kind: kindMemberRemoved, Subject: "user-1"}.encode())
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, payload []byte) {
		e, ok := decodeEvent(payload)
		if !ok {
			return
		}
		if again := e.encode(); !bytes.Equal(again, payload) {
			t.Fatalf("decode then encode changed the bytes: %x -> %x", payload, again)
		}
	})
}
