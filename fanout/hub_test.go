package fanout_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/fanout"
	"github.com/wardenhq/warden/fanout/fanouttest"
	"github.com/wardenhq/warden/fanout/redisfanout"
	"github.com/wardenhq/warden/internal/logtest"
	"github.com/wardenhq/warden/internal/redisconn/redistest"
)

var (
	ctx   = context.Background()
	quiet = slog.New(slog.DiscardHandler)
)

// hubChannel is the bus channel of every Hub here.
const hubChannel = "events"

// forEachBus runs f against buses shared by two instances: one Memory
// twice, and, when WARDEN_TEST_REDIS_URL is set, two Redis clients under
// a prefix of the test's own.
func forEachBus(t *testing.T, f func(t *testing.T, a, b fanout.Bus)) {
	t.Run("memory", func(t *testing.T) {
		m := fanout.NewMemory()
		f(t, m, m)
	})
	t.Run("redis", func(t *testing.T) {
		prefix := redistest.Prefix(t)
		f(t, redisfanout.New(redistest.Open(t), prefix), redisfanout.New(redistest.Open(t), prefix))
	})
}

// startHub starts a Hub on bus, closed when the test ends.
func startHub(t testing.TB, bus fanout.Bus, opts fanout.HubOptions) *fanout.Hub {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	h := fanout.NewHub(bus, hubChannel, opts)
	if err := h.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func receive(t testing.TB, l *fanout.Listener, want string) {
	t.Helper()
	m, ok := fanouttest.Receive(t, l.C())
	if !ok {
		t.Fatalf("listener closed (Err %v), want %q", l.Err(), want)
	}
	if m != want {
		t.Fatalf("got %q, want %q", m, want)
	}
}

// settle returns once every message pub published before it has been
// dispatched by each of subs: a bus delivers one publisher's messages in
// order, so a marker published after them arrives after them.
func settle(t testing.TB, pub *fanout.Hub, subs ...*fanout.Hub) {
	t.Helper()
	var ls []*fanout.Listener
	for _, s := range subs {
		l := s.Listen("test:settle")
		defer l.Close()
		ls = append(ls, l)
	}
	if err := pub.Publish(ctx, []byte("settle"), "test:settle"); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	for _, l := range ls {
		receive(t, l, "settle")
	}
}

// none fails the test if any of ls holds a message or is closed.
func none(t testing.TB, ls ...*fanout.Listener) {
	t.Helper()
	for i, l := range ls {
		select {
		case m, ok := <-l.C():
			t.Errorf("listener %d: unexpected %q (open %v, Err %v)", i, m, ok, l.Err())
		default:
		}
	}
}

func wantStats(t testing.TB, h *fanout.Hub, listeners, keys int) {
	t.Helper()
	if s := h.Stats(); s.Listeners != listeners || s.Keys != keys {
		t.Errorf("Stats: %d listeners on %d keys, want %d on %d", s.Listeners, s.Keys, listeners, keys)
	}
}

// A message published through one instance reaches the listeners of its
// keys on both, each once, however often a key is named.
func TestHubDeliversToEveryInstance(t *testing.T) {
	forEachBus(t, func(t *testing.T, a, b fanout.Bus) {
		ha, hb := startHub(t, a, fanout.HubOptions{}), startHub(t, b, fanout.HubOptions{})
		roomA, roomB, roomB2 := ha.Listen("room:1"), hb.Listen("room:1"), hb.Listen("room:1")
		userB, other := hb.Listen("user:7"), ha.Listen("room:2")

		if err := ha.Publish(ctx, []byte("hello"), "room:1", "user:7", "room:1", "user:404"); err != nil {
			t.Fatal(err)
		}
		for _, l := range []*fanout.Listener{roomA, roomB, roomB2, userB} {
			receive(t, l, "hello")
		}
		if err := hb.Publish(ctx, []byte("reply"), "room:1"); err != nil {
			t.Fatal(err)
		}
		for _, l := range []*fanout.Listener{roomA, roomB, roomB2} {
			receive(t, l, "reply")
		}
		settle(t, ha, ha, hb)
		settle(t, hb, ha, hb)
		none(t, roomA, roomB, roomB2, userB, other)
	})
}

// A message for a room and each of its 1,000 members is one bus message,
// and each member's listener receives it once.
func TestHubPublishIsOneBusMessage(t *testing.T) {
	forEachBus(t, func(t *testing.T, a, b fanout.Bus) {
		ha, hb := startHub(t, a, fanout.HubOptions{}), startHub(t, b, fanout.HubOptions{})
		raw, cancel, err := b.Subscribe(ctx, hubChannel)
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		keys := []string{"room:1"}
		var ls []*fanout.Listener
		for i := range 1000 {
			keys = append(keys, "user:"+strconv.Itoa(i))
			ls = append(ls, hb.Listen(keys[len(keys)-1]))
		}
		ls = append(ls, ha.Listen("room:1"), hb.Listen("room:1"))

		if err := ha.Publish(ctx, []byte("chat message"), keys...); err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			receive(t, l, "chat message")
		}
		settle(t, ha, ha, hb)
		none(t, ls...)
		if m, _ := fanouttest.Receive(t, raw); !strings.HasSuffix(m, "chat message") {
			t.Fatalf("first bus message: %q", m)
		}
		if m, _ := fanouttest.Receive(t, raw); !strings.HasSuffix(m, "settle") {
			t.Errorf("second bus message is not the settling one: the publish took more than one: %.40q", m)
		}
	})
}

