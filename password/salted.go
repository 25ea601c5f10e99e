package password

import (
	"context"
	"crypto/subtle"
	"fmt"
)

// HashWithSalt is Hash with a salt the caller chooses instead of a fresh
// random one. It exists for one pattern: several hashes that must be
// checked together in one derivation (MatchAny), which is only possible
// when they share a salt. The salt must be 16 to 64 bytes (the floor for
// new hashes) and should be unpredictable and distinct per group of hashes
// (for example an HMAC, under a secret key, of what the group shares), so
// that precomputation stays useless; everything else should call Hash.
func (h *Hasher) HashWithSalt(ctx context.Context, password string, salt []byte) (string, error) {
	if err := h.init(); err != nil {
		return "", err
	}
	if len(salt) < minNewSaltLength || len(salt) > maxSaltLength {
		return "", fmt.Errorf("password: salt of %d bytes outside %d..%d", len(salt), minNewSaltLength, maxSaltLength)
	}
	pw, err := normalize(password)
	if err != nil {
		return "", err
	}
	key, err := h.derive(ctx, pw, salt, h.params)
	if err != nil {
		return "", err
	}
	return encodePHC(h.params, salt, key), nil
}

// MatchAny derives password once under salt at the Hasher's current
// parameters and reports the index of the first of hashes made with that
// salt and those parameters whose key matches, or -1. A hash with another
// salt or other parameters, or one that does not parse, never matches.
//
// It costs one derivation whatever hashes holds, none included, and
// compares every key in constant time without stopping at a match, so its
// duration says neither how many hashes there were nor which one matched.
// A password Hash would refuse matches nothing and derives nothing, as in
// Verify. ErrBusy and context errors are as for Hash.
func (h *Hasher) MatchAny(ctx context.Context, password string, salt []byte, hashes []string) (int, error) {
	if err := h.init(); err != nil {
		return -1, err
	}
	if len(salt) < minNewSaltLength || len(salt) > maxSaltLength {
		return -1, fmt.Errorf("password: salt of %d bytes outside %d..%d", len(salt), minNewSaltLength, maxSaltLength)
	}
	pw, err := normalize(password)
	if err != nil {
		return -1, nil
	}
	key, err := h.derive(ctx, pw, salt, h.params)
	if err != nil {
		return -1, err
	}
	// HashWithSalt's hashes carry the Hasher's parameters with the salt's
	// length, whatever length new random salts have.
	want := h.params
	want.SaltLength = uint32(len(salt))
	match := -1
	for i, s := range hashes {
		stored, err := parsePHC(s)
		if err != nil || stored.params != want || subtle.ConstantTimeCompare(stored.salt, salt) != 1 {
			continue
		}
		if subtle.ConstantTimeCompare(key, stored.key) == 1 && match < 0 {
			match = i
		}
	}
	return match, nil
}
