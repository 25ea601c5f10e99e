// Package files serves and stores user-uploaded files from one directory,
// such as the avatars under <data dir>/media/.
//
// Contract:
//   - Every file operation goes through an os.Root opened on the configured
//     directory. The package does no path cleaning or joining of its own:
//     the name a client sends is handed to the root as is, and the kernel
//     (openat with the root's rules) refuses "..", absolute names and
//     symlinks that lead outside the directory. A symlink that stays inside
//     the directory is followed; it can reach only what the root serves
//     anyway.
//   - Server answers 404 for a name that does not exist or is not a regular
//     file (directories included: there is no listing), and 403 for a name
//     the root refuses as leading outside it. The two are decided by the
//     error os.Root returns, so "../x" and a symlink to /etc answer the same.
//     Errors are RFC 9457 problem documents; they never contain the path.
//   - The Content-Type is never sniffed: it comes from an allow-list keyed by
//     extension (DefaultTypes). Any other extension is served as
//     application/octet-stream with Content-Disposition: attachment. Types a
//     browser would render as a document or run as script (HTML, XML, SVG,
//     JavaScript) cannot be put on the list.
//   - Every answer, errors included, carries X-Content-Type-Options: nosniff,
//     Content-Security-Policy: default-src 'none'; sandbox and a
//     Cross-Origin-Resource-Policy, so that even a file whose bytes are HTML
//     cannot run script in the server's origin.
//   - Ranges and conditional requests (If-None-Match, If-Modified-Since,
//     If-Range) follow http.ServeContent, with a strong ETag made of the
//     file's size and modification time. Store writes each name once and
//     never modifies it, which is what makes that ETag strong.
//   - Store writes new files under random names chosen by the server (128
//     bits from crypto/rand), created exclusively with mode 0600, and
//     removes only names of the form it creates.
//
// The package does not decide who may read a file: mount the Server on a
// route whose guards say so. Names are capabilities only in the weak sense
// that they cannot be guessed; a name that has been shared stays readable
// until the file is removed.
package files

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/wardenhq/warden/problem"
)

// Header values every answer of a Server carries.
const (
	// CSP allows the response nothing: no script, no style, no subresource,
	// and sandbox makes a document opened from it a unique opaque origin,
	// so a file that is HTML after all cannot reach the server's cookies or
	// storage even if a browser renders it.
	CSP = "default-src 'none'; sandbox"
	// DefaultCacheControl makes caches revalidate every time; the ETag makes
	// revalidation cheap (304). Files under random names never change, so a
	// deployment that does not mind removed files lingering in caches may
	// choose "public, max-age=31536000, immutable" instead.
	DefaultCacheControl = "no-cache"
	// DefaultPathValue is the ServeMux wildcard ServeHTTP reads the name
	// from: mount the server at a pattern such as "GET /media/{path...}".
	DefaultPathValue = "path"
)

// DefaultTypes is the allow-list of served media types by lower-case
// extension: the image formats Warden writes or may write. Anything else is
// a download.
var DefaultTypes = map[string]string{
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".webp": "image/webp",
	".gif":  "image/gif",
}

// Options configures a Server. The zero value serves DefaultTypes inline,
// everything else as an attachment, same-origin only, revalidated on every
// use.
type Options struct {
	// Types maps a lower-case extension with its dot (".png") to the
	// Content-Type served inline for it; nil means DefaultTypes. Types that
	// browsers render or execute (HTML, XML, SVG, JavaScript) are refused.
	Types map[string]string
	// Attachment serves every file as a download, even those on Types.
	Attachment bool
	// PathValue is the name of the ServeMux wildcard holding the file name;
	// DefaultPathValue when empty.
	PathValue string
	// CacheControl is sent with every file; DefaultCacheControl when empty.
	CacheControl string
	// CrossOriginResourcePolicy is "same-origin" (the default), "same-site"
	// or "cross-origin". Choose cross-origin when pages on another origin
	// show the files with <img>; the other headers still apply.
	CrossOriginResourcePolicy string
	// Logger receives unexpected file system errors (permissions, I/O),
	// which are answered 500 without detail; slog.Default() when nil.
	Logger *slog.Logger
}

// Server is an http.Handler serving the regular files below one directory.
// It is safe for concurrent use. Close releases the directory.
type Server struct {
	root      *os.Root
	escapeErr error // the error os.Root reports for names leading outside it
	types     map[string]string
	attach    bool
	pathValue string
	cache     []string
	corp      []string
	logger    *slog.Logger
}

var (
	nosniffValue = []string{"nosniff"}
	cspValue     = []string{CSP}
)

