// Command realtime measures Warden's Server-Sent Events and chat
// WebSockets against plain hubs without security features, from outside:
// every server and the load generator run in processes of their own, on
// the loopback interface.
//
// It builds the warden binary, then:
//
//  1. migrates a fresh SQLite database (warden migrate) and seeds the
//     fixture straight through SQL: -sse-streams users, in rooms of
//     -room-members members (10 rooms of 1,000 by default), every user a
//     member of one room. The API would spend an Argon2id hash per user
//     (about six minutes for 10,000) and rate-limits room and member
//     creation; neither is measured here.
//
//  2. for each round, scenario and side, starts a fresh server process:
//     warden serve (development settings, access log on, the router-wide
//     throttles off, the stream and socket caps raised to the load), or
//     this program again as the baseline (a plain net/http SSE hub and a
//     plain coder/websocket room hub, hub.go); then this program again as
//     the load generator (gen.go), which mints access tokens with the
//     server's key (Warden), opens the streams or sockets, drives the
//     messages, and samples the server's RSS and CPU from /proc;
//
//  3. prints the ratios Warden / baseline as a markdown table, with the
//     ratio of every round (baseline and Warden alternate which goes
//     first, to cancel drift).
//
// Scenarios:
//
//   - sse: every user opens one event stream; -sse-rate messages a second
//     are posted into each room over WebSocket (a few members per room
//     take turns, each under Warden's flood limit), and each reaches all
//     the room's members' streams: 10,000 streams and 50,000 events a
//     second by default. The targets: Warden's RSS at most 1.3x
//     the baseline's, its delivery rate at least 0.8x.
//   - ws: -ws-conns members of one room open a chat socket. Memory per
//     idle socket; then -ws-rate messages a second into the room
//     (latency from send to receive, stamped in each message); then a
//     closed loop with -ws-window messages in flight (the most messages
//     a second the server delivers to every member).
//
// Usage:
//
//	go run ./bench/realtime                                # 3 rounds; the defaults above
//	go run ./bench/realtime -sse-streams 10000 -duration 20s
//	go run ./bench/realtime -scenario ws -rounds 5
//	go run ./bench/realtime -smoke                         # a few seconds, tiny; fails unless everything is delivered
//	go run ./bench/realtime -nice -10                      # servers and generator before other jobs (shared machine)
//	go run ./bench/realtime -warden-env GOMEMLIMIT=off     # warden serve with an operator's setting
//	go run ./bench/realtime -perf                          # perf record of the servers in each measured window (kept)
//
// Every server and the generator lead a session of their own (see
// command), so that on a machine shared with other jobs each gets a share
// of the CPUs; the ratio within a round is the figure to trust. See
// bench/README.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/bench/internal/benchproc"
)

// Targets of the issue (SSE).
const (
	// RSSTarget: Warden's RSS at most this times the baseline's.
	RSSTarget = 1.3
	// DeliveryTarget: Warden's delivery rate at least this times the
	// baseline's.
	DeliveryTarget = 0.8
)

// Children of this program are told their role by the environment (not
// flags, so that a test binary can play them too).
const (
	roleEnv = "WARDEN_REALTIME_BENCH_ROLE" // roleHub or roleGen
	topoEnv = "WARDEN_REALTIME_BENCH_TOPOLOGY"
	roleHub = "hub"
	roleGen = "gen"
)

// Token settings of warden serve, as internal/app configures them: key id
// app.PrimaryKeyID, issuer and audience the defaults of
// WARDEN_JWT_ISSUER and WARDEN_JWT_AUDIENCE (set explicitly below).
const (
	wardenKeyID    = "warden"
	wardenIssuer   = "warden"
	wardenAudience = "warden"
)

type options struct {
	scenario, side string
	rounds         int

	streams, members int
	sseRate          float64

	wsConns, wsWindow, wsSenders int
	wsRate                       float64

	messageBytes                         int
	duration, wsDuration, warmup, settle time.Duration

	smoke, asJSON, keep, perf bool
	// wardenBin is a warden binary to run instead of building
	// ./cmd/warden.
	wardenBin string
	// nice is the scheduling priority of the servers and the generator
	// (nice(1)); 0 leaves it alone.
	nice int
	// wardenEnv is added to warden serve's environment (KEY=VALUE), such
	// as an operator's GOMEMLIMIT.
	wardenEnv envList
}

// envList is a repeatable KEY=VALUE flag.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return errors.New("want KEY=VALUE")
	}
	*e = append(*e, v)
	return nil
}

