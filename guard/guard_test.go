package guard_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/guard"
)

func TestGuards(t *testing.T) {
	user := &auth.Identity{UserID: "1", Permissions: []string{"books.add_book", "books.view_book"}}
	staff := &auth.Identity{UserID: "2", IsStaff: true}
	admin := &auth.Identity{UserID: "3", IsAdmin: true}
	onlyLocal := func(r *http.Request, _ *auth.Identity) bool { return r.Header.Get("X-Local") == "yes" }
	cases := []struct {
		name  string
		g     guard.Guard
		id    *auth.Identity
		local bool
		want  int
	}{
		{"AllowAny anonymous", guard.AllowAny, nil, false, 200},
		{"IsAuthenticated anonymous", guard.IsAuthenticated, nil, false, 401},
		{"IsAuthenticated user", guard.IsAuthenticated, user, false, 200},
		{"IsAdminUser user", guard.IsAdminUser, user, false, 403},
		{"IsAdminUser staff", guard.IsAdminUser, staff, false, 403},
		{"IsAdminUser admin", guard.IsAdminUser, admin, false, 200},
		{"IsAdminUser anonymous", guard.IsAdminUser, nil, false, 401},
		{"IsStaff staff", guard.IsStaff, staff, false, 200},
		{"IsStaff admin", guard.IsStaff, admin, false, 200},
		{"IsStaff user", guard.IsStaff, user, false, 403},
		{"HasPermission granted", guard.HasPermission("books.add_book"), user, false, 200},
		{"HasPermission missing", guard.HasPermission("books.delete_book"), user, false, 403},
		{"HasPermission admin holds all", guard.HasPermission("books.delete_book"), admin, false, 200},
		{"HasPermission anonymous", guard.HasPermission("books.add_book"), nil, false, 401},
		{"HasPermission prefix is not a match", guard.HasPermission("books"), user, false, 403},
		{"HasAnyPermission one of them", guard.HasAnyPermission("x", "books.view_book"), user, false, 200},
		{"HasAnyPermission none", guard.HasAnyPermission("x", "y"), user, false, 403},
		{"HasAllPermissions all", guard.HasAllPermissions("books.add_book", "books.view_book"), user, false, 200},
		{"HasAllPermissions one missing", guard.HasAllPermissions("books.add_book", "y"), user, false, 403},
		{"HasAllPermissions anonymous", guard.HasAllPermissions(), nil, false, 401},
		{"custom guard refuses", onlyLocal, user, false, 403},
		{"custom guard admits", onlyLocal, user, true, 200},
		{"All refuses if one refuses", guard.All(guard.IsAuthenticated, guard.IsStaff), user, false, 403},
		{"Any admits if one admits", guard.Any(guard.IsAdminUser, guard.HasPermission("books.add_book")), user, false, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := guard.Require(tc.g)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.id != nil {
				req = auth.WithIdentity(req, tc.id)
			}
			if tc.local {
				req.Header.Set("X-Local", "yes")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d", rec.Code, tc.want)
			}
			if tc.want == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if tc.want != 200 && rec.Header().Get("Content-Type") != "application/problem+json; charset=utf-8" {
				t.Fatalf("Content-Type %q", rec.Header().Get("Content-Type"))
			}
		})
	}
}

func TestIsOwner(t *testing.T) {
	id := &auth.Identity{UserID: "5"}
	if !guard.IsOwner(id, "5") || guard.IsOwner(id, "6") || guard.IsOwner(nil, "5") || guard.IsOwner(&auth.Identity{}, "") {
		t.Fatal("IsOwner")
	}
}
