package bookclub_test

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/wardenhq/warden/internal/accounts"
	"github.com/wardenhq/warden/internal/bookclub"
)

// The XSS corpus (testdata/xss, from the OWASP XSS Filter Evasion Cheat
// Sheet) through the review cleaners: each output is parsed with
// x/net/html, as a browser would parse it, and checked structurally.

// controlVectors are corpus payloads that need a character vectors.txt
// cannot hold on one line.
var controlVectors = []string{
	"<IMG SRC=\"jav\nascript:alert('XSS');\">",
	"<IMG SRC=\"jav\rascript:alert('XSS');\">",
	"<a href=\"jav\nascript:alert(1)\">x</a>",
	"<a href=\"jav\rascript:alert(1)\">x</a>",
	"<a href=\"\njavascript:alert(1)\">x</a>",
	"<a href=\"java\x00script:alert(1)\">x</a>",
	"<IMG SRC=java\x00script:alert(\"XSS\")>",
	"<SCRI\x00PT>alert(1)</SCRI\x00PT>",
	"<A HREF=\"h\ntt\tp://6\t6.000146.0x7.147/\">XSS</A>",
	"<a\nhref=\"javascript:alert(1)\"\nonclick\n=\nalert(1)>x</a>",
	"<p\x0conmouseover=alert(1)>x</p>",
}

func xssVectors(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "xss", "vectors.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 150 {
		t.Fatalf("only %d vectors", len(out))
	}
	return append(out, controlVectors...)
}

// allowedElements is the allow-list of docs/API.md.
var allowedElements = map[string]bool{"p": true, "br": true, "strong": true, "em": true, "u": true, "a": true, "ul": true, "ol": true, "li": true}

// fragment parses s as the content of a div, the way a page that
// inserts it would.
func fragment(t *testing.T, s string) []*html.Node {
	t.Helper()
	nodes, err := html.ParseFragment(strings.NewReader(s), &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div})
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return nodes
}

func walk(nodes []*html.Node, fn func(*html.Node)) {
	for _, n := range nodes {
		fn(n)
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk([]*html.Node{c}, fn)
		}
	}
}

// hrefProblem says what is wrong with a link target, as a browser reads
// it: the parser has decoded character references already; the URL
// parser then drops ASCII tab and newline anywhere and C0 controls and
// spaces at both ends, and reads the scheme case-insensitively.
func hrefProblem(v string) string {
	u := strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, v)
	u = strings.ToLower(strings.TrimFunc(u, func(r rune) bool { return r <= 0x20 }))
	for _, scheme := range []string{"javascript:", "data:", "vbscript:", "livescript:"} {
		if strings.HasPrefix(u, scheme) {
			return "executable scheme " + scheme
		}
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "mailto:") {
		return "not an absolute http, https or mailto URL"
	}
	return ""
}

