package redisticket_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/internal/rediskey"
	"github.com/wardenhq/warden/ticket"
	"github.com/wardenhq/warden/ticket/redisticket"
	"github.com/wardenhq/warden/ticket/tickettest"
)

// TestCluster runs the Store on a local Redis Cluster of three masters
// with a replica each, one cluster for every subtest: the contract across
// three instances, and, last, a failover of a master holding a ticket.
// Each ticket is one key, spread over the shards by its digest.
func TestCluster(t *testing.T) {
	cl := redistest.Cluster(t, redistest.ClusterOptions{Replicas: 1})
	stores := func(t *testing.T, prefix string) []*redisticket.Store {
		var s []*redisticket.Store
		for range 3 {
			s = append(s, redisticket.New(redistest.OpenURL(t, cl.URL), prefix))
		}
		return s
	}

	t.Run("contract", func(t *testing.T) {
		tickettest.Run(t, func(t *testing.T) []ticket.Store {
			var s []ticket.Store
			for _, st := range stores(t, cl.Prefix(t)) {
				s = append(s, st)
			}
			return s
		})
	})

	t.Run("one round trip per call", func(t *testing.T) {
		c := redistest.OpenURL(t, cl.URL)
		hook := &redistest.CountingHook{}
		c.AddHook(hook)
		s := redisticket.New(c, cl.Prefix(t))
		for i := range 6 { // tickets on several shards
			tk := "t" + strconv.Itoa(i)
			for _, call := range []func() error{
				func() error { return s.Issue(ctx, tk, "v", time.Minute) },
				func() error { _, _, err := s.Redeem(ctx, tk); return err },
			} {
				before := hook.Count()
				if err := call(); err != nil {
					t.Fatal(err)
				}
				if n := hook.Count() - before; n != 1 {
					t.Errorf("%s: %d round trips, want 1", tk, n)
				}
			}
		}
	})

	// Last: the cluster keeps the promoted replica as master afterwards.
	t.Run("failover of a master holding a ticket", func(t *testing.T) {
		redistest.Failover(t)
		prefix := cl.Prefix(t)
		inst := stores(t, prefix)
		issuer, redeemer := inst[0], inst[1]
		const n = 30 // on every shard
		for i := range n {
			if err := issuer.Issue(ctx, "tk-"+strconv.Itoa(i), "v"+strconv.Itoa(i), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		cl.WaitReplicated(t)
		cl.KillMasterOf(t, rediskey.Digest(prefix, "ticket", "tk-0"))

		// During the outage no call answers wrongly: tk-0 is never "not
		// found" before it has been redeemed, and a call that returned
		// before a replica was promoted had no master to ask, so it must
		// have failed.
		redeemed := false
		outage := 0
		for i := 0; ; i++ {
			v, ok, redeemErr := redeemer.Redeem(ctx, "tk-0")
			issueErr := issuer.Issue(ctx, "new-"+strconv.Itoa(i), "w", time.Minute)
			promoted := cl.Promoted()
			switch {
			case redeemErr != nil:
			case ok && v == "v0" && !redeemed:
				redeemed = true
			default:
				t.Fatalf("Redeem during the failover = %q, %v, %v (redeemed before: %v)", v, ok, redeemErr, redeemed)
			}
			if issueErr == nil {
				// An acknowledged ticket redeems, once.
				if v, ok, err := redeemer.Redeem(ctx, "new-"+strconv.Itoa(i)); err == nil && (!ok || v != "w") {
					t.Fatalf("a ticket issued during the failover: Redeem = %q, %v", v, ok)
				}
			}
			if promoted {
				break
			}
			outage++
			if redeemErr == nil {
				t.Fatalf("Redeem succeeded with no master for the ticket")
			}
		}
		if outage == 0 {
			t.Fatal("the replica was promoted before any call; the outage was not exercised")
		}
		t.Logf("%d redeems failed closed during the outage", outage)
		cl.WaitFailover(t)

		// Afterwards every instance finds the new master by itself, and
		// every ticket issued before the failover redeems exactly once, on
		// any instance, tk-0 included.
		for j, s := range inst {
			err := redistest.Eventually(10*time.Second, func() error {
				v, ok, err := s.Redeem(ctx, "tk-0")
				if err == nil && ok {
					if redeemed || v != "v0" {
						t.Fatalf("Redeem of tk-0 on instance %d after the failover = %q, %v (redeemed before: %v)", j+1, v, ok, redeemed)
					}
					redeemed = true
				}
				return err
			})
			if err != nil {
				t.Fatalf("Redeem on instance %d after the failover: %v", j+1, err)
			}
		}
		if !redeemed {
			t.Error("tk-0, issued before the failover, never redeemed")
		}
		for i := 1; i < n; i++ {
			tk := "tk-" + strconv.Itoa(i)
			for j, s := range inst {
				v, ok, err := s.Redeem(ctx, tk)
				if want := j == 0; err != nil || ok != want || (want && v != "v"+strconv.Itoa(i)) {
					t.Errorf("Redeem %d of %s after the failover = %q, %v, %v; want found %v", j+1, tk, v, ok, err, want)
				}
			}
		}
		if err := issuer.Issue(ctx, "after", "x", time.Minute); err != nil {
			t.Errorf("Issue after the failover: %v", err)
		}
	})
}
