package files_test

import (
	"mime"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wardenhq/warden/files"
)

func TestAttachmentHeader(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"report.csv", `attachment; filename="report.csv"`},
		{"my report (1).pdf", `attachment; filename="my report (1).pdf"`},
		{"résumé.pdf", `attachment; filename="r_sum_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`},
		{`a"b\c.txt`, `attachment; filename="a_b_c.txt"; filename*=UTF-8''a%22b_c.txt`},
		{"x\r\nSet-Cookie: a=b", `attachment; filename="xSet-Cookie_ a_b"; filename*=UTF-8''xSet-Cookie%3A%20a%3Db`},
		{"../../etc/passwd", `attachment; filename=".._.._etc_passwd"`},
		{"evil\u202egpj.exe", `attachment; filename="evilgpj.exe"`}, // right-to-left override dropped
		{"bad\xffutf8.txt", `attachment; filename="badutf8.txt"`},
		{"", `attachment; filename="download"`},
		{" .. ", `attachment; filename="download"`},
		{"日本語.txt", `attachment; filename="___.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt`},
	}
	for _, tt := range tests {
		if got := files.AttachmentHeader(tt.in); got != tt.want {
			t.Errorf("AttachmentHeader(%q)\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

func FuzzAttachmentHeader(f *testing.F) {
	for _, s := range []string{"a.txt", "résumé.pdf", "x\r\ny", `"\`, "\u202e", "\xff", strings.Repeat("é", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v := files.AttachmentHeader(name)
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				t.Fatalf("byte %#x in %q", v[i], v)
			}
		}
		if len(v) > 1024 {
			t.Fatalf("%d bytes", len(v))
		}
		// The structure is exactly what we meant: a quoted ASCII fallback
		// and, optionally, an RFC 8187 value, whatever the name held.
		const prefix = `attachment; filename="`
		if !strings.HasPrefix(v, prefix) {
			t.Fatalf("%q", v)
		}
		rest := v[len(prefix):]
		j := strings.IndexByte(rest, '"')
		if j <= 0 {
			t.Fatalf("%q", v)
		}
		fallback, ext := rest[:j], rest[j+1:]
		if strings.ContainsAny(fallback, `\/%`) {
			t.Fatalf("fallback %q", fallback)
		}
		decoded := fallback
		if ext != "" {
			const star = "; filename*=UTF-8''"
			if !strings.HasPrefix(ext, star) || strings.ContainsAny(ext[len(star):], ` "';\`) {
				t.Fatalf("%q", v)
			}
			var err error
			if decoded, err = url.PathUnescape(ext[len(star):]); err != nil {
				t.Fatalf("filename* does not decode: %v", err)
			}
		}
		if !utf8.ValidString(decoded) || strings.ContainsAny(decoded, "/\\\x00\r\n") {
			t.Fatalf("name %q", decoded)
		}
		// And a standard parser reads the same name.
		disp, params, err := mime.ParseMediaType(v)
		if err != nil || disp != "attachment" || params["filename"] != decoded {
			t.Fatalf("%q parsed as %q %v, %v", v, disp, params, err)
		}
	})
}
