// Command books measures GET /api/books on the real server against bare
// net/http, from outside: every server and the load generator run in
// processes of their own, on the loopback interface.
//
// It builds the warden binary and the load generator (bench/load), then:
//
//  1. migrates a fresh SQLite database in a temporary data directory
//     (warden migrate), creates a user (warden user create) and seeds
//     -books books straight through SQL, which is much faster than the API
//     and measures nothing;
//
//  2. starts warden serve on it, with the router-wide throttle on but
//     high enough never to refuse (its cost is measured, not its refusals);
//
//  3. reads the first page and walks "next" to the cursor of page 4,000
//     (-deep);
//
//  4. starts a bare net/http server in another process (this program
//     again, told by an environment variable), answering the first page's
//     exact bytes;
//
//  5. runs the load generator in a separate process against five targets,
//     in alternating rounds: bare; the first page (GET /api/books, which
//     the server answers again while the books are unchanged); the same
//     page asked as ?page=1, which is rendered on every request; the
//     cursor page 4,000; the offset page ?page=4000. It prints the ratios.
//
// Usage:
//
//	go run ./bench/books                          # 100,000 books, 3 rounds of 10 s, 16 workers
//	go run ./bench/books -rounds 5 -duration 20s
//	go run ./bench/books -json                    # the load generator's report as JSON
//
// The load generator and both servers share the machine's CPUs; each
// server's CPU time per request (from /proc) is reported too, which other
// processes disturb less than throughput. See bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/bench/internal/benchproc"
	"github.com/wardenhq/warden/internal/store"
)

// Targets of the issue.
const (
	// FirstPageTarget: the first page at 0.3x or more of bare net/http.
	FirstPageTarget = 0.30
	// DeepCursorTarget: the cursor page 4,000 at most 3x the time of the
	// first page.
	DeepCursorTarget = 3.0
)

type options struct {
	books            int
	workers, rounds  int
	duration, warmup time.Duration
	asJSON, keep     bool
	serverLog        string
	deep             int
}

