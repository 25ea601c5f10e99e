package main

// The load generator: a child process of the benchmark (this program run
// again with childEnv=gen), so that its CPU time and memory are not the
// server's and the server is measured as a client sees it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Child modes: this program run again with childEnv set plays one part,
// configured by the JSON in configEnv, and prints its result as JSON.
const (
	childEnv  = "WARDEN_BENCH_LOGIN_CHILD"
	configEnv = "WARDEN_BENCH_LOGIN_CONFIG"
	// measuringLine is what the generator prints when its warm-up ends,
	// so that the parent reads the server's CPU time at that moment.
	measuringLine = "measuring"
)

// credential is one user the generator logs in as.
type credential struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// genConfig configures one generator run.
type genConfig struct {
	URL     string `json:"url"` // the login endpoint
	Clients int    `json:"clients"`
	// Users: client i logs in as Users[i] when i < len(Users); every
	// other client logs in under a fresh unknown username each time (401
	// after a dummy hash, as a password sprayer gets).
	Users    []credential  `json:"users"`
	Warmup   time.Duration `json:"warmup"`
	Duration time.Duration `json:"duration"`
}

// genResult counts the answers completed within the measured time.
type genResult struct {
	Elapsed time.Duration `json:"elapsed_ns"`
	// Status counts answers by status code.
	Status map[int]int64 `json:"status"`
	// NoRetryAfter counts 429 and 503 answers without a Retry-After.
	NoRetryAfter int64 `json:"no_retry_after"`
	// BadBody counts 200 answers without an access token.
	BadBody int64 `json:"bad_body"`
	// Errors counts requests that got no answer (connection, timeout).
	Errors     int64  `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	// Latency of the successful logins and of every answer.
	OK  latency `json:"ok_latency"`
	All latency `json:"all_latency"`
}

// latency summarises durations in milliseconds.
type latency struct {
	P50, P99, Max float64
}

func summarize(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return latency{P50: ms(ds[len(ds)/2]), P99: ms(ds[len(ds)*99/100]), Max: ms(ds[len(ds)-1])}
}

// runGenerator is the child's main: it reads its configuration, drives
// the server and prints the result.
func runGenerator() error {
	var c genConfig
	if err := json.Unmarshal([]byte(os.Getenv(configEnv)), &c); err != nil {
		return fmt.Errorf("generator configuration: %w", err)
	}
	res, err := generate(c, func() { fmt.Println(measuringLine) })
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// answer is one completed request.
type answer struct {
	at, took     time.Duration // since the start; duration
	status       int
	noRetryAfter bool
	badBody      bool
	err          error
}

// generate runs c.Clients clients, each one login at a time over a
// keep-alive connection of its own, for c.Warmup and then c.Duration;
// measuring is called when the warm-up ends.
func generate(c genConfig, measuring func()) (*genResult, error) {
	if c.Clients < 1 || c.Duration <= 0 || c.Warmup < 0 {
		return nil, fmt.Errorf("generator: bad configuration %+v", c)
	}
	start := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(c.Warmup+c.Duration))
	defer cancel()
	answers := make([][]answer, c.Clients)
	var seq atomic.Int64
	var wg sync.WaitGroup
	for i := range c.Clients {
		cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
		var user *credential
		if i < len(c.Users) {
			user = &c.Users[i]
		}
		wg.Go(func() {
			defer cl.CloseIdleConnections()
			for ctx.Err() == nil {
				cred := credential{Username: "ghost-" + strconv.FormatInt(seq.Add(1), 10), Password: "not the password 123"}
				if user != nil {
					cred = *user
				}
				t0 := time.Since(start)
				a := login(ctx, cl, c.URL, cred)
				if ctx.Err() != nil {
					return // cut off by the end of the run: not an answer
				}
				a.at, a.took = time.Since(start), time.Since(start)-t0
				answers[i] = append(answers[i], a)
			}
		})
	}
	if c.Warmup > 0 {
		time.Sleep(c.Warmup)
	}
	measuring()
	wg.Wait()
	res := &genResult{Elapsed: c.Duration, Status: map[int]int64{}}
	var ok, all []time.Duration
	for _, as := range answers {
		for _, a := range as {
			if a.at < c.Warmup {
				continue
			}
			if a.err != nil {
				res.Errors++
				if res.FirstError == "" {
					res.FirstError = a.err.Error()
				}
				continue
			}
			res.Status[a.status]++
			all = append(all, a.took)
			if a.status == http.StatusOK {
				ok = append(ok, a.took)
			}
			if a.noRetryAfter {
				res.NoRetryAfter++
			}
			if a.badBody {
				res.BadBody++
			}
		}
	}
	res.OK, res.All = summarize(ok), summarize(all)
	return res, nil
}

// login posts one login and reads the answer whole.
func login(ctx context.Context, cl *http.Client, url string, cred credential) answer {
	body, _ := json.Marshal(cred)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := cl.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return answer{err: err}
	}
	a := answer{status: resp.StatusCode}
	switch resp.StatusCode {
	case http.StatusOK:
		var out struct {
			Access string `json:"access"`
		}
		a.badBody = json.Unmarshal(raw, &out) != nil || out.Access == ""
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		a.noRetryAfter = resp.Header.Get("Retry-After") == ""
	}
	return a
}

// startGenerator runs the generator child with c; onMeasuring is called
// when its warm-up ends, and the result comes when it exits.
func startGenerator(c genConfig, onMeasuring func()) (*genResult, error) {
	return runChild[genResult]("gen", c, onMeasuring)
}

// runChild runs this program again in child mode with config, calls
// onMeasuring (when not nil) when the child prints measuringLine, and
// decodes the last other line it prints as the result.
func runChild[R any](mode string, config any, onMeasuring func()) (*R, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), childEnv+"="+mode, configEnv+"="+string(cfg))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var last string
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); line != measuringLine {
			last = line
		} else if onMeasuring != nil {
			onMeasuring()
		}
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("%s child: %w", mode, err)
	}
	var r R
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		return nil, fmt.Errorf("%s child: result %q: %w", mode, last, err)
	}
	return &r, nil
}
