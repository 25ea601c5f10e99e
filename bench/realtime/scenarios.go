package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// runSSE is the event-stream scenario: every user of the topology opens
// one stream; a few members of each room post RoomRate messages a second
// into it over WebSocket, and every member's stream receives each one.
func (g *gen) runSSE(rep *genReport) error {
	t := g.cfg.Topo
	g.cur.Store(newPhase())
	perRoom := sendersPerRoom(g.cfg.RoomRate)
	if perRoom > t.Members {
		return fmt.Errorf("%g messages/s per room needs %d senders, the room has %d members", g.cfg.RoomRate, perRoom, t.Members)
	}
	var senderUsers []int
	for room := int64(1); room <= int64(t.Rooms); room++ {
		for k := range perRoom {
			senderUsers = append(senderUsers, t.member(room, k))
		}
	}
	urls, err := g.socketURLs(senderUsers)
	if err != nil {
		return err
	}
	rep.RSSStartKB = g.quietRSS(g.cfg.Settle)

	start := time.Now()
	rooms := make([]roomSenders, t.Rooms)
	for k, u := range senderUsers {
		s, err := g.dialSocket(u, urls[k], false)
		if err != nil {
			return err
		}
		r := &rooms[t.roomOf(u)-1]
		r.room = t.roomOf(u)
		r.senders = append(r.senders, g.newSender(s))
	}
	connected := make([]atomic.Int64, t.Rooms)
	g.connectAll(t.users(), 64, func(i int) error {
		if err := g.openStream(i); err != nil {
			return err
		}
		connected[t.roomOf(i)-1].Add(1)
		return nil
	})
	for k := range rooms {
		n := int(connected[k].Load())
		rep.Conns += n
		for _, sd := range rooms[k].senders {
			sd.receivers = n
		}
	}
	rep.ConnectSeconds = time.Since(start).Seconds()
	if rep.Conns == 0 {
		return fmt.Errorf("no stream opened")
	}
	rep.RSSIdleKB = g.quietRSS(g.cfg.Settle)
	rep.IdlePerConnKB = float64(rep.RSSIdleKB-rep.RSSStartKB) / float64(rep.Conns)

	g.openPhase(rep, phaseReport{Name: "sse", Receivers: t.Members, OfferedPerSec: g.cfg.RoomRate * float64(t.Rooms)},
		rooms, g.cfg.RoomRate, true)
	return nil
}

// openPhase measures phase r: rooms driven at ratePerRoom messages a
// second each (an open loop: the offered rate does not wait for the
// server), through the warm-up and then the measured window (perf
// recorded when perf), and adds r to rep.
func (g *gen) openPhase(rep *genReport, r phaseReport, rooms []roomSenders, ratePerRoom float64, perf bool) {
	p := newPhase()
	g.cur.Store(p)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { g.driveOpen(p, rooms, ratePerRoom, stop) })
	g.sleep(g.cfg.Warmup)
	g.window(p, &r, g.cfg.Duration, perf)
	close(stop)
	wg.Wait()
	g.finish(p, &r)
	rep.Phases = append(rep.Phases, r)
}

// runWS is the WebSocket scenario: WSConns members of room 1 connect,
// idle first (memory per connection), then receive every message posted
// into the room: at WSRate messages a second (latency), then as fast as
// the server delivers them with WSWindow messages in flight (throughput).
func (g *gen) runWS(rep *genReport) error {
	t := g.cfg.Topo
	n := g.cfg.WSConns
	if n < 1 || n > t.Members {
		return fmt.Errorf("%d sockets in a room of %d members", n, t.Members)
	}
	g.cur.Store(newPhase())
	users := make([]int, n)
	for k := range users {
		users[k] = t.member(1, k)
	}
	// Warden's tickets first, so that their requests' memory is in the
	// baseline of the idle measurement.
	urls, err := g.socketURLs(users)
	if err != nil {
		return err
	}
	rep.RSSStartKB = g.quietRSS(g.cfg.Settle)

	start := time.Now()
	sockets := make([]*socket, n)
	g.connectAll(n, 32, func(k int) error {
		s, err := g.dialSocket(users[k], urls[k], true)
		sockets[k] = s
		return err
	})
	var open []*socket
	for _, s := range sockets {
		if s != nil {
			open = append(open, s)
		}
	}
	rep.Conns = len(open)
	rep.ConnectSeconds = time.Since(start).Seconds()
	if len(open) == 0 {
		return fmt.Errorf("no socket opened")
	}
	rep.RSSIdleKB = g.quietRSS(g.cfg.Settle)
	rep.IdlePerConnKB = float64(rep.RSSIdleKB-rep.RSSStartKB) / float64(rep.Conns)

	senders := make([]*sender, min(max(g.cfg.WSSenders, sendersPerRoom(g.cfg.WSRate)), len(open)))
	for k := range senders {
		senders[k] = g.newSender(open[k])
		senders[k].receivers = len(open)
	}
	room := roomSenders{room: 1}

	// Latency at a fixed offered rate.
	room.senders = senders[:min(len(senders), sendersPerRoom(g.cfg.WSRate))]
	g.openPhase(rep, phaseReport{Name: "ws-rate", Receivers: len(open), OfferedPerSec: g.cfg.WSRate},
		[]roomSenders{room}, g.cfg.WSRate, false)

	// Throughput: closed loop.
	room.senders = senders
	r := phaseReport{Name: "ws-max", Receivers: len(open)}
	p := newPhase()
	p.counts = make([]atomic.Int32, 1<<20)
	p.need.Store(g.receivers.Load())
	p.complete = make(chan struct{}, g.cfg.WSWindow)
	g.cur.Store(p)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var pacing time.Duration
	var driveErr error
	driveStart := time.Now()
	wg.Go(func() { pacing, r.Stalls, driveErr = g.driveClosed(p, room, g.cfg.WSWindow, stop) })
	g.sleep(g.cfg.Warmup)
	g.window(p, &r, g.cfg.Duration, true)
	close(stop)
	wg.Wait()
	r.PacingShare = pacing.Seconds() / time.Since(driveStart).Seconds()
	if driveErr != nil {
		g.errorf("%v", driveErr)
	}
	g.finish(p, &r)
	rep.Phases = append(rep.Phases, r)
	return nil
}

// connectAll runs open(0..n-1), width at a time; a failure is an error
// of the run, and the others go on.
func (g *gen) connectAll(n, width int, open func(int) error) {
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if g.ctx.Err() != nil {
				return
			}
			if err := open(i); err != nil {
				g.errorf("%v", err)
			}
		})
	}
	wg.Wait()
}
