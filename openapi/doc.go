// Package openapi generates an OpenAPI 3.1 document from a Warden route
// table and serves it with an interactive documentation page.
//
// Contract: the document is derived, never hand-kept. Build reads what
// (*warden.Router).Routes reports: each route's Doc option (summary, tags,
// request and response types), its path parameters, its authentication
// backends (security requirements, from auth.Describer), its guards (by
// name, in x-warden-guards), its rate limits and body cap, and the
// problem responses its pipeline can answer (RouteInfo.Problems: 401,
// 403, 429, 413, 400, 404, 503 as they apply). A route whose
// credential cannot be described makes Build fail rather than appear
// public. Problem responses reference one Problem schema (RFC 9457,
// application/problem+json); every operation also has a default problem
// response for the statuses no route chooses (405, 415, 431, 500).
//
// Go types become JSON Schemas (2020-12, OpenAPI 3.1's dialect) as
// encoding/json encodes them:
//
//   - member names from json tags, "-" skipped, unexported fields
//     skipped, fields of untagged embedded structs promoted (a tie between
//     fields of one name drops them, as encoding/json does);
//   - every member is required unless tagged omitempty or omitzero, or
//     promoted through an embedded pointer;
//   - a pointer is nullable: ["T","null"], or anyOf [$ref, null] for a
//     struct, except under omitempty, where nil is absent, not null;
//   - bool, integers (unsigned ones with minimum 0), floats, strings;
//     ",string" members are strings; []byte is a base64 string; time.Time
//     a date-time string; json.RawMessage, interfaces and types with their
//     own MarshalJSON are any value; TextMarshalers are strings;
//   - []T and [N]T are arrays, map[K]T an object of T (string, integer and
//     TextMarshaler keys); named structs are components referenced by $ref
//     (named by their Go name, qualified by package when two clash),
//     anonymous structs are inline, recursive types work.
//
// Limits: a nil slice or map is encoded as null, which the schema does
// not admit: handlers send empty ones (Warden's do). Channels, functions
// and complex numbers make Build fail. Constraints a handler checks
// (lengths, formats, enumerations) are not known to reflection; Param.Enum
// and descriptions say them where they matter. Only methods OpenAPI 3.1
// names can be described.
//
// Serving: Mount registers the document route, the page and its two
// assets (with Doc options, so they satisfy Config.RequireDocs and appear
// in the document); Publish builds the document once, after the last
// route is registered, and the same bytes are served from then on. The
// page (embedded HTML, JavaScript and CSS, no CDN) runs under PageCSP:
// it loads only its own assets and fetches only its own origin, builds
// every element with textContent, and keeps a token typed into it in
// page memory only.
package openapi
