package main

// The load generator: a process of its own (this program again, started
// by the runner with its configuration on stdin), so that a server's
// memory and CPU are its own. It opens the streams or sockets, drives
// chat messages into the rooms over WebSocket senders, counts what
// arrives, times it from the send time stamped in each message, samples
// the server's RSS and CPU from /proc, and prints a JSON report on
// stdout.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/bench/internal/benchproc"
)

// Scenarios and sides.
const (
	scenarioSSE  = "sse"
	scenarioWS   = "ws"
	sideBaseline = "baseline"
	sideWarden   = "warden"
)

// Sender pacing. Warden closes a socket with 1008 when its user posts
// more than 5 chat messages a second (burst 20, across the user's
// sockets), or the socket sends more than 10 a second (burst 20). The
// generator schedules at most maxSenderRate a second per sender, and
// each sender leaves at least senderGap between two writes whatever the
// schedule, so that no client ever sends a burst.
const (
	maxSenderRate = 2.5
	senderGap     = 250 * time.Millisecond
)

// genConfig is the generator's task, read as JSON from stdin (it holds
// the server's secret, which must appear neither in a process listing
// nor in the environment of other children).
type genConfig struct {
	Side      string   `json:"side"`
	Scenario  string   `json:"scenario"`
	Addr      string   `json:"addr"`
	ServerPID int      `json:"server_pid"`
	Topo      topology `json:"topology"`

	// SSE: every user of the topology opens one stream; RoomRate
	// messages per second are posted into each room.
	RoomRate float64 `json:"room_rate"`
	// WS: WSConns members of room 1 connect; the latency phase offers
	// WSRate messages per second, the throughput phase keeps WSWindow
	// messages in flight, sent by WSSenders of the sockets in turn.
	WSConns   int     `json:"ws_conns"`
	WSRate    float64 `json:"ws_rate"`
	WSWindow  int     `json:"ws_window"`
	WSSenders int     `json:"ws_senders"`

	MessageBytes int           `json:"message_bytes"`
	Warmup       time.Duration `json:"warmup"`
	Duration     time.Duration `json:"duration"`
	Settle       time.Duration `json:"settle"`

	// Warden only: the HMAC key and token claims of warden serve, to
	// mint access tokens as it would (auth.Signer).
	Secret   string `json:"secret,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	Audience string `json:"audience,omitempty"`

	// PerfOut, when set, records the server with perf during the main
	// phase's measured window.
	PerfOut string `json:"perf_out,omitempty"`
}

// genReport is what one generator run measured.
type genReport struct {
	Side     string `json:"side"`
	Scenario string `json:"scenario"`
	// Conns is the number of receivers connected (streams or sockets),
	// ConnectSeconds how long connecting them took.
	Conns          int     `json:"conns"`
	ConnectSeconds float64 `json:"connect_seconds"`
	// RSS of the server before connecting and with every connection open
	// and idle; IdlePerConnKB is their difference per connection.
	RSSStartKB    int64   `json:"rss_start_kb"`
	RSSIdleKB     int64   `json:"rss_idle_kb"`
	IdlePerConnKB float64 `json:"idle_per_conn_kb"`
	// RSSMaxKB is the largest RSS sampled (every 100 ms) during the run,
	// HWMKB the kernel's peak (VmHWM) at its end.
	RSSMaxKB int64         `json:"rss_max_kb"`
	HWMKB    int64         `json:"hwm_kb"`
	Phases   []phaseReport `json:"phases"`
	Errors   int64         `json:"errors"`
	// FirstErrors are the first few errors, in order.
	FirstErrors []string `json:"first_errors,omitempty"`
}

// phaseReport is one traffic phase: a warm-up, a measured window and a
// drain.
type phaseReport struct {
	Name string `json:"name"`
	// Receivers is how many connections each message is for.
	Receivers int `json:"receivers"`
	// OfferedPerSec is the open-loop message rate (0 for closed loop).
	OfferedPerSec float64 `json:"offered_per_sec"`
	// Sent, Expected and Received count the whole phase: messages sent,
	// deliveries due (each message times its receivers) and deliveries
	// received after the drain; Lost is the difference.
	Sent     int64 `json:"sent"`
	Expected int64 `json:"expected"`
	Received int64 `json:"received"`
	Lost     int64 `json:"lost"`
	// The measured window: deliveries received in it, per second and
	// each second.
	WindowSeconds   float64 `json:"window_seconds"`
	Delivered       int64   `json:"delivered"`
	DeliveredPerSec float64 `json:"delivered_per_sec"`
	PerSecond       []int64 `json:"per_second"`
	// MessagesPerSec is, in closed loop, messages delivered to every
	// receiver per second.
	MessagesPerSec float64 `json:"messages_per_sec,omitempty"`
	// PacingShare is, in closed loop, the share of the window spent
	// waiting for a sender to be allowed to send (the flood limit)
	// rather than for deliveries: near 1, the senders were the bound.
	PacingShare float64 `json:"pacing_share,omitempty"`
	// Stalls counts, in closed loop, the seconds in which no message
	// reached every receiver (one was dropped meanwhile): the window
	// was refilled each time.
	Stalls int `json:"stalls,omitempty"`
	// Latency from send to receive of the messages sent in the window.
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p999_ms"`
	MaxMS  float64 `json:"max_ms"`
	// MeanPayloadBytes is the mean size of a delivered event's data or
	// frame, to check that both sides send the same bytes.
	MeanPayloadBytes float64 `json:"mean_payload_bytes"`
	// Server and generator CPU in the window.
	ServerCPUPerDeliveryUS float64 `json:"server_cpu_us_per_delivery"`
	ServerCores            float64 `json:"server_cores"`
	GenCores               float64 `json:"gen_cores"`
	RSSSteadyKB            int64   `json:"rss_steady_kb"`
	RSSWindowMaxKB         int64   `json:"rss_window_max_kb"`
	FromUnixNS             int64   `json:"from_unix_ns"`
	ToUnixNS               int64   `json:"to_unix_ns"`
}

