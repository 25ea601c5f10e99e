package accounts

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Background jobs. The anonymous flows that may touch an account
// (registration's mail, resend-verification, password-reset) answer before
// that work runs: the request only queues one job, for a registered and a
// free address alike, and the job decides what there is to do. Token writes,
// look-ups and mail therefore never show in the response time (API.md: the
// registration flow is no oracle, in time either).
//
// The queue is bounded and never blocks a request: when it is full the job
// is dropped and logged ("job_dropped", without the address), and the
// request answers exactly as it would have. A dropped reset or verification
// mail is what a lost mail looks like, and the user asks again. Workers are
// started on demand up to a bound and exit when the queue is empty, so an
// idle service (or an operator command) holds no goroutines.

// Queue defaults.
const (
	defaultJobQueue   = 1024
	defaultJobWorkers = 4
	// jobTimeout bounds one job: its database work and the mail hand-over.
	jobTimeout = time.Minute
	// A request's job enters the queue jobDelay to jobDelay+jobJitter after
	// the handler returned. net/http ends a request's context before it
	// flushes the answer, so without the delay the job would still share
	// the CPU with the answer's last bytes; the jitter keeps its database
	// and CPU use from lining up with the request that caused it.
	jobDelay  = 5 * time.Millisecond
	jobJitter = 10 * time.Millisecond
)

// job is one unit of deferred work. kind names it in the log.
type job struct {
	kind string
	ctx  context.Context
	run  func(ctx context.Context)
}

// jobQueue runs jobs on at most workers goroutines, holding at most
// cap(jobs) waiting ones.
type jobQueue struct {
	jobs    chan job
	workers int
	log     *slog.Logger
	wg      *sync.WaitGroup // Service.mailWG: Wait covers queued jobs too

	mu      sync.Mutex
	running int

	// requested counts enqueue calls; each becomes queued or dropped.
	requested, queued, dropped atomic.Uint64
	// hold, when set (tests only), keeps workers from starting a job
	// until the channel is closed, so that a test can look at the work a
	// request did before its job runs.
	hold atomic.Pointer[chan struct{}]
}

func newJobQueue(size, workers int, log *slog.Logger, wg *sync.WaitGroup) *jobQueue {
	if size <= 0 {
		size = defaultJobQueue
	}
	if workers <= 0 {
		workers = defaultJobWorkers
	}
	return &jobQueue{jobs: make(chan job, size), workers: workers, log: log, wg: wg}
}

// enqueue schedules run and returns at once. The job's context keeps the
// request's values (request id for the log) but not its cancellation or
// deadline.
//
// The job enters the queue only after ctx ends, which for a request is when
// its handler has returned (and a few milliseconds later, see jobDelay): a
// job that started at once would compete for the CPU and the database with
// the rest of its own request (writing the answer), and a job for a real
// account, which does more, would still slow that answer down. Work without a request context (Background)
// enters the queue at once. Whether the queue had room is decided then
// too, after the answer, so it cannot change the answer either.
func (q *jobQueue) enqueue(ctx context.Context, kind string, run func(ctx context.Context)) {
	j := job{kind: kind, ctx: context.WithoutCancel(ctx), run: run}
	// Counted before it can run, so that Wait never misses a job.
	q.wg.Add(1)
	q.requested.Add(1)
	if ctx.Done() == nil {
		q.push(j)
		return
	}
	context.AfterFunc(ctx, func() {
		time.AfterFunc(jobDelay+rand.N(jobJitter), func() { q.push(j) })
	})
}

// push queues j, or drops it when the queue is full, and makes sure a
// worker runs.
func (q *jobQueue) push(j job) {
	select {
	case q.jobs <- j:
	default:
		q.wg.Done()
		q.dropped.Add(1)
		q.log.LogAttrs(j.ctx, slog.LevelWarn, "security event", slog.String("event", "job_dropped"),
			slog.String("job", j.kind), slog.String("reason", "queue full"))
		return
	}
	q.queued.Add(1)
	q.mu.Lock()
	if q.running < q.workers {
		q.running++
		go q.work()
	}
	q.mu.Unlock()
}

// work runs queued jobs until the queue is empty. The emptiness check and
// the worker count change under one lock, and enqueue adds to the channel
// before it takes that lock, so a job is never left without a worker.
func (q *jobQueue) work() {
	for {
		select {
		case j := <-q.jobs:
			q.runOne(j)
			continue
		default:
		}
		q.mu.Lock()
		if len(q.jobs) == 0 {
			q.running--
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
	}
}

func (q *jobQueue) runOne(j job) {
	defer q.wg.Done()
	if h := q.hold.Load(); h != nil {
		<-*h
	}
	ctx, cancel := context.WithTimeout(j.ctx, jobTimeout)
	defer cancel()
	defer func() {
		// A bug in one job must not take the server down with it. The
		// panic value is logged by type only: it could hold an address.
		if v := recover(); v != nil {
			q.log.LogAttrs(ctx, slog.LevelError, "background job failed", slog.String("job", j.kind), slog.String("panic", fmt.Sprintf("%T", v)))
		}
	}()
	j.run(ctx)
}
