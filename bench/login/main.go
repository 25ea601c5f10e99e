// Command login measures password logins on the real warden serve from
// outside, as a client sees them, against the machine's Argon2id limit
// measured in the same run, and the server's memory and health under a
// login flood:
//
//	go run ./bench/login            # 3 rounds of 10 s with 8 clients, then 20 s of a 64-client flood
//	go run ./bench/login -smoke     # a few seconds: every part works; nothing about time or memory is asserted
//	go run ./bench/login -json      # the report as JSON on stdout
//
// It builds warden, creates users with warden user create (one per
// throughput client, so that no account's share of the hasher, two
// hashes at once, is ever reached and no failure backoff applies: every
// password is right), and starts warden serve in development mode with
// WARDEN_AUTH_RATE_PER_MINUTE at its highest (100,000), so that the
// per-IP limit on logins, which would refuse all but 5 a minute from the
// one loopback address, does not decide the figures; every other
// protection stays as deployed. Logins are by username (one Argon2id
// derivation; a login by address costs two, see internal/accounts).
//
// The machine's Argon2id limit is cores / the time of one hash, measured
// by this program run again as a child (password.Hasher at the server's
// parameters, one hash at a time, median) before and after the
// throughput rounds while the server is idle.
//
// Throughput: a generator in another process (this program again) with
// -clients concurrent clients, each logging in one request at a time over
// its own keep-alive connection; logins/s counts 200s completed in the
// measured time. Any answer but 200 fails the run, except a 503 with
// Retry-After (reported): the hasher's line stayed full for 2 s, which
// happens when other processes take the CPUs. The server's CPU time per
// login, against one hash's CPU time, gives the same comparison in a form
// other processes on the machine barely disturb.
//
// Flood: a fresh warden serve, -flood-clients concurrent clients (the
// first as the real users, the rest under fresh unknown usernames, which
// cost a dummy hash and get 401), while this program samples the server's
// resident memory (/proc/<pid>/status VmRSS; VmHWM is the kernel's exact
// peak) and asks GET /healthz every 100 ms. Answers are counted by
// status: 200, 401 and 503 are expected, every 503 (and 429) must carry
// Retry-After, and every health check must answer 200; anything else
// fails the run. The memory target, peak RSS at most the hash
// memory budget + 160 MiB, is reported, as is the throughput target; they
// are verdicts, not failures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wardenhq/warden/bench/internal/benchproc"
	"github.com/wardenhq/warden/password"
)

// The targets.
const (
	// LoginTarget: logins/s at least 0.9x the Argon2id limit.
	LoginTarget = 0.9
	// RSSHeadroomMiB: peak RSS under the flood at most the hash memory
	// budget plus this.
	RSSHeadroomMiB = 160
)

type options struct {
	users, clients, floodClients int
	rounds                       int
	duration, warmup, flood      time.Duration
	hashes                       int
	budgetMiB                    int
	smoke, asJSON, keep          bool
	bin                          string
	serverEnv                    envList
}

// envList is a repeatable NAME=value flag.
type envList []string

func (e *envList) String() string { return fmt.Sprint(*e) }

func (e *envList) Set(v string) error {
	if name, _, ok := strings.Cut(v, "="); !ok || name == "" {
		return errors.New("want NAME=value")
	}
	*e = append(*e, v)
	return nil
}

