package config

import "math"

// minSecretEntropyBits is the least estimated entropy production accepts
// in WARDEN_SECRET_KEY. 2^128 guesses are out of any attacker's reach,
// and it is the strength of the weakest key an HS256 signature is meant
// to rest on; openssl rand -base64 48, which the messages suggest, is
// estimated at about 300 bits, openssl rand -hex 32 at about 220. A
// 32-character hex secret (openssl rand -hex 16) holds exactly 128 bits
// and is usually estimated a little below, as 32 characters show its 16
// digits unevenly: refusing it costs a longer secret, not an outage.
const minSecretEntropyBits = 128

// entropyInputLimit bounds the bytes secretEntropyBits examines: four
// times what openssl rand -base64 48 prints, while the quadratic search
// for repeats stays cheap however long the setting is.
const entropyInputLimit = 256

// minRepeat is the shortest repeat described as a copy rather than as
// its characters.
const minRepeat = 3

// secretEntropyBits estimates how many bits of information secret holds:
// the length of a short description of it, which is what an attacker who
// guesses structured secrets first has to search. It can only
// underestimate how guessable a human-made secret is: a sentence of
// unrepeated words scores as random letters would, so the check catches
// secrets with few distinct characters, repetition or a constant step
// ("aaaa", "abab", "0123456789abcdef" repeated, "abcdef...", a word over
// and over), not every weak one.
//
// The description is an LZ77-style parse: each character costs the
// Shannon entropy of the string's character frequencies, and a run that
// repeats earlier text (of at least minRepeat characters, overlapping
// allowed, so "aaaa" is 'a' and one copy) costs the bits to say where it
// starts and how long it is, when that is cheaper. The same is done for
// the differences between neighbouring bytes, which makes "abcdefgh..." a
// first character and one step repeated; the smaller estimate counts.
// Per-token flags and the character table are left out, so that the
// estimate errs towards fewer bits.
func secretEntropyBits(secret []byte) float64 {
	s := secret
	if len(s) > entropyInputLimit {
		s = s[:entropyInputLimit]
	}
	if len(s) < 2 {
		return describedBits(s)
	}
	deltas := make([]byte, len(s)-1)
	for i := range deltas {
		deltas[i] = s[i+1] - s[i]
	}
	return min(describedBits(s), 8+describedBits(deltas))
}

// describedBits is the cost of the LZ77-style description of s.
func describedBits(s []byte) float64 {
	n := len(s)
	var counts [256]int
	for _, c := range s {
		counts[c]++
	}
	perChar := 0.0
	for _, k := range counts {
		if k > 0 {
			p := float64(k) / float64(n)
			perChar -= p * math.Log2(p)
		}
	}
	bits := 0.0
	for i := 0; i < n; {
		longest := 0
		for j := 0; j < i && longest < n-i; j++ {
			l := 0
			for i+l < n && s[j+l] == s[i+l] {
				l++
			}
			longest = max(longest, l)
		}
		if longest >= minRepeat {
			// Which earlier position, and how many characters.
			copyBits := math.Log2(float64(i)) + math.Log2(float64(n-i-minRepeat+1))
			if copyBits < float64(longest)*perChar {
				bits += copyBits
				i += longest
				continue
			}
		}
		bits += perChar
		i++
	}
	return bits
}
