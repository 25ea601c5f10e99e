// Package rediskey names the Redis keys of values that must not be stored
// in clear, for every Redis backend of the library and the server alike.
//
// Contract: Digest is deterministic, so every instance names a value's key
// the same way, and reveals nothing of the value but its equality.
package rediskey

import (
	"crypto/sha256"
	"encoding/base64"
)

// Digest names a Redis key for a value that must not be stored in clear (a
// rate-limit key that may be a credential, a ticket, a login name): prefix,
// kind, a colon, then 128 bits of the value's SHA-256 in base64url. 128
// bits keep keys short while collisions stay out of reach.
func Digest(prefix, kind, value string) string {
	sum := sha256.Sum256([]byte(value))
	return prefix + kind + ":" + base64.RawURLEncoding.EncodeToString(sum[:16])
}