func main() {
	if handled, err := child(); handled {
		if err != nil {
			fmt.Fprintln(os.Stderr, "realtime:", err)
			os.Exit(1)
		}
		return
	}
	o := defaultOptions()
	flag.StringVar(&o.scenario, "scenario", o.scenario, "run only `sse` or ws (default both)")
	flag.StringVar(&o.side, "side", o.side, "run only `baseline` or warden (default both; ratios need both)")
	flag.IntVar(&o.rounds, "rounds", o.rounds, "rounds; each runs every scenario on both sides")
	flag.IntVar(&o.streams, "sse-streams", o.streams, "SSE: users, each with one stream (a multiple of -room-members)")
	flag.IntVar(&o.members, "room-members", o.members, "members per room (Warden allows at most 1,000)")
	flag.Float64Var(&o.sseRate, "sse-rate", o.sseRate, "SSE: messages per second posted into each room")
	flag.IntVar(&o.wsConns, "ws-conns", o.wsConns, "WS: sockets connected to one room")
	flag.Float64Var(&o.wsRate, "ws-rate", o.wsRate, "WS: messages per second offered in the latency phase")
	flag.IntVar(&o.wsWindow, "ws-window", o.wsWindow, "WS: messages in flight in the throughput phase")
	flag.IntVar(&o.wsSenders, "ws-senders", o.wsSenders, "WS: sockets taking turns to post in the throughput phase (each at most 4 a second)")
	flag.IntVar(&o.messageBytes, "message-bytes", o.messageBytes, "characters per chat message")
	flag.DurationVar(&o.duration, "duration", o.duration, "SSE: measured window")
	flag.DurationVar(&o.wsDuration, "ws-duration", o.wsDuration, "WS: measured window of each phase")
	flag.DurationVar(&o.warmup, "warmup", o.warmup, "traffic before each measured window")
	flag.DurationVar(&o.settle, "settle", o.settle, "wait before each idle memory reading")
	flag.BoolVar(&o.smoke, "smoke", false, "a tiny run of a few seconds that fails unless every message is delivered without error (for CI)")
	flag.BoolVar(&o.asJSON, "json", false, "print every run's report as JSON on stdout before the table")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (database, binary, server logs)")
	flag.Var(&o.wardenEnv, "warden-env", "add `KEY=VALUE` to warden serve's environment (repeatable), such as GOMEMLIMIT=1GiB")
	flag.StringVar(&o.wardenBin, "warden-bin", "", "run this warden `binary` instead of building ./cmd/warden (such as one built with -tags wardenpprof)")
	flag.IntVar(&o.nice, "nice", 0, "give the servers and the generator the scheduling priority `N` (-20..19; their sessions' autogroup nice on Linux, else nice(1)); negative puts them before other jobs on a shared machine and needs the privilege; the same for both sides")
	flag.BoolVar(&o.perf, "perf", false, "record each server with perf during its main measured window (implies -keep)")
	flag.Parse()
	if o.smoke {
		o = smokeOptions(o)
	}
	code, err := run(o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "realtime:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// defaultOptions is the load: 10,000 streams in rooms of 1,000
// receiving 50,000 events a second; a room of 1,000 sockets.
func defaultOptions() options {
	return options{
		rounds:  3,
		streams: 10_000, members: 1000, sseRate: 5,
		wsConns: 1000, wsRate: 50, wsWindow: 16, wsSenders: 100,
		messageBytes: 64,
		duration:     20 * time.Second, wsDuration: 10 * time.Second, warmup: 3 * time.Second, settle: 2 * time.Second,
	}
}

// smokeOptions shrinks o to a run of a few seconds.
func smokeOptions(o options) options {
	o.rounds = 1
	o.streams, o.members, o.sseRate = 50, 25, 5
	o.wsConns, o.wsRate, o.wsWindow, o.wsSenders = 20, 20, 4, 4
	o.duration, o.wsDuration, o.warmup, o.settle = 1500*time.Millisecond, time.Second, 300*time.Millisecond, 200*time.Millisecond
	o.smoke = true
	return o
}

// child runs this process's role when it is a child of the runner.
func child() (bool, error) {
	switch os.Getenv(roleEnv) {
	case roleHub:
		var t topology
		if err := json.Unmarshal([]byte(os.Getenv(topoEnv)), &t); err != nil {
			return true, fmt.Errorf("hub: %s: %w", topoEnv, err)
		}
		if _, err := raiseFileLimit(); err != nil {
			return true, err
		}
		return true, serveHub(t)
	case roleGen:
		return true, runGen()
	}
	return false, nil
}

// runResult is one server run measured by one generator run.
type runResult struct {
	Round    int        `json:"round"`
	Scenario string     `json:"scenario"`
	Side     string     `json:"side"`
	Report   *genReport `json:"report"`
	// LoadAverage is the machine's 1-minute load average as the run
	// began: other jobs on the machine take CPU from both sides.
	LoadAverage float64 `json:"load_average"`
	// From the server's GODEBUG=gctrace=1 lines: the last collection
	// before traffic began, and those in the main measured window.
	GCIdle gcSummary `json:"gc_idle"`
	GCLoad gcSummary `json:"gc_load"`
}

// gcSummary sums up garbage collections: their number, and the median
// live heap and goroutine stacks after them.
type gcSummary struct {
	Cycles   int     `json:"cycles"`
	LiveMB   float64 `json:"live_mb"`
	StacksMB float64 `json:"stacks_mb"`
}

// bench is one invocation's state.
type bench struct {
	o         options
	tmp       string
	wardenBin string // built from ./cmd/warden: migrate, and serve unless -warden-bin
	serveBin  string
	self      string
	dataDir   string
	secret    string
	topo      topology
	say       func(format string, args ...any)
}

func run(o options, out io.Writer) (int, error) {
	if o.members < 1 || o.streams < o.members || o.streams%o.members != 0 {
		return 0, fmt.Errorf("-sse-streams %d is not a multiple of -room-members %d", o.streams, o.members)
	}
	if o.wsConns > o.members {
		return 0, fmt.Errorf("-ws-conns %d exceeds -room-members %d", o.wsConns, o.members)
	}
	if o.messageBytes < minMessageBytes || o.messageBytes > 1000 {
		return 0, fmt.Errorf("-message-bytes must be %d to 1000", minMessageBytes)
	}
	scenarios, err := only("scenario", o.scenario, scenarioSSE, scenarioWS)
	if err != nil {
		return 0, err
	}
	sides, err := only("side", o.side, sideBaseline, sideWarden)
	if err != nil {
		return 0, err
	}
	limit, err := raiseFileLimit()
	if err != nil {
		return 0, err
	}
	// Each process holds one descriptor per stream or socket, and a few
	// hundred more.
	if need := uint64(max(o.streams, o.wsConns) + 500); limit < need {
		return 0, fmt.Errorf("the open-file limit is %d; %d streams need about %d (raise the hard limit: ulimit -Hn)", limit, o.streams, need)
	}
	b := &bench{o: o, topo: topology{Rooms: o.streams / o.members, Members: o.members},
		say: benchproc.Say}
	if b.self, err = os.Executable(); err != nil {
		return 0, err
	}
	// perf's data files are the point of -perf: kept too.
	var remove func()
	if b.tmp, remove, err = benchproc.TempDir("warden-realtime-bench-", o.keep || o.perf); err != nil {
		return 0, err
	}
	defer remove()
	if o.side != sideBaseline {
		if err := b.prepare(); err != nil {
			return 0, err
		}
	}
	if err := os.MkdirAll(filepath.Join(b.tmp, "logs"), 0o700); err != nil {
		return 0, err
	}

	var results []runResult
	for round := 1; round <= o.rounds; round++ {
		order := slices.Clone(sides)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, sc := range scenarios {
			for _, side := range order {
				b.say("round %d/%d: %s on %s", round, o.rounds, sc, side)
				res, err := b.runOne(round, sc, side)
				if err != nil {
					return 0, fmt.Errorf("round %d, %s on %s: %w", round, sc, side, err)
				}
				b.say("  %s", res.brief())
				results = append(results, *res)
			}
		}
	}
	if o.asJSON {
		if err := benchproc.WriteJSON(out, results); err != nil {
			return 0, err
		}
	}
	printTables(out, o, b.topo, results)
	if o.nice != 0 {
		fmt.Fprintf(out, "\nServers and generator ran at nice %d.\n", o.nice)
	}
	if len(o.wardenEnv) > 0 {
		fmt.Fprintf(out, "\nwarden serve ran with %s.\n", o.wardenEnv.String())
	}
	if problems := check(o, results); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(out, "FAILED:", p)
		}
		return 1, nil
	}
	return 0, nil
}

