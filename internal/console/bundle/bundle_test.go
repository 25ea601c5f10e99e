package bundle_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/wardenhq/warden/internal/console/bundle"
)

func TestImports(t *testing.T) {
	for _, c := range []struct {
		name, src string
		want      []string
		bad       bool
	}{
		{"named", `import { a, b } from "./dom.js";`, []string{"dom.js"}, false},
		{"namespace", `import * as s from "./session.js"`, []string{"session.js"}, false},
		{"side effect", `import "./tokens.js";`, []string{"tokens.js"}, false},
		{"re-export", `export { x } from "./x.js";`, []string{"x.js"}, false},
		{"several, in order", "import \"./b.js\";\nimport { a } from \"./a.js\";\n", []string{"b.js", "a.js"}, false},
		{"no imports", "const a = 1;\nexport function f() {}\n", nil, false},
		{"the word in text", "// we import nothing here\nconst s = \"import\";\n", nil, false},
		{"dynamic", `const m = await import("./x.js");`, nil, true},
		{"dynamic, spaced", `load(import ("./x.js"))`, nil, true},
		{"single quotes", `import { a } from './a.js';`, nil, true},
		{"template", "import { a } from `./a.js`;", nil, true},
		{"multi-line", "import {\n  a,\n} from \"./a.js\";", nil, true},
		{"bare", `import { a } from "lodash";`, nil, true},
		{"parent", `import { a } from "../a.js";`, nil, true},
		{"subdirectory", `import { a } from "./x/a.js";`, nil, true},
		{"absolute", `import { a } from "/assets/a.js";`, nil, true},
		{"other origin", `import { a } from "https://cdn.example/a.js";`, nil, true},
		{"not js", `import css from "./a.css";`, nil, true},
		{"query", `import { a } from "./a.js?x";`, nil, true},
		{"upper case", `import { a } from "./A.js";`, nil, true},
		{"two on a line", `import "./a.js"; import "./b.js";`, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := bundle.Imports(c.src)
			if (err != nil) != c.bad {
				t.Fatalf("err %v, want error %v", err, c.bad)
			}
			if !c.bad && strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("imports %q, want %q", got, c.want)
			}
		})
	}
}

// FuzzImports: whatever the source, Imports answers without panicking,
// and every name it returns is a module name of the same directory, so
// that Build can only ever rewrite a specifier into a hashed file name.
func FuzzImports(f *testing.F) {
	for _, s := range []string{
		`import { a } from "./dom.js";`, `import "./tokens.js";`, `export * from "./x.js"`,
		"import {\n a } from \"./a.js\"", `import("./x.js")`, `import x from "../x.js"`, "",
	} {
		f.Add(s)
	}
	name := regexp.MustCompile(`^[a-z0-9][a-z0-9-]*\.js$`)
	f.Fuzz(func(t *testing.T, src string) {
		got, err := bundle.Imports(src)
		if err != nil {
			return
		}
		for _, n := range got {
			if !name.MatchString(n) {
				t.Fatalf("Imports(%q) returned %q", src, n)
			}
		}
	})
}

func source(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v), Mode: 0o644}
	}
	return m
}

var page = `<!doctype html><link rel="stylesheet" href="/assets/app.css"><script type="module" src="/assets/main.js"></script>`

