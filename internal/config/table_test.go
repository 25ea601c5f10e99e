package config

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite README.md's settings table from the table in settings.go")

// The README's settings table sits between these lines.
const (
	readmePath = "../../README.md"
	tableBegin = "<!-- settings table: generated from internal/config/settings.go by `go generate ./internal/config`; edit there -->\n"
	tableEnd   = "<!-- end of settings table -->\n"
)

// TestREADMESettingsTable fails when README.md documents other settings,
// flags or defaults than Load reads. With -update (go generate) it rewrites
// the table instead.
func TestREADMESettingsTable(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(readme), tableBegin)
	got, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("README.md lacks the lines\n%s...\n%s around the settings table", tableBegin, tableEnd)
	}
	// Blank lines keep the markers out of the table when it is rendered.
	want := "\n" + markdownTable() + "\n"
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(readmePath, []byte(before+tableBegin+want+tableEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("README.md's settings table differs from internal/config/settings.go; run: go generate ./internal/config\n\nwant:\n%s", want)
}

func TestTableRowsAreComplete(t *testing.T) {
	names, flags := map[string]bool{}, map[string]bool{"config": true}
	for _, s := range table {
		switch {
		case !strings.HasPrefix(s.name, "WARDEN_") || s.name != strings.ToUpper(s.name):
			t.Errorf("%s: names are WARDEN_UPPER_CASE", s.name)
		case names[s.name]:
			t.Errorf("%s: listed twice", s.name)
		case s.flag != "" && flags[s.flag]:
			t.Errorf("%s: flag --%s is taken", s.name, s.flag)
		case s.doc == "" || strings.ContainsAny(s.doc+s.about, "\r\n"):
			t.Errorf("%s: doc must be one line", s.name)
		case s.parse == nil:
			t.Errorf("%s: no parse function", s.name)
		}
		names[s.name], flags[s.flag] = true, true
	}
}
