package secure_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/secure"
)

// formPart is one part to build a test body from.
type formPart struct {
	name, filename, contentType string
	data                        string
	extra                       map[string]string // more header fields
}

// buildBody writes parts with mime/multipart.Writer, which quotes names
// and file names correctly, under boundary.
func buildBody(t testing.TB, boundary string, parts ...formPart) []byte {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if err := mw.SetBoundary(boundary); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", cd)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		for k, v := range p.extra {
			h.Set(k, v)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func multipartRequest(contentType string, body []byte) *http.Request {
	r := httptest.NewRequest("POST", "/upload", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func ct(boundary string) string { return "multipart/form-data; boundary=" + boundary }

func readForm(t testing.TB, r *http.Request, l secure.MultipartLimits) (*secure.Form, *httptest.ResponseRecorder) {
	t.Helper()
	w := httptest.NewRecorder()
	form, ok := secure.ReadMultipart(w, r, l)
	if ok != (form != nil) {
		t.Fatalf("ok = %v with form %v", ok, form)
	}
	if ok && (w.Body.Len() != 0 || len(w.Header()) != 0) {
		t.Fatalf("ReadMultipart wrote a response and returned true: %d %s", w.Code, w.Body)
	}
	return form, w
}

// wantProblem checks that w holds a problem for status whose sentence
// contains each of words.
func wantProblem(t testing.TB, w *httptest.ResponseRecorder, status int, words ...string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	if got := w.Header().Get("Content-Type"); got != problem.ContentType {
		t.Fatalf("Content-Type = %q", got)
	}
	var p problem.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	for _, word := range words {
		if !strings.Contains(p.Detail, word) {
			t.Errorf("detail %q does not mention %q", p.Detail, word)
		}
	}
}

func TestReadMultipart(t *testing.T) {
	binary := "\x00\x01\r\n--not-the-boundary\r\n\xff\xfe"
	body := buildBody(t, "XyZ",
		formPart{name: "title", data: "Dune"},
		formPart{name: "avatar", filename: "../../me.png", contentType: "image/png", data: binary},
		formPart{name: "empty", data: ""},
		formPart{name: "enc", data: "raw=3D", extra: map[string]string{"Content-Transfer-Encoding": "binary"}},
	)
	form, w := readForm(t, multipartRequest(ct("XyZ"), body), secure.MultipartLimits{})
	if form == nil {
		t.Fatalf("refused: %d %s", w.Code, w.Body)
	}
	names := []string{}
	for _, p := range form.Parts {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"title", "avatar", "empty", "enc"}) {
		t.Fatalf("names %q", names)
	}
	title, ok := form.One("title")
	if !ok || string(title.Data) != "Dune" || title.FileName != "" {
		t.Errorf("title = %+v, %v", title, ok)
	}
	av, ok := form.One("avatar")
	if !ok || string(av.Data) != binary {
		t.Errorf("avatar data %q", av.Data)
	}
	// The client's file name, with its directories removed; still not
	// something to use as a path.
	if av.FileName != "me.png" {
		t.Errorf("FileName = %q", av.FileName)
	}
	if av.Header.Get("Content-Type") != "image/png" {
		t.Errorf("header %v", av.Header)
	}
	if e, ok := form.One("empty"); !ok || len(e.Data) != 0 {
		t.Errorf("empty part: %+v, %v", e, ok)
	}
	if enc, _ := form.One("enc"); string(enc.Data) != "raw=3D" {
		t.Errorf("binary transfer encoding changed the data: %q", enc.Data)
	}
	if _, ok := form.One("missing"); ok {
		t.Error("One found a missing name")
	}
	if form.Repeated() != nil {
		t.Errorf("Repeated = %q", form.Repeated())
	}
}

func TestReadMultipartRepeatedNames(t *testing.T) {
	body := buildBody(t, "b",
		formPart{name: "avatar", filename: "a.png", data: "first"},
		formPart{name: "x", data: "1"},
		formPart{name: "avatar", filename: "b.png", data: "second"},
		formPart{name: "x", data: "2"},
		formPart{name: "avatar", data: "third"},
	)
	form, w := readForm(t, multipartRequest(ct("b"), body), secure.MultipartLimits{})
	if form == nil {
		t.Fatalf("refused: %s", w.Body)
	}
	if _, ok := form.One("avatar"); ok {
		t.Error("One returned a part for a repeated name")
	}
	all := form.All("avatar")
	if len(all) != 3 || string(all[0].Data) != "first" || string(all[2].Data) != "third" {
		t.Errorf("All = %v", all)
	}
	if got := form.Repeated(); !slices.Equal(got, []string{"avatar", "x"}) {
		t.Errorf("Repeated = %q", got)
	}
}

func TestReadMultipartContentType(t *testing.T) {
	body := buildBody(t, "b", formPart{name: "a", data: "1"})
	long := strings.Repeat("b", 201)
	tests := []struct {
		name, contentType string
		status            int
	}{
		{"missing", "", 415},
		{"json", "application/json", 415},
		{"urlencoded", "application/x-www-form-urlencoded", 415},
		{"multipart/mixed", "multipart/mixed; boundary=b", 415},
		{"garbage", "@@@", 415},
		{"no boundary", "multipart/form-data", 400},
		{"empty boundary", `multipart/form-data; boundary=""`, 400},
		{"boundary over 200 bytes", ct(long), 400},
		{"boundary over a custom limit", ct("bbbbbbbbbbb"), 400}, // MaxBoundary 10 below
		{"boundary with a forbidden byte", `multipart/form-data; boundary="a@b"`, 400},
		{"boundary with a non-ASCII byte", "multipart/form-data; boundary=\"a\u00e9b\"", 400},
		{"boundary ending in a space", `multipart/form-data; boundary="ab "`, 400},
		{"repeated boundary parameter", "multipart/form-data; boundary=b; boundary=c", 400},
		{"unterminated quote", `multipart/form-data; boundary="b`, 400},
		{"space before a repeated parameter", "Multipart/Form-Data ; boundary=b; boundary=c", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := secure.MultipartLimits{}
			if strings.Contains(tt.name, "custom") {
				l.MaxBoundary = 10
			}
			form, w := readForm(t, multipartRequest(tt.contentType, body), l)
			if form != nil {
				t.Fatal("accepted")
			}
			wantProblem(t, w, tt.status)
		})
	}

	t.Run("boundary of exactly 200 bytes", func(t *testing.T) {
		b := strings.Repeat("'()+_,-./:=?Az9", 14)[:199] + "x"
		// By hand: multipart.Writer keeps to RFC 2046's 70 bytes.
		body := []byte("--" + b + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--" + b + "--\r\n")
		if form, w := readForm(t, multipartRequest(`multipart/form-data; boundary="`+b+`"`, body), secure.MultipartLimits{}); form == nil {
			t.Fatalf("refused: %s", w.Body)
		}
	})
	t.Run("case and parameters", func(t *testing.T) {
		if form, w := readForm(t, multipartRequest("Multipart/Form-Data; charset=utf-8; boundary=b", body), secure.MultipartLimits{}); form == nil {
			t.Fatalf("refused: %s", w.Body)
		}
	})
}

func TestReadMultipartPartCount(t *testing.T) {
	parts := func(n int) []formPart {
		out := make([]formPart, n)
		for i := range out {
			out[i] = formPart{name: fmt.Sprint("f", i), data: "x"}
		}
		return out
	}
	form, w := readForm(t, multipartRequest(ct("b"), buildBody(t, "b", parts(10)...)), secure.MultipartLimits{})
	if form == nil || len(form.Parts) != 10 {
		t.Fatalf("10 parts refused: %s", w.Body)
	}
	_, w = readForm(t, multipartRequest(ct("b"), buildBody(t, "b", parts(11)...)), secure.MultipartLimits{})
	wantProblem(t, w, 400, "more than 10 parts")

	// Refused when the extra part starts, not after reading the rest: a
	// body of one million tiny parts is not parsed to the end.
	r := multipartRequest(ct("b"), nil)
	r.Body = io.NopCloser(io.MultiReader(
		bytes.NewReader(bytes.TrimSuffix(buildBody(t, "b", parts(3)...), []byte("--b--\r\n"))),
		&endless{chunk: []byte("--b\r\nContent-Disposition: form-data; name=\"z\"\r\n\r\nz\r\n")},
	))
	r.ContentLength = -1
	_, w = readForm(t, r, secure.MultipartLimits{MaxParts: 3, MaxTotalBytes: 1 << 40})
	wantProblem(t, w, 400, "more than 3 parts")
}

// endless repeats chunk for ever and counts what was read.
type endless struct {
	chunk []byte
	off   int
	read  int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], e.chunk[e.off:])
		n += c
		e.off = (e.off + c) % len(e.chunk)
	}
	e.read += int64(n)
	return n, nil
}

