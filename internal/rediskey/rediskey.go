// Package rediskey names Redis keys for every Redis backend of the library
// and the server alike: keys of values that must not be stored in clear
// (Digest), and prefixes whose keys share one Redis Cluster hash slot
// (HashTag).
//
// Contract: Digest is deterministic, so every instance names a value's key
// the same way, and reveals nothing of the value but its equality.
// HashTag is deterministic and one-to-one, so prefixes that keep
// deployments apart still do once tagged.
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

// HashTag returns prefix as a Redis Cluster hash tag, "{" + prefix + "}":
// Cluster places a key by the part between its first '{' and the next
// '}', so every key that starts with the result lands in one hash slot,
// on one shard. A backend whose transactions, scripts or multi-key reads
// touch several of its keys needs that in a Cluster, where a command over
// keys of different slots fails with CROSSSLOT. The price is that the
// shard holding the slot holds all of those keys and serves all of their
// traffic, so a backend tags only keys that must be used together.
//
// A prefix that is empty or starts with '}' would make an empty tag, which
// Cluster ignores; such a prefix, and one that starts with '\' so that
// different prefixes stay different, is written "{\" + prefix + "}"
// instead, whose tag starts with the backslash.
func HashTag(prefix string) string {
	if prefix == "" || prefix[0] == '}' || prefix[0] == '\\' {
		return "{\\" + prefix + "}"
	}
	return "{" + prefix + "}"
}
