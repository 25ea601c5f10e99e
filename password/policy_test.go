package password_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/wardenhq/warden/password"
)

// Keywords that identify each message of Policy.Validate.
const (
	short   = "too short"
	long    = "too long"
	common  = "too common"
	numeric = "entirely numeric"
	similar = "too similar"
	upper   = "upper-case"
	lower   = "lower-case"
	digit   = "a digit"
	symbol  = "a symbol"
	utf     = "UTF-8"
)

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name     string
		policy   password.Policy
		password string
		inputs   []string
		want     []string
	}{
		{"8 characters", password.Policy{}, "xk#9Lq2v", nil, nil},
		{"7 characters", password.Policy{}, "xk#9Lq2", nil, []string{short}},
		{"empty", password.Policy{}, "", nil, []string{short}},
		{"128 characters", password.Policy{}, strings.Repeat("xk#9Lq2v", 16), nil, nil},
		{"129 characters", password.Policy{}, strings.Repeat("xk#9Lq2v", 16) + "z", nil, []string{long}},
		{"far too long", password.Policy{}, strings.Repeat("x", 1<<20), nil, []string{long}},
		{"common", password.Policy{}, "password", nil, []string{common}},
		{"common, other case", password.Policy{}, "PassWord", nil, []string{common}},
		{"common, full-width forms", password.Policy{}, "ｐａｓｓｗｏｒｄ", nil, []string{common}},
		{"common digits", password.Policy{}, "123456789", nil, []string{common, numeric}},
		{"common with digits", password.Policy{}, "qwerty123", nil, []string{common}},
		{"short, common and numeric", password.Policy{}, "1234567", nil, []string{short, common, numeric}},
		{"all digits", password.Policy{}, "12345678901", nil, []string{numeric}},
		{"all digits, other script", password.Policy{}, "٣٨٤٧٢٩١٠٥٦", nil, []string{numeric}},
		{"contains username", password.Policy{}, "alice2024!x", []string{"alice", "alice@example.com"}, []string{similar}},
		{"contains username, other case", password.Policy{}, "xx-ALICE-2024", []string{"alice"}, []string{similar}},
		{"contains email local part", password.Policy{}, "bob.smith99!", []string{"bsmith", "bob.smith@example.com"}, []string{similar}},
		{"inside the email", password.Policy{}, "longname", []string{"u", "superlongname@example.com"}, []string{similar}},
		{"close to username", password.Policy{}, "alexandr1", []string{"alexander"}, []string{similar}},
		{"unrelated to username", password.Policy{}, "xk#9Lq2v", []string{"alice", "alice@example.com"}, nil},
		{"short inputs ignored", password.Policy{}, "al-xk#9Lq2v", []string{"al", ""}, nil},
		{"multi-byte characters counted once", password.Policy{}, "пароль№7", nil, nil},
		{"7 multi-byte characters", password.Policy{}, "ümlaut7", nil, []string{short}},
		{"8 emoji", password.Policy{}, strings.Repeat("🔑", 8), nil, nil},
		// "u" + combining diaeresis is one character after NFKC.
		{"counted after normalization", password.Policy{}, "u\u0308mlaut7", nil, []string{short}},
		{"not UTF-8", password.Policy{}, "xk#9Lq2v\xff", nil, []string{utf}},
		{"composition off by default", password.Policy{}, "correcthorsebattery", nil, nil},
		{
			"composition rules", password.Policy{RequireUpper: true, RequireLower: true, RequireDigit: true, RequireSymbol: true},
			"correcthorsebattery", nil, []string{upper, digit, symbol},
		},
		{
			"composition met", password.Policy{RequireUpper: true, RequireLower: true, RequireDigit: true, RequireSymbol: true},
			"Correct-horse-7", nil, nil,
		},
		{"longer minimum", password.Policy{MinLength: 15}, "xk#9Lq2vxk#9Lq", nil, []string{short}},
		{"shorter maximum", password.Policy{MaxLength: 64}, strings.Repeat("xk#9Lq2v", 8) + "z", nil, []string{long}},
		{"minimum below 8 raised", password.Policy{MinLength: 4}, "xk#9Lq", nil, []string{short}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.policy.Validate(tt.password, tt.inputs...)
			if len(got) != len(tt.want) {
				t.Fatalf("Validate = %q, want messages about %q", got, tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("message %d = %q, want one about %q", i, got[i], w)
				}
			}
		})
	}
}

func TestPolicyCheck(t *testing.T) {
	tests := []struct {
		name   string
		policy password.Policy
		ok     bool
	}{
		{"zero value", password.Policy{}, true},
		{"NIST single-factor minimum", password.Policy{MinLength: 15}, true},
		{"minimum below 8", password.Policy{MinLength: 6}, false},
		{"maximum below 64", password.Policy{MaxLength: 32}, false},
		{"maximum above 1024", password.Policy{MaxLength: 2000}, false},
		{"minimum above maximum", password.Policy{MinLength: 100, MaxLength: 64}, false},
		{"composition", password.Policy{RequireUpper: true, RequireSymbol: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.policy.Check(); (err == nil) != tt.ok {
				t.Errorf("Check() = %v, want ok = %v", err, tt.ok)
			}
		})
	}
}

// TestCommonList checks the shipped list: large enough, in the form the
// lookup expects, and fully loaded.
func TestCommonList(t *testing.T) {
	f, err := os.Open("common.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := make(map[string]bool)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		e := sc.Text()
		if e == "" || e != strings.ToLower(e) || seen[e] {
			t.Fatalf("entry %q is empty, not lower case or repeated", e)
		}
		seen[e] = true
		if !password.IsCommon(e) || !password.IsCommon(strings.ToUpper(e)) {
			t.Fatalf("IsCommon(%q) = false", e)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) < 10000 {
		t.Errorf("list has %d entries, want at least 10,000", len(seen))
	}
	for _, pw := range []string{"xk#9Lq2v", "", "correct horse battery staple"} {
		if password.IsCommon(pw) {
			t.Errorf("IsCommon(%q) = true", pw)
		}
	}
}
