package bookclub

import (
	"bytes"
	"html"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	xhtml "golang.org/x/net/html"
)

// Text that users write and other people read: review titles, review
// bodies and bios. Reviews are rendered as HTML by clients, so review_text
// is cleaned to the allow-list of docs/API.md; titles and bios are plain
// text. Both are cleaned when written and again when read: the stored
// value came through this code, but a row written by an older version, a
// migration or an operator's SQL should not reach a browser unchecked.

// reviewPolicy is exactly the allow-list of docs/API.md: p, br, strong,
// em, u, ul, ol, li, and a with href and title; href only as an absolute
// http, https or mailto URL (no relative URLs, which could smuggle a
// scheme the browser sees differently). bluemonday drops every other
// element (and the content of script, style, iframe and the like), every
// other attribute (on*, style, class, id...), and an a whose href fails:
// its text stays, without the link. Its URL check runs on the attribute
// after entity decoding, trims surrounding whitespace and refuses control
// characters, so &#106;avascript:, "JaVaScRiPt:" and "jav&#x09;ascript:"
// are all refused.
var reviewPolicy = func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "strong", "em", "u", "ul", "ol", "li")
	p.AllowAttrs("href", "title").OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false)
	return p
}()

// strictPolicy keeps no markup at all: the text of the input, escaped.
var strictPolicy = bluemonday.StrictPolicy()

// linkRel is the rel every link gets: nofollow so that reviews earn spam
// links no search ranking; noopener so that a linked page cannot reach
// back into the reader's window (window.opener).
const linkRel = "nofollow noopener"

// sanitizeReview cleans review HTML to the allow-list and gives every
// link rel="nofollow noopener". bluemonday can add nofollow, but noopener
// only together with target="_blank", which is not on the allow-list; so
// the rel is set here, on bluemonday's output, replacing any rel. The
// result is safe to insert into a page as HTML.
func sanitizeReview(s string) string {
	clean := reviewPolicy.Sanitize(s)
	if !strings.Contains(clean, "<a") {
		return clean
	}
	// bluemonday's output is well-formed, so a tokenizer reads it the way
	// it was written; only the a start tags change, re-serialised by
	// x/net/html (which escapes attribute values).
	var out bytes.Buffer
	z := xhtml.NewTokenizer(strings.NewReader(clean))
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			break
		}
		raw := z.Raw()
		if tt != xhtml.StartTagToken && tt != xhtml.SelfClosingTagToken {
			out.Write(raw)
			continue
		}
		tok := z.Token()
		if tok.Data != "a" {
			out.Write(raw)
			continue
		}
		attrs := make([]xhtml.Attribute, 0, len(tok.Attr)+1)
		for _, a := range tok.Attr {
			if a.Key == "href" || a.Key == "title" {
				attrs = append(attrs, a)
			}
		}
		tok.Attr = append(attrs, xhtml.Attribute{Key: "rel", Val: linkRel})
		tok.Type = xhtml.StartTagToken
		out.WriteString(tok.String())
	}
	return out.String()
}

// maxPlainPasses bounds plainText's loop; each pass removes a layer of
// markup or of entity encoding, and honest text is stable after one.
const maxPlainPasses = 4

// plainText returns the text a browser would show for s, with every tag
// removed (and the content of script, style and the like), entities
// decoded, so that "Tom &amp; Jerry" is stored as "Tom & Jerry". Decoding
// can reveal markup ("&lt;script&gt;" becomes "<script>"), so the two
// steps repeat until nothing changes: the result holds nothing that reads
// as a tag, and a client that wrongly renders it as HTML meets none. Text
// that is still changing after maxPlainPasses (entities nested deeper than
// any honest title) loses its angle brackets instead.
func plainText(s string) string {
	for range maxPlainPasses {
		next := html.UnescapeString(strictPolicy.Sanitize(s))
		if next == s {
			return s
		}
		s = next
	}
	return strings.NewReplacer("<", "", ">", "").Replace(s)
}
