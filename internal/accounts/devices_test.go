package accounts_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/storetest"
)

func (h *harness) loginWith(name, pw, device string) response {
	h.t.Helper()
	body := map[string]string{"username": name, "password": pw}
	if device != "" {
		body["device"] = device
	}
	return h.call("POST", "/api/auth/login", body, "")
}

// strangersFail sends five wrong passwords for name without a device:
// enough to start the account's backoff.
func (h *harness) strangersFail(name string) {
	h.t.Helper()
	for i := range 5 {
		h.expect(h.loginWith(name, fmt.Sprintf("a stranger's guess %d", i), ""), 401)
	}
}

func deviceOf(t *testing.T, r response) string {
	t.Helper()
	d, _ := r.Body["device"].(string)
	if len(d) < 43 {
		t.Fatalf("device %q: want an opaque value of at least 256 bits in %v", d, r.Raw)
	}
	return d
}

// TestDeviceHolderIsNotLockedOutByStrangers: the device from a successful
// login exempts later logins of that account from the backoff caused by
// failures without it (API.md, device), and from nothing else.
func TestDeviceHolderIsNotLockedOutByStrangers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, e storetest.Engine) {
		h := newHarness(t, options{engine: e, frozenClock: true})
		h.registerVerified("bob")
		dev := deviceOf(t, h.expect(h.login("bob", goodPassword), 200))
		h.registerVerified("carol")
		carolDev := deviceOf(t, h.expect(h.login("carol", goodPassword), 200))
		var issued []string

		t.Run("strangers lock a deviceless login, not the device holder", func(t *testing.T) {
			h.strangersFail("bob")
			r := h.expect(h.loginWith("bob", goodPassword, ""), 429)
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("no Retry-After")
			}
			r = h.expect(h.loginWith("bob", goodPassword, dev), 200)
			if again := deviceOf(t, r); again != dev {
				t.Fatal("a valid device was not answered back")
			}
			if r.Body["access"] == "" || r.Body["refresh"] == "" {
				t.Fatalf("body %v", r.Body)
			}
			// The holder's login leaves the strangers' backoff in place.
			h.expect(h.loginWith("bob", goodPassword, ""), 429)
		})
		t.Run("no exemption from a forged, unknown or other account's device", func(t *testing.T) {
			altered := dev[:len(dev)-1] + "A"
			if altered == dev {
				altered = dev[:len(dev)-1] + "B"
			}
			for name, d := range map[string]string{
				"forged":          strings.Repeat("A", 43),
				"altered":         altered,
				"another account": carolDev,
				"oversize":        strings.Repeat("x", 5000),
			} {
				if r := h.loginWith("bob", goodPassword, d); r.Status != 429 {
					t.Errorf("%s device: status %d, want 429", name, r.Status)
				}
			}
			// carol's device still works for carol.
			h.expect(h.loginWith("carol", goodPassword, carolDev), 200)
		})
		t.Run("the device holder's own wrong guesses back off", func(t *testing.T) {
			for i := range 5 {
				h.expect(h.loginWith("bob", fmt.Sprintf("the holder's guess %d", i), dev), 401)
			}
			r := h.expect(h.loginWith("bob", goodPassword, dev), 429)
			if r.Header.Get("Retry-After") != "1" {
				t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
			}
			h.clock.Advance(2 * time.Second)
			deviceOf(t, h.expect(h.loginWith("bob", goodPassword, dev), 200))
			// A deviceless login after the strangers' delay gets a new one.
			r = h.expect(h.loginWith("bob", goodPassword, ""), 200)
			if d := deviceOf(t, r); d == dev {
				t.Fatal("a deviceless login was answered an existing device")
			} else {
				issued = append(issued, d)
			}
		})
		t.Run("devices expire after 90 days without use", func(t *testing.T) {
			h.clock.Advance(91 * 24 * time.Hour)
			h.strangersFail("bob")
			h.expect(h.loginWith("bob", goodPassword, dev), 429)
			h.expect(h.loginWith("bob", goodPassword, issued[0]), 429)
		})
		t.Run("a password reset revokes every device", func(t *testing.T) {
			h.clock.Advance(2 * time.Second)
			fresh := deviceOf(t, h.expect(h.loginWith("bob", goodPassword, ""), 200))
			h.expect(h.call("POST", "/api/auth/password-reset", map[string]string{"email": "bob@example.com"}, ""), 200)
			reset := h.lastToken("bob@example.com", "/reset-password")
			h.expect(h.call("POST", "/api/auth/password-reset/confirm", map[string]string{"token": reset, "password": "the reset passphrase"}, ""), 200)
			h.strangersFail("bob")
			h.expect(h.loginWith("bob", "the reset passphrase", fresh), 429)
		})
		logs := h.logs.String()
		for _, d := range append(issued, dev, carolDev) {
			if strings.Contains(logs, d) {
				t.Fatal("a device token reached the log")
			}
		}
	})
}

// TestVerifyEmailAnswersADevice: the login that verification starts
// answers a device too, which then works like a login's.
func TestVerifyEmailAnswersADevice(t *testing.T) {
	h := newHarness(t, options{engine: storetest.Engines()[0], frozenClock: true})
	h.expect(h.call("POST", "/api/auth/register", map[string]string{"username": "dora", "email": "dora@example.com", "password": goodPassword}, ""), 201)
	v := h.expect(h.call("POST", "/api/auth/verify-email", map[string]string{"token": h.lastToken("dora@example.com", "/verify-email")}, ""), 200)
	dev := deviceOf(t, v)
	h.strangersFail("dora")
	h.expect(h.loginWith("dora", goodPassword, ""), 429)
	if got := deviceOf(t, h.expect(h.loginWith("dora", goodPassword, dev), 200)); got != dev {
		t.Fatal("the verification device was not answered back")
	}
}
