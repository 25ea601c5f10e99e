package sse_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/fanout"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/sse"
)

// A route that streams each user's notifications: the router
// authenticates the request, the handler hands Serve the user's id, and
// run forwards what the fan-out bus delivers for that user.
func Example() {
	secret := []byte("example-secret-of-at-least-32-bytes!")
	jwt, err := auth.NewJWT(auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: secret}}})
	if err != nil {
		log.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler) // keeps the example's output to what it prints
	events, err := sse.New(sse.Config{MaxStreams: 1000, MaxPerUser: 5, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	bus := fanout.NewMemory()

	router, err := warden.NewRouter(warden.Config{Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	router.Get("/api/events", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := auth.FromContext(r.Context()).UserID
		events.Serve(w, r, user, func(ctx context.Context, st *sse.Stream) error {
			msgs, cancel, err := bus.Subscribe(ctx, "user:"+user)
			if err != nil {
				return err
			}
			defer cancel()
			// Delivery is at most once: "ready" tells the client it is now
			// subscribed and may catch up on what it missed.
			if err := st.Send("ready", []byte("{}")); err != nil {
				return err
			}
			for {
				select {
				case <-ctx.Done(): // client gone, write failed or shutdown
					return nil
				case msg, ok := <-msgs:
					if !ok {
						return cancel() // fell behind: the client reconnects
					}
					if err := st.Send("follower", msg); err != nil {
						return err
					}
				}
			}
		})
	}), warden.Auth(jwt), warden.Require(guard.IsAuthenticated))

	srv := httptest.NewServer(router)
	defer srv.Close()
	// An http.Server waits for open streams when it shuts down: end them
	// first, e.g. srv.Config.RegisterOnShutdown(func() { events.Shutdown(ctx) }).
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = events.Shutdown(ctx)
	}()

	// A client: an EventSource in a browser, here a plain request.
	signer := auth.Signer{Algorithm: "HS256", Key: secret}
	tok, err := signer.Sign("ada", nil)
	if err != nil {
		log.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Raw)
	resp, err := srv.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))

	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		line := lines.Text()
		if strings.HasPrefix(line, "event:") || strings.HasPrefix(line, "data:") {
			fmt.Println(line)
		}
		if line == "data: {}" { // ready: publish something for ada
			_ = bus.Publish(context.Background(), "user:ada", []byte(`{"username":"grace"}`))
		}
		if strings.HasPrefix(line, "data: {\"username\"") {
			break
		}
	}
	// Output:
	// 200 text/event-stream
	// event: ready
	// data: {}
	// event: follower
	// data: {"username":"grace"}
}