// A listener that does not read is dropped once its buffer is full, and
// learns why; the others on its key go on receiving.
func TestHubDropsSlowListener(t *testing.T) {
	forEachBus(t, func(t *testing.T, a, _ fanout.Bus) {
		const buffer = 2
		h := startHub(t, a, fanout.HubOptions{Buffer: buffer})
		slow, fast := h.Listen("k"), h.Listen("k")
		for i := range 10 {
			if err := h.Publish(ctx, []byte(strconv.Itoa(i)), "k"); err != nil {
				t.Fatal(err)
			}
			receive(t, fast, strconv.Itoa(i))
		}
		settle(t, h, h)
		var got []string
		for m := range slow.C() {
			got = append(got, string(m))
		}
		if strings.Join(got, ",") != "0,1" {
			t.Errorf("the slow listener got %q, want its buffer of %d", got, buffer)
		}
		if err := slow.Err(); !errors.Is(err, fanout.ErrSlowSubscriber) {
			t.Errorf("slow Err: %v, want ErrSlowSubscriber", err)
		}
		slow.Close()
		if err := slow.Err(); !errors.Is(err, fanout.ErrSlowSubscriber) {
			t.Errorf("slow Err after Close: %v, want ErrSlowSubscriber", err)
		}
		if err := fast.Err(); err != nil {
			t.Errorf("fast Err: %v", err)
		}
		if s := h.Stats(); s.Listeners != 1 || s.Keys != 1 || s.Dropped != 1 {
			t.Errorf("Stats %+v, want 1 listener on 1 key, 1 dropped", s)
		}
		if err := h.Publish(ctx, []byte("still"), "k"); err != nil {
			t.Fatal(err)
		}
		receive(t, fast, "still")
	})
}

