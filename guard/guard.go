// Package guard decides whether an authenticated (or anonymous) request may
// reach a handler.
//
// Contract: a Guard is a plain function of the request and its identity.
// Require runs guards in order; the first that refuses ends the request
// with 401 when the request is anonymous (the client should authenticate)
// or 403 when it is authenticated (authenticating again will not help).
// Guards must not write to the response. Object-level checks happen in
// handlers, through the helpers at the end of this file, after the object
// is loaded.
//
// Guards have names, for API descriptions only (name.go): the built-in
// ones name themselves ("IsStaff", "HasPermission(books.add_book)"), Named
// names any other, and Name reads a name without running the guard.
package guard

import (
	"net/http"
	"strings"

	"github.com/wardenhq/warden/auth"
	"github.com/wardenhq/warden/problem"
)

// Guard reports whether the request may proceed. id is nil for an
// anonymous request.
type Guard func(r *http.Request, id *auth.Identity) bool

// AllowAny admits every request, anonymous ones included; it documents
// intent on public routes.
func AllowAny(*http.Request, *auth.Identity) bool { return true }

// IsAuthenticated admits any identity.
func IsAuthenticated(_ *http.Request, id *auth.Identity) bool { return id != nil }

// IsAdminUser admits admins (is_admin or is_superuser claims).
func IsAdminUser(_ *http.Request, id *auth.Identity) bool { return id != nil && id.IsAdmin }

// IsStaff admits staff and admins.
func IsStaff(_ *http.Request, id *auth.Identity) bool {
	return id != nil && (id.IsStaff || id.IsAdmin)
}

// HasPermission admits identities granted perm.
func HasPermission(perm string) Guard {
	return Named("HasPermission("+perm+")", func(_ *http.Request, id *auth.Identity) bool { return id.HasPermission(perm) })
}

// HasAnyPermission admits identities granted at least one of perms.
func HasAnyPermission(perms ...string) Guard {
	return Named("HasAnyPermission("+strings.Join(perms, ", ")+")", func(_ *http.Request, id *auth.Identity) bool {
		for _, p := range perms {
			if id.HasPermission(p) {
				return true
			}
		}
		return false
	})
}

// HasAllPermissions admits identities granted every one of perms.
func HasAllPermissions(perms ...string) Guard {
	return Named("HasAllPermissions("+strings.Join(perms, ", ")+")", func(_ *http.Request, id *auth.Identity) bool {
		if id == nil {
			return false
		}
		for _, p := range perms {
			if !id.HasPermission(p) {
				return false
			}
		}
		return true
	})
}

// All admits a request only when every guard does.
func All(guards ...Guard) Guard {
	return Named("All("+names(guards)+")", func(r *http.Request, id *auth.Identity) bool {
		for _, g := range guards {
			if !g(r, id) {
				return false
			}
		}
		return true
	})
}

// Any admits a request when at least one guard does.
func Any(guards ...Guard) Guard {
	return Named("Any("+names(guards)+")", func(r *http.Request, id *auth.Identity) bool {
		for _, g := range guards {
			if g(r, id) {
				return true
			}
		}
		return false
	})
}

// Require returns middleware that runs guards in order.
func Require(guards ...Guard) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := auth.FromContext(r.Context())
			for _, g := range guards {
				if !g(r, id) {
					Deny(w, id)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Deny writes the refusal for id: 401 with a challenge when anonymous, 403
// otherwise. Handlers use it for object-level refusals too.
func Deny(w http.ResponseWriter, id *auth.Identity) {
	if id == nil {
		w.Header().Set("WWW-Authenticate", auth.Challenge)
		problem.Write(w, http.StatusUnauthorized, "Authentication credentials were not provided.")
		return
	}
	problem.Write(w, http.StatusForbidden, "You do not have permission to perform this action.")
}

// IsOwner reports whether id is the owner named by ownerID: an object-level
// check for handlers. Admins are not owners; combine with IsAdminUser where
// they should pass.
func IsOwner(id *auth.Identity, ownerID string) bool {
	return id != nil && ownerID != "" && id.UserID == ownerID
}