// only is the value of flag -name: every one of all when it is empty,
// else the one of all it names.
func only(name, value string, all ...string) ([]string, error) {
	switch {
	case value == "":
		return all, nil
	case slices.Contains(all, value):
		return []string{value}, nil
	}
	return nil, fmt.Errorf("-%s %q: want %s", name, value, strings.Join(all, " or "))
}

// prepare builds warden, migrates and seeds its database.
func (b *bench) prepare() error {
	root, err := benchproc.ModuleRoot()
	if err != nil {
		return err
	}
	b.dataDir = filepath.Join(b.tmp, "data")
	b.wardenBin = filepath.Join(b.tmp, "warden")
	b.say("building warden")
	if err := benchproc.Build(root, b.wardenBin, "./cmd/warden"); err != nil {
		return err
	}
	if b.serveBin = b.o.wardenBin; b.serveBin == "" {
		b.serveBin = b.wardenBin
	}
	// The server's key, known to the generator, which mints tokens.
	if b.secret, err = auth.RandomToken(48); err != nil {
		return err
	}
	w, err := b.newWarden(b.wardenBin)
	if err != nil {
		return err
	}
	if _, err := w.Run("", "migrate"); err != nil {
		return err
	}
	b.say("seeding %d users in %d rooms of %d through SQL", b.topo.users(), b.topo.Rooms, b.topo.Members)
	start := time.Now()
	if err := seed(context.Background(), filepath.Join(b.dataDir, "warden.db"), b.topo); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	b.say("seeded in %v", time.Since(start).Round(time.Millisecond))
	return nil
}

