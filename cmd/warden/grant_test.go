package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/app"
	"github.com/wardenhq/warden/internal/config"
)

// TestUserGrantReachesTheNextRefresh grants books.add_book with the
// command while a server runs on the same data directory: the user's
// token in hand keeps its claims, the next refresh carries the grant.
func TestUserGrantReachesTheNextRefresh(t *testing.T) {
	t.Setenv("WARDEN_DATA_DIR", t.TempDir())
	warden := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		var out, errs bytes.Buffer
		code := run(args, strings.NewReader(stdin), &out, &errs)
		return code, out.String(), errs.String()
	}
	const pw = "correct horse battery staple"
	if code, _, errs := warden(pw+"\n", "user", "create", "--username", "reader", "--email", "reader@example.com", "--password-stdin", "--verified"); code != 0 {
		t.Fatalf("user create: exit %d: %s", code, errs)
	}

	cfg, err := config.Load(nil, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	call := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, req)
		var out map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out
	}
	status, tokens := call("POST", "/api/auth/login", "", `{"username":"reader","password":"`+pw+`"}`)
	if status != 200 {
		t.Fatalf("login: %d %v", status, tokens)
	}
	book := `{"title":"Dune","author":"Frank Herbert"}`
	refresh := func() {
		t.Helper()
		status, next := call("POST", "/api/auth/refresh", "", `{"refresh":"`+tokens["refresh"].(string)+`"}`)
		if status != 200 {
			t.Fatalf("refresh: %d %v", status, next)
		}
		tokens = next
	}
	if status, _ := call("POST", "/api/books", tokens["access"].(string), book); status != 403 {
		t.Fatalf("before the grant: %d", status)
	}

	code, out, errs := warden("", "user", "grant", "--username", "reader", "--permission", "books.add_book", "--permission", "books.review")
	if code != 0 || !strings.Contains(out, "granted books.add_book, books.review to reader") {
		t.Fatalf("user grant: exit %d: %s %s", code, out, errs)
	}
	if status, _ := call("POST", "/api/books", tokens["access"].(string), book); status != 403 {
		t.Fatalf("the token issued before the grant: %d", status)
	}
	refresh()
	if status, body := call("POST", "/api/books", tokens["access"].(string), book); status != 201 {
		t.Fatalf("after the grant and a refresh: %d %v", status, body)
	}
	if u, err := a.Accounts().UserByUsername(context.Background(), "reader"); err != nil || !slices.Equal(u.Permissions, []string{"books.add_book", "books.review"}) {
		t.Fatalf("stored permissions: %v %v", u, err)
	}

	if code, out, errs := warden("", "user", "revoke", "--username", "reader", "--permission", "books.add_book"); code != 0 || !strings.Contains(out, "revoked books.add_book from reader") {
		t.Fatalf("user revoke: exit %d: %s %s", code, out, errs)
	}
	refresh()
	if status, _ := call("POST", "/api/books", tokens["access"].(string), book); status != 403 {
		t.Fatalf("after the revoke and a refresh: %d", status)
	}

	// Mistakes: malformed command lines exit 2, an unknown user 1.
	for _, args := range [][]string{
		{"user", "grant", "--username", "reader"},
		{"user", "grant", "--permission", "books.add_book"},
		{"user", "grant", "--username", "reader", "--permission", "Books.Add"},
		{"user", "grant", "--username", "reader", "--permission", "books.add_book,books.x"},
		{"user", "revoke", "--username", "reader", "--permission", "books"},
	} {
		if code, _, _ := warden("", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errs := warden("", "user", "grant", "--username", "nobody", "--permission", "books.add_book"); code != 1 || !strings.Contains(errs, `no user named "nobody"`) {
		t.Fatalf("unknown user: exit %d: %s", code, errs)
	}
}