// gen is one generator run.
type gen struct {
	cfg genConfig
	ctx context.Context
	// closing is set when the run ends its connections, so that their
	// ends are not errors.
	closing atomic.Bool
	cur     atomic.Pointer[phase]
	// receivers counts the open sockets whose messages are deliveries.
	receivers atomic.Int32

	errMu     sync.Mutex
	errCount  int64
	errFirst  []string
	closersMu sync.Mutex
	closers   []func()

	sampleMu sync.Mutex
	samples  []procSample

	client *http.Client
	signer *auth.Signer
}

// runGen reads the task from stdin, runs it and prints the report.
func runGen() error {
	if _, err := raiseFileLimit(); err != nil {
		return err
	}
	var cfg genConfig
	if err := json.NewDecoder(os.Stdin).Decode(&cfg); err != nil {
		return fmt.Errorf("reading the task: %w", err)
	}
	rep, err := generate(context.Background(), cfg)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

func generate(ctx context.Context, cfg genConfig) (*genReport, error) {
	if cfg.Topo.Rooms < 1 || cfg.Topo.Members < 1 || cfg.MessageBytes < minMessageBytes {
		return nil, fmt.Errorf("bad task: %+v", cfg.Topo)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g := &gen{cfg: cfg, ctx: ctx, client: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, Proxy: nil},
		Timeout:   30 * time.Second,
	}}
	if cfg.Side == sideWarden {
		g.signer = &auth.Signer{KeyID: wardenKeyID, Algorithm: "HS256", Key: []byte(cfg.Secret), Issuer: cfg.Issuer, Audience: cfg.Audience}
	}
	if _, ok := readProc(cfg.ServerPID); !ok {
		return nil, fmt.Errorf("cannot read /proc/%d", cfg.ServerPID)
	}
	samplerDone := make(chan struct{})
	go g.sample(ctx, samplerDone)
	rep := &genReport{Side: cfg.Side, Scenario: cfg.Scenario}
	var err error
	switch cfg.Scenario {
	case scenarioSSE:
		err = g.runSSE(rep)
	case scenarioWS:
		err = g.runWS(rep)
	default:
		err = fmt.Errorf("unknown scenario %q", cfg.Scenario)
	}
	g.closeAll()
	cancel()
	<-samplerDone
	if last, ok := g.lastSample(); ok {
		rep.HWMKB = last.HWMKB
	}
	for _, s := range g.allSamples() {
		rep.RSSMaxKB = max(rep.RSSMaxKB, s.RSSKB)
	}
	g.errMu.Lock()
	rep.Errors, rep.FirstErrors = g.errCount, g.errFirst
	g.errMu.Unlock()
	return rep, err
}

// errorf records a failure of the run; the first few are reported.
func (g *gen) errorf(format string, args ...any) {
	if g.closing.Load() {
		return
	}
	g.errMu.Lock()
	defer g.errMu.Unlock()
	g.errCount++
	if len(g.errFirst) < 20 {
		g.errFirst = append(g.errFirst, fmt.Sprintf(format, args...))
	}
}

func (g *gen) onClose(f func()) {
	g.closersMu.Lock()
	g.closers = append(g.closers, f)
	g.closersMu.Unlock()
}

func (g *gen) closeAll() {
	g.closing.Store(true)
	g.closersMu.Lock()
	defer g.closersMu.Unlock()
	for _, f := range g.closers {
		f()
	}
	g.closers = nil
}

