package bookclub

// The cleaners of social_html.go, for the XSS corpus test in package
// bookclub_test.
var (
	SanitizeReview = sanitizeReview
	PlainText      = plainText
)