func TestHubCloseClosesListeners(t *testing.T) {
	bus := fanout.NewMemory()
	h := startHub(t, bus, fanout.HubOptions{})
	withMessage, empty := h.Listen("a"), h.Listen("b")
	if err := h.Publish(ctx, []byte("buffered"), "a"); err != nil {
		t.Fatal(err)
	}
	settle(t, h, h)
	if err := h.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// What was buffered is still read, then the channel is closed.
	receive(t, withMessage, "buffered")
	for _, l := range []*fanout.Listener{withMessage, empty} {
		if _, ok := fanouttest.Receive(t, l.C()); ok {
			t.Error("listener open after Close")
		}
		if err := l.Err(); err != nil {
			t.Errorf("Err after Close: %v", err)
		}
		l.Close()
	}
	wantStats(t, h, 0, 0)
	late := h.Listen("a")
	if _, ok := fanouttest.Receive(t, late.C()); ok || late.Err() != nil {
		t.Errorf("Listen after Close: open %v, Err %v; want closed, nil", ok, late.Err())
	}
	if err := h.Publish(ctx, []byte("x"), "a"); !errors.Is(err, fanout.ErrHubClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if err := h.Start(ctx); !errors.Is(err, fanout.ErrHubClosed) {
		t.Errorf("Start after Close: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// A hub never started closes too.
	if err := fanout.NewHub(bus, hubChannel, fanout.HubOptions{}).Close(); err != nil {
		t.Errorf("Close of a hub never started: %v", err)
	}
}

func TestListenerCloseUnregisters(t *testing.T) {
	h := startHub(t, fanout.NewMemory(), fanout.HubOptions{})
	var ls []*fanout.Listener
	for range 5 {
		ls = append(ls, h.Listen("a"))
	}
	b := h.Listen("b")
	wantStats(t, h, 6, 2)

	// Out of order, and twice: the others stay registered.
	for _, i := range []int{1, 4, 1, 0} {
		ls[i].Close()
	}
	wantStats(t, h, 3, 2)
	for _, i := range []int{0, 1, 4} {
		if _, ok := fanouttest.Receive(t, ls[i].C()); ok {
			t.Errorf("listener %d open after Close", i)
		}
		if err := ls[i].Err(); err != nil {
			t.Errorf("listener %d: Err after Close: %v", i, err)
		}
	}
	if err := h.Publish(ctx, []byte("m"), "a"); err != nil {
		t.Fatal(err)
	}
	receive(t, ls[2], "m")
	receive(t, ls[3], "m")
	settle(t, h, h)
	none(t, ls[2], ls[3], b)

	b.Close()
	wantStats(t, h, 2, 1)
	ls[2].Close()
	ls[3].Close()
	wantStats(t, h, 0, 0)
	if err := h.Publish(ctx, []byte("m"), "a", "b"); err != nil {
		t.Errorf("Publish with no listener: %v", err)
	}
}

func TestHubRefusesInvalidArguments(t *testing.T) {
	h := startHub(t, fanout.NewMemory(), fanout.HubOptions{})
	long := strings.Repeat("k", fanout.MaxKeyBytes)
	l := h.Listen(long)
	for name, keys := range map[string][]string{
		"no key":        nil,
		"empty key":     {"a", ""},
		"256-byte key":  {"a", long + "k"},
		"only bad keys": {"", long + "k"},
	} {
		if err := h.Publish(ctx, []byte("x"), keys...); !errors.Is(err, fanout.ErrInvalidKey) {
			t.Errorf("%s: %v, want ErrInvalidKey", name, err)
		}
	}
	if err := h.Publish(ctx, []byte("longest"), long); err != nil {
		t.Fatalf("255-byte key: %v", err)
	}
	receive(t, l, "longest")

	if err := h.Publish(ctx, make([]byte, fanout.MaxPayloadBytes), "a"); !errors.Is(err, fanout.ErrPayloadTooLarge) {
		t.Errorf("payload of MaxPayloadBytes (no room for the keys): %v", err)
	}
	var many []string
	for i := range 5000 { // 5000 × 256 bytes > 1 MiB
		many = append(many, fmt.Sprintf("%0255d", i))
	}
	if err := h.Publish(ctx, []byte("x"), many...); !errors.Is(err, fanout.ErrPayloadTooLarge) {
		t.Errorf("keys over MaxPayloadBytes: %v", err)
	}
	big := bytes.Repeat([]byte("p"), fanout.MaxPayloadBytes-1024)
	if err := h.Publish(ctx, big, long); err != nil {
		t.Fatalf("payload just under the limit: %v", err)
	}
	if m, _ := fanouttest.Receive(t, l.C()); m != string(big) {
		t.Errorf("large payload arrived as %d bytes, sent %d", len(m), len(big))
	}

	// The caller's keys are not reordered.
	keys := []string{"b", "a", "b"}
	if err := h.Publish(ctx, []byte("x"), keys...); err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "b,a,b" {
		t.Errorf("Publish changed its keys argument to %q", keys)
	}

	for _, key := range []string{"", long + "k"} {
		l := h.Listen(key)
		if _, ok := fanouttest.Receive(t, l.C()); ok {
			t.Errorf("Listen(%d bytes) is open", len(key))
		}
		if err := l.Err(); !errors.Is(err, fanout.ErrInvalidKey) {
			t.Errorf("Listen(%d bytes): Err %v, want ErrInvalidKey", len(key), err)
		}
		l.Close()
	}
	wantStats(t, h, 1, 1)
}

func TestHubStart(t *testing.T) {
	bus := fanout.NewMemory()
	if err := fanout.NewHub(bus, "", fanout.HubOptions{}).Start(ctx); !errors.Is(err, fanout.ErrInvalidChannel) {
		t.Errorf("Start on an invalid channel: %v", err)
	}

	h := fanout.NewHub(bus, hubChannel, fanout.HubOptions{Logger: quiet})
	defer h.Close()
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if err := h.Start(ended); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with an ended context: %v", err)
	}
	// A failed Start may be retried; the context of Start bounds only the
	// subscribing, not the Hub's life.
	sctx, cancel := context.WithCancel(ctx)
	if err := h.Start(sctx); err != nil {
		t.Fatalf("Start after a failed Start: %v", err)
	}
	cancel()
	if err := h.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}
	l := h.Listen("k")
	if err := h.Publish(ctx, []byte("after"), "k"); err != nil {
		t.Fatal(err)
	}
	receive(t, l, "after")
}

// Envelopes written by hand: the wire format that every instance must
// agree on. Each reaches listener "k" as the payload given.
var goldenEnvelopes = []struct {
	raw, payload string
	keys         []string
}{
	{"\x01\x01\x01kpayload", "payload", []string{"k"}},
	{"\x01\x02\x01a\x01k", "", []string{"k", "a", "k"}},
	{"\x01\x02\x02ab\x01k\x00\xff", "\x00\xff", []string{"k", "ab"}},
}

// Envelopes that must be dropped, whole, whoever published them.
var malformedEnvelopes = []string{
	"",
	"\x00",
	"\x02\x01\x01ksecret-payload", // unknown version
	"\x01",                        // no key count
	"\x01\x00secret-payload",      // no keys
	"\x01\x81\x00\x01kp",          // key count not minimally encoded
	"\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x01k", // key count overflows
	"\x01\x03\x01k\x01l",   // more keys than bytes
	"\x01\x01\x00kp",       // empty key
	"\x01\x01\x09kp",       // key longer than the message
	"\x01\x02\x01k\x05abc", // second key truncated
	"\x01\x02\x01k\x01k",   // repeated key
	"\x01\x02\x01k\x01a",   // keys out of order
}

func TestHubWireFormat(t *testing.T) {
	bus := fanout.NewMemory()
	var logs logtest.Buffer
	h := startHub(t, bus, fanout.HubOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	k, a := h.Listen("k"), h.Listen("a")

	raw, cancel, err := bus.Subscribe(ctx, hubChannel)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldenEnvelopes {
		if err := h.Publish(ctx, []byte(g.payload), g.keys...); err != nil {
			t.Fatal(err)
		}
		if m, _ := fanouttest.Receive(t, raw); m != g.raw {
			t.Errorf("Publish(%q, %q) wrote %q, want %q", g.payload, g.keys, m, g.raw)
		}
		receive(t, k, g.payload)
		// The same bytes from elsewhere are delivered alike.
		if err := bus.Publish(ctx, hubChannel, []byte(g.raw)); err != nil {
			t.Fatal(err)
		}
		receive(t, k, g.payload)
		fanouttest.Receive(t, raw)
	}
	_ = cancel()
	for range 2 {
		receive(t, a, "")
	}

	for _, m := range malformedEnvelopes {
		if err := bus.Publish(ctx, hubChannel, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, h, h)
	none(t, k, a)
	if n := strings.Count(logs.String(), "malformed"); n != len(malformedEnvelopes) {
		t.Errorf("%d malformed messages logged, want %d:\n%s", n, len(malformedEnvelopes), logs.String())
	}
	if strings.Contains(logs.String(), "secret-payload") {
		t.Errorf("a payload was logged:\n%s", logs.String())
	}
}

// gatedWriter holds the first write until release is closed, stalling
// whoever logs first.
type gatedWriter struct {
	logtest.Buffer
	once             sync.Once
	entered, release chan struct{}
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	w.once.Do(func() {
		close(w.entered)
		<-w.release
	})
	return w.Buffer.Write(p)
}

// The bus cuts the Hub off as a slow subscriber; the Hub resubscribes by
// itself and its listeners, still registered, receive again.
func TestHubResubscribesWhenCutOff(t *testing.T) {
	bus := &fanout.Memory{Buffer: 2}
	w := &gatedWriter{entered: make(chan struct{}), release: make(chan struct{})}
	h := startHub(t, bus, fanout.HubOptions{Logger: slog.New(slog.NewTextHandler(w, nil))})
	l := h.Listen("k")

	// A malformed message stalls the dispatch goroutine in the logger
	// while the bus overflows its buffer of 2.
	if err := bus.Publish(ctx, hubChannel, []byte("not an envelope")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the malformed message was not logged")
	}
	for i := range 5 {
		if err := h.Publish(ctx, []byte(strconv.Itoa(i)), "k"); err != nil {
			t.Fatal(err)
		}
	}
	close(w.release)

	if err := redistest.Eventually(5*time.Second, func() error {
		if n := h.Stats().Resubscribes; n != 1 {
			return fmt.Errorf("%d resubscriptions", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// What the bus had buffered is delivered; what it refused is lost.
	receive(t, l, "0")
	receive(t, l, "1")
	if err := h.Publish(ctx, []byte("after"), "k"); err != nil {
		t.Fatal(err)
	}
	receive(t, l, "after")
	if err := l.Err(); err != nil {
		t.Errorf("listener Err: %v", err)
	}
	wantStats(t, h, 1, 1)
	if !strings.Contains(w.String(), "subscription ended") || !strings.Contains(w.String(), fanout.ErrSlowSubscriber.Error()) {
		t.Errorf("the end of the subscription was not logged with its reason:\n%s", w.String())
	}
}

// outageBus is a Memory whose subscriptions can be cut and refused, as a
// backend that has gone away.
type outageBus struct {
	*fanout.Memory
	down    atomic.Bool
	mu      sync.Mutex
	cancels []func() error
}

func (b *outageBus) Subscribe(ctx context.Context, channel string) (<-chan []byte, func() error, error) {
	if b.down.Load() {
		return nil, nil, errors.New("backend down")
	}
	ch, cancel, err := b.Memory.Subscribe(ctx, channel)
	if err == nil {
		b.mu.Lock()
		b.cancels = append(b.cancels, cancel)
		b.mu.Unlock()
	}
	return ch, cancel, err
}

// goDown refuses new subscriptions and ends the current ones.
func (b *outageBus) goDown() {
	b.down.Store(true)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.cancels {
		_ = c()
	}
	b.cancels = nil
}

// While the backend refuses, the Hub retries with backoff and keeps its
// listeners; once it answers, delivery resumes. Close ends the retrying.
func TestHubRetriesWhileBackendIsDown(t *testing.T) {
	bus := &outageBus{Memory: fanout.NewMemory()}
	var logs logtest.Buffer
	h := startHub(t, bus, fanout.HubOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	l := h.Listen("k")

	bus.goDown()
	if err := redistest.Eventually(5*time.Second, func() error {
		if n := strings.Count(logs.String(), "resubscription failed"); n < 3 {
			return fmt.Errorf("%d failed resubscriptions logged", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := h.Stats().Resubscribes; n != 0 {
		t.Errorf("%d resubscriptions while down", n)
	}
	bus.down.Store(false)
	if err := redistest.Eventually(10*time.Second, func() error {
		if n := h.Stats().Resubscribes; n != 1 {
			return fmt.Errorf("%d resubscriptions", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := h.Publish(ctx, []byte("back"), "k"); err != nil {
		t.Fatal(err)
	}
	receive(t, l, "back")

	// Close returns while the Hub waits between attempts.
	bus.goDown()
	if err := redistest.Eventually(5*time.Second, func() error {
		if n := strings.Count(logs.String(), "subscription ended"); n < 2 {
			return fmt.Errorf("%d ends logged", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() {
		_ = h.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while the Hub was retrying")
	}
	if _, ok := fanouttest.Receive(t, l.C()); ok {
		t.Error("listener open after Close")
	}
}

// On a private Redis: Start fails while it is down; after it restarts,
// the Hubs deliver again between instances.
func TestHubSurvivesRedisRestart(t *testing.T) {
	srv := redistest.StartServer(t)
	busA := redisfanout.New(redistest.OpenURL(t, srv.URL()), "warden:")
	busB := redisfanout.New(redistest.OpenURL(t, srv.URL()), "warden:")

	srv.Stop()
	hb := fanout.NewHub(busB, hubChannel, fanout.HubOptions{Logger: quiet})
	t.Cleanup(func() { _ = hb.Close() })
	if err := hb.Start(ctx); err == nil {
		t.Fatal("Start succeeded with Redis stopped")
	}
	srv.Start()
	if err := hb.Start(ctx); err != nil {
		t.Fatalf("Start after Redis came back: %v", err)
	}
	ha := startHub(t, busA, fanout.HubOptions{})
	la, lb := ha.Listen("room:1"), hb.Listen("room:1")
	if err := ha.Publish(ctx, []byte("before"), "room:1"); err != nil {
		t.Fatal(err)
	}
	receive(t, la, "before")
	receive(t, lb, "before")

	srv.Stop()
	if err := ha.Publish(ctx, []byte("lost"), "room:1"); err == nil {
		t.Error("Publish succeeded with Redis stopped")
	}
	srv.Start()

	// Publish until each side hears the other; messages sent before the
	// subscriptions are back are lost, as documented.
	for _, p := range []struct {
		pub *fanout.Hub
		l   *fanout.Listener
	}{{ha, lb}, {hb, la}} {
		deadline := time.Now().Add(20 * time.Second)
		for heard := false; !heard; {
			_ = p.pub.Publish(ctx, []byte("after"), "room:1")
			select {
			case m, ok := <-p.l.C():
				if !ok {
					t.Fatalf("listener closed by the restart: %v", p.l.Err())
				}
				if string(m) != "after" {
					t.Fatalf("got %q", m)
				}
				heard = true
			case <-time.After(200 * time.Millisecond):
			}
			if !heard && time.Now().After(deadline) {
				t.Fatal("no message within 20s of the restart")
			}
		}
	}
}

// Listen, Close, Publish, Stats and Hub.Close from many goroutines at
// once; run under -race.
func TestHubConcurrentUse(t *testing.T) {
	h := startHub(t, &fanout.Memory{Buffer: 4096}, fanout.HubOptions{Buffer: 4})
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 300 {
				l := h.Listen(keys[(w+i)%len(keys)])
				select {
				case <-l.C():
				default:
				}
				if i%3 == 0 {
					_ = h.Stats()
				}
				l.Close()
				l.Close()
				_ = l.Err()
			}
		})
	}
	for p := range 2 {
		wg.Go(func() {
			for i := range 300 {
				if err := h.Publish(ctx, []byte("m"), keys[i%len(keys)], keys[(i+p)%len(keys)]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	wantStats(t, h, 0, 0)

	// Close while listeners read, publishers publish and listeners come
	// and go: everyone stops.
	var running sync.WaitGroup
	first := make(chan struct{})
	var once sync.Once
	for i := range 20 {
		l := h.Listen(keys[i%len(keys)])
		running.Go(func() {
			for range l.C() {
				once.Do(func() { close(first) })
			}
		})
	}
	for range 2 {
		running.Go(func() {
			for {
				if err := h.Publish(ctx, []byte("m"), keys...); err != nil {
					if !errors.Is(err, fanout.ErrHubClosed) {
						t.Error(err)
					}
					return
				}
			}
		})
	}
	var closed atomic.Bool
	running.Go(func() {
		for !closed.Load() {
			l := h.Listen("k0")
			_ = h.Stats()
			l.Close()
		}
	})
	select {
	case <-first:
	case <-time.After(5 * time.Second):
		t.Fatal("nothing delivered")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	closed.Store(true)
	done := make(chan struct{})
	go func() {
		running.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("goroutines still running 10s after Close")
	}
	wantStats(t, h, 0, 0)
}

func TestHubCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	bus := fanout.NewMemory()
	h := fanout.NewHub(bus, hubChannel, fanout.HubOptions{Logger: quiet})
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var ls []*fanout.Listener
	for i := range 100 {
		ls = append(ls, h.Listen("k"+strconv.Itoa(i%10)))
	}
	if err := h.Publish(ctx, []byte("m"), "k0", "k1"); err != nil {
		t.Fatal(err)
	}
	receive(t, ls[0], "m")
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := redistest.Eventually(5*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			return fmt.Errorf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// FuzzHubEnvelope publishes raw bytes on a Hub's bus channel, as anyone
// able to publish there could: the Hub must not panic, must keep
// delivering, and must hand no listener more than one message per bus
// message. It then checks that Publish(payload, k1, k2) reaches one
// listener of each key exactly once, or is refused for an invalid key.
func FuzzHubEnvelope(f *testing.F) {
	for _, g := range goldenEnvelopes {
		f.Add([]byte(g.raw), []byte(g.payload), "k", "a")
	}
	for _, m := range malformedEnvelopes {
		f.Add([]byte(m), []byte("payload"), "room:1", "room:1")
	}
	f.Add([]byte("\x01\x01\x01a"), []byte{}, "", strings.Repeat("k", 256))

	bus := &fanout.Memory{Buffer: 1024}
	h := startHub(f, bus, fanout.HubOptions{Buffer: 64})
	const sentinel = "fuzz:sentinel"
	sl := h.Listen(sentinel)
	seq := 0
	// flush returns once everything published before it is dispatched.
	flush := func(t *testing.T) {
		seq++
		want := "sync " + strconv.Itoa(seq)
		if err := h.Publish(ctx, []byte(want), sentinel); err != nil {
			t.Fatal(err)
		}
		for {
			m, ok := fanouttest.Receive(t, sl.C())
			if !ok {
				t.Fatalf("sentinel closed: %v", sl.Err())
			}
			if m == want {
				return
			}
		}
	}
	valid := func(k string) bool { return k != "" && len(k) <= fanout.MaxKeyBytes }

	f.Fuzz(func(t *testing.T, raw, payload []byte, k1, k2 string) {
		if k1 == sentinel || k2 == sentinel {
			t.Skip("the sentinel's key")
		}
		l1, l2 := h.Listen(k1), h.Listen(k2)
		watch := []*fanout.Listener{l1, l2, h.Listen("a"), h.Listen("k"), h.Listen("room:1")}
		defer func() {
			for _, l := range watch {
				l.Close()
			}
		}()

		_ = bus.Publish(ctx, hubChannel, raw)
		flush(t)
		for i, l := range watch {
			n := 0
		drain:
			for {
				select {
				case _, ok := <-l.C():
					if !ok {
						break drain
					}
					n++
				default:
					break drain
				}
			}
			if n > 1 {
				t.Errorf("listener %d received %d messages from one bus message", i, n)
			}
		}

		err := h.Publish(ctx, payload, k1, k2)
		switch {
		case !valid(k1) || !valid(k2):
			if !errors.Is(err, fanout.ErrInvalidKey) {
				t.Fatalf("Publish with key lengths %d, %d: %v, want ErrInvalidKey", len(k1), len(k2), err)
			}
			for i, k := range []string{k1, k2} {
				if !valid(k) && !errors.Is(watch[i].Err(), fanout.ErrInvalidKey) {
					t.Errorf("Listen with a %d-byte key: Err %v, want ErrInvalidKey", len(k), watch[i].Err())
				}
			}
			return
		case errors.Is(err, fanout.ErrPayloadTooLarge) && len(payload) > fanout.MaxPayloadBytes-2*fanout.MaxKeyBytes-16:
			return
		case err != nil:
			t.Fatalf("Publish: %v", err)
		}
		flush(t)
		for i, l := range []*fanout.Listener{l1, l2} {
			select {
			case m, ok := <-l.C():
				if !ok || !bytes.Equal(m, payload) {
					t.Fatalf("listener %d got %q (open %v), want %q", i+1, m, ok, payload)
				}
			default:
				t.Fatalf("listener %d received nothing", i+1)
			}
		}
		none(t, l1, l2)
	})
}

// BenchmarkHubDispatch measures, in process (Memory bus, no network), one
// Publish for 1,000 keys until each of 1,000 listeners has received it:
// encoding, the bus, decoding and the non-blocking sends. ns/delivery is
// the cost per listener.
func BenchmarkHubDispatch(b *testing.B) {
	for _, c := range []struct {
		name string
		key  func(i int) string
	}{
		{"in-process/1000-keys", func(i int) string { return "user:" + strconv.Itoa(i) }},
		{"in-process/one-key", func(int) string { return "room:1" }},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := startHub(b, fanout.NewMemory(), fanout.HubOptions{})
			var keys []string
			var ls []*fanout.Listener
			for i := range 1000 {
				k := c.key(i)
				if !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
				ls = append(ls, h.Listen(k))
			}
			payload := []byte(`{"type":"message","room":1,"text":"hello"}`)
			b.ReportAllocs()
			for b.Loop() {
				if err := h.Publish(ctx, payload, keys...); err != nil {
					b.Fatal(err)
				}
				for _, l := range ls {
					if _, ok := <-l.C(); !ok {
						b.Fatalf("listener dropped: %v", l.Err())
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ls)), "ns/delivery")
		})
	}
}
