package password

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"strings"
)

// ErrInvalidHash is returned by Verify for a stored hash it will not use: a
// string that is not an Argon2id version 19 PHC string in canonical form,
// or one whose parameters lie outside the accepted bounds. The error
// never contains the hash itself.
var ErrInvalidHash = errors.New("password: invalid stored hash")

// b64 is the PHC encoding: standard alphabet, no padding, and (Strict)
// unused trailing bits must be zero, so each byte string has exactly one
// encoding.
var b64 = base64.RawStdEncoding.Strict()

const (
	phcPrefix = "$argon2id$v=19$"
	// maxPHCLength bounds the whole string before it is split: the longest
	// string within the parameter bounds is well under it.
	maxPHCLength = 256
)

// phc is a parsed Argon2id PHC string.
type phc struct {
	params Params
	salt   []byte
	key    []byte
}

// encodePHC writes the canonical PHC string for p, salt and key.
func encodePHC(p Params, salt, key []byte) string {
	var b strings.Builder
	b.Grow(len(phcPrefix) + 32 + b64.EncodedLen(len(salt)) + b64.EncodedLen(len(key)))
	b.WriteString(phcPrefix)
	b.WriteString("m=")
	b.WriteString(strconv.FormatUint(uint64(p.Memory), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(p.Iterations), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(p.Parallelism), 10))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(salt))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(key))
	return b.String()
}

// parsePHC parses exactly the form encodePHC writes:
//
//	$argon2id$v=19$m=<memory>,t=<iterations>,p=<parallelism>$<salt>$<key>
//
// Numbers are decimal without sign or leading zeros; salt and key are
// unpadded standard base64 in canonical form. Any other algorithm,
// version, parameter order, extra parameter (keyid, data) or trailing text
// is refused. Bounds are checked on the numbers and on the encoded lengths
// before anything is decoded.
func parsePHC(s string) (phc, error) {
	var out phc
	if len(s) > maxPHCLength {
		return out, invalid("too long")
	}
	// The base64 decoder skips line breaks; nothing outside the PHC
	// alphabet may pass.
	for i := 0; i < len(s); i++ {
		if !isPHCByte(s[i]) {
			return out, invalid("unexpected character")
		}
	}
	rest, ok := strings.CutPrefix(s, phcPrefix)
	if !ok {
		switch {
		case !strings.HasPrefix(s, "$"):
			return out, invalid("not a PHC string")
		case !strings.HasPrefix(s, "$argon2id$"):
			return out, invalid("algorithm is not argon2id")
		default:
			return out, invalid("version is not 19")
		}
	}
	fields := strings.Split(rest, "$")
	if len(fields) != 3 {
		return out, invalid("want parameters, salt and key")
	}
	m, ok1 := cutParam(fields[0], "m=", ",")
	t, ok2 := cutParam(m.rest, "t=", ",")
	p, ok3 := cutParam(t.rest, "p=", "")
	if !ok1 || !ok2 || !ok3 {
		return out, invalid("parameters are not m=<n>,t=<n>,p=<n>")
	}
	// Refuse numbers that would not survive the conversions below; the
	// real bounds are checked once they are in a Params.
	if m.n > math.MaxUint32 || t.n > math.MaxUint32 || p.n > math.MaxUint8 {
		return out, invalid("parameter out of range")
	}
	saltEnc, keyEnc := fields[1], fields[2]
	if len(saltEnc) > b64.EncodedLen(maxSaltLength) || len(keyEnc) > b64.EncodedLen(maxKeyLength) {
		return out, invalid("salt or key too long")
	}
	out.params = Params{
		Memory:      uint32(m.n),
		Iterations:  uint32(t.n),
		Parallelism: uint8(p.n),
		SaltLength:  uint32(b64.DecodedLen(len(saltEnc))),
		KeyLength:   uint32(b64.DecodedLen(len(keyEnc))),
	}
	if err := out.params.checkStored(); err != nil {
		return phc{}, invalid(err.Error())
	}
	var err error
	if out.salt, err = b64.DecodeString(saltEnc); err != nil {
		return phc{}, invalid("salt is not canonical unpadded base64")
	}
	if out.key, err = b64.DecodeString(keyEnc); err != nil {
		return phc{}, invalid("key is not canonical unpadded base64")
	}
	return out, nil
}

// isPHCByte reports whether c may occur in an Argon2id PHC string.
func isPHCByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '+' || c == '/' || c == '$' || c == '=' || c == ','
}

type param struct {
	n    uint64
	rest string
}

// cutParam reads name, a canonical decimal number of at most ten digits
// (which fits in a uint64, so no overflow is possible), and then sep, or
// the end of s when sep is empty.
func cutParam(s, name, sep string) (param, bool) {
	s, ok := strings.CutPrefix(s, name)
	if !ok {
		return param{}, false
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 10 || (s[0] == '0' && i > 1) {
		return param{}, false
	}
	var n uint64
	for _, c := range s[:i] {
		n = n*10 + uint64(c-'0')
	}
	rest := s[i:]
	if sep == "" {
		if rest != "" {
			return param{}, false
		}
		return param{n: n}, true
	}
	rest, ok = strings.CutPrefix(rest, sep)
	return param{n: n, rest: rest}, ok
}

func invalid(why string) error {
	return &hashError{why: why}
}

// hashError says why a stored hash was refused; it matches ErrInvalidHash.
type hashError struct{ why string }

func (e *hashError) Error() string        { return ErrInvalidHash.Error() + ": " + e.why }
func (e *hashError) Is(target error) bool { return target == ErrInvalidHash }
