package accounts

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// validateUsername allows what Django allows: 1 to 150 letters, digits and
// @ . + - _ ; we also require at least 3 characters.
func validateUsername(v *ValidationError, name string) {
	n := utf8.RuneCountInString(name)
	if n < 3 || n > 150 {
		v.add("username", "Use 3 to 150 characters.")
		return
	}
	for _, r := range name {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("@.+-_", r)) {
			v.add("username", "Use only letters, digits and @ . + - _ characters.")
			return
		}
	}
}

// validateEmail accepts exactly one bare address of at most 254 bytes and
// returns it trimmed.
func validateEmail(v *ValidationError, raw string) string {
	email := strings.TrimSpace(raw)
	if email == "" {
		v.add("email", "An email address is required.")
		return ""
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" || len(email) > 254 || strings.ContainsAny(email, "\r\n") {
		v.add("email", "Enter a valid email address.")
		return ""
	}
	return email
}

// validateName keeps optional names short and free of control characters.
func validateName(v *ValidationError, field, s string) {
	if utf8.RuneCountInString(s) > 150 || !utf8.ValidString(s) {
		v.add(field, "Use at most 150 characters.")
		return
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			v.add(field, "Control characters are not allowed.")
			return
		}
	}
}
