package benchproc

// What the benchmark programs' main functions share: their temporary
// directory, progress lines, and how a run ends (the report on stdout,
// its problems on stderr, the exit code).

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Say prints a progress line on stderr, so that stdout carries the report
// alone (and can be redirected, or hold JSON).
func Say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// TempDir makes a fresh temporary directory named after prefix, for a
// run's binaries, data and logs. remove deletes it, unless keep: then
// the directory's path is printed on stderr ("keeping <dir>") so that it
// can be looked at after the run, and remove does nothing.
func TempDir(prefix string, keep bool) (dir string, remove func(), err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	if keep {
		fmt.Fprintln(os.Stderr, "keeping", dir)
		return dir, func() {}, nil
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}

// Workdir is ModuleRoot (where binaries are built from) and then TempDir:
// what a program that builds the binaries it measures needs first.
func Workdir(prefix string, keep bool) (root, dir string, remove func(), err error) {
	if root, err = ModuleRoot(); err != nil {
		return "", "", nil, err
	}
	if dir, remove, err = TempDir(prefix, keep); err != nil {
		return "", "", nil, err
	}
	return root, dir, remove, nil
}

// WriteJSON writes v to w as indented JSON, the form every program's
// -json report takes.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Finish ends a program's run. When err is not nil it prints it after
// prog's name on stderr and exits 1. Otherwise it prints rep on stdout,
// as JSON (WriteJSON) when asJSON or else through text, then each of
// problems(rep) on stderr after prog's name, and exits 1 if there was
// any; it returns when the run passed. Like the text, the JSON is written
// without checking for a failed write: stdout is the user's to read.
func Finish[R any](prog string, rep R, err error, asJSON bool, text func(io.Writer, R), problems func(R) []string) {
	if err != nil {
		fmt.Fprintln(os.Stderr, prog+":", err)
		os.Exit(1)
	}
	if asJSON {
		_ = WriteJSON(os.Stdout, rep)
	} else {
		text(os.Stdout, rep)
	}
	if ps := problems(rep); len(ps) > 0 {
		for _, p := range ps {
			fmt.Fprintln(os.Stderr, prog+":", p)
		}
		os.Exit(1)
	}
}

// Verdict words whether a target was met, as the reports print it.
func Verdict(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}