func main() {
	switch os.Getenv(childEnv) {
	case "gen":
		exitOn(runGenerator())
		return
	case "hash":
		exitOn(runHashTime())
		return
	}
	var o options
	flag.IntVar(&o.clients, "clients", 8, "concurrent clients of the throughput rounds, each logging in as a user of its own")
	flag.IntVar(&o.floodClients, "flood-clients", 64, "concurrent clients of the flood (0: no flood)")
	flag.IntVar(&o.rounds, "rounds", 3, "throughput rounds (0: none)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per throughput round")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each throughput round")
	flag.DurationVar(&o.flood, "flood", 20*time.Second, "length of the flood")
	flag.IntVar(&o.hashes, "hashes", 15, "hashes timed for the Argon2id limit, before and after the rounds")
	flag.IntVar(&o.budgetMiB, "budget", 256, "WARDEN_HASH_MEMORY_BUDGET_MIB of the server, MiB")
	flag.BoolVar(&o.smoke, "smoke", false, "a few seconds: 1 round of 2 s, a 2 s flood, 3 hashes; asserts only that everything answers as expected")
	flag.BoolVar(&o.asJSON, "json", false, "print the report as JSON on stdout")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binary, data, server logs)")
	flag.StringVar(&o.bin, "bin", "", "run this warden binary instead of building ./cmd/warden (to compare builds)")
	flag.Var(&o.serverEnv, "server-env", "`NAME=value` added to warden serve's environment, repeatable (GOMAXPROCS=16 plays a machine with more CPUs; GOMEMLIMIT=off removes the memory limit)")
	flag.Parse()
	if o.smoke {
		o.rounds, o.duration, o.warmup, o.flood, o.hashes = 1, 2*time.Second, 500*time.Millisecond, 2*time.Second, 3
	}
	o.users = max(o.clients, min(o.floodClients, 8))
	if o.clients < 1 || o.floodClients < 0 || o.rounds < 0 || o.duration <= 0 || o.warmup < 0 || o.flood <= 0 || o.hashes < 1 || o.budgetMiB < 16 {
		fmt.Fprintln(os.Stderr, "login: -clients and -hashes at least 1, -budget at least 16, durations positive")
		os.Exit(2)
	}
	rep, err := run(o)
	benchproc.Finish("login", rep, err, o.asJSON, printReport, (*report).problems)
	if o.smoke {
		fmt.Fprintln(os.Stderr, "login: smoke: logins, the flood and the health checks answered as expected")
	}
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "login child:", err)
		os.Exit(1)
	}
}

// report is the outcome of a run.
type report struct {
	GoVersion   string          `json:"go_version"`
	NumCPU      int             `json:"num_cpu"`
	LoadAverage string          `json:"load_average_before,omitempty"`
	Params      password.Params `json:"argon2id"`
	BudgetMiB   int             `json:"hash_memory_budget_mib"`
	ServerEnv   []string        `json:"server_env,omitempty"`
	Smoke       bool            `json:"smoke"`

	// Hash are the hash-time runs (before and after the rounds); Limit
	// is cores / the median of their single-hash times.
	Hash  []hashResult `json:"hash_time"`
	Limit float64      `json:"argon2id_limit_per_second"`

	Clients    int           `json:"clients"`
	Duration   time.Duration `json:"round_ns"`
	Rounds     []round       `json:"rounds"`
	Throughput *phaseMemory  `json:"throughput_memory,omitempty"`
	Flood      *flood        `json:"flood,omitempty"`
}

// round is one throughput round.
type round struct {
	Gen          genResult `json:"generator"`
	LoginsPerSec float64   `json:"logins_per_second"`
	// CPUPerLogin is the server's CPU time per successful login, in ms.
	CPUPerLogin float64 `json:"server_cpu_ms_per_login,omitempty"`
}

// phaseMemory is the server's resident memory during a phase.
type phaseMemory struct {
	Before    benchproc.Memory `json:"before"`
	Peak      int64            `json:"peak_rss"` // VmHWM at the end of the phase
	MaxSample int64            `json:"max_sampled_rss"`
	// IdleAfter is RSS 3 s after the load ended; Peak (VmHWM) is read
	// then too, so that it covers the logins still queued at the end.
	IdleAfter int64 `json:"rss_idle_after"`
}

// flood is the flood phase.
type flood struct {
	Clients int `json:"clients"`
	// Users is how many of the clients log in as real users.
	Users    int           `json:"users"`
	Duration time.Duration `json:"duration_ns"`
	Gen      genResult     `json:"generator"`
	Memory   phaseMemory   `json:"memory"`
	Health   health        `json:"healthz"`
}