// checkReviewHTML fails unless out, a cleaned review_text, holds nothing
// executable and nothing outside the allow-list.
func checkReviewHTML(t *testing.T, in, out string) {
	t.Helper()
	lower := strings.ToLower(out)
	for _, tag := range []string{"<script", "<svg", "<math", "<iframe", "<frame", "<object", "<embed", "<applet", "<meta", "<link", "<base", "<form", "<style", "<img", "<input", "<button"} {
		if strings.Contains(lower, tag) {
			t.Errorf("%q: output holds %s: %q", in, tag, out)
		}
	}
	walk(fragment(t, out), func(n *html.Node) {
		switch n.Type {
		case html.ElementNode:
			if n.Namespace != "" || !allowedElements[n.Data] {
				t.Errorf("%q: element %s %s outside the allow-list: %q", in, n.Namespace, n.Data, out)
			}
			rel := false
			for _, a := range n.Attr {
				key := strings.ToLower(a.Key)
				switch {
				case a.Namespace != "":
					t.Errorf("%q: namespaced attribute %s:%s: %q", in, a.Namespace, a.Key, out)
				case strings.HasPrefix(key, "on"):
					t.Errorf("%q: event handler %s: %q", in, a.Key, out)
				case key == "style":
					t.Errorf("%q: style attribute: %q", in, out)
				case n.Data != "a":
					t.Errorf("%q: attribute %s on %s: %q", in, a.Key, n.Data, out)
				case key == "href":
					if p := hrefProblem(a.Val); p != "" {
						t.Errorf("%q: href %q: %s: %q", in, a.Val, p, out)
					}
				case key == "rel":
					rel = true
					if a.Val != "nofollow noopener" {
						t.Errorf("%q: rel %q: %q", in, a.Val, out)
					}
				case key == "title":
				default:
					t.Errorf("%q: attribute %s on a: %q", in, a.Key, out)
				}
			}
			if n.Data == "a" && !rel {
				t.Errorf("%q: link without rel: %q", in, out)
			}
		case html.CommentNode, html.DoctypeNode:
			t.Errorf("%q: comment or doctype kept: %q", in, out)
		}
	})
}

// checkPlain fails unless out, a cleaned title, is text with no markup at
// all, even for a client that wrongly renders it as HTML.
func checkPlain(t *testing.T, in, out string) {
	t.Helper()
	if strings.Contains(strings.ToLower(out), "<script") {
		t.Errorf("%q: title holds <script: %q", in, out)
	}
	walk(fragment(t, out), func(n *html.Node) {
		if n.Type != html.TextNode {
			t.Errorf("%q: title holds markup (%v %s): %q", in, n.Type, n.Data, out)
		}
	})
}

func TestSanitizersNeutraliseTheXSSCorpus(t *testing.T) {
	for _, v := range xssVectors(t) {
		out := bookclub.SanitizeReview(v)
		checkReviewHTML(t, v, out)
		// Reads clean again (defence in depth): that must change nothing,
		// or an answer would differ from what was stored.
		if again := bookclub.SanitizeReview(out); again != out {
			t.Errorf("%q: not stable: %q then %q", v, out, again)
		}
		title := bookclub.PlainText(v)
		checkPlain(t, v, title)
		if again := bookclub.PlainText(title); again != title {
			t.Errorf("%q: title not stable: %q then %q", v, title, again)
		}
	}
}

