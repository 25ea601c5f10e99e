package app_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/app"
	"github.com/wardenhq/warden/internal/redisconn/redistest"
	"github.com/wardenhq/warden/internal/storetest"
)

// cluster is three instances sharing one database and one Redis, as
// behind a load balancer.
type cluster struct {
	bases []string
	apps  []*app.App
}

func startCluster(t *testing.T, e storetest.Engine, extra map[string]string) *cluster {
	t.Helper()
	env := map[string]string{
		"WARDEN_DATABASE_URL": e.NewURL(t),
		"WARDEN_REDIS_URL":    redistest.URL(t),
		"WARDEN_REDIS_PREFIX": redistest.Prefix(t),
		"WARDEN_SECRET_KEY":   "cluster-test-secret-shared-by-every-instance",
		"WARDEN_API_KEYS":     "",
	}
	for k, v := range extra {
		env[k] = v
	}
	delete(env, "WARDEN_API_KEYS")
	c := &cluster{}
	for range 3 {
		base, a := start(t, env)
		c.bases = append(c.bases, base)
		c.apps = append(c.apps, a)
	}
	return c
}

func (c *cluster) user(t *testing.T, name string) {
	t.Helper()
	_, err := c.apps[0].Accounts().CreateUser(t.Context(), accounts.RegisterInput{Username: name, Email: name + "@example.com", Password: "correct horse battery staple"},
		accounts.CreateOptions{Verified: true})
	if err != nil {
		t.Fatal(err)
	}
}

func (c *cluster) login(t *testing.T, i int, name string) (access, refresh string) {
	t.Helper()
	status, _, body := call(t, "POST", c.bases[i]+"/api/auth/login", jsonCT, `{"username":"`+name+`","password":"correct horse battery staple"}`)
	if status != 200 {
		t.Fatalf("login on %d: %d %v", i, status, body)
	}
	return body["access"].(string), body["refresh"].(string)
}

var jsonCT = map[string]string{"Content-Type": "application/json"}

func TestThreeInstancesShareState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		if e.Name == "sqlite" {
			t.Skip("instances on several machines share a server database")
		}
		t.Run("a token revoked through one instance is refused by the others", func(t *testing.T) {
			c := startCluster(t, e, nil)
			tok, err := c.apps[0].Signer().Sign("uma", nil)
			if err != nil {
				t.Fatal(err)
			}
			bearer := map[string]string{"Authorization": "Bearer " + tok.Raw}
			for i := range 3 {
				if status, _, _ := call(t, "GET", c.bases[i]+"/api/demo/jwt", bearer, ""); status != 200 {
					t.Fatalf("instance %d before revocation: %d", i, status)
				}
			}
			if status, _, _ := call(t, "POST", c.bases[0]+"/api/demo/logout", bearer, ""); status != 200 {
				t.Fatalf("revoke: %d", status)
			}
			for i := range 3 {
				if status, _, body := call(t, "GET", c.bases[i]+"/api/demo/jwt", bearer, ""); status != 401 || !strings.Contains(body["detail"].(string), "revoked") {
					t.Fatalf("instance %d after revocation: %d %v", i, status, body)
				}
			}
		})
		t.Run("a limit of N per minute admits exactly N across the instances", func(t *testing.T) {
			c := startCluster(t, e, map[string]string{"WARDEN_AUTH_RATE_PER_MINUTE": "7"})
			var mu sync.Mutex
			statuses := map[int]int{}
			var wg sync.WaitGroup
			for i := range 21 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status, _, _ := call(t, "POST", c.bases[i%3]+"/api/auth/password-reset", jsonCT, `{"email":"nobody@example.com"}`)
					mu.Lock()
					statuses[status]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			if statuses[200] != 7 || statuses[429] != 14 {
				t.Fatalf("statuses %v, want 7 admitted and 14 refused", statuses)
			}
		})
		t.Run("failed-login backoff counts failures on every instance", func(t *testing.T) {
			c := startCluster(t, e, map[string]string{"WARDEN_AUTH_RATE_PER_MINUTE": "1000"})
			c.user(t, "yuri")
			// Seven failures spread over the instances: the 5th starts a 1 s
			// back-off, the 6th (after it) 2 s, the 7th 4 s, long enough for
			// the next attempt to land inside it on a loaded machine.
			for i := range 7 {
				switch i {
				case 5:
					time.Sleep(1100 * time.Millisecond)
				case 6:
					time.Sleep(2100 * time.Millisecond)
				}
				if status, _, _ := call(t, "POST", c.bases[i%3]+"/api/auth/login", jsonCT, `{"username":"yuri","password":"wrong password `+string(rune('a'+i))+`"}`); status != 401 {
					t.Fatalf("failure %d: %d", i, status)
				}
			}
			if status, _, _ := call(t, "POST", c.bases[2]+"/api/auth/login", jsonCT, `{"username":"yuri","password":"correct horse battery staple"}`); status != 429 {
				t.Fatalf("attempt after the seventh failure, on another instance: %d, want 429", status)
			}
		})
		t.Run("refresh reuse is detected whichever instance sees the replay", func(t *testing.T) {
			c := startCluster(t, e, map[string]string{"WARDEN_REFRESH_GRACE": "1s"})
			c.user(t, "vera")
			_, r1 := c.login(t, 0, "vera")
			status, _, body := call(t, "POST", c.bases[1]+"/api/auth/refresh", jsonCT, `{"refresh":"`+r1+`"}`)
			if status != 200 {
				t.Fatalf("rotate on 1: %d", status)
			}
			r2, a2 := body["refresh"].(string), body["access"].(string)
			time.Sleep(1100 * time.Millisecond) // past the grace window
			if status, _, _ := call(t, "POST", c.bases[2]+"/api/auth/refresh", jsonCT, `{"refresh":"`+r1+`"}`); status != 401 {
				t.Fatalf("replay on 2: %d", status)
			}
			if status, _, _ := call(t, "POST", c.bases[0]+"/api/auth/refresh", jsonCT, `{"refresh":"`+r2+`"}`); status != 401 {
				t.Fatalf("descendant on 0 after reuse: %d", status)
			}
			if status, _, _ := call(t, "GET", c.bases[1]+"/api/auth/me", map[string]string{"Authorization": "Bearer " + a2}, ""); status != 401 {
				t.Fatalf("access token of the revoked login on 1: %d", status)
			}
		})
		t.Run("one refresh token sent to two instances at once yields one login", func(t *testing.T) {
			c := startCluster(t, e, map[string]string{"WARDEN_REFRESH_GRACE": "0s", "WARDEN_AUTH_RATE_PER_MINUTE": "1000"})
			c.user(t, "walt")
			for round := range 5 {
				_, refresh := c.login(t, round%3, "walt")
				var wg sync.WaitGroup
				results := make([]int, 2)
				for i := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						results[i], _, _ = call(t, "POST", c.bases[i]+"/api/auth/refresh", jsonCT, `{"refresh":"`+refresh+`"}`)
					}()
				}
				wg.Wait()
				ok := 0
				for _, s := range results {
					if s == 200 {
						ok++
					}
				}
				if ok != 1 {
					t.Fatalf("round %d: statuses %v, want exactly one 200", round, results)
				}
			}
		})
	})
}