// newWarden prepares bin on the fixture's data directory and a free port
// (a new one for every run, so that the previous run's connections in
// TIME_WAIT never meet the next run's): development mode with a known key, the router-wide
// throttles off (thousands of connections come from one address), caps
// on streams and sockets above the load per process (per user, the
// defaults: one stream and at most one socket each here), then
// -warden-env, which may override any of these.
func (b *bench) newWarden(bin string) (*benchproc.Warden, error) {
	senders := b.topo.Rooms*sendersPerRoom(b.o.sseRate) + 10
	env := []string{
		"WARDEN_ENV=development",
		"WARDEN_SECRET_KEY=" + b.secret,
		"WARDEN_JWT_ISSUER=" + wardenIssuer,
		"WARDEN_JWT_AUDIENCE=" + wardenAudience,
		"WARDEN_RATE_ANON_PER_MINUTE=0",
		"WARDEN_RATE_USER_PER_MINUTE=0",
		"WARDEN_SSE_MAX_STREAMS=" + strconv.Itoa(b.o.streams+100),
		"WARDEN_WS_MAX_CONNS=" + strconv.Itoa(max(10_000, b.o.wsConns+senders+100)),
	}
	return benchproc.NewWarden(bin, b.dataDir, append(env, b.o.wardenEnv...)...)
}

