package redisstate

import (
	"crypto/sha256"
	"encoding/base64"
)

// digest names a secret or personal value in Redis without storing it: 128
// bits of its SHA-256, base64url, 22 bytes.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}