func TestReadMultipartSizes(t *testing.T) {
	l := secure.MultipartLimits{MaxPartBytes: 100, MaxTotalBytes: 1000}
	ok := buildBody(t, "b", formPart{name: "avatar", data: strings.Repeat("a", 100)})
	if form, w := readForm(t, multipartRequest(ct("b"), ok), l); form == nil {
		t.Fatalf("a part at the limit was refused: %s", w.Body)
	}

	over := buildBody(t, "b", formPart{name: "avatar", data: strings.Repeat("a", 101)})
	_, w := readForm(t, multipartRequest(ct("b"), over), l)
	wantProblem(t, w, 413, `"avatar"`, "100 bytes")

	// The field name is the client's: an unprintable one is not echoed.
	weird := buildBody(t, "b", formPart{name: "a\u202eb", data: strings.Repeat("a", 101)})
	_, w = readForm(t, multipartRequest(ct("b"), weird), secure.MultipartLimits{MaxPartBytes: 100})
	wantProblem(t, w, 413)

	t.Run("declared length over the total", func(t *testing.T) {
		body := buildBody(t, "b", formPart{name: "a", data: strings.Repeat("a", 50)})
		r := multipartRequest(ct("b"), nil)
		tr := &trackingReader{r: bytes.NewReader(body)}
		r.Body = io.NopCloser(tr)
		r.ContentLength = 1001
		_, w := readForm(t, r, l)
		wantProblem(t, w, 413, "1000 bytes")
		if tr.n != 0 {
			t.Errorf("%d bytes read before refusing", tr.n)
		}
	})
	t.Run("chunked body over the total", func(t *testing.T) {
		parts := []formPart{}
		for i := range 9 {
			parts = append(parts, formPart{name: fmt.Sprint("p", i), data: strings.Repeat("a", 100)})
		}
		r := multipartRequest(ct("b"), buildBody(t, "b", parts...))
		r.ContentLength = -1
		_, w := readForm(t, r, l)
		wantProblem(t, w, 413, "1000 bytes")
	})
	t.Run("a huge part header counts toward the total", func(t *testing.T) {
		body := buildBody(t, "b", formPart{name: "a", data: "x", extra: map[string]string{"X-Pad": strings.Repeat("p", 2000)}})
		r := multipartRequest(ct("b"), body)
		r.ContentLength = -1
		_, w := readForm(t, r, l)
		wantProblem(t, w, 413, "1000 bytes")
	})
	t.Run("a lower BodyLimit in front wins", func(t *testing.T) {
		body := buildBody(t, "b", formPart{name: "a", data: strings.Repeat("a", 90)})
		r := multipartRequest(ct("b"), body)
		r.ContentLength = -1
		var w *httptest.ResponseRecorder
		secure.BodyLimit(64)(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			_, w = readForm(t, r, l)
		})).ServeHTTP(httptest.NewRecorder(), r)
		wantProblem(t, w, 413, "64 bytes")
	})
}

