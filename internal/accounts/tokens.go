package accounts

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/wardenhq/warden/auth"
)

// tokenBytes is the entropy of every opaque token: 256 bits.
const tokenBytes = 32

// newToken returns a fresh opaque token and the digest stored for it.
func newToken() (plain, digest string, err error) {
	plain, err = auth.RandomToken(tokenBytes)
	if err != nil {
		return "", "", err
	}
	return plain, digestOf(plain), nil
}

// digestOf is the stored form of a token. The tokens carry 256 bits of
// entropy, so an unsalted fast hash is enough: there is nothing to guess.
func digestOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
