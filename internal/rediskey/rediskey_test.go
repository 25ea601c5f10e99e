package rediskey_test

import (
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/rediskey"
)

// tag returns the part of key that Redis Cluster hashes: between the first
// '{' and the next '}' when that is not empty, otherwise the whole key.
func tag(key string) string {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return key
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return key
	}
	return key[open+1 : open+1+end]
}

func TestHashTag(t *testing.T) {
	tests := []struct{ prefix, want string }{
		{"warden:", "{warden:}"},
		{"a{b}c:", "{a{b}c:}"},
		{"", `{\}`},
		{"}x", `{\}x}`},
		{`\x`, `{\\x}`},
	}
	for _, tt := range tests {
		if got := rediskey.HashTag(tt.prefix); got != tt.want {
			t.Errorf("HashTag(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

// FuzzHashTag checks, for any prefix, that every key under the tagged
// prefix hashes by the same non-empty tag, and that the tagged prefix
// gives the prefix back: prefixes that differ stay apart.
func FuzzHashTag(f *testing.F) {
	for _, s := range []string{"warden:", "", "}", "}}", `\`, `\}`, "{", "{}", "a}b", "a{b}c", "warden-test:0123:"} {
		f.Add(s, "revoked:jti")
	}
	f.Fuzz(func(t *testing.T, prefix, suffix string) {
		h := rediskey.HashTag(prefix)
		if tg := tag(h); tg == h || tg == "" {
			t.Fatalf("HashTag(%q) = %q has no hash tag", prefix, h)
		}
		if tag(h+suffix) != tag(h) {
			t.Fatalf("%q and %q hash by different tags", h+suffix, h)
		}
		inner := h[1 : len(h)-1]
		back := inner
		if strings.HasPrefix(inner, `\`) {
			back = inner[1:]
			if back != "" && back[0] != '}' && back[0] != '\\' {
				t.Fatalf("HashTag(%q) = %q escapes a prefix it need not", prefix, h)
			}
		}
		if back != prefix || h[0] != '{' || h[len(h)-1] != '}' {
			t.Fatalf("HashTag(%q) = %q does not give the prefix back", prefix, h)
		}
	})
}