// health is what the health checks during the flood got.
type health struct {
	Asked, OK  int
	FirstError string  `json:",omitempty"`
	P99, Max   float64 // ms
}

func run(o options) (*report, error) {
	root, tmp, remove, err := benchproc.Workdir("warden-login-", o.keep)
	if err != nil {
		return nil, err
	}
	defer remove()

	rep := &report{
		GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(), LoadAverage: benchproc.LoadAverage(),
		Params: password.DefaultParams(), BudgetMiB: o.budgetMiB, Smoke: o.smoke,
		Clients: o.clients, Duration: o.duration,
	}
	p := rep.Params
	bin := o.bin
	if bin == "" {
		benchproc.Say("building warden")
		bin = filepath.Join(tmp, "warden")
		if err := benchproc.Build(root, bin, "./cmd/warden"); err != nil {
			return nil, err
		}
	}
	w, err := benchproc.NewWarden(bin, filepath.Join(tmp, "data"),
		"WARDEN_AUTH_RATE_PER_MINUTE=100000",
		"WARDEN_ARGON2_MEMORY_KIB="+strconv.Itoa(int(p.Memory)),
		"WARDEN_ARGON2_ITERATIONS="+strconv.Itoa(int(p.Iterations)),
		"WARDEN_ARGON2_PARALLELISM="+strconv.Itoa(int(p.Parallelism)),
		"WARDEN_HASH_MEMORY_BUDGET_MIB="+strconv.Itoa(o.budgetMiB))
	if err != nil {
		return nil, err
	}
	benchproc.Say("creating %d users", o.users)
	users := make([]credential, o.users)
	for i := range users {
		users[i] = credential{Username: "bench" + strconv.Itoa(i+1), Password: "login bench passphrase " + strconv.Itoa(i+1)}
		if _, err := w.CreateUser(users[i].Username, users[i].Password); err != nil {
			return nil, err
		}
	}
	loginURL := w.Base() + "/api/auth/login"
	// The extra settings are for warden serve only, from here on.
	rep.ServerEnv = o.serverEnv
	w.Env = append(w.Env, o.serverEnv...)

	timeHashes := func() error {
		benchproc.Say("timing Argon2id (%d hashes alone, then %d per CPU at once)", o.hashes, o.hashes)
		h, err := runChild[hashResult]("hash", hashConfig{Params: p, Hashes: o.hashes}, nil)
		if err != nil {
			return err
		}
		benchproc.Say("  one hash %v (fastest %v, %.1f CPU-ms); %d CPUs: limit %.1f/s; all CPUs hashing at once: %.1f/s",
			h.Single.Round(100*time.Microsecond), h.SingleMin.Round(100*time.Microsecond), ms(h.CPU), h.GOMAXPROCS, h.Limit(), h.Parallel)
		rep.Hash = append(rep.Hash, *h)
		return nil
	}
	if err := timeHashes(); err != nil {
		return nil, err
	}

	if o.rounds > 0 {
		mem, err := withServer(w, filepath.Join(tmp, "serve-throughput.log"), func(pid int) error {
			if _, err := w.Login(users[0].Username, users[0].Password); err != nil {
				return err
			}
			for i := range o.rounds {
				var cpu0 time.Duration
				g, err := startGenerator(genConfig{URL: loginURL, Clients: o.clients, Users: users[:o.clients], Warmup: o.warmup, Duration: o.duration},
					func() { cpu0, _ = benchproc.PIDCPU(pid) })
				if err != nil {
					return err
				}
				cpu1, cpuOK := benchproc.PIDCPU(pid)
				r := round{Gen: *g, LoginsPerSec: float64(g.Status[http.StatusOK]) / g.Elapsed.Seconds()}
				if n := g.Status[http.StatusOK]; cpuOK && n > 0 {
					r.CPUPerLogin = float64((cpu1 - cpu0).Microseconds()) / 1000 / float64(n)
				}
				rep.Rounds = append(rep.Rounds, r)
				benchproc.Say("round %d: %.1f logins/s, server %.1f CPU-ms/login, latency p50 %.0f ms p99 %.0f ms, answers %v",
					i+1, r.LoginsPerSec, r.CPUPerLogin, g.OK.P50, g.OK.P99, g.Status)
			}
			return nil
		}, nil)
		if err != nil {
			return nil, err
		}
		rep.Throughput = mem
		if err := timeHashes(); err != nil {
			return nil, err
		}
	}
	var times []float64
	for _, h := range rep.Hash {
		times = append(times, float64(h.Single))
	}
	rep.Limit = hashResult{GOMAXPROCS: rep.Hash[0].GOMAXPROCS, Single: time.Duration(benchproc.Median(times))}.Limit()

	if o.floodClients > 0 {
		f := &flood{Clients: o.floodClients, Users: min(o.floodClients, len(users)), Duration: o.flood}
		benchproc.Say("flood: %d clients for %v (%d as real users, the rest as unknown usernames)", f.Clients, f.Duration, f.Users)
		var hc *healthChecker
		mem, err := withServer(w, filepath.Join(tmp, "serve-flood.log"), func(int) error {
			g, err := startGenerator(genConfig{URL: loginURL, Clients: o.floodClients, Users: users[:f.Users], Duration: o.flood}, nil)
			if err != nil {
				return err
			}
			f.Gen = *g
			return nil
		}, func(base string) func() {
			hc = startHealth(base + "/healthz")
			return func() { f.Health = hc.stop() }
		})
		if err != nil {
			return nil, err
		}
		f.Memory = *mem
		rep.Flood = f
		benchproc.Say("flood: answers %v; peak RSS %.0f MiB (budget %d MiB); health checks %d/%d 200, max %.0f ms",
			f.Gen.Status, mib(f.Memory.Peak), o.budgetMiB, f.Health.OK, f.Health.Asked, f.Health.Max)
	}
	return rep, nil
}