func main() {
	var o options
	flag.IntVar(&o.books, "books", 100_000, "books to seed")
	flag.IntVar(&o.deep, "deep", 4000, "the deep page measured by cursor and by number; -books must fill it")
	flag.IntVar(&o.workers, "workers", 16, "load generator workers, each on its own keep-alive connection")
	flag.IntVar(&o.rounds, "rounds", 3, "alternating rounds per target")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per round and target")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each measured round")
	flag.BoolVar(&o.asJSON, "json", false, "print the load generator's report as JSON on stdout")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (data, binaries, logs)")
	flag.StringVar(&o.serverLog, "server-log", "", "write warden serve's log (one access line per request) to `file`; discarded by default")
	flag.Parse()
	benchproc.ServeBareIfChild("books")
	code, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "books:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(o options) (int, error) {
	if o.deep < 2 || o.books < o.deep*20 {
		return 0, fmt.Errorf("-books %d does not fill page %d of 20", o.books, o.deep)
	}
	root, tmp, remove, err := benchproc.Workdir("warden-books-bench-", o.keep)
	if err != nil {
		return 0, err
	}
	defer remove()

	wardenBin, loadBin := filepath.Join(tmp, "warden"), filepath.Join(tmp, "load")
	benchproc.Say("building warden and the load generator")
	for _, b := range [][2]string{{wardenBin, "./cmd/warden"}, {loadBin, "./bench/load"}} {
		if err := benchproc.Build(root, b[0], b[1]); err != nil {
			return 0, err
		}
	}

	srv, err := benchproc.NewWarden(wardenBin, filepath.Join(tmp, "data"))
	if err != nil {
		return 0, err
	}
	userID, err := srv.CreateUser("librarian", "correct horse battery staple", "--permissions", "books.add_book")
	if err != nil {
		return 0, err
	}
	benchproc.Say("seeding %d books through SQL", o.books)
	start := time.Now()
	if err := seed(filepath.Join(srv.DataDir, "warden.db"), userID, o.books); err != nil {
		return 0, fmt.Errorf("seed: %w", err)
	}
	benchproc.Say("seeded in %v", time.Since(start).Round(time.Millisecond))

	// The server: warden serve, as deployed, in its own process.
	logFile := os.DevNull
	if o.serverLog != "" {
		logFile = o.serverLog
	}
	defer srv.Stop()
	if err := srv.StartLog(logFile); err != nil {
		return 0, err
	}
	base := srv.Base()

	// The pages to measure; the cursor of page 4,000 is reached the way a
	// client reaches it, by following next.
	first, firstBody, err := getPage(base + "/api/books")
	if err != nil {
		return 0, err
	}
	if first.Count != int64(o.books) || len(first.Results) != 20 {
		return 0, fmt.Errorf("first page: count %d with %d results, want %d with 20", first.Count, len(first.Results), o.books)
	}
	benchproc.Say("walking next to page %d", o.deep)
	cursor, p := first.Next, first
	for page := 2; page <= o.deep; page++ {
		if cursor == nil {
			return 0, fmt.Errorf("no next on page %d", page-1)
		}
		deep := base + "/api/books?cursor=" + url.QueryEscape(*cursor)
		if page == o.deep {
			cursor = &deep
			break
		}
		if p, _, err = getPage(deep); err != nil {
			return 0, err
		}
		cursor = p.Next
	}
	deepURL := *cursor
	deepBody, _, err := getPage(deepURL)
	if err != nil {
		return 0, err
	}
	if deepBody.Page != o.deep || len(deepBody.Results) != 20 {
		return 0, fmt.Errorf("cursor page: page %d with %d results", deepBody.Page, len(deepBody.Results))
	}
	offsetURL := fmt.Sprintf("%s/api/books?page=%d", base, o.deep)
	if off, _, err := getPage(offsetURL); err != nil || off.Results[0].ID != deepBody.Results[0].ID {
		return 0, fmt.Errorf("offset page %d differs from the cursor page: %v", o.deep, err)
	}

	// The bare server answers the first page's bytes, in its own process.
	bare, bareAddr, err := benchproc.StartBare(tmp, "first-page", benchproc.Bare{Body: firstBody})
	if err != nil {
		return 0, err
	}
	defer benchproc.Stop(bare)
	bareURL := "http://" + bareAddr + "/api/books"

	benchproc.Say("first page %d bytes; driving bare, first, page1, cursor%d, offset%d", len(firstBody), o.deep, o.deep)
	wpid, bpid := strconv.Itoa(srv.PID()), strconv.Itoa(bare.Process.Pid)
	args := []string{"-json",
		"-workers", strconv.Itoa(o.workers), "-rounds", strconv.Itoa(o.rounds),
		"-duration", o.duration.String(), "-warmup", o.warmup.String(),
		"-target", "bare=" + bareURL, "-server-pid", "bare=" + bpid,
		"-target", "first=" + base + "/api/books", "-server-pid", "first=" + wpid,
		"-target", "page1=" + base + "/api/books?page=1", "-server-pid", "page1=" + wpid,
		"-target", fmt.Sprintf("cursor%d=%s", o.deep, deepURL), "-server-pid", fmt.Sprintf("cursor%d=%s", o.deep, wpid),
		"-target", fmt.Sprintf("offset%d=%s", o.deep, offsetURL), "-server-pid", fmt.Sprintf("offset%d=%s", o.deep, wpid),
	}
	load := exec.Command(loadBin, args...)
	load.Stderr = os.Stderr
	raw, loadErr := load.Output()
	var rep loadReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return 0, fmt.Errorf("load generator: %v %v", loadErr, err)
	}
	if o.asJSON {
		_, _ = os.Stdout.Write(raw)
	}
	printSummary(os.Stdout, &rep, o)
	if loadErr != nil || rep.TotalErrors > 0 {
		return 1, nil
	}
	return 0, nil
}

// loadReport is what this program reads of bench/load's JSON report.
type loadReport struct {
	GOMAXPROCS  int    `json:"gomaxprocs"`
	NumCPU      int    `json:"num_cpu"`
	Workers     int    `json:"workers"`
	LoadAverage string `json:"load_average_before"`
	Targets     []struct {
		Name      string    `json:"name"`
		RPS       []float64 `json:"rps"`
		MedianRPS float64   `json:"median_rps"`
		Errors    int64     `json:"errors"`
		FirstErr  string    `json:"first_error"`
		BodyBytes int       `json:"body_bytes"`
		ServerCPU float64   `json:"median_server_cpu_us_per_request"`
		Latency   float64   `json:"mean_latency_ms"`
	} `json:"targets"`
	TotalErrors int64 `json:"total_errors"`
}

