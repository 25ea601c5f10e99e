package ws_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/wardenhq/warden/ws"
)

// FuzzClientFrames sends arbitrary bytes after a valid opening handshake
// and checks that the server survives it: no panic, the connection ends
// once the peer hangs up, and its slot is released.
func FuzzClientFrames(f *testing.F) {
	cat := func(frames ...[]byte) []byte { return bytes.Join(frames, nil) }
	text := func(s string) []byte { return frame(0x1, true, []byte(s)) }
	huge := []byte{0x81, 0xff}
	huge = binary.BigEndian.AppendUint64(huge, 1<<62)
	huge = append(huge, 0, 0, 0, 0, 'x')
	for _, seed := range [][]byte{
		{},
		text("hello"),
		cat(text(`{"message":"hi"}`), text("again")),
		frame(0x2, true, []byte{1, 2, 3}),
		frame(0x9, true, []byte("ping")),
		frame(0xa, true, []byte("unsolicited pong")),
		frame(0x8, true, []byte{0x03, 0xe8, 'b', 'y', 'e'}),
		frame(0x8, true, []byte{0x03}),       // close payload too short
		frame(0x8, true, []byte{0x03, 0xed}), // close code 1005 may not be sent
		cat(frame(0x1, false, []byte("he")), frame(0x9, true, nil), frame(0x0, true, []byte("llo"))),
		frame(0x0, true, []byte("orphan continuation")),
		cat(frame(0x1, false, []byte("a")), text("interleaved")),
		frame(0x1, true, bytes.Repeat([]byte("x"), 2000)), // over the read limit
		cat(frame(0x1, false, bytes.Repeat([]byte("x"), 1000)), frame(0x0, true, bytes.Repeat([]byte("x"), 100))),
		huge,
		{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}, // unmasked
		{0xc1, 0x80, 0, 0, 0, 0},              // RSV1 without compression
		frame(0x3, true, []byte("reserved opcode")),
		text("bad \xc3\x28 utf-8"),
		frame(0x9, true, bytes.Repeat([]byte("p"), 200)), // control frame over 125 bytes
		frame(0x9, false, []byte("fragmented ping")),
		bytes.Repeat(text("flood"), 20),
		{0x81, 0xfe, 0x00}, // truncated extended length
	} {
		f.Add(seed)
	}
	h := newHarness(f, ws.Config{ReadLimit: 1024, MessageBurst: 5, WriteTimeout: time.Second}, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			t.Skip("larger inputs add nothing but time")
		}
		nc, _ := rawDial(t, h)
		var sc *ws.Conn
		select {
		case sc = <-h.newConn:
		case <-time.After(wait):
			t.Fatal("server did not report the connection")
		}
		_ = nc.SetWriteDeadline(time.Now().Add(wait))
		_, _ = nc.Write(data) // the server may hang up first
		_ = nc.Close()
		waitDone(t, sc)
		eventually(t, func() bool { return h.srv.Stats().Active == 0 }, "slot released")
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.panics) > 0 {
			t.Fatalf("handler panicked: %v", h.panics)
		}
	})
}
