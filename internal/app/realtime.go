package app

import (
	"context"

	"github.com/wardenhq/warden/fanout"
	"github.com/wardenhq/warden/fanout/redisfanout"
	"github.com/wardenhq/warden/internal/bookclub"
	"github.com/wardenhq/warden/sse"
	"github.com/wardenhq/warden/ticket"
	"github.com/wardenhq/warden/ticket/redisticket"
	"github.com/wardenhq/warden/ws"
)

// hubBusBuffer is the event bus subscription's buffer, in messages. One
// subscription carries every event of this instance (all rooms, all
// users) to the hub, and when it falls this far behind the bus ends it:
// every listener then misses what is published until the hub has
// resubscribed, without being told. fanout.DefaultBuffer (128) was
// overrun under bench/realtime's saturating load (2.5 s of a stalled hub
// at 50 messages a second), losing whole messages; 1024 is 20 s of that
// traffic. A message for a room of 1,000 members names its 1,000 user keys
// (about 45 KB with the text), so a full buffer holds about 50 MB, and
// only while the hub is stalled.
const hubBusBuffer = 1024

// openBookclub builds the book club with its realtime parts: tickets and
// events shared through Redis when it is configured (a ticket issued by one
// instance opens a socket on another; a message sent through one reaches
// members connected to any), in this process otherwise; the socket and
// stream servers with the configured caps, whose open counts GET /metrics
// shows. It starts the event hub and the watcher that ends connections of
// revoked logins.
func (a *App) openBookclub(ctx context.Context) error {
	cfg := a.cfg
	var tickets ticket.Store = ticket.NewMemory()
	var bus fanout.Bus = &fanout.Memory{Buffer: hubBusBuffer}
	if a.redis != nil {
		tickets = redisticket.New(a.redis, cfg.RedisPrefix)
		shared := redisfanout.New(a.redis, cfg.RedisPrefix)
		shared.Buffer = hubBusBuffer
		bus = shared
	}
	sockets, err := ws.New(ws.Config{
		AllowOrigin: cfg.CORS.AllowsOrigin,
		MaxConns:    cfg.WSMaxConns, MaxPerUser: cfg.WSMaxPerUser,
		Logger: a.logger,
	})
	if err != nil {
		return err
	}
	streams, err := sse.New(sse.Config{MaxStreams: cfg.SSEMaxStreams, MaxPerUser: cfg.SSEMaxPerUser, Logger: a.logger})
	if err != nil {
		return err
	}
	a.RegisterGauge("warden_websockets_open", "Open chat WebSockets.", func() float64 { return float64(sockets.Stats().Active) })
	a.RegisterGauge("warden_websockets_max", "The cap on open chat WebSockets (WARDEN_WS_MAX_CONNS).", func() float64 { return float64(sockets.Stats().Max) })
	a.RegisterGauge("warden_sse_streams_open", "Open event streams.", func() float64 { return float64(streams.Stats().Active) })
	a.RegisterGauge("warden_sse_streams_max", "The cap on open event streams (WARDEN_SSE_MAX_STREAMS).", func() float64 { return float64(streams.Stats().Max) })

	if a.bookclub, err = bookclub.New(bookclub.Config{
		DB: a.db, Accounts: a.accounts, Bearer: a.accounts.Authenticator(), Session: a.accounts.CookieAuthenticator(),
		NewLimiter: a.newLimiter, Logger: a.logger, Media: a.media,
		Tickets: tickets, Bus: bus, Sockets: sockets, Streams: streams,
	}); err != nil {
		return err
	}
	return a.bookclub.Start(ctx)
}

// OpenConnections reports the open chat sockets and event streams, for
// sizing the process's memory limit to them.
func (a *App) OpenConnections() int {
	return a.bookclub.Sockets().Stats().Active + a.bookclub.Streams().Stats().Active
}