// sample reads the server's /proc entries every 100 ms.
func (g *gen) sample(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if s, ok := readProc(g.cfg.ServerPID); ok {
			g.sampleMu.Lock()
			g.samples = append(g.samples, s)
			g.sampleMu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (g *gen) allSamples() []procSample {
	g.sampleMu.Lock()
	defer g.sampleMu.Unlock()
	return slices.Clone(g.samples)
}

func (g *gen) lastSample() (procSample, bool) {
	s := g.allSamples()
	if len(s) == 0 {
		return procSample{}, false
	}
	return s[len(s)-1], true
}

// rssBetween is the median and the largest RSS sampled from from to to.
func (g *gen) rssBetween(from, to time.Time) (med, peak int64) {
	var v []float64
	for _, s := range g.allSamples() {
		if !s.At.Before(from) && !s.At.After(to) {
			v = append(v, float64(s.RSSKB))
			peak = max(peak, s.RSSKB)
		}
	}
	return int64(benchproc.Median(v)), peak
}

// quietRSS waits d, then returns the median RSS of the next d (at most
// a second): the server's memory once what it was doing has settled.
func (g *gen) quietRSS(d time.Duration) int64 {
	g.sleep(d)
	from := time.Now()
	g.sleep(min(d, time.Second))
	med, _ := g.rssBetween(from, time.Now())
	return med
}

func (g *gen) sleep(d time.Duration) {
	select {
	case <-g.ctx.Done():
	case <-time.After(d):
	}
}

// phase is one traffic phase's accounting, shared by every receiver.
type phase struct {
	// start: messages sent before it belong to an earlier phase.
	start int64
	// sent and expected count the messages written and the deliveries
	// they are due.
	sent, expected atomic.Int64
	received       atomic.Int64
	bytes          atomic.Int64
	// The measured window, in unix ns; 0 while it is not open.
	from, to atomic.Int64
	inWindow atomic.Int64
	hist     histogram

	// Closed loop: deliveries per message sequence number; when one
	// reaches need (the receivers still connected), complete is
	// signalled.
	counts   []atomic.Int32
	need     atomic.Int32
	complete chan struct{}
	// completed counts messages completed within the window.
	completed atomic.Int64
}

func newPhase() *phase { return &phase{start: time.Now().UnixNano()} }

// deliver accounts one delivered payload, received at now (unix ns). It
// reports false for a payload without a stamp.
func (p *phase) deliver(now int64, payload []byte) bool {
	sent, seq, ok := parseStamp(payload)
	if !ok {
		return false
	}
	if sent < p.start {
		return true // a late delivery of an earlier phase's message
	}
	p.received.Add(1)
	p.bytes.Add(int64(len(payload)))
	from, to := p.from.Load(), p.to.Load()
	if from != 0 && now >= from && (to == 0 || now < to) {
		p.inWindow.Add(1)
	}
	if from != 0 && sent >= from && (to == 0 || sent < to) {
		p.hist.record(time.Duration(now - sent))
	}
	if p.counts != nil && seq < uint64(len(p.counts)) && p.counts[seq].Add(1) == p.need.Load() {
		if from != 0 && now >= from && (to == 0 || now < to) {
			p.completed.Add(1)
		}
		p.complete <- struct{}{}
	}
	return true
}

// window measures phase p for the configured duration, while the
// traffic goes on, and fills in the window's part of r.
func (g *gen) window(p *phase, r *phaseReport, d time.Duration, perf bool) {
	startProc, _ := readProc(g.cfg.ServerPID)
	startGen := selfCPU()
	from := time.Now()
	p.from.Store(from.UnixNano())
	var perfCmd *exec.Cmd
	if perf && g.cfg.PerfOut != "" {
		perfCmd = exec.Command("perf", "record", "-F", "499", "-g", "-p", strconv.Itoa(g.cfg.ServerPID),
			"-o", g.cfg.PerfOut, "--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 1, 64))
		perfCmd.Stdout, perfCmd.Stderr = io.Discard, os.Stderr
		if err := perfCmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "perf:", err)
			perfCmd = nil
		}
	}
	tick := time.NewTicker(time.Second)
	last := int64(0)
	for end := from.Add(d); time.Now().Before(end); {
		select {
		case <-g.ctx.Done():
			return
		case <-tick.C:
			n := p.inWindow.Load()
			r.PerSecond = append(r.PerSecond, n-last)
			last = n
		case <-time.After(time.Until(end)):
		}
	}
	tick.Stop()
	to := time.Now()
	p.to.Store(to.UnixNano())
	endProc, _ := readProc(g.cfg.ServerPID)
	genCPU := selfCPU() - startGen
	if perfCmd != nil {
		_ = perfCmd.Wait()
	}
	secs := to.Sub(from).Seconds()
	r.WindowSeconds = secs
	r.Delivered = p.inWindow.Load()
	r.DeliveredPerSec = float64(r.Delivered) / secs
	r.MessagesPerSec = float64(p.completed.Load()) / secs
	cpu := endProc.CPU - startProc.CPU
	if r.Delivered > 0 {
		r.ServerCPUPerDeliveryUS = float64(cpu.Microseconds()) / float64(r.Delivered)
	}
	r.ServerCores = cpu.Seconds() / secs
	r.GenCores = genCPU.Seconds() / secs
	r.RSSSteadyKB, r.RSSWindowMaxKB = g.rssBetween(from, to)
	r.FromUnixNS, r.ToUnixNS = from.UnixNano(), to.UnixNano()
}

// finish waits for the phase's senders to write what they have queued
// and for the outstanding deliveries (until all have arrived, or none has
// for a second and a half, or ten seconds), and fills in the rest of r.
func (g *gen) finish(p *phase, r *phaseReport) {
	g.sleep(2 * senderGap)
	r.Sent, r.Expected = p.sent.Load(), p.expected.Load()
	deadline := time.Now().Add(10 * time.Second)
	last, lastChange := p.received.Load(), time.Now()
	for p.received.Load() < r.Expected && time.Now().Before(deadline) && time.Since(lastChange) < 1500*time.Millisecond {
		g.sleep(50 * time.Millisecond)
		if n := p.received.Load(); n != last {
			last, lastChange = n, time.Now()
		}
	}
	r.Received = p.received.Load()
	r.Lost = r.Expected - r.Received
	if r.Received > 0 {
		r.MeanPayloadBytes = float64(p.bytes.Load()) / float64(r.Received)
	}
	q := p.hist.quantiles(0.5, 0.9, 0.99, 0.999, 1)
	r.P50MS, r.P90MS, r.P99MS, r.P999MS, r.MaxMS = q[0], q[1], q[2], q[3], q[4]
}

// roomSenders are the sockets that post into one room.
type roomSenders struct {
	room    int64
	senders []*sender
}

// driveOpen sends messages of phase p into rooms, at ratePerRoom each,
// in turn across rooms and across each room's senders, until stop is
// closed.
func (g *gen) driveOpen(p *phase, rooms []roomSenders, ratePerRoom float64, stop <-chan struct{}) {
	interval := time.Duration(float64(time.Second) / (ratePerRoom * float64(len(rooms))))
	start := time.Now()
	for k := 0; ; k++ {
		if d := time.Until(start.Add(time.Duration(k) * interval)); d > 0 {
			select {
			case <-stop:
				return
			case <-g.ctx.Done():
				return
			case <-time.After(d):
			}
		}
		select {
		case <-stop:
			return
		default:
		}
		rs := rooms[k%len(rooms)]
		rs.senders[(k/len(rooms))%len(rs.senders)].send(p, uint64(k))
	}
}

// driveClosed keeps window messages of phase p in flight in one room,
// until stop is closed: a message is sent when an earlier one has reached
// every receiver. The senders take turns, each at most once per
// senderGap. When no message completes for a second (a receiver was
// dropped with messages in flight), the window is refilled and the stall
// counted. It returns the time spent waiting for a sender and the stalls.
func (g *gen) driveClosed(p *phase, rs roomSenders, window int, stop <-chan struct{}) (pacing time.Duration, stalls int, err error) {
	tokens := window
	lastSend := make([]time.Time, len(rs.senders))
	for k := 0; ; k++ {
		for tokens == 0 {
			select {
			case <-p.complete:
				tokens++
			case <-stop:
				return pacing, stalls, nil
			case <-time.After(time.Second):
				stalls++
				tokens = window
			}
		}
		i := k % len(rs.senders)
		if wait := senderGap - time.Since(lastSend[i]); wait > 0 {
			t0 := time.Now()
			select {
			case <-stop:
				return pacing, stalls, nil
			case <-time.After(wait):
			}
			pacing += time.Since(t0)
		}
		select {
		case <-stop:
			return pacing, stalls, nil
		default:
		}
		if k >= len(p.counts) {
			return pacing, stalls, errors.New("closed loop: more messages than the generator can track")
		}
		lastSend[i] = time.Now()
		rs.senders[i].send(p, uint64(k))
		tokens--
	}
}

// sendersPerRoom is how many sockets post into a room so that none sends
// faster than maxSenderRate.
func sendersPerRoom(rate float64) int {
	return max(1, int(math.Ceil(rate/maxSenderRate)))
}
