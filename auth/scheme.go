package auth

import "net/http"

// Scheme says how a backend expects its credential to be sent, in the
// terms of an OpenAPI security scheme. It is description only: no
// authentication decision reads it.
type Scheme struct {
	// Name keys the scheme among a document's security schemes. Backends
	// that accept the same kind of credential in the same place share a
	// name ("bearerAuth", "apiKeyAuth"), so that a server with several
	// JWT verifiers describes one bearer scheme.
	Name string
	// Type is "http" (Authorization header with HTTPScheme) or "apiKey"
	// (a credential in a header or cookie named ParamName).
	Type string
	// HTTPScheme is the Authorization scheme of an "http" scheme:
	// "bearer".
	HTTPScheme string
	// BearerFormat hints at the bearer token's format: "JWT".
	BearerFormat string
	// In is where an "apiKey" credential goes: "header" or "cookie".
	In string
	// ParamName is the header or cookie name of an "apiKey" credential.
	ParamName string
	// Description is a sentence for readers of the document.
	Description string
}

// Describer is implemented by backends that can describe their
// credential. JWT, JWTSet and APIKeys implement it; a backend that wraps
// one of those (adding checks, not another credential) forwards to it.
type Describer interface {
	Scheme() Scheme
}

// Scheme implements Describer: a bearer JWT in the Authorization header,
// or, when JWTConfig.Header names another header, the bare token in that
// header.
func (j *JWT) Scheme() Scheme {
	if j.bearer {
		return Scheme{
			Name: "bearerAuth", Type: "http", HTTPScheme: "bearer", BearerFormat: "JWT",
			Description: "An access token (JWT) in the Authorization header: `Authorization: Bearer <token>`.",
		}
	}
	return Scheme{
		Name: "jwtHeader_" + j.header, Type: "apiKey", In: "header", ParamName: j.header,
		Description: "An access token (JWT) in the " + j.header + " header, without a scheme.",
	}
}

// Scheme implements Describer. Every backend of a set reads the same
// header (NewJWTSet refuses others), so the first one's scheme is the
// set's.
func (s *JWTSet) Scheme() Scheme { return s.first.Scheme() }

// Scheme implements Describer: the key in its header.
func (a *APIKeys) Scheme() Scheme {
	// Header names are case-insensitive; the default is spelled as
	// clients know it rather than in Go's canonical form (X-Api-Key).
	name, header := "apiKeyAuth", DefaultAPIKeyHeader
	if a.header != http.CanonicalHeaderKey(DefaultAPIKeyHeader) {
		name, header = "apiKey_"+a.header, a.header
	}
	return Scheme{
		Name: name, Type: "apiKey", In: "header", ParamName: header,
		Description: "An API key in the " + header + " header. Keys are shown once when created and never accepted in a URL.",
	}
}
