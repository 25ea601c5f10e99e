package guard_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
)

func ownsNothing(*http.Request, *auth.Identity) bool { return false }

type checker struct{}

func (checker) check(*http.Request, *auth.Identity) bool { return true }

// permissionOf is small enough to be inlined: the name must survive
// guards built inside inlined callers too (Named itself is never inlined).
func permissionOf(p string) guard.Guard { return guard.HasPermission(p) }

func TestNameOfEveryKindOfGuard(t *testing.T) {
	local := func(*http.Request, *auth.Identity) bool { return true }
	for _, c := range []struct {
		g    guard.Guard
		want string
	}{
		{guard.AllowAny, "AllowAny"},
		{guard.IsAuthenticated, "IsAuthenticated"},
		{guard.IsAdminUser, "IsAdminUser"},
		{guard.IsStaff, "IsStaff"},
		{guard.HasPermission("books.add_book"), "HasPermission(books.add_book)"},
		{permissionOf("a"), "HasPermission(a)"},
		{permissionOf("b"), "HasPermission(b)"},
		{guard.HasAnyPermission("a", "b"), "HasAnyPermission(a, b)"},
		{guard.HasAllPermissions("a", "b"), "HasAllPermissions(a, b)"},
		{guard.All(guard.IsStaff, guard.HasPermission("x")), "All(IsStaff, HasPermission(x))"},
		{guard.Any(guard.IsAdminUser, guard.Named("OwnsReview", ownsNothing)), "Any(IsAdminUser, OwnsReview)"},
		{guard.Named("Custom", guard.AllowAny), "Custom"},
		{ownsNothing, "guard_test.ownsNothing"},
		{checker{}.check, "guard_test.checker.check"},
		{nil, ""},
	} {
		if got := guard.Name(c.g); got != c.want {
			t.Errorf("Name = %q, want %q", got, c.want)
		}
	}
	if got := guard.Name(local); !strings.HasPrefix(got, "guard_test.TestNameOfEveryKindOfGuard.func") {
		t.Errorf("closure name %q", got)
	}
}

// TestNameNeverCallsTheGuard: learning a name must not run a user's
// guard, which may have side effects or expect a real request.
func TestNameNeverCallsTheGuard(t *testing.T) {
	calls := 0
	g := func(*http.Request, *auth.Identity) bool { calls++; return true }
	guard.Name(g)
	guard.Name(guard.Named("Counted", g))
	guard.Name(guard.All(g, guard.Named("Counted", g)))
	if calls != 0 {
		t.Fatalf("the guard ran %d times to be named", calls)
	}
}

// TestNamedGuardsDecideAsTheirGuard: naming changes no decision, and the
// probe identity is never taken for a caller.
func TestNamedGuardsDecideAsTheirGuard(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	reader := &auth.Identity{UserID: "1", Permissions: []string{"books.read"}}
	for _, c := range []struct {
		g    guard.Guard
		id   *auth.Identity
		want bool
	}{
		{guard.HasPermission("books.read"), reader, true},
		{guard.HasPermission("books.add_book"), reader, false},
		{guard.HasPermission("books.read"), nil, false},
		{guard.HasAnyPermission("x", "books.read"), reader, true},
		{guard.HasAllPermissions("x", "books.read"), reader, false},
		{guard.All(guard.IsAuthenticated, guard.HasPermission("books.read")), reader, true},
		{guard.Any(guard.IsAdminUser, guard.HasPermission("x")), reader, false},
		{guard.Named("yes", guard.AllowAny), nil, true},
		{guard.Named("no", ownsNothing), reader, false},
	} {
		if got := c.g(r, c.id); got != c.want {
			t.Errorf("%s(%v) = %v, want %v", guard.Name(c.g), c.id, got, c.want)
		}
	}
}

func TestAdmits(t *testing.T) {
	for _, c := range []struct {
		g                    guard.Guard
		anonymous, everyUser bool
	}{
		{guard.AllowAny, true, true},
		{guard.IsAuthenticated, false, true},
		{guard.IsStaff, false, false},
		{guard.HasPermission("x"), false, false},
		{guard.Named("AllowAny", guard.AllowAny), false, false}, // a wrapper is not known to admit
		{nil, false, false},
	} {
		a, e := guard.Admits(c.g)
		if a != c.anonymous || e != c.everyUser {
			t.Errorf("Admits(%s) = %v, %v; want %v, %v", guard.Name(c.g), a, e, c.anonymous, c.everyUser)
		}
	}
}

func TestNamedRefusesMistakes(t *testing.T) {
	for name, f := range map[string]func(){
		"nil guard":  func() { guard.Named("x", nil) },
		"empty name": func() { guard.Named("", guard.AllowAny) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