// runOne starts a server for side, drives it with a generator for
// scenario, and stops it.
func (b *bench) runOne(round int, scenario, side string) (*runResult, error) {
	name := fmt.Sprintf("%d-%s-%s", round, scenario, side)
	logPath := filepath.Join(b.tmp, "logs", name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()

	var srv *exec.Cmd
	var addr string
	var started time.Time // for the gctrace lines' times
	load, _ := strconv.ParseFloat(benchproc.LoadAverage(), 64)
	switch side {
	case sideWarden:
		// Started here rather than by benchproc.Warden.Start: the server
		// leads a session of its own (command).
		w, err := b.newWarden(b.serveBin)
		if err != nil {
			return nil, err
		}
		addr = w.Addr
		srv = b.command(w.Bin, "serve")
		srv.Env = append(w.Env, "GODEBUG=gctrace=1")
		srv.Stdout, srv.Stderr = logFile, logFile
		defer benchproc.Stop(srv)
		if started, err = b.start(srv); err != nil {
			return nil, err
		}
		if err := benchproc.WaitReady(w.Base()+"/readyz", 30*time.Second); err != nil {
			return nil, fmt.Errorf("%w\n%s", err, tail(logPath))
		}
	default:
		topo, _ := json.Marshal(b.topo)
		srv = b.command(b.self)
		srv.Env = append(os.Environ(), roleEnv+"="+roleHub, topoEnv+"="+string(topo), "GODEBUG=gctrace=1")
		srv.Stderr = logFile
		stdout, err := srv.StdoutPipe()
		if err != nil {
			return nil, err
		}
		defer benchproc.Stop(srv)
		if started, err = b.start(srv); err != nil {
			return nil, err
		}
		if addr, err = benchproc.ReadAddr("baseline hub", stdout); err != nil {
			return nil, fmt.Errorf("%w\n%s", err, tail(logPath))
		}
	}

	cfg := genConfig{
		Side: side, Scenario: scenario, Addr: addr, ServerPID: srv.Process.Pid, Topo: b.topo,
		RoomRate: b.o.sseRate,
		WSConns:  b.o.wsConns, WSRate: b.o.wsRate, WSWindow: b.o.wsWindow, WSSenders: b.o.wsSenders,
		MessageBytes: b.o.messageBytes, Warmup: b.o.warmup, Duration: b.o.duration, Settle: b.o.settle,
	}
	if scenario == scenarioWS {
		cfg.Duration = b.o.wsDuration
	}
	if side == sideWarden {
		cfg.Secret, cfg.Issuer, cfg.Audience = b.secret, wardenIssuer, wardenAudience
	}
	if b.o.perf {
		cfg.PerfOut = filepath.Join(b.tmp, "perf-"+name+".data")
	}
	task, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	genCmd := b.command(b.self)
	genCmd.Env = append(os.Environ(), roleEnv+"="+roleGen)
	var genOut bytes.Buffer
	genCmd.Stdin, genCmd.Stdout, genCmd.Stderr = strings.NewReader(string(task)), &genOut, os.Stderr
	genErr := genCmd.Start()
	if genErr == nil {
		if err := b.prioritise(genCmd); err != nil {
			benchproc.Stop(genCmd)
			return nil, err
		}
		genErr = genCmd.Wait()
	}
	raw := genOut.Bytes()
	var rep genReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return nil, fmt.Errorf("generator: %v (%v)\nserver log:\n%s", genErr, err, tail(logPath))
	}
	res := &runResult{Round: round, Scenario: scenario, Side: side, Report: &rep, LoadAverage: load}
	if len(rep.Phases) > 0 {
		idleEnd := time.Unix(0, rep.Phases[0].FromUnixNS)
		main := rep.Phases[len(rep.Phases)-1]
		res.GCIdle = gcStats(logPath, started, time.Time{}, idleEnd)
		res.GCLoad = gcStats(logPath, started, time.Unix(0, main.FromUnixNS), time.Unix(0, main.ToUnixNS))
	}
	if rep.Errors > 0 {
		b.say("  %d errors; first: %s\n  server log: %s", rep.Errors, strings.Join(rep.FirstErrors, "\n    "), tail(logPath))
	}
	return res, nil
}

