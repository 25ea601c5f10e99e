package accounts

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Usernames are checked by checkUsername (username.go).

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