// NewServer opens dir, which must exist, and returns a Server for it, or an
// error when dir cannot be opened or opts holds an unsafe setting.
func NewServer(dir string, opts Options) (*Server, error) {
	types := opts.Types
	if types == nil {
		types = DefaultTypes
	}
	checked := make(map[string]string, len(types))
	for ext, ct := range types {
		if err := checkType(ext, ct); err != nil {
			return nil, fmt.Errorf("files: %w", err)
		}
		checked[ext] = ct
	}
	cache := opts.CacheControl
	if cache == "" {
		cache = DefaultCacheControl
	} else if !printableASCII(cache) {
		return nil, errors.New("files: CacheControl must be printable ASCII")
	}
	corp := opts.CrossOriginResourcePolicy
	switch corp {
	case "":
		corp = "same-origin"
	case "same-origin", "same-site", "cross-origin":
	default:
		return nil, fmt.Errorf("files: CrossOriginResourcePolicy %q is not same-origin, same-site or cross-origin", corp)
	}
	pv := opts.PathValue
	if pv == "" {
		pv = DefaultPathValue
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	return &Server{
		root:      root,
		escapeErr: escapeError(root),
		types:     checked,
		attach:    opts.Attachment,
		pathValue: pv,
		cache:     []string{cache},
		corp:      []string{corp},
		logger:    logger,
	}, nil
}

// escapeError returns the error value os.Root uses for a name that leads
// outside it. The os package does not export it, but it is one value for
// the life of the process, so asking for ".." once (refused before any
// system call touches the parent) yields it for errors.Is. If a future os
// package wraps it differently, the result is nil and escapes answer 404
// instead of 403: still refused, only less precisely.
func escapeError(root *os.Root) error {
	f, err := root.Open("..")
	if err == nil {
		f.Close()
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return nil
}

// Close releases the directory; requests after Close answer 500.
func (s *Server) Close() error { return s.root.Close() }

// ServeHTTP serves the file named by the request's path wildcard
// (Options.PathValue) for GET and HEAD, and answers 405 to other methods.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.ServeFile(w, r, r.PathValue(s.pathValue), "")
}

// ServeFile serves the file name (relative to the server's directory, as a
// request would name it) for GET and HEAD. A non-empty download makes the
// answer an attachment suggesting that file name to the browser, encoded
// with AttachmentHeader; otherwise the file's own type decides between
// inline and attachment.
func (s *Server) ServeFile(w http.ResponseWriter, r *http.Request, name, download string) {
	h := w.Header()
	// Set before anything can fail, so that error answers carry them too.
	h["X-Content-Type-Options"] = nosniffValue
	h["Content-Security-Policy"] = cspValue
	h["Cross-Origin-Resource-Policy"] = s.corp
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		problem.Write(w, http.StatusMethodNotAllowed, "Files can only be read, with GET or HEAD.")
		return
	}
	if name == "" {
		notFound(w)
		return
	}
	// Stat before opening: opening a FIFO or a device for reading can block
	// or have side effects, and only regular files are ever served.
	fi, err := s.root.Stat(name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !fi.Mode().IsRegular() {
		notFound(w)
		return
	}
	f, err := s.root.Open(name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	// Describe what was opened, not what was stat'ed: the name may have
	// been replaced in between.
	fi, err = f.Stat()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !fi.Mode().IsRegular() {
		notFound(w)
		return
	}
	ct, inline := s.types[strings.ToLower(path.Ext(name))]
	switch {
	case download != "":
		h.Set("Content-Disposition", AttachmentHeader(download))
	case !inline || s.attach:
		h.Set("Content-Disposition", "attachment")
	}
	if !inline {
		ct = "application/octet-stream"
	}
	// Setting Content-Type keeps ServeContent from sniffing the content.
	h.Set("Content-Type", ct)
	h["Cache-Control"] = s.cache
	h.Set("ETag", etag(fi))
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// etag is strong because a stored file is written once and never changed:
// the same size and modification time mean the same bytes.
func etag(fi fs.FileInfo) string {
	return `"` + strconv.FormatInt(fi.Size(), 36) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 36) + `"`
}

// fail answers for an error from the root: 403 for a name leading outside
// it, 404 for names that name nothing servable, 500 (logged) for what is
// the server's problem rather than the client's.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case s.escapeErr != nil && errors.Is(err, s.escapeErr):
		problem.Write(w, http.StatusForbidden, "The file is outside the served directory.")
	case errors.Is(err, fs.ErrNotExist),
		// Names a client can make up: "a.png/b" (ENOTDIR), overlong names,
		// symlink loops, and NUL bytes (EINVAL).
		errors.Is(err, syscall.ENOTDIR),
		errors.Is(err, syscall.ENAMETOOLONG),
		errors.Is(err, syscall.ELOOP),
		errors.Is(err, syscall.EINVAL):
		notFound(w)
	default:
		s.logger.ErrorContext(r.Context(), "files: cannot serve a file", "err", err)
		problem.Write(w, http.StatusInternalServerError, "The file could not be read.")
	}
}

func notFound(w http.ResponseWriter) {
	problem.Write(w, http.StatusNotFound, "No such file.")
}

// checkType refuses an allow-list entry that is malformed or would let a
// stored file act as a page or a script in a browser.
func checkType(ext, ct string) error {
	if len(ext) < 2 || ext[0] != '.' || strings.ToLower(ext) != ext || strings.ContainsAny(ext[1:], "./\\") || !printableASCII(ext) {
		return fmt.Errorf("extension %q must be a dot and lower-case characters, such as \".png\"", ext)
	}
	if !printableASCII(ct) {
		return fmt.Errorf("type %q for %s must be printable ASCII", ct, ext)
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("type %q for %s: %w", ct, ext, err)
	}
	if active(mt) {
		return fmt.Errorf("type %q for %s is rendered or run by browsers; serve such files as attachments (leave the extension off Types)", ct, ext)
	}
	return nil
}

// active reports whether browsers treat media type mt as a document or
// script: HTML, XML of any kind (XHTML, SVG, RSS), JavaScript.
func active(mt string) bool {
	switch mt {
	case "text/html", "text/xml", "application/xml", "text/xsl",
		"text/javascript", "application/javascript", "application/ecmascript",
		"text/ecmascript", "application/x-javascript", "text/jscript":
		return true
	}
	return strings.HasSuffix(mt, "+xml") || strings.HasSuffix(mt, "/xml")
}

func printableASCII(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
