package bookclub

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"
)

var jsonCorpus = []string{
	"", "Dune", `"quoted" \back\slash/`, "<script>&amp;</script>", "tab\tnew\nline\r\b\f", "\x00\x01\x1f\x7f",
	"é ü 漢字 🙂", "\u2028\u2029", "bad \xff utf-8 \xc3", "\xed\xa0\x80", "\u00a0 nbsp", "a\u200bb",
}

// TestBookJSONMatchesEncodingJSON holds the hand-written encoder to
// encoding/json's bytes.
func TestBookJSONMatchesEncodingJSON(t *testing.T) {
	name := "adder"
	next := "eyJwIjoyfQ"
	created := time.UnixMilli(1717171717123).UTC()
	var views []bookView
	for i, s := range jsonCorpus {
		v := bookView{ID: int64(i + 1), Title: s, Author: s + "x", ISBN: s, CreatedAt: created.Add(time.Duration(i) * 100 * time.Millisecond)}
		if i%2 == 0 {
			v.AddedBy = &name
		}
		views = append(views, v)
	}
	for _, l := range []listView[bookView]{
		{Count: 12, Page: 1, PageSize: 20, Results: views, Next: &next},
		{Count: 0, Page: 3, PageSize: 100, Results: []bookView{}},
	} {
		want, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendBookList(nil, l); !bytes.Equal(got, want) {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
		w := httptest.NewRecorder()
		writeJSONBody(w, renderBookList(l))
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/json; charset=utf-8" || w.Body.String() != string(want)+"\n" {
			t.Fatalf("written: %d %v %s", w.Code, w.Header(), w.Body)
		}
	}
}

func FuzzBookJSONString(f *testing.F) {
	for _, s := range jsonCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
