package password

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Policy limits for Policy.MinLength and Policy.MaxLength.
const (
	DefaultMinLength = 8
	DefaultMaxLength = 128
	// maxMaxLength keeps every password a Policy accepts within
	// MaxPasswordBytes (at most 4 bytes a character).
	maxMaxLength = MaxPasswordBytes / 4
	// minMaxLength: NIST SP 800-63B asks verifiers to permit at least 64
	// characters.
	minMaxLength = 64
	// minSimilarLength is the shortest user input the similarity check
	// compares with.
	minSimilarLength = 3
)

// Policy decides which new passwords are acceptable. The zero value is the
// default policy: 8 to 128 characters, not in the shipped common-password
// list, not all digits, not too similar to the user's own data, and no
// composition rules.
//
// Length is counted in Unicode code points of the NFKC form, the form that
// is hashed (NIST SP 800-63B counts each code point as one character), so
// "pässwörd" is 8 characters however it was typed. The common-password,
// all-digits and similarity checks cannot be turned off.
type Policy struct {
	// MinLength is the fewest characters allowed. 0 means 8; less than 8
	// is refused by Check (and raised to 8 by Validate). NIST SP 800-63B-4
	// asks for at least 15 where the password is the only factor.
	MinLength int
	// MaxLength is the most characters allowed. 0 means 128; it must be
	// from 64 (and at least MinLength) to 1024.
	MaxLength int

	// Composition rules, off by default: NIST SP 800-63B advises against
	// them because they push users to predictable patterns ("Password1!").
	RequireUpper  bool // at least one upper-case letter
	RequireLower  bool // at least one lower-case letter
	RequireDigit  bool // at least one digit
	RequireSymbol bool // at least one character that is not a letter or digit
}

// Check reports a setting that is insecure or contradictory, so that it
// can stop start-up; Validate works from the nearest safe settings anyway.
func (p Policy) Check() error {
	if p.MinLength != 0 && p.MinLength < DefaultMinLength {
		return fmt.Errorf("password: MinLength %d is below %d; set 0 for the default or a value of at least %d", p.MinLength, DefaultMinLength, DefaultMinLength)
	}
	if p.MaxLength != 0 && (p.MaxLength < minMaxLength || p.MaxLength > maxMaxLength) {
		return fmt.Errorf("password: MaxLength %d is outside %d..%d; set 0 for the default (%d)", p.MaxLength, minMaxLength, maxMaxLength, DefaultMaxLength)
	}
	maxLen := p.MaxLength
	if maxLen == 0 {
		maxLen = DefaultMaxLength
	}
	if p.MinLength > maxLen {
		return fmt.Errorf("password: MinLength %d is above MaxLength %d", p.MinLength, maxLen)
	}
	return nil
}

// lengths returns the effective length bounds.
func (p Policy) lengths() (minLen, maxLen int) {
	minLen, maxLen = max(p.MinLength, DefaultMinLength), p.MaxLength
	if maxLen == 0 {
		maxLen = DefaultMaxLength
	}
	maxLen = min(max(maxLen, minMaxLength), maxMaxLength)
	return minLen, max(minLen, maxLen)
}

// Validate returns the reasons password is unacceptable, as sentences to
// show the user (for a problem's fields.password), or nil when it is
// acceptable. userInputs are the user's own data, such as the username and
// email address; the password is too similar to one of them when, compared
// case-insensitively after NFKC normalization and for inputs of at least 3
// characters (and, for an email address, also its local part):
//   - the password contains the input, or the input contains the password;
//   - or they differ by at most a quarter of the longer one's characters
//     (Levenshtein distance), as "alexandr1" and "alexander" do.
func (p Policy) Validate(password string, userInputs ...string) []string {
	minLen, maxLen := p.lengths()
	if !utf8.ValidString(password) {
		return []string{"This password contains bytes that are not valid UTF-8 text."}
	}
	if len(password) > MaxPasswordBytes {
		return []string{fmt.Sprintf("This password is too long. It must contain at most %d characters.", maxLen)}
	}
	pw := norm.NFKC.String(password)
	n := utf8.RuneCountInString(pw)
	if n > maxLen {
		// Longer passwords are not examined further: the answer will not
		// change and the checks below need not run on arbitrary input.
		return []string{fmt.Sprintf("This password is too long. It must contain at most %d characters.", maxLen)}
	}
	var msgs []string
	if n < minLen {
		msgs = append(msgs, fmt.Sprintf("This password is too short. It must contain at least %d characters.", minLen))
	}
	if n > 0 && IsCommon(pw) {
		msgs = append(msgs, "This password is too common.")
	}
	if n > 0 && strings.IndexFunc(pw, func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
		msgs = append(msgs, "This password is entirely numeric.")
	}
	if n > 0 && tooSimilar(strings.ToLower(pw), userInputs) {
		msgs = append(msgs, "This password is too similar to your username or email address.")
	}
	rules := []struct {
		on   bool
		has  func(rune) bool
		want string
	}{
		{p.RequireUpper, unicode.IsUpper, "an upper-case letter"},
		{p.RequireLower, unicode.IsLower, "a lower-case letter"},
		{p.RequireDigit, unicode.IsDigit, "a digit"},
		{p.RequireSymbol, isSymbol, "a symbol (a character that is not a letter or digit)"},
	}
	for _, r := range rules {
		if r.on && strings.IndexFunc(pw, r.has) < 0 {
			msgs = append(msgs, "This password must contain at least "+r.want+".")
		}
	}
	return msgs
}

func isSymbol(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsDigit(r)
}

// tooSimilar applies the similarity rule of Validate to pw, which is
// already normalized and lower-cased.
func tooSimilar(pw string, userInputs []string) bool {
	for _, in := range userInputs {
		in = foldForCompare(strings.TrimSpace(in))
		candidates := []string{in}
		if at := strings.LastIndexByte(in, '@'); at >= 0 {
			candidates = append(candidates, in[:at])
		}
		for _, c := range candidates {
			if utf8.RuneCountInString(c) < minSimilarLength {
				continue
			}
			if strings.Contains(pw, c) || strings.Contains(c, pw) || closeTo(pw, c) {
				return true
			}
		}
	}
	return false
}

// closeTo reports whether a and b are within a Levenshtein distance of a
// quarter of the longer one's length. Inputs longer than maxMaxLength are
// never close (and are not examined, to bound the quadratic work).
func closeTo(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > maxMaxLength || len(rb) > maxMaxLength {
		return false
	}
	longer := max(len(ra), len(rb))
	limit := longer / 4
	if abs(len(ra)-len(rb)) > limit {
		return false
	}
	return levenshtein(ra, rb) <= limit
}

func levenshtein(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
