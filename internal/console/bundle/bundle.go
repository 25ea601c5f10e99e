// Package bundle turns the web console's source (web/src) into the files
// the binary embeds (internal/console/dist). It is the console's whole
// build: plain ES modules and one style sheet need no compiler, only
// names that change when their content does, so that browsers may cache
// every asset for a year and still never run a stale one.
//
// Contract:
//   - The source is one flat directory: index.html, ES modules (*.js),
//     style sheets (*.css) and SVG images (*.svg); anything else (a
//     subdirectory, another extension, an empty file) is an error, so
//     nothing reaches the binary by accident.
//   - Every asset is written as assets/<stem>-<hash>.<ext>, where hash is
//     the first 12 hex digits of the SHA-256 of the written bytes. A
//     module's imports are rewritten to the hashed names of what they
//     import before it is hashed, so a change in one module renames every
//     module that depends on it. index.html's src and href attributes that
//     name /assets/<file> are rewritten the same way, and a modulepreload
//     link for every other module goes before its first <script>, so that
//     the browser fetches the modules at once rather than one level of
//     imports per round trip.
//   - Imports must be static, on one line, with a double-quoted relative
//     specifier of a module of the same directory: import {a} from
//     "./dom.js"; import "./tokens.js"; export {b} from "./x.js". Any other
//     form of import (dynamic import(), a bare or single-quoted or
//     multi-line specifier) is an error rather than a module the browser
//     would fail to find. Import cycles are errors. A style sheet may not
//     reference other files (url()).
//   - The output depends on nothing but the source bytes: the same source
//     gives the same files, byte for byte, on any machine, which is what
//     lets CI rebuild and compare.
package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Index is the name of the page in the source and in the output.
const Index = "index.html"

// AssetDir is the output directory of the assets, which the page names
// as /assets/<file>.
const AssetDir = "assets"

// HashLen is the number of hex digits of the content hash in asset names.
const HashLen = 12

// Extensions are the kinds of source file Build takes, besides index.html.
var Extensions = []string{".js", ".css", ".svg"}