// command prepares a child: a server or the generator. Each leads a
// session of its own: on Linux with scheduler autogroups, the CPUs are
// shared equally between sessions, so a child in this program's session
// would split one share with the others of the benchmark (and any other
// job of the session) while every other session on a shared machine
// gets a whole one. Pdeathsig ends it if this program dies first, since
// a terminal's interrupt no longer reaches it.
func (b *bench) command(name string, args ...string) *exec.Cmd {
	if b.o.nice != 0 && !autogroups() {
		args = append([]string{"-n", strconv.Itoa(b.o.nice), name}, args...)
		name = "nice"
	}
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// start starts a server child and gives it its priority (prioritise);
// it returns when the child started, which its gctrace lines' times count
// from. The caller stops the child (benchproc.Stop) even on an error.
func (b *bench) start(srv *exec.Cmd) (time.Time, error) {
	started := time.Now()
	if err := srv.Start(); err != nil {
		return started, err
	}
	return started, b.prioritise(srv)
}

// prioritise applies -nice to a started child: with autogroups, to its
// session's group (the priority that counts between sessions); without,
// command ran it under nice(1).
func (b *bench) prioritise(cmd *exec.Cmd) error {
	if b.o.nice == 0 || !autogroups() {
		return nil
	}
	path := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/autogroup"
	if err := os.WriteFile(path, []byte(strconv.Itoa(b.o.nice)), 0); err != nil {
		return fmt.Errorf("-nice: %w", err)
	}
	return nil
}

// autogroups reports whether the kernel schedules sessions as groups.
func autogroups() bool {
	b, err := os.ReadFile("/proc/sys/kernel/sched_autogroup_enabled")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// gcStats reads the gctrace lines of the server log at path (the server
// started at started) and sums up the collections between from and to;
// with none there, the last one before to. A zero from means only the
// last one before to.
func gcStats(path string, started, from, to time.Time) gcSummary {
	f, err := os.Open(path)
	if err != nil {
		return gcSummary{}
	}
	defer f.Close()
	var in []gcLine
	var last *gcLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		g, ok := parseGCLine(sc.Text())
		if !ok {
			continue
		}
		at := started.Add(g.At)
		if at.After(to) {
			break
		}
		last = &g
		if !from.IsZero() && !at.Before(from) {
			in = append(in, g)
		}
	}
	if len(in) == 0 {
		if last == nil {
			return gcSummary{}
		}
		return gcSummary{Cycles: 0, LiveMB: last.LiveMB, StacksMB: last.StacksMB}
	}
	live, stacks := make([]float64, len(in)), make([]float64, len(in))
	for i, g := range in {
		live[i], stacks[i] = g.LiveMB, g.StacksMB
	}
	return gcSummary{Cycles: len(in), LiveMB: benchproc.Median(live), StacksMB: benchproc.Median(stacks)}
}

// brief is one line of progress for a run.
func (r *runResult) brief() string {
	rep := r.Report
	s := fmt.Sprintf("load %.1f; %d conns in %.1fs; idle %.1f KB each; ", r.LoadAverage, rep.Conns, rep.ConnectSeconds, rep.IdlePerConnKB)
	for _, p := range rep.Phases {
		s += fmt.Sprintf("%s: %.0f/s delivered, p99 %.1f ms, lost %d, RSS %.0f MB; ", p.Name, p.DeliveredPerSec, p.P99MS, p.Lost, float64(p.RSSSteadyKB)/1024)
	}
	return s + fmt.Sprintf("errors %d", rep.Errors)
}

// check returns what makes the run a failure: any error, or payloads of
// different sizes on the two sides (the comparison would be unfair); in
// a smoke run also any message not delivered to every receiver, or
// nothing measured.
func check(o options, results []runResult) []string {
	var problems []string
	for _, sc := range []string{scenarioSSE, scenarioWS} {
		var sizes [2][]float64
		for _, r := range results {
			if r.Scenario == sc && len(r.Report.Phases) > 0 && r.Report.Phases[0].Received > 0 {
				k := 0
				if r.Side == sideWarden {
					k = 1
				}
				sizes[k] = append(sizes[k], r.Report.Phases[0].MeanPayloadBytes)
			}
		}
		// Warden's timestamps drop trailing zeros of their milliseconds,
		// so sizes differ by a fraction of a byte on average.
		if len(sizes[0]) > 0 && len(sizes[1]) > 0 && math.Abs(benchproc.Median(sizes[0])-benchproc.Median(sizes[1])) > 2 {
			problems = append(problems, fmt.Sprintf("%s: payloads of %.1f bytes (baseline) and %.1f (Warden): the baseline no longer sends what Warden sends",
				sc, benchproc.Median(sizes[0]), benchproc.Median(sizes[1])))
		}
	}
	for _, r := range results {
		rep := r.Report
		what := fmt.Sprintf("round %d, %s on %s", r.Round, r.Scenario, r.Side)
		if rep.Errors > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d errors, first: %s", what, rep.Errors, strings.Join(rep.FirstErrors[:min(3, len(rep.FirstErrors))], "; ")))
		}
		if !o.smoke {
			continue
		}
		if len(rep.Phases) == 0 {
			problems = append(problems, what+": nothing measured")
		}
		for _, p := range rep.Phases {
			if p.Sent == 0 || p.Delivered == 0 || p.Lost != 0 {
				problems = append(problems, fmt.Sprintf("%s, %s: %d messages sent, %d deliveries measured, %d of %d lost", what, p.Name, p.Sent, p.Delivered, p.Lost, p.Expected))
			}
		}
	}
	return problems
}

// tail is the end of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var keep []string
	for _, l := range lines[max(0, len(lines)-40):] {
		if !strings.HasPrefix(l, "gc ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// machine describes where the numbers come from, with the range of load
// averages the runs began at.
func machine(results []runResult) string {
	var loads []float64
	for _, r := range results {
		loads = append(loads, r.LoadAverage)
	}
	lo, hi := 0.0, 0.0
	if len(loads) > 0 {
		lo, hi = slices.Min(loads), slices.Max(loads)
	}
	return fmt.Sprintf("%d CPUs (GOMAXPROCS %d in every process), %s %s/%s; load average %.1f to %.1f at the start of the runs",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, lo, hi)
}
