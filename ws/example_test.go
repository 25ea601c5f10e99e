package ws_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/coder/websocket"

	"github.com/wardenhq/warden/secure"
	"github.com/wardenhq/warden/ws"
)

// An echo route: the handler's goroutine reads, Send queues the answer
// for the connection's writer. A real route authenticates first (a
// one-time ticket from the query string, say) and passes the user's id
// as the user key, or closes with its own code (4001) when it cannot.
func Example() {
	cors, err := secure.NewCORS(secure.CORSPolicy{AllowedOrigins: []string{"https://app.example.com"}})
	if err != nil {
		panic(err)
	}
	srv, err := ws.New(ws.Config{AllowOrigin: cors.AllowsOrigin, MaxPerUser: 4})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		user := "user-42" // from the ticket, in a real route
		c, err := srv.Accept(w, r, user)
		if err != nil {
			return // Accept has answered: 403, 429, 503 or a bad handshake
		}
		for {
			msg, err := c.Read(context.Background())
			if err != nil {
				return // closed: by the peer, a limit, Close or Shutdown
			}
			c.Send(msg)
		}
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx) // closes open connections with 1001
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client, _, err := websocket.Dial(ctx, "ws"+hs.URL[len("http"):]+"/echo", nil)
	if err != nil {
		panic(err)
	}
	defer client.CloseNow()
	_ = client.Write(ctx, websocket.MessageText, []byte(`{"message":"hello"}`))
	_, answer, _ := client.Read(ctx)
	fmt.Println(string(answer))
	// Output: {"message":"hello"}
}
