package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary play this program's children: the
// baseline hub and the load generator.
func TestMain(m *testing.M) {
	if handled, err := child(); handled {
		if err != nil {
			fmt.Fprintln(os.Stderr, "realtime:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs the whole benchmark tiny (-smoke): warden builds, the
// fixture seeds, both sides serve streams and sockets in processes of
// their own, and every message reaches every receiver with no error and
// payloads of the same size on both sides. It asserts nothing about
// speed.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds warden and runs servers and a generator in other processes")
	}
	var out bytes.Buffer
	code, err := run(smokeOptions(defaultOptions()), &out)
	if err != nil || code != 0 {
		t.Fatalf("exit %d: %v\n%s", code, err, out.String())
	}
	for _, want := range []string{"events delivered per second", "most: deliveries per second", "**"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestStampInPayloads: the stamp survives the JSON of both transports,
// as both baseline hubs (and Warden) render it.
func TestStampInPayloads(t *testing.T) {
	sent := time.Unix(1_700_000_000, 123_456_789)
	text := messageText(sent, 4242, 64)
	if len(text) != 64 {
		t.Fatalf("text of %d bytes, want 64", len(text))
	}
	frame, _ := json.Marshal(hubFrame{Type: "chat_message", Message: text, User: username(7), Timestamp: chatTime(sent)})
	event, _ := json.Marshal(hubEvent{RoomID: 3, Message: text, User: username(7), Timestamp: chatTime(sent)})
	for _, payload := range [][]byte{frame, event} {
		ns, seq, ok := parseStamp(payload)
		if !ok || ns != sent.UnixNano() || seq != 4242 {
			t.Errorf("parseStamp(%s) = %d, %d, %v", payload, ns, seq, ok)
		}
	}
	if !bytes.HasPrefix(frame, []byte(`{"type":"chat_message"`)) {
		t.Errorf("frame %s does not start as Warden's", frame)
	}
}

func TestParseStampRefuses(t *testing.T) {
	for _, in := range []string{
		``,
		`{"message":"hello"}`,
		`{"message":"0000000000000000001 0000000001 "}`, // no dash
		`{"message":"000000000000000000x-0000000001 "}`,
		`{"message":"0000000000000000001-000000001"}`,   // short
		`{"message":"9999999999999999999-0000000001 "}`, // beyond int64 time
		`{"msg":"0000000000000000001-0000000001 "}`,
	} {
		if ns, seq, ok := parseStamp([]byte(in)); ok {
			t.Errorf("parseStamp(%q) = %d, %d, true; want refused", in, ns, seq)
		}
	}
}

func TestEventParser(t *testing.T) {
	stream := "retry: 5000\n\n: heartbeat\n\nevent: follower\ndata: {\"username\":\"x\"}\n\n" +
		"event: chat_message\r\ndata: {\"a\":1}\r\n\r\ndata: {\"b\":2}\n\nevent:chat_message\ndata:{\"c\":3}\n\n"
	var p eventParser
	var got []string
	for _, line := range strings.SplitAfter(stream, "\n") {
		if data, ok := p.line([]byte(line)); ok {
			got = append(got, string(data))
		}
	}
	want := []string{`{"a":1}`, `{"c":3}`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("chat data %q, want %q (a data line without its event, or of another event, is not chat)", got, want)
	}
}

func TestParseGCLine(t *testing.T) {
	line := "gc 12 @3.456s 2%: 0.011+0.35+0.003 ms clock, 0.022+0.10/0.23/0.21+0.007 ms cpu, 40->42->21 MB, 44 MB goal, 3 MB stacks, 0 MB globals, 2 P"
	g, ok := parseGCLine(line)
	if !ok || g.At != 3456*time.Millisecond || g.LiveMB != 21 || g.GoalMB != 44 || g.StacksMB != 3 {
		t.Fatalf("parseGCLine = %+v, %v", g, ok)
	}
	for _, bad := range []string{"", "gc 1", `{"level":"INFO","msg":"gc 1 @1s"}`, "gc 1 @xs 1%: 1->2->3 MB, 4 MB goal"} {
		if g, ok := parseGCLine(bad); ok {
			t.Errorf("parseGCLine(%q) = %+v, true", bad, g)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for us := 1; us <= 10000; us++ {
		h.record(time.Duration(us) * time.Microsecond)
	}
	q := h.quantiles(0.5, 0.99, 1)
	for i, want := range []float64{5, 9.9, 10} {
		if q[i] < want*0.93 || q[i] > want*1.07 {
			t.Errorf("quantile %d = %.3f ms, want %.1f ms within 7%%", i, q[i], want)
		}
	}
	var empty histogram
	if q := empty.quantiles(0.99); q[0] != 0 {
		t.Errorf("empty histogram p99 = %v", q[0])
	}
}

func TestTopology(t *testing.T) {
	top := topology{Rooms: 3, Members: 4}
	for i := range top.users() {
		got, ok := userIndex(userID(i))
		if !ok || got != i {
			t.Fatalf("userIndex(userID(%d)) = %d, %v", i, got, ok)
		}
		room := top.roomOf(i)
		if top.member(room, i%top.Members) != i {
			t.Fatalf("user %d is not member %d of room %d", i, i%top.Members, room)
		}
	}
	for _, bad := range []string{"", "00000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-00000000000x", "x"} {
		if _, ok := userIndex(bad); ok {
			t.Errorf("userIndex(%q) accepted", bad)
		}
	}
}

// FuzzParseStamp: any payload is parsed without panic, and a stamped text
// is always found again in its JSON.
func FuzzParseStamp(f *testing.F) {
	f.Add([]byte(`{"message":"0000000000000000001-0000000001 abc"}`), int64(1), uint64(1))
	f.Add([]byte(`"message":"`), int64(0), uint64(0))
	f.Fuzz(func(t *testing.T, payload []byte, ns int64, seq uint64) {
		parseStamp(payload)
		if ns < 0 || ns > 1<<62 {
			return
		}
		text := messageText(time.Unix(0, ns), seq, 40)
		b, _ := json.Marshal(hubEvent{Message: text})
		got, gotSeq, ok := parseStamp(b)
		if !ok || got != ns || gotSeq != seq%1e10 {
			t.Fatalf("stamp %d/%d read back as %d/%d %v from %s", ns, seq, got, gotSeq, ok, b)
		}
	})
}

// FuzzEventParser: any line is taken without panic, and data is only
// ever returned from a data line.
func FuzzEventParser(f *testing.F) {
	f.Add([]byte("event: chat_message\n"), []byte("data: {}\n"))
	f.Add([]byte(":\n"), []byte("\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var p eventParser
		for _, line := range [][]byte{a, b} {
			if data, ok := p.line(line); ok && !bytes.HasPrefix(line, []byte("data:")) {
				t.Fatalf("data %q from line %q", data, line)
			}
		}
	})
}

// FuzzParseGCLine: server logs are read line by line without panic.
func FuzzParseGCLine(f *testing.F) {
	f.Add("gc 1 @0.012s 2%: 0.011+0.35+0.003 ms clock, 0.02+0.1/0.2/0.2+0.007 ms cpu, 3->4->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P")
	f.Add("gc 1 @1s , ->-> MB, MB goal, MB stacks")
	f.Fuzz(func(t *testing.T, line string) { parseGCLine(line) })
}