var (
	// An import statement on one line with a relative specifier.
	importLine = regexp.MustCompile(`(?m)^[ \t]*(?:import[ \t]*|(?:import|export)\b[^\n;"'` + "`" + `]*?\bfrom[ \t]*)"(\./[^"\n]*)"[ \t]*;?[ \t]*$`)
	// Anything that looks like the start of an import, to catch the forms
	// importLine does not take.
	importish  = regexp.MustCompile(`(?m)(?:^[ \t]*import\b|^[ \t]*export\b[^\n]*\bfrom\b|\bimport[ \t]*\()`)
	moduleName = regexp.MustCompile(`^\./([a-z0-9][a-z0-9-]*\.js)$`)
	assetRef   = regexp.MustCompile(`\b(src|href)="/` + AssetDir + `/([^"]*)"`)
	srcName    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*\.[a-z]+$`)
)

// Imports returns the modules a module's source imports, in order, as
// file names of its directory ("dom.js"), and an error for any import it
// cannot rewrite safely (see the package contract).
func Imports(src string) ([]string, error) {
	var out []string
	taken := make(map[int]bool)
	for _, m := range importLine.FindAllStringSubmatchIndex(src, -1) {
		spec := src[m[2]:m[3]]
		name := moduleName.FindStringSubmatch(spec)
		if name == nil {
			return nil, fmt.Errorf("line %d: import %q: only \"./name.js\" of the same directory is supported", lineOf(src, m[0]), spec)
		}
		out = append(out, name[1])
		taken[lineOf(src, m[0])] = true
	}
	for _, m := range importish.FindAllStringIndex(src, -1) {
		if !taken[lineOf(src, m[0])] {
			return nil, fmt.Errorf("line %d: an import this build cannot rewrite (dynamic, multi-line, or not a double-quoted \"./name.js\")", lineOf(src, m[0]))
		}
	}
	return out, nil
}

// lineOf returns the 1-based line of byte offset i.
func lineOf(s string, i int) int {
	return strings.Count(s[:i], "\n") + 1
}

// rewriteImports replaces each relative specifier with the hashed name
// named gives for it.
func rewriteImports(src string, named map[string]string) string {
	return importLine.ReplaceAllStringFunc(src, func(stmt string) string {
		m := importLine.FindStringSubmatchIndex(stmt)
		name := moduleName.FindStringSubmatch(stmt[m[2]:m[3]])[1]
		return stmt[:m[2]] + "./" + named[name] + stmt[m[3]:]
	})
}

// hashedName returns stem-<hash>.ext for content.
func hashedName(name string, content []byte) string {
	sum := sha256.Sum256(content)
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "-" + hex.EncodeToString(sum[:])[:HashLen] + ext
}

// Build reads the source directory src and returns the output files by
// slash-separated name: Index and AssetDir/<hashed name> for each asset.
func Build(src fs.FS) (map[string][]byte, error) {
	entries, err := fs.ReadDir(src, ".")
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte)
	var page []byte
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !e.Type().IsRegular() {
			return nil, fmt.Errorf("%s: the source is one flat directory of regular files", name)
		}
		if name != Index && (!srcName.MatchString(name) || !slices.Contains(Extensions, path.Ext(name))) {
			return nil, fmt.Errorf("%s: not a source file of the console (index.html, or a lowercase name ending in %s)", name, strings.Join(Extensions, ", "))
		}
		b, err := fs.ReadFile(src, name)
		if err != nil {
			return nil, err
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("%s is empty", name)
		}
		if name == Index {
			page = b
			continue
		}
		if path.Ext(name) == ".css" && strings.Contains(string(b), "url(") {
			return nil, fmt.Errorf("%s: url() references are not supported by this build", name)
		}
		files[name] = b
	}
	if page == nil {
		return nil, fmt.Errorf("the source has no %s", Index)
	}

	// Hash modules after what they import: depth first, refusing cycles.
	named := make(map[string]string) // source name -> hashed name
	out := make(map[string][]byte)
	const (
		visiting = 1
		done     = 2
	)
	state := make(map[string]int)
	var visit func(name string, from []string) error
	visit = func(name string, from []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("import cycle: %s -> %s", strings.Join(from, " -> "), name)
		}
		state[name] = visiting
		content := files[name]
		if path.Ext(name) == ".js" {
			deps, err := Imports(string(content))
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			for _, d := range deps {
				if _, ok := files[d]; !ok {
					return fmt.Errorf("%s imports %s, which is not in the source", name, d)
				}
				if err := visit(d, append(from, name)); err != nil {
					return err
				}
			}
			content = []byte(rewriteImports(string(content), named))
		}
		named[name] = hashedName(name, content)
		out[AssetDir+"/"+named[name]] = content
		state[name] = done
		return nil
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}

	var missing []string
	html := assetRef.ReplaceAllStringFunc(string(page), func(ref string) string {
		m := assetRef.FindStringSubmatch(ref)
		h, ok := named[m[2]]
		if !ok {
			missing = append(missing, m[2])
			return ref
		}
		return m[1] + `="/` + AssetDir + "/" + h + `"`
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s names assets that are not in the source: %s", Index, strings.Join(missing, ", "))
	}
	// Preload every module the page does not name itself, so that the
	// browser fetches them all at once instead of one level of imports
	// per round trip.
	var preload strings.Builder
	for _, n := range names {
		if path.Ext(n) == ".js" && !strings.Contains(html, "/"+AssetDir+"/"+named[n]+`"`) {
			fmt.Fprintf(&preload, "<link rel=\"modulepreload\" href=\"/%s/%s\">\n", AssetDir, named[n])
		}
	}
	at := strings.Index(html, "<script")
	if at < 0 {
		return nil, fmt.Errorf("%s has no <script>", Index)
	}
	html = html[:at] + preload.String() + html[at:]
	out[Index] = []byte(html)
	return out, nil
}

// Write makes dir hold exactly files: stale assets of an earlier build
// are removed. It refuses a dir that holds anything a build does not
// write, so that a wrong path cannot delete someone's files.
func Write(dir string, files map[string][]byte) error {
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if n := e.Name(); !(n == Index && !e.IsDir()) && !(n == AssetDir && e.IsDir()) {
				return fmt.Errorf("%s holds %s, which no build wrote; refusing to replace it", dir, n)
			}
		}
		if err := os.RemoveAll(filepath.Join(dir, AssetDir)); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, AssetDir), 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
