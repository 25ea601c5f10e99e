package password

import (
	_ "embed"
	"strings"
	"sync"

	"golang.org/x/text/unicode/norm"
)

//go:generate go run ./internal/gen -package zxcvbn@4.4.2 -sha256 0b3ebb60ec2df2340e1b8b70e4cb2657a3ceb192781d299310e7aceaa606cd22 -out common.txt

// commonText is the shipped common-password list: one lower-case password
// a line, most common first. It is generated from the zxcvbn npm package
// (MIT); see COMMON_PASSWORDS_LICENSE.
//
//go:embed common.txt
var commonText string

var (
	commonOnce sync.Once
	commonSet  map[string]struct{}
)

// IsCommon reports whether password, compared case-insensitively after
// NFKC normalization, is in the shipped list of about 30,000 common
// passwords. The list is loaded on first use.
func IsCommon(password string) bool {
	commonOnce.Do(loadCommon)
	_, ok := commonSet[foldForCompare(password)]
	return ok
}

func loadCommon() {
	lines := strings.Split(strings.TrimSuffix(commonText, "\n"), "\n")
	commonSet = make(map[string]struct{}, len(lines))
	for _, l := range lines {
		commonSet[l] = struct{}{}
	}
}

// foldForCompare is the form in which passwords and user inputs are
// compared: NFKC, then lower case.
func foldForCompare(s string) string {
	return strings.ToLower(norm.NFKC.String(s))
}