func printSummary(w io.Writer, r *loadReport, o options) {
	if len(r.Targets) != 5 {
		fmt.Fprintf(w, "incomplete report: %d targets\n", len(r.Targets))
		return
	}
	bare, first, page1, cursor, offset := r.Targets[0], r.Targets[1], r.Targets[2], r.Targets[3], r.Targets[4]
	fmt.Fprintf(w, "\nGET /api/books, %d books on SQLite; %d workers, %d rounds of %v; GOMAXPROCS=%d of %d CPUs; load average before %s\n",
		o.books, r.Workers, o.rounds, o.duration, r.GOMAXPROCS, r.NumCPU, r.LoadAverage)
	fmt.Fprintf(w, "%-12s %12s %22s %14s %18s %8s\n", "target", "median req/s", "rounds req/s", "latency ms", "server CPU-us/req", "errors")
	for _, t := range r.Targets {
		rounds := make([]string, len(t.RPS))
		for i, v := range t.RPS {
			rounds[i] = strconv.FormatFloat(v, 'f', 0, 64)
		}
		fmt.Fprintf(w, "%-12s %12.0f %22s %14.2f %18.1f %8d\n", t.Name, t.MedianRPS, strings.Join(rounds, " "), t.Latency, t.ServerCPU, t.Errors)
	}
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	firstRatio := ratio(first.MedianRPS, bare.MedianRPS)
	deep := ratio(first.MedianRPS, cursor.MedianRPS)
	fmt.Fprintf(w, "first page / bare (req/s): %.3fx (target >= %.2fx: %s); server CPU per request %.3fx bare's\n",
		firstRatio, FirstPageTarget, benchproc.Verdict(firstRatio >= FirstPageTarget), ratio(first.ServerCPU, bare.ServerCPU))
	fmt.Fprintf(w, "?page=1, rendered every time / bare (req/s): %.3fx; server CPU per request %.3fx bare's\n",
		ratio(page1.MedianRPS, bare.MedianRPS), ratio(page1.ServerCPU, bare.ServerCPU))
	fmt.Fprintf(w, "cursor page %d / first page (time per request): %.2fx (target <= %.1fx: %s); server CPU %.2fx\n",
		o.deep, deep, DeepCursorTarget, benchproc.Verdict(deep <= DeepCursorTarget), ratio(cursor.ServerCPU, first.ServerCPU))
	fmt.Fprintf(w, "cursor page %d / ?page=1, both rendered (time per request): %.2fx; server CPU %.2fx\n",
		o.deep, ratio(page1.MedianRPS, cursor.MedianRPS), ratio(cursor.ServerCPU, page1.ServerCPU))
	fmt.Fprintf(w, "offset ?page=%d / first page (time per request): %.2fx; server CPU %.2fx\n",
		o.deep, ratio(first.MedianRPS, offset.MedianRPS), ratio(offset.ServerCPU, first.ServerCPU))
	for _, t := range r.Targets {
		if t.Errors > 0 {
			fmt.Fprintf(w, "ERRORS on %s: %d, first: %s\n", t.Name, t.Errors, t.FirstErr)
		}
	}
}

// seed inserts n books added by userID in one transaction, and sets the
// kept count (the server recounts at start all the same).
func seed(dbPath, userID string, n int) error {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite://"+dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO books (title, author, isbn, added_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for i := range n {
		created := t0 + int64(i)*1000
		if _, err := st.ExecContext(ctx, fmt.Sprintf("The Collected Works, Volume %06d", i+1), fmt.Sprintf("Author Number %d", i%997),
			fmt.Sprintf("978%010d", i), userID, created, created); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE book_count SET n = (SELECT COUNT(*) FROM books) WHERE id = 1`); err != nil {
		return err
	}
	return tx.Commit()
}

type pageView struct {
	Count   int64   `json:"count"`
	Page    int     `json:"page"`
	Next    *string `json:"next"`
	Results []struct {
		ID int64 `json:"id"`
	} `json:"results"`
}

func getPage(u string) (*pageView, []byte, error) {
	_, body, err := benchproc.Get(u, nil)
	if err != nil {
		return nil, nil, err
	}
	var p pageView
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, nil, err
	}
	return &p, body, nil
}