// withServer starts warden serve (a fresh process, so that its peak RSS
// is this phase's), samples its resident memory while load runs, and
// stops it. around, when not nil, starts something with the server's
// base URL once it is ready and returns what stops it when load ends.
func withServer(w *benchproc.Warden, logPath string, load func(pid int) error, around func(base string) func()) (*phaseMemory, error) {
	defer w.Stop()
	err := w.StartLog(logPath)
	if err != nil {
		return nil, err
	}
	pid := w.PID()
	var m phaseMemory
	if m.Before, err = benchproc.ProcMemory(pid); err != nil {
		return nil, fmt.Errorf("reading the server's memory: %w", err)
	}
	var stopAround func()
	if around != nil {
		stopAround = around(w.Base())
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if s, err := benchproc.ProcMemory(pid); err == nil {
					m.MaxSample = max(m.MaxSample, s.RSS)
				}
			}
		}
	})
	err = load(pid)
	close(done)
	wg.Wait()
	if stopAround != nil {
		stopAround()
	}
	if err != nil {
		return nil, err
	}
	// The server still finishes the logins it had queued when the clients
	// went away: the peak is read once it has had time to.
	time.Sleep(3 * time.Second)
	end, err := benchproc.ProcMemory(pid)
	if err != nil {
		return nil, err
	}
	m.Peak, m.IdleAfter = end.Peak, end.RSS
	return &m, nil
}

// healthChecker asks a health URL every 100 ms until stopped.
type healthChecker struct {
	cancel context.CancelFunc
	done   chan health
}

// healthTimeout is how long one health check may take before it counts
// as failed.
const healthTimeout = 2 * time.Second

func startHealth(url string) *healthChecker {
	ctx, cancel := context.WithCancel(context.Background())
	hc := &healthChecker{cancel: cancel, done: make(chan health, 1)}
	go func() {
		cl := &http.Client{Timeout: healthTimeout}
		var h health
		var times []float64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				if len(times) > 0 {
					slices.Sort(times)
					h.P99, h.Max = times[len(times)*99/100], times[len(times)-1]
				}
				hc.done <- h
				return
			case <-t.C:
			}
			h.Asked++
			t0 := time.Now()
			resp, err := cl.Get(url)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = errors.New(resp.Status)
				}
			}
			times = append(times, float64(time.Since(t0).Microseconds())/1000)
			if err != nil {
				if h.FirstError == "" {
					h.FirstError = err.Error()
				}
				continue
			}
			h.OK++
		}
	}()
	return hc
}

