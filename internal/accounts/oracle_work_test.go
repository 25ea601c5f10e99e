package accounts_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/storetest"
)

// work is what one request did before answering: database statements,
// Argon2 derivations and background jobs queued. Jobs are held while the
// request runs, so that what they do later is not counted.
type work struct {
	statements, derivations int64
	jobs                    uint64
}

func (h *harness) measure(stmts *atomic.Int64, call func() response) (response, work) {
	h.t.Helper()
	h.svc.Wait() // nothing from earlier requests still runs
	release := h.svc.HoldJobsForTest()
	defer func() {
		release()
		h.svc.Wait()
	}()
	q0, _, _ := h.svc.JobsForTest()
	s0, d0 := stmts.Load(), h.hasher.Stats().Derivations
	r := call()
	q1, _, _ := h.svc.JobsForTest()
	return r, work{statements: stmts.Load() - s0, derivations: int64(h.hasher.Stats().Derivations - d0), jobs: q1 - q0}
}

// TestResetAndResendDoTheSameWorkForAnyAddress: the review measured
// password-reset at 6.5 ms for a registered address and 3.1 ms for an
// unknown one (resend-verification likewise): the token writes and mail
// ran in the request. Now the request queues one job for any address and
// touches neither the database nor the hasher; the job decides.
func TestResetAndResendDoTheSameWorkForAnyAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		db, stmts := countingDB(t, e)
		h := newHarness(t, options{engine: e, db: db})
		h.registerVerified("rita")
		h.expect(h.register("ursula", "ursula@example.com", goodPassword), 201)
		addresses := []string{"rita@example.com", "ursula@example.com", "nobody@example.com"}
		for _, path := range []string{"/api/auth/password-reset", "/api/auth/resend-verification"} {
			var first response
			for i, addr := range addresses {
				r, w := h.measure(stmts, func() response {
					return h.expect(h.call("POST", path, map[string]string{"email": addr}, ""), 200)
				})
				if w != (work{jobs: 1}) {
					t.Fatalf("%s %s: %+v; want one job and nothing else", path, addr, w)
				}
				if i == 0 {
					first = r
				} else {
					sameAnswer(t, path+" "+addr, first, r)
				}
			}
		}
		// The jobs decided: a reset link for each account, a new
		// verification link for the unverified one, nothing for nobody.
		if !strings.Contains(strings.Join(h.mails("rita@example.com"), ""), "/reset-password") {
			t.Fatal("no reset link for rita")
		}
		var links int
		for _, m := range h.mails("ursula@example.com") {
			if strings.Contains(m, "/verify-email?token=") {
				links++
			}
		}
		if links != 2 || len(h.mails("nobody@example.com")) != 0 {
			t.Fatalf("ursula has %d verification links; nobody has %d mails", links, len(h.mails("nobody@example.com")))
		}
	})
}

