package config

import (
	"strings"
)

// Help describes every setting for `warden help`: its variable, flag,
// default and meaning, from the table Load reads.
func Help() string {
	var b strings.Builder
	b.WriteString(`settings, lowest precedence first: defaults, the file named by --config or
WARDEN_CONFIG (lines of WARDEN_NAME=value), the environment, flags (serve
and migrate take the flags):

  --config FILE, WARDEN_CONFIG
        file of WARDEN_NAME=value lines
`)
	for _, s := range table {
		b.WriteString("  " + s.name)
		if s.flag != "" {
			b.WriteString(", --" + s.flag + " " + strings.TrimPrefix(s.name, "WARDEN_"))
		}
		b.WriteString("  (default " + plain(s.defaultMarkdown()) + ")\n")
		b.WriteString("        " + plain(s.doc) + "\n")
	}
	return b.String()
}

// markdownTable is the settings table of README.md, between the markers
// that TestREADMESettingsTable looks for.
func markdownTable() string {
	var b strings.Builder
	b.WriteString("| variable | flag | meaning | default |\n|---|---|---|---|\n")
	for _, s := range table {
		flag := ""
		if s.flag != "" {
			flag = "`--" + s.flag + "`"
		}
		cells := []string{"`" + s.name + "`", flag, s.doc, s.defaultMarkdown()}
		for i, cell := range cells {
			// A bare | would end the cell early.
			cells[i] = strings.ReplaceAll(cell, "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

func (s setting) defaultMarkdown() string {
	switch {
	case s.about != "":
		return s.about
	case s.def == "":
		return "none"
	}
	return "`" + s.def + "`"
}

// plain turns the Markdown of doc and about into terminal text.
func plain(markdown string) string { return strings.ReplaceAll(markdown, "`", "") }