type trackingReader struct {
	r io.Reader
	n int
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n += n
	return n, err
}

func TestReadMultipartMalformed(t *testing.T) {
	good := buildBody(t, "b", formPart{name: "a", data: "hello"})
	tests := []struct {
		name string
		body string
	}{
		{"empty body", ""},
		{"not multipart", "hello world"},
		{"truncated", string(good[:len(good)-8])},
		{"no closing delimiter", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello"},
		{"no content disposition", "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"},
		{"attachment disposition", "--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nhello\r\n--b--\r\n"},
		{"no name", "--b\r\nContent-Disposition: form-data; filename=\"a.png\"\r\n\r\nhello\r\n--b--\r\n"},
		{"empty name", "--b\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nhello\r\n--b--\r\n"},
		{"two dispositions", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\nhello\r\n--b--\r\n"},
		{"repeated name parameter", "--b\r\nContent-Disposition: form-data; name=\"a\"; name=\"b\"\r\n\r\nhello\r\n--b--\r\n"},
		{"quoted-printable", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nrole=3Dadmin\r\n--b--\r\n"},
		{"base64", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b--\r\n"},
		{"malformed part header", "--b\r\nContent-Disposition form-data\r\n\r\nhello\r\n--b--\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, w := readForm(t, multipartRequest(ct("b"), []byte(tt.body)), secure.MultipartLimits{})
			if form != nil {
				t.Fatalf("accepted %+v", form.Parts)
			}
			wantProblem(t, w, 400)
			if strings.Contains(w.Body.String(), "hello") || strings.Contains(w.Body.String(), "multipart:") {
				t.Errorf("the problem quotes the body or the parser: %s", w.Body)
			}
		})
	}

	t.Run("no parts at all is an empty form", func(t *testing.T) {
		form, w := readForm(t, multipartRequest(ct("b"), []byte("--b--\r\n")), secure.MultipartLimits{})
		if form == nil || len(form.Parts) != 0 {
			t.Fatalf("%v %s", form, w.Body)
		}
	})
}

// Nothing may be spooled to disk, however large the parts: the temporary
// directory stays empty while a form near the limits is read.
func TestReadMultipartWritesNoTemporaryFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("TMP", tmp)
	t.Setenv("TEMP", tmp)
	body := buildBody(t, "b",
		formPart{name: "avatar", filename: "a.png", data: strings.Repeat("\x89", 5<<20)},
		formPart{name: "b", filename: "b.bin", data: strings.Repeat("z", 3<<20)},
	)
	form, w := readForm(t, multipartRequest(ct("b"), body), secure.MultipartLimits{MaxPartBytes: 5 << 20, MaxTotalBytes: 9 << 20})
	if form == nil {
		t.Fatalf("refused: %s", w.Body)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("temporary files written: %v", entries)
	}
}

func TestLimitMultipart(t *testing.T) {
	l := secure.MultipartLimits{MaxBoundary: 20, MaxTotalBytes: 500}
	var seen []byte
	var readErr error
	h := secure.LimitMultipart(l)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, readErr = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		seen, readErr = nil, nil
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	body := buildBody(t, "b", formPart{name: "a", data: "1"})

	if w := serve(multipartRequest(ct("b"), body)); w.Code != http.StatusNoContent || !bytes.Equal(seen, body) {
		t.Fatalf("valid request: %d", w.Code)
	}

	refusals := []struct {
		name   string
		r      func() (*http.Request, *trackingReader)
		status int
	}{
		{"json", func() (*http.Request, *trackingReader) { return tracked("application/json", body, int64(len(body))) }, 415},
		{"no boundary", func() (*http.Request, *trackingReader) { return tracked("multipart/form-data", body, int64(len(body))) }, 400},
		{"long boundary", func() (*http.Request, *trackingReader) {
			return tracked(ct(strings.Repeat("x", 21)), body, int64(len(body)))
		}, 400},
		{"declared too long", func() (*http.Request, *trackingReader) { return tracked(ct("b"), body, 501) }, 413},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			r, tr := tt.r()
			w := serve(r)
			wantProblem(t, w, tt.status)
			if seen != nil || tr.n != 0 {
				t.Error("the handler ran or the body was read")
			}
		})
	}

	t.Run("caps an undeclared length", func(t *testing.T) {
		r, _ := tracked(ct("b"), bytes.Repeat([]byte("x"), 600), -1)
		serve(r)
		if !secure.IsBodyTooLarge(readErr) || len(seen) != 500 {
			t.Errorf("read %d bytes, err %v", len(seen), readErr)
		}
	})
}

func tracked(contentType string, body []byte, length int64) (*http.Request, *trackingReader) {
	r := multipartRequest(contentType, nil)
	tr := &trackingReader{r: bytes.NewReader(body)}
	r.Body = io.NopCloser(tr)
	r.ContentLength = length
	return r, tr
}

func ExampleReadMultipart() {
	upload := func(w http.ResponseWriter, r *http.Request) {
		form, ok := secure.ReadMultipart(w, r, secure.MultipartLimits{MaxParts: 1, MaxPartBytes: 5 << 20})
		if !ok {
			return // answered already
		}
		avatar, ok := form.One("avatar")
		if !ok {
			problem.Write(w, http.StatusBadRequest, `Send one part named "avatar".`)
			return
		}
		fmt.Fprintf(w, "%d bytes", len(avatar.Data))
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreateFormFile("avatar", "me.png")
	part.Write([]byte("\x89PNG..."))
	mw.Close()
	r := httptest.NewRequest("POST", "/api/users/me/avatar", &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	w := httptest.NewRecorder()
	upload(w, r)
	fmt.Println(w.Code, w.Body)
	// Output: 200 7 bytes
}
