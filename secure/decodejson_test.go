package secure_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/secure"
)

type loginBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Age      int    `json:"age"`
	Profile  struct {
		Bio string `json:"bio"`
	} `json:"profile"`
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		chunked     bool
		want        int
		wantField   string // a member of "fields" the problem must carry
		wantUser    string
	}{
		{name: "valid object", contentType: "application/json", body: `{"username":"ann","password":"pw"}`, want: 200, wantUser: "ann"},
		{name: "charset utf-8 is fine", contentType: "application/json; charset=UTF-8", body: `{"username":"ann"}`, want: 200, wantUser: "ann"},
		{name: "unknown members are ignored", contentType: "application/json", body: `{"username":"ann","is_admin":true}`, want: 200, wantUser: "ann"},
		{name: "trailing whitespace is fine", contentType: "application/json", body: "{\"username\":\"ann\"}\n\t ", want: 200, wantUser: "ann"},
		{name: "huge valid number in an ignored member", contentType: "application/json", body: `{"username":"ann","x":1e400}`, want: 200, wantUser: "ann"},
		{name: "same name in different objects is fine", contentType: "application/json", body: `{"username":"ann","profile":{"username":"x"}}`, want: 200, wantUser: "ann"},
		{name: "same name in array elements is fine", contentType: "application/json", body: `{"username":"ann","list":[{"a":1},{"a":2}]}`, want: 200, wantUser: "ann"},
		{name: "missing Content-Type", body: `{}`, want: 415},
		{name: "form Content-Type", contentType: "application/x-www-form-urlencoded", body: `{}`, want: 415},
		{name: "text/plain Content-Type", contentType: "text/plain", body: `{}`, want: 415},
		{name: "JSON with another charset", contentType: "application/json; charset=latin1", body: `{}`, want: 415},
		{name: "malformed Content-Type", contentType: "application/json; charset", body: `{}`, want: 415},
		{name: "empty body", contentType: "application/json", body: "", want: 400},
		{name: "whitespace body", contentType: "application/json", body: "  ", want: 400},
		{name: "null body", contentType: "application/json", body: "null", want: 400},
		{name: "malformed JSON", contentType: "application/json", body: `{"username":}`, want: 400},
		{name: "truncated JSON", contentType: "application/json", body: `{"username":"ann"`, want: 400},
		{name: "trailing value", contentType: "application/json", body: `{"username":"ann"}{"username":"bob"}`, want: 400},
		{name: "trailing garbage", contentType: "application/json", body: `{"username":"ann"} x`, want: 400},
		{name: "duplicate member", contentType: "application/json", body: `{"username":"ann","username":"admin"}`, want: 400},
		{name: "duplicate member differing in case", contentType: "application/json", body: `{"username":"ann","USERNAME":"admin"}`, want: 400},
		{name: "duplicate member via Kelvin sign folding", contentType: "application/json", body: `{"k":1,"\u212a":2}`, want: 400},
		{name: "duplicate member in a nested object", contentType: "application/json", body: `{"profile":{"bio":"a","bio":"b"}}`, want: 400},
		{name: "invalid UTF-8", contentType: "application/json", body: "{\"username\":\"\xff\"}", want: 400},
		{name: "wrong type names the field", contentType: "application/json", body: `{"age":"ten"}`, want: 400, wantField: "age"},
		{name: "wrong nested type names the path", contentType: "application/json", body: `{"profile":{"bio":5}}`, want: 400, wantField: "profile.bio"},
		{name: "array instead of object", contentType: "application/json", body: `[1,2]`, want: 400},
		{name: "over the cap is 413", contentType: "application/json", body: `{"username":"` + strings.Repeat("a", 2000) + `"}`, want: 413},
		{name: "chunked over the cap is 413", contentType: "application/json", body: `{"username":"` + strings.Repeat("a", 2000) + `"}`, chunked: true, want: 413},
	}
	var got loginBody
	h := secure.BodyLimit(1024)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = loginBody{}
		if !secure.DecodeJSON(w, r, &got) {
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = unsized{body}
			}
			req, _ := http.NewRequest("POST", srv.URL, body)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if tt.want == 200 {
				if resp.StatusCode != 200 {
					b, _ := io.ReadAll(resp.Body)
					t.Fatalf("status = %d: %s", resp.StatusCode, b)
				}
				if got.Username != tt.wantUser {
					t.Errorf("username = %q, want %q", got.Username, tt.wantUser)
				}
				return
			}
			if resp.StatusCode != tt.want {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.want, b)
			}
			var p problem.Problem
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if p.Status != tt.want || p.Detail == "" {
				t.Errorf("problem = %+v", p)
			}
			if tt.wantField != "" && len(p.Fields[tt.wantField]) == 0 {
				t.Errorf("fields = %v, want an entry for %q", p.Fields, tt.wantField)
			}
			for _, goName := range []string{"secure_test", "loginBody", "int ", "int.", "struct {"} {
				if strings.Contains(p.Detail, goName) {
					t.Errorf("detail %q leaks the Go name %q", p.Detail, goName)
				}
			}
		})
	}
}

func TestDecodeJSONWithoutBodyLimitStillCaps(t *testing.T) {
	big := `{"a":"` + strings.Repeat("a", secure.DefaultMaxBodyBytes) + `"}`
	r := httptest.NewRequest("POST", "/", strings.NewReader(big))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	var v map[string]string
	if secure.DecodeJSON(w, r, &v) || w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", w.Code)
	}
}

func TestDecodeJSONNonPointerIsServerError(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	var v loginBody
	if secure.DecodeJSON(w, r, v) || w.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", w.Code)
	}
}
