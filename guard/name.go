package guard

import (
	"context"
	"net/http"
	"reflect"
	"runtime"
	"strings"

	"github.com/wardenhq/warden/auth"
)

// Guard names exist for API descriptions (the router lists each route's
// guards in its OpenAPI document) and for people reading them; no
// decision is ever taken on a name.
//
// Why names travel this way: a Guard is a plain function, and Go offers no
// sound way to tell two closures of the same function literal apart
// (reflect gives only their shared code pointer), so a registry keyed by
// function pointer could name the top-level guards but would give
// HasPermission("a") and HasPermission("b") the same entry. Changing Guard
// into an interface would name everything but break every existing guard
// and call site. Instead, Named wraps a guard in a closure that answers a
// private probe with its name, and Name recognises those closures by their
// code pointer (all closures made by Named share it, since Named is never
// inlined; no other function can have it) before probing, so a user's
// guard is never called to learn its name. The cost on the request path
// is one pointer comparison per named guard. The parameterised guards of
// this package are built with Named.

// probe is the identity that asks a Named guard for its name. It is never
// the identity of a request: it is unexported and never stored anywhere
// else, so the comparison in Named cannot be met by a real caller.
var probe = &auth.Identity{UserID: "\x00guard-name-probe"}

type probeKey struct{}

// Named returns a guard that decides exactly as g does and that Name
// reports as name, such as "HasPermission(books.add_book)" or
// "OwnsReview". It panics when g is nil or name is empty: registration
// mistakes to catch at start-up.
//
// Named must not be inlined: an inlined copy would compile its closure
// into the caller as a function of its own, with another code pointer,
// and Name would no longer recognise it.
//
//go:noinline
func Named(name string, g Guard) Guard {
	if g == nil {
		panic("guard: Named needs a guard")
	}
	if name == "" {
		panic("guard: Named needs a name")
	}
	return func(r *http.Request, id *auth.Identity) bool {
		if id == probe {
			if out, ok := r.Context().Value(probeKey{}).(*string); ok {
				*out = name
			}
			return false
		}
		return g(r, id)
	}
}

// namedCode is the code pointer every closure made by Named shares.
var namedCode = reflect.ValueOf(Named("-", AllowAny)).Pointer()

// builtinNames names this package's top-level guards without their
// package path. Top-level functions each have their own code pointer, so
// looking them up by it is exact.
var builtinNames = map[uintptr]string{
	reflect.ValueOf(AllowAny).Pointer():        "AllowAny",
	reflect.ValueOf(IsAuthenticated).Pointer(): "IsAuthenticated",
	reflect.ValueOf(IsAdminUser).Pointer():     "IsAdminUser",
	reflect.ValueOf(IsStaff).Pointer():         "IsStaff",
}

// Name returns g's name: the name given to Named (which the
// parameterised guards of this package use, e.g. "HasPermission(x)"), the
// bare name of a built-in guard ("AllowAny"), or, for any other function,
// its Go name as the runtime reports it without the import path
// ("books.ownsBook", or "books.routes.func1" for a closure: wrap such
// guards in Named to give them a useful name). It returns "" for nil.
func Name(g Guard) string {
	if g == nil {
		return ""
	}
	pc := reflect.ValueOf(g).Pointer()
	if pc == namedCode {
		var name string
		r := (&http.Request{}).WithContext(context.WithValue(context.Background(), probeKey{}, &name))
		g(r, probe)
		return name
	}
	if name, ok := builtinNames[pc]; ok {
		return name
	}
	fn := runtime.FuncForPC(pc)
	if fn == nil {
		return "guard"
	}
	name := fn.Name()
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSuffix(name, "-fm") // method values
}

// Admits reports what g is known to admit without calling it, for API
// descriptions: anonymous is true only for AllowAny; everyIdentity is true
// for AllowAny and IsAuthenticated. Every other guard, wrappers of those
// two included, may refuse anyone, so the answer errs only towards "may
// refuse". It compares code pointers, which is exact here: the two are
// top-level functions, whose code no closure shares.
func Admits(g Guard) (anonymous, everyIdentity bool) {
	if g == nil {
		return false, false
	}
	switch reflect.ValueOf(g).Pointer() {
	case allowAnyCode:
		return true, true
	case isAuthenticatedCode:
		return false, true
	}
	return false, false
}

var (
	allowAnyCode        = reflect.ValueOf(AllowAny).Pointer()
	isAuthenticatedCode = reflect.ValueOf(IsAuthenticated).Pointer()
)

// names joins the names of guards for the name of All or Any.
func names(guards []Guard) string {
	parts := make([]string, len(guards))
	for i, g := range guards {
		parts[i] = Name(g)
	}
	return strings.Join(parts, ", ")
}
