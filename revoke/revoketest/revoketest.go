// Package revoketest holds the behaviour every revoke.Store must show,
// as tests that each backend's test package runs against its own Store.
package revoketest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wardenhq/warden/revoke"
)

// Grains checks the three grains of revocation on s, an empty Store whose
// clock is now: every backend must draw the same lines.
func Grains(t *testing.T, s revoke.Store, now func() time.Time) {
	t.Helper()
	ctx := context.Background()
	t0 := now()
	until := t0.Add(time.Hour)
	if err := s.RevokeSession(ctx, "login-1", until); err != nil {
		t.Fatal(err)
	}
	logoutAll := t0.Add(-500 * time.Millisecond)
	if err := s.RevokeUser(ctx, "u1", logoutAll, until); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tok  revoke.Token
		want bool
	}{
		{"token of a revoked login", revoke.Token{ID: "t1", Session: "login-1", Subject: "u2", IssuedAt: t0}, true},
		{"token of another login", revoke.Token{ID: "t2", Session: "login-2", Subject: "u2", IssuedAt: t0}, false},
		{"token bound to no login", revoke.Token{ID: "t3", Subject: "u2", IssuedAt: t0}, false},
		{"issued before logout-all", revoke.Token{ID: "t4", Session: "login-3", Subject: "u1", IssuedAt: logoutAll.Add(-time.Millisecond)}, true},
		{"issued at the instant of logout-all", revoke.Token{ID: "t5", Session: "login-3", Subject: "u1", IssuedAt: logoutAll}, true},
		{"issued in the same second, after logout-all", revoke.Token{ID: "t6", Session: "login-3", Subject: "u1", IssuedAt: logoutAll.Add(time.Millisecond)}, false},
		{"no issue time once the user has a mark", revoke.Token{ID: "t7", Session: "login-3", Subject: "u1"}, true},
		{"no issue time, user without a mark", revoke.Token{ID: "t8", Session: "login-3", Subject: "u3"}, false},
	}
	for _, tc := range cases {
		if got, err := s.Check(ctx, tc.tok); err != nil || got != tc.want {
			t.Errorf("%s: Check = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	// A later logout-all moves the instant forward; an earlier one never
	// moves it back.
	if err := s.RevokeUser(ctx, "u1", logoutAll.Add(-time.Hour), until); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Check(ctx, revoke.Token{ID: "t9", Subject: "u1", IssuedAt: logoutAll.Add(-time.Millisecond)}); !r {
		t.Error("an earlier RevokeUser moved the instant back")
	}
	if err := s.RevokeUser(ctx, "u1", logoutAll.Add(time.Second), until); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Check(ctx, revoke.Token{ID: "t10", Subject: "u1", IssuedAt: logoutAll.Add(time.Millisecond)}); !r {
		t.Error("a later RevokeUser did not move the instant forward")
	}
	for _, err := range []error{
		s.RevokeSession(ctx, "", until), s.RevokeUser(ctx, "", t0, until), s.Revoke(ctx, "", until),
	} {
		if !errors.Is(err, revoke.ErrInvalidID) {
			t.Errorf("empty id: %v", err)
		}
	}
}