// TestRegisterAndLoginDoTheSameWorkForATakenAddress: registering a taken
// address and a free one hash once, run the same statements and queue one
// job; a login by address runs the same statements and two derivations
// (the account's or a dummy, and one for the pending registrations of the
// address) whether the address is taken, free or unknown.
func TestRegisterAndLoginDoTheSameWorkForATakenAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		db, stmts := countingDB(t, e)
		h := newHarness(t, options{engine: e, db: db})
		h.registerVerified("tess")
		// Warm up: the first registration loads the installation secret
		// and prepares statements.
		h.expect(h.register("warmup", "warmup@example.com", goodPassword), 201)
		h.expect(h.login("warmup@example.com", goodPassword), 403)

		type probe struct{ label, name, email, pw string }
		probes := []probe{
			{"taken", "probe-taken", "tess@example.com", "first probe passphrase"},
			{"free", "probe-free", "free@example.com", "second probe passphrase"},
		}
		var regs []work
		for _, p := range probes {
			_, w := h.measure(stmts, func() response { return h.expect(h.register(p.name, p.email, p.pw), 201) })
			regs = append(regs, w)
		}
		if regs[0] != regs[1] || regs[0].derivations != 1 || regs[0].jobs != 1 || regs[0].statements == 0 {
			t.Fatalf("register: taken %+v, free %+v; want the same, with one hash and one job", regs[0], regs[1])
		}
		// A taken username is refused after the same work either way.
		var refused []work
		for _, email := range []string{"tess@example.com", "free2@example.com"} {
			_, w := h.measure(stmts, func() response { return h.expect(h.register("probe-free", email, goodPassword), 400) })
			refused = append(refused, w)
		}
		if refused[0] != refused[1] || refused[0].jobs != 0 {
			t.Fatalf("taken username: %+v vs %+v", refused[0], refused[1])
		}

		login := func(login, pw string, status int) work {
			_, w := h.measure(stmts, func() response { return h.expect(h.login(login, pw), status) })
			return w
		}
		cases := []struct {
			what   string
			logins [][2]string
			status int
			hashes int64
		}{
			{"pending password by address", [][2]string{{"tess@example.com", probes[0].pw}, {"free@example.com", probes[1].pw}}, 403, 2},
			{"wrong password by address", [][2]string{{"tess@example.com", "some wrong guess"}, {"free@example.com", "some wrong guess"}, {"unknown@example.com", "some wrong guess"}}, 401, 2},
			{"pending password by username", [][2]string{{"probe-taken", probes[0].pw}, {"probe-free", probes[1].pw}}, 403, 1},
		}
		for _, c := range cases {
			var ws []work
			for _, l := range c.logins {
				ws = append(ws, login(l[0], l[1], c.status))
			}
			for i, w := range ws {
				if w != ws[0] || w.derivations != c.hashes || w.jobs != 0 {
					t.Fatalf("%s: %s did %+v, %s did %+v; want the same, with %d hashes", c.what, c.logins[0][0], ws[0], c.logins[i][0], w, c.hashes)
				}
			}
		}
	})
}

// TestAFullQueueDropsJobsWithoutChangingTheAnswer: the queue never blocks
// a request. When it is full a job is dropped with a logged event (no
// address), and the answer is the one every request gets.
func TestAFullQueueDropsJobsWithoutChangingTheAnswer(t *testing.T) {
	h := newHarness(t, options{engine: storetest.Engines()[0], jobQueue: 2})
	h.registerVerified("quincy")
	release := h.svc.HoldJobsForTest()
	r0, q0, d0 := h.svc.JobsForTest()
	var answers []response
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			answers = append(answers, h.call("POST", "/api/auth/password-reset", map[string]string{"email": "quincy@example.com"}, ""))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("requests blocked on the full queue")
	}
	// A job enters the queue (or is dropped) once its request has ended.
	var r1, q1, d1 uint64
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if r1, q1, d1 = h.svc.JobsForTest(); q1+d1 == r1 || time.Now().After(deadline) {
			break
		}
	}
	release()
	if r1-r0 != 10 {
		t.Fatalf("%d jobs asked for by 10 requests", r1-r0)
	}
	for _, a := range answers {
		sameAnswer(t, "queued vs dropped", answers[0], a)
	}
	// Each of the (at most 4) workers may hold one job, waiting on the
	// hold, beside the two in the queue.
	if queued, dropped := q1-q0, d1-d0; queued+dropped != 10 || queued < 2 || queued > 6 {
		t.Fatalf("%d queued, %d dropped", queued, dropped)
	}
	h.svc.Wait()
	logs := h.logs.String()
	if !strings.Contains(logs, `"event":"job_dropped"`) {
		t.Fatal("no job_dropped event")
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "job_dropped") && strings.Contains(line, "quincy@") {
			t.Fatalf("the drop names the address: %s", line)
		}
	}
}

// TestWaitDrainsTheQueue: Wait (and so Close, which app.Close calls before
// the database closes) returns only when every queued job has run.
func TestWaitDrainsTheQueue(t *testing.T) {
	h := newHarness(t, options{engine: storetest.Engines()[0]})
	release := h.svc.HoldJobsForTest()
	for i := range 3 {
		h.expect(h.register(fmt.Sprintf("drain%d", i), fmt.Sprintf("drain%d@example.com", i), goodPassword), 201)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		release()
	}()
	if err := h.svc.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		// Read the outbox without Wait: the mail must be there already.
		if n := len(h.mailsNow(fmt.Sprintf("drain%d@example.com", i))); n != 1 {
			t.Fatalf("drain%d: %d mails after Close", i, n)
		}
	}
}