// TestSanitizersKeepWhatIsAllowed: the allow-list is kept exactly, so
// that a review written with it reads back as written.
func TestSanitizersKeepWhatIsAllowed(t *testing.T) {
	for in, want := range map[string]string{
		"<p>One<br>two</p>": "<p>One<br>two</p>",
		"<ul><li><strong>a</strong></li><li><em>b</em> <u>c</u></li></ul><ol><li>d</li></ol>": "<ul><li><strong>a</strong></li><li><em>b</em> <u>c</u></li></ul><ol><li>d</li></ol>",
		`<a href="https://example.com/x?a=1&amp;b=2" title="T">x</a>`:                         `<a href="https://example.com/x?a=1&amp;b=2" title="T" rel="nofollow noopener">x</a>`,
		`<a href="mailto:reader@example.com">mail</a>`:                                        `<a href="mailto:reader@example.com" rel="nofollow noopener">mail</a>`,
		`<a href="HTTP://EXAMPLE.COM/">up</a>`:                                                `<a href="http://EXAMPLE.COM/" rel="nofollow noopener">up</a>`,
		"Tom &amp; Jerry &lt;3":                                                               "Tom &amp; Jerry &lt;3",
		"<h1>Heading</h1><div>block</div>":                                                    "Headingblock",
	} {
		if got := bookclub.SanitizeReview(in); got != want {
			t.Errorf("SanitizeReview(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"Tom &amp; Jerry":  "Tom & Jerry",
		"a < b > c":        "a < b > c",
		"<b>Bold</b> move": "Bold move",
		"&lt;script&gt;alert(1)&lt;/script&gt;Title": "Title",
		"&amp;lt;b&amp;gt;x":                         "x",
		"Ünïcödé ✓":                                  "Ünïcödé ✓",
	} {
		if got := bookclub.PlainText(in); got != want {
			t.Errorf("PlainText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReviewsAreCleanOnTheWayIn sends every payload as a review's title
// and text over HTTP and checks what the API answers, at creation and on
// reading.
func TestReviewsAreCleanOnTheWayIn(t *testing.T) {
	vectors := xssVectors(t)
	each(t, options{newLimiter: roomyLimits}, func(t *testing.T, h *harness) {
		adder := h.newUser("adder", canAdd)
		me := h.newUser("writer", accounts.CreateOptions{})
		book := h.addBook(adder, "Dune")
		created := 0
		for _, v := range vectors {
			title := v
			if utf8.RuneCountInString(title) > 200 || strings.ContainsAny(title, "\r\n\x00") {
				title = "Title"
			}
			r := h.as(me, "POST", "/api/reviews", map[string]any{"book_id": book, "title": title, "review_text": v, "rating": 1, "is_public": true})
			if r.Status == 400 {
				// Refused: nothing left once cleaned, or a control
				// character; never any other member.
				fields, _ := r.Body["fields"].(map[string]any)
				for f := range fields {
					if f != "title" && f != "review_text" {
						t.Fatalf("%q: %s", v, r.Raw)
					}
				}
				continue
			}
			h.expect(r, 201)
			created++
			for _, got := range []response{r, h.expect(h.as(me, "GET", reviewPath(int64(r.Body["id"].(float64))), nil), 200)} {
				checkReviewHTML(t, v, got.Body["review_text"].(string))
				checkPlain(t, title, got.Body["title"].(string))
			}
		}
		if created < len(vectors)/3 {
			t.Fatalf("only %d of %d payloads made a review", created, len(vectors))
		}
	})
}

// TestReviewsAreCleanOnTheWayOut stores every payload raw, behind the
// API's back (as an older version, a migration or an operator's SQL
// might), and checks what the list and the review answer.
func TestReviewsAreCleanOnTheWayOut(t *testing.T) {
	vectors := xssVectors(t)
	each(t, options{}, func(t *testing.T, h *harness) {
		adder := h.newUser("adder", canAdd)
		me := h.newUser("writer", accounts.CreateOptions{})
		book := h.addBook(adder, "Dune")
		ctx := context.Background()
		for _, v := range vectors {
			title := v
			if utf8.RuneCountInString(title) > 200 {
				title = string([]rune(title)[:200])
			}
			if _, err := h.db.ExecContext(ctx, h.db.Rebind(`INSERT INTO reviews (book_id, user_id, title, review_text, rating, is_public, created_at, updated_at) VALUES (?, ?, ?, ?, 3, TRUE, 1, 1)`),
				book, me.ID, strings.ToValidUTF8(strings.ReplaceAll(title, "\x00", ""), ""), strings.ReplaceAll(v, "\x00", "")); err != nil {
				t.Fatalf("%q: %v", v, err)
			}
		}
		seen := 0
		path := "/api/reviews?page_size=100"
		for path != "" {
			r := h.expect(h.as(nil, "GET", path, nil), 200)
			for _, item := range r.Body["results"].([]any) {
				rv := item.(map[string]any)
				checkReviewHTML(t, fmt.Sprint("stored review ", rv["id"]), rv["review_text"].(string))
				checkPlain(t, fmt.Sprint("stored title ", rv["id"]), rv["title"].(string))
				seen++
			}
			path = ""
			if next, ok := r.Body["next"].(string); ok {
				path = "/api/reviews?cursor=" + url.QueryEscape(next)
			}
		}
		if seen != len(vectors) {
			t.Fatalf("listed %d of %d", seen, len(vectors))
		}
	})
}
