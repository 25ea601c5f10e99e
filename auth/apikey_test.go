package auth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/wardenhq/warden/auth"
)

const (
	goodKey  = "wdn_reporting_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	otherKey = "wdn_ingest_00112233445566778899aabbccddeeff"
)

func apiKeys(t *testing.T) *auth.APIKeys {
	t.Helper()
	a, err := auth.NewAPIKeys(auth.APIKeysConfig{Keys: []auth.APIKey{
		{ID: "reporting", Secret: goodKey, Permissions: []string{"reports.view"}},
		{ID: "ingest", Secret: otherKey},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAPIKeyIdentityNamesTheKeyNotTheSecret(t *testing.T) {
	srv := server(t, apiKeys(t))
	resp, body := get(t, srv, "X-API-Key", goodKey)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if body["user_id"] != "apikey:reporting" || body["backend"] != "api_key" {
		t.Fatalf("identity %v", body)
	}
	if perms, _ := body["permissions"].([]any); len(perms) != 1 || perms[0] != "reports.view" {
		t.Fatalf("permissions %v", body["permissions"])
	}
}

func TestAPIKeyRefusals(t *testing.T) {
	srv := server(t, apiKeys(t))
	cases := map[string]string{
		"wrong":                  "wdn_reporting_ffffffffffffffffffffffffffffffff",
		"empty":                  "",
		"near miss: last char":   goodKey[:len(goodKey)-1] + "1",
		"near miss: prefix":      goodKey[:len(goodKey)-1],
		"near miss: extra char":  goodKey + "0",
		"near miss: upper case":  strings.ToUpper(goodKey),
		"the key id as a secret": "reporting",
		"oversize":               strings.Repeat("k", 4096),
	}
	for name, key := range cases {
		t.Run(name, func(t *testing.T) {
			resp, body := get(t, srv, "X-API-Key", key)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			if !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
			}
			if key != "" && strings.Contains(body["detail"].(string), key) {
				t.Fatal("the problem echoes the key")
			}
		})
	}
}

func TestAPIKeyTwoHeadersAreRefused(t *testing.T) {
	srv := server(t, apiKeys(t))
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Add("X-API-Key", goodKey)
	req.Header.Add("X-API-Key", otherKey)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestNewAPIKeysRefusesWeakSets(t *testing.T) {
	cases := []struct {
		name string
		keys []auth.APIKey
		want string
	}{
		{"empty set", nil, "empty"},
		{"short secret", []auth.APIKey{{ID: "a", Secret: "short"}}, "at least 32"},
		{"missing id", []auth.APIKey{{Secret: goodKey}}, "key id"},
		{"id with a colon", []auth.APIKey{{ID: "a:b", Secret: goodKey}}, "key id"},
		{"duplicate id", []auth.APIKey{{ID: "a", Secret: goodKey}, {ID: "a", Secret: otherKey}}, "twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auth.NewAPIKeys(auth.APIKeysConfig{Keys: tc.keys})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

type brokenSource struct{}

func (brokenSource) Lookup(context.Context, string) (*auth.Identity, error) {
	return nil, errors.New("database is down")
}

func TestAPIKeySourceFailureFailsClosed(t *testing.T) {
	a, err := auth.NewAPIKeys(auth.APIKeysConfig{Sources: []auth.APIKeySource{brokenSource{}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, server(t, a), "X-API-Key", goodKey)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	if strings.Contains(body["detail"].(string), "database") {
		t.Fatal("the problem leaks the store error")
	}
}

func TestBackendsRunInOrder(t *testing.T) {
	// A request with a bad bearer token is refused even when it also
	// carries a good API key: an invalid credential is never skipped.
	j := newJWT(t, auth.JWTConfig{Keys: []auth.JWTKey{{Algorithm: "HS256", Secret: hmacSecret}}})
	srv := server(t, j, apiKeys(t))
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Authorization", "Bearer forged")
	req.Header.Set("X-API-Key", goodKey)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The API key alone is accepted by the second backend.
	if resp, _ := get(t, srv, "X-API-Key", goodKey); resp.StatusCode != http.StatusOK {
		t.Fatalf("api key after jwt backend: %d", resp.StatusCode)
	}
}