func (hc *healthChecker) stop() health {
	hc.cancel()
	return <-hc.done
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// problems lists what makes the run fail: an answer or a health check that
// was not as expected. Throughput and memory are verdicts, not failures.
func (r *report) problems() []string {
	var p []string
	for i, rd := range r.Rounds {
		g := rd.Gen
		// A 503 is the hasher's line staying full for MaxWait (2 s): not
		// expected with a few clients, but what the server owes when other
		// processes take its CPUs, so it is reported, not a failure.
		if bad := nonOK(g, http.StatusOK, http.StatusServiceUnavailable); bad > 0 || g.Errors > 0 || g.BadBody > 0 || g.NoRetryAfter > 0 {
			p = append(p, fmt.Sprintf("round %d: %d answers other than 200 and 503, %d without a token, %d refusals without Retry-After, %d errors (%s): %v",
				i+1, bad, g.BadBody, g.NoRetryAfter, g.Errors, g.FirstError, g.Status))
		}
		if g.Status[http.StatusOK] == 0 {
			p = append(p, fmt.Sprintf("round %d: no successful login", i+1))
		}
	}
	if f := r.Flood; f != nil {
		g := f.Gen
		if bad := nonOK(g, http.StatusOK, http.StatusUnauthorized, http.StatusServiceUnavailable); bad > 0 || g.Errors > 0 || g.BadBody > 0 || g.NoRetryAfter > 0 {
			p = append(p, fmt.Sprintf("flood: %d unexpected answers, %d 200s without a token, %d refusals without Retry-After, %d errors (%s): %v",
				bad, g.BadBody, g.NoRetryAfter, g.Errors, g.FirstError, g.Status))
		}
		if g.Status[http.StatusOK]+g.Status[http.StatusUnauthorized] == 0 {
			p = append(p, "flood: no login was decided")
		}
		if f.Health.Asked == 0 || f.Health.OK != f.Health.Asked {
			p = append(p, fmt.Sprintf("flood: %d of %d health checks answered 200 within %v (%s)", f.Health.OK, f.Health.Asked, healthTimeout, f.Health.FirstError))
		}
	}
	return p
}

// nonOK counts the answers whose status is not among want.
func nonOK(g genResult, want ...int) int64 {
	var n int64
	for s, c := range g.Status {
		if !slices.Contains(want, s) {
			n += c
		}
	}
	return n
}

// printReport writes the tables that bench/README.md keeps.
func printReport(w io.Writer, r *report) {
	fmt.Fprintf(w, "\n%d CPUs, %s, load average before %s; Argon2id m=%d KiB t=%d p=%d; hash memory budget %d MiB",
		r.NumCPU, r.GoVersion, r.LoadAverage, r.Params.Memory, r.Params.Iterations, r.Params.Parallelism, r.BudgetMiB)
	if len(r.ServerEnv) > 0 {
		fmt.Fprintf(w, "; warden serve with %s", strings.Join(r.ServerEnv, " "))
	}
	fmt.Fprint(w, "\n\n")
	fmt.Fprintln(w, "| Argon2id, measured alone | one hash (median) | fastest | CPU time per hash | limit: cores / one hash | all cores hashing at once |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for i, h := range r.Hash {
		when := "before the rounds"
		if i > 0 {
			when = "after the rounds"
		}
		fmt.Fprintf(w, "| %s | %.1f ms | %.1f ms | %.1f ms | %.1f/s | %.1f/s |\n", when, ms(h.Single), ms(h.SingleMin), ms(h.CPU), h.Limit(), h.Parallel)
	}
	fmt.Fprintln(w)
	if len(r.Rounds) > 0 {
		var rates, cpus []float64
		fmt.Fprintf(w, "| round (%d clients, %v) | logins/s | vs limit | server CPU ms/login | latency p50 / p99 |\n", r.Clients, r.Duration)
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for i, rd := range r.Rounds {
			rates = append(rates, rd.LoginsPerSec)
			cpus = append(cpus, rd.CPUPerLogin)
			fmt.Fprintf(w, "| %d | %.1f | %.2fx | %.1f | %.0f / %.0f ms |\n", i+1, rd.LoginsPerSec, rd.LoginsPerSec/r.Limit, rd.CPUPerLogin, rd.Gen.OK.P50, rd.Gen.OK.P99)
		}
		med, medCPU := benchproc.Median(rates), benchproc.Median(cpus)
		fmt.Fprintf(w, "| **median** | **%.1f** | **%.2fx** | %.1f | |\n\n", med, med/r.Limit, medCPU)
		if hc := r.hashCPU(); hc > 0 && medCPU > 0 {
			fmt.Fprintf(w, "By CPU time: one hash alone %.1f ms, the server per login %.1f ms: **%.2fx** (the ratio logins/s would reach with the CPUs to itself).\n\n", hc, medCPU, hc/medCPU)
		}
		if m := r.Throughput; m != nil {
			fmt.Fprintf(w, "Server memory with %d clients: RSS %.0f MiB idle before, peak %.0f MiB (VmHWM), %.0f MiB 3 s after.\n\n", r.Clients, mib(m.Before.RSS), mib(m.Peak), mib(m.IdleAfter))
		}
		fmt.Fprintf(w, "- logins/s vs the Argon2id limit (%.1f/s): %.2fx; target >= %.2fx: %s\n\n", r.Limit, med/r.Limit, LoginTarget, benchproc.Verdict(med >= LoginTarget*r.Limit))
	}
	if f := r.Flood; f != nil {
		g := f.Gen
		secs := g.Elapsed.Seconds()
		fmt.Fprintf(w, "Flood: %d clients for %v (%d as real users, the rest under unknown usernames):\n\n", f.Clients, f.Duration, f.Users)
		fmt.Fprintln(w, "| answers | 200 | 401 | 503 (all with Retry-After) | other | no answer |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|")
		fmt.Fprintf(w, "| count (per s) | %d (%.1f) | %d (%.1f) | %d (%.1f) | %d | %d |\n\n",
			g.Status[200], float64(g.Status[200])/secs, g.Status[401], float64(g.Status[401])/secs, g.Status[503], float64(g.Status[503])/secs,
			nonOK(g, 200, 401, 503), g.Errors)
		fmt.Fprintf(w, "Latency of every answer: p50 %.0f ms, p99 %.0f ms, max %.0f ms.\n\n", g.All.P50, g.All.P99, g.All.Max)
		m := f.Memory
		limit := float64(r.BudgetMiB + RSSHeadroomMiB)
		fmt.Fprintf(w, "| server memory | RSS idle before | peak RSS (VmHWM) | largest sample | RSS 3 s after | target: budget + %d MiB |\n|---|---|---|---|---|---|\n", RSSHeadroomMiB)
		fmt.Fprintf(w, "| MiB | %.0f | **%.0f** | %.0f | %.0f | %.0f: %s |\n\n", mib(m.Before.RSS), mib(m.Peak), mib(m.MaxSample), mib(m.IdleAfter), limit, benchproc.Verdict(mib(m.Peak) <= limit))
		fmt.Fprintf(w, "Health checks (GET /healthz every 100 ms): %d of %d answered 200; p99 %.1f ms, max %.1f ms.\n",
			f.Health.OK, f.Health.Asked, f.Health.P99, f.Health.Max)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// hashCPU is the median CPU time of one hash over the hash-time runs, in
// ms (0 when unknown).
func (r *report) hashCPU() float64 {
	var xs []float64
	for _, h := range r.Hash {
		if h.CPU > 0 {
			xs = append(xs, ms(h.CPU))
		}
	}
	return benchproc.Median(xs)
}
