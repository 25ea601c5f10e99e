package secure_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/secure"
)

// FuzzReadMultipart feeds ReadMultipart arbitrary Content-Types and
// bodies. Whatever it accepts must be within the limits and survive a
// round trip through mime/multipart.Writer unchanged (so the form is what
// any careful reader of the body would see); whatever it refuses must be
// a 400, 413 or 415 problem, never a 500 or a crash.
func FuzzReadMultipart(f *testing.F) {
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n--b--\r\n"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"../x.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\r\n--b\r\nContent-Disposition: form-data; name=\"avatar\"\r\n\r\n2\r\n--b--\r\n"))
	f.Add("multipart/form-data; boundary=\"a b\"", []byte("preamble\r\n--a b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n\r\n--a b--\r\nepilogue"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"q\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db\r\n--b--\r\n"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name*=UTF-8''%C3%A9\r\n\r\nx\r\n--b--\r\n"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\nContent-Disposition: form-data; name=\"lf\"\n\nbare line feeds\n--b--\n"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end"))
	f.Add("multipart/form-data; boundary=b; boundary=c", []byte("--b--\r\n"))
	f.Add("text/plain", []byte("x"))

	l := secure.MultipartLimits{MaxBoundary: 40, MaxParts: 4, MaxPartBytes: 64, MaxTotalBytes: 1024}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		form, ok := secure.ReadMultipart(w, r, l)
		if !ok {
			switch w.Code {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			default:
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var p problem.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code || p.Detail == "" {
				t.Fatalf("not a problem: %s", w.Body)
			}
			return
		}
		if w.Body.Len() != 0 {
			t.Fatalf("accepted but answered: %s", w.Body)
		}
		if len(form.Parts) > l.MaxParts {
			t.Fatalf("%d parts", len(form.Parts))
		}
		total := 0
		for _, p := range form.Parts {
			if p.Name == "" {
				t.Fatal("part without a name")
			}
			if len(p.Data) > int(l.MaxPartBytes) {
				t.Fatalf("part of %d bytes", len(p.Data))
			}
			total += len(p.Data)
		}
		if total > len(body) || total > int(l.MaxTotalBytes) {
			t.Fatalf("%d bytes of parts from %d of body", total, len(body))
		}

		// Round trip: write the parts again and read them back.
		var again bytes.Buffer
		mw := multipart.NewWriter(&again)
		for _, p := range form.Parts {
			pw, err := mw.CreatePart(p.Header)
			if err != nil {
				t.Fatal(err)
			}
			pw.Write(p.Data)
		}
		mw.Close()
		r2 := httptest.NewRequest("POST", "/", &again)
		r2.Header.Set("Content-Type", mw.FormDataContentType())
		w2 := httptest.NewRecorder()
		form2, ok := secure.ReadMultipart(w2, r2, secure.MultipartLimits{MaxParts: l.MaxParts, MaxPartBytes: l.MaxPartBytes})
		if !ok {
			t.Fatalf("the re-encoded form was refused: %s", w2.Body)
		}
		if len(form2.Parts) != len(form.Parts) {
			t.Fatalf("%d parts, then %d", len(form.Parts), len(form2.Parts))
		}
		for i, p := range form.Parts {
			q := form2.Parts[i]
			if p.Name != q.Name || p.FileName != q.FileName || !bytes.Equal(p.Data, q.Data) {
				t.Fatalf("part %d: %q %q %q, then %q %q %q", i, p.Name, p.FileName, p.Data, q.Name, q.FileName, q.Data)
			}
		}
	})
}
