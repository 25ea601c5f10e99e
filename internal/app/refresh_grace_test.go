package app_test

import (
	"sync"
	"testing"

	"github.com/wardenhq/warden/internal/storetest"
)

// TestRacingTabsOnSeveralInstancesShareOneSuccessor: tabs refreshing one
// token at once through different instances all get the same successor,
// because every instance derives it with the key the shared signing secret
// yields, so the login stays one chain behind a load balancer too.
func TestRacingTabsOnSeveralInstancesShareOneSuccessor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		if e.Name == "sqlite" {
			t.Skip("instances on several machines share a server database")
		}
		c := startCluster(t, e, map[string]string{"WARDEN_REFRESH_GRACE": "5s", "WARDEN_AUTH_RATE_PER_MINUTE": "1000"})
		c.user(t, "xavi")
		_, r1 := c.login(t, 0, "xavi")
		const tabs = 6
		var wg sync.WaitGroup
		statuses := make([]int, tabs)
		refreshes := make([]string, tabs)
		for i := range tabs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, _, body := call(t, "POST", c.bases[i%3]+"/api/auth/refresh", jsonCT, `{"refresh":"`+r1+`"}`)
				statuses[i] = status
				refreshes[i], _ = body["refresh"].(string)
			}()
		}
		wg.Wait()
		for i := range tabs {
			if statuses[i] != 200 || refreshes[i] != refreshes[0] || refreshes[i] == r1 {
				t.Fatalf("tab %d on instance %d: status %d, same successor as tab 0: %v", i, i%3, statuses[i], refreshes[i] == refreshes[0])
			}
		}
		// The successor works on any instance.
		if status, _, _ := call(t, "POST", c.bases[2]+"/api/auth/refresh", jsonCT, `{"refresh":"`+refreshes[0]+`"}`); status != 200 {
			t.Fatalf("successor on instance 2: %d", status)
		}
	})
}