// TestBuildHashesAndRewrites: assets get content-hashed names, imports
// and the page name the hashed files, a change in a module renames the
// modules that import it (and not the others), and the same source
// builds to the same bytes.
func TestBuildHashesAndRewrites(t *testing.T) {
	src := map[string]string{
		"index.html": page,
		"main.js":    "import { a } from \"./a.js\";\nimport \"./b.js\";\na();\n",
		"a.js":       "import { c } from \"./c.js\";\nexport const a = () => c;\n",
		"b.js":       "export const b = 2;\n",
		"c.js":       "export const c = 1;\n",
		"app.css":    "body { color: red; }\n",
	}
	out, err := bundle.Build(source(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 6 {
		t.Fatalf("%d files: %v", len(out), keys(out))
	}
	hashed := map[string]string{}
	for name := range out {
		if name == bundle.Index {
			continue
		}
		m := regexp.MustCompile(`^assets/([a-z]+)-[0-9a-f]{12}(\.[a-z]+)$`).FindStringSubmatch(name)
		if m == nil {
			t.Fatalf("asset name %q", name)
		}
		hashed[m[1]+m[2]] = strings.TrimPrefix(name, "assets/")
	}
	main := string(out["assets/"+hashed["main.js"]])
	if !strings.Contains(main, `from "./`+hashed["a.js"]+`"`) || !strings.Contains(main, `import "./`+hashed["b.js"]+`"`) {
		t.Errorf("main.js imports not rewritten:\n%s", main)
	}
	index := string(out[bundle.Index])
	for _, n := range []string{"main.js", "app.css"} {
		if !strings.Contains(index, `"/assets/`+hashed[n]+`"`) {
			t.Errorf("index.html does not name %s: %s", hashed[n], index)
		}
	}
	for _, n := range []string{"a.js", "b.js", "c.js"} {
		if !strings.Contains(index, `<link rel="modulepreload" href="/assets/`+hashed[n]+`">`) {
			t.Errorf("index.html does not preload %s", n)
		}
	}

	again, err := bundle.Build(source(src))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range out {
		if !bytes.Equal(again[name], b) {
			t.Errorf("%s differs between two builds", name)
		}
	}

	src["c.js"] = "export const c = 3;\n"
	changed, err := bundle.Build(source(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"main.js", "a.js", "c.js"} {
		if _, same := changed["assets/"+hashed[n]]; same {
			t.Errorf("%s kept its name although it (or what it imports) changed", n)
		}
	}
	for _, n := range []string{"b.js", "app.css"} {
		if _, same := changed["assets/"+hashed[n]]; !same {
			t.Errorf("%s was renamed although nothing it depends on changed", n)
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestBuildRefuses: what the build cannot turn into a working console
// stops it, with the file named.
func TestBuildRefuses(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{"index.html": page, "main.js": "export const x = 1;\n", "app.css": "a {}\n"}
	}
	for _, c := range []struct {
		name   string
		change func(m map[string]string)
		want   string
	}{
		{"no page", func(m map[string]string) { delete(m, "index.html") }, "no index.html"},
		{"unknown kind", func(m map[string]string) { m["notes.txt"] = "x" }, "notes.txt"},
		{"upper-case name", func(m map[string]string) { m["Main.js"] = "x" }, "Main.js"},
		{"empty file", func(m map[string]string) { m["e.js"] = "" }, "e.js is empty"},
		{"missing import", func(m map[string]string) { m["main.js"] = "import \"./gone.js\";\n" }, "gone.js"},
		{"cycle", func(m map[string]string) {
			m["main.js"] = "import \"./a.js\";\n"
			m["a.js"] = "import \"./main.js\";\n"
		}, "cycle"},
		{"dynamic import", func(m map[string]string) { m["main.js"] = "import(\"./a.js\");\n" }, "main.js"},
		{"page names a missing asset", func(m map[string]string) { m["index.html"] = page + `<img src="/assets/gone.svg">` }, "gone.svg"},
		{"url() in css", func(m map[string]string) { m["app.css"] = "a { background: url(x.png) }" }, "url()"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := base()
			c.change(m)
			_, err := bundle.Build(source(m))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want one naming %q", err, c.want)
			}
		})
	}
	sub := source(base())
	sub["dir/x.js"] = &fstest.MapFile{Data: []byte("x")}
	if _, err := bundle.Build(sub); err == nil {
		t.Error("a subdirectory was accepted")
	}
}

// TestWriteReplacesOnlyABuild: Write removes stale assets of an earlier
// build and refuses a directory holding anything else.
func TestWriteReplacesOnlyABuild(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dist")
	if err := bundle.Write(dir, map[string][]byte{"index.html": []byte("1"), "assets/a-1.js": []byte("a")}); err != nil {
		t.Fatal(err)
	}
	if err := bundle.Write(dir, map[string][]byte{"index.html": []byte("2"), "assets/a-2.js": []byte("a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "assets", "a-1.js")); !os.IsNotExist(err) {
		t.Errorf("the stale asset is still there: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "index.html")); string(b) != "2" {
		t.Errorf("index.html %q", b)
	}
	if err := os.WriteFile(filepath.Join(dir, "keep.go"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := bundle.Write(dir, map[string][]byte{"index.html": []byte("3")}); err == nil || !strings.Contains(err.Error(), "keep.go") {
		t.Errorf("err %v, want a refusal naming keep.go", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keep.go")); err != nil {
		t.Errorf("a foreign file was removed: %v", err)
	}
}
