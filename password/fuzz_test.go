package password

import (
	"errors"
	"testing"
)

// FuzzParsePHC checks that the stored-hash parser never panics, refuses
// everything outside its bounds, and accepts only canonical strings: a
// string it accepts is exactly what encodePHC writes for the parsed value.
func FuzzParsePHC(f *testing.F) {
	for _, s := range []string{
		"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=1024,t=3,p=2$TmFDbC1zb2RpdW0tY2hsb3JpZGU$m6h7lp4sSoj2YqLDG71vO6E9HeKFPT9j",
		"$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parsePHC(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("error %v does not match ErrInvalidHash", err)
			}
			return
		}
		if err := got.params.checkStored(); err != nil {
			t.Fatalf("accepted %q outside the bounds: %v", s, err)
		}
		if int(got.params.SaltLength) != len(got.salt) || int(got.params.KeyLength) != len(got.key) {
			t.Fatalf("lengths %+v do not match salt %d and key %d", got.params, len(got.salt), len(got.key))
		}
		if enc := encodePHC(got.params, got.salt, got.key); enc != s {
			t.Fatalf("accepted non-canonical %q (canonical %q)", s, enc)
		}
	})
}
