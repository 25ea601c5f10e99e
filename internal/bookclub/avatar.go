package bookclub

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden"
	"github.com/wardenhq/warden/files"
	"github.com/wardenhq/warden/files/safeimage"
	"github.com/wardenhq/warden/guard"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/problem"
	"github.com/wardenhq/warden/ratelimit"
	"github.com/wardenhq/warden/secure"
)

// Avatars (docs/API.md, "Uploads and media"): PATCH /api/users/me/avatar
// takes one image in a multipart part named avatar and keeps a PNG the
// server drew itself, never the uploaded bytes:
//   - What the client says about the file (its name, its Content-Type) is
//     not read at all. safeimage decides the format from the bytes, checks
//     the dimensions in the header before decoding a pixel, and EncodePNG
//     writes only pixels: metadata and anything appended to the image (a
//     polyglot's HTML) do not survive.
//   - The name is files.Store's: random, chosen here, nothing of the
//     client's in it. The profile records MediaURLPrefix + name, which the
//     server's media route (internal/app) serves with nosniff and a
//     sandboxing CSP.
//   - The new file is written before the profile points at it, and the
//     file it replaces is removed only after the profile has changed: a
//     profile never points at a missing file because of an upload, and a
//     failure to record removes the new file, so nothing is orphaned.

// MediaURLPrefix is the path under which the server serves the media
// directory (GET /media/{path...}); an avatar_url is this prefix and the
// file's name. The URL is relative to the server on purpose: it stays right
// when WARDEN_PUBLIC_URL changes, and docs/API.md only promises
// GET /media/<path>.
const MediaURLPrefix = "/media/"

// Limits of an upload.
const (
	// avatarField is the one part the route reads.
	avatarField = "avatar"
	// avatarMaxBytes caps the image as sent: docs/API.md's 5 MB.
	avatarMaxBytes = 5 << 20
	// avatarEnvelope is what the body may hold besides the image: the
	// boundaries and part headers of up to avatarMaxParts parts (and the
	// small parts a form may send along, which are ignored).
	avatarEnvelope = 16 << 10
	avatarMaxParts = 10
	// avatarMaxPixels bounds width and height as the header declares them,
	// before decoding: 4096x4096 is 64 MiB once decoded to RGBA.
	avatarMaxPixels = 4096
	// avatarSide is the largest stored width and height.
	avatarSide = 512
	// avatarDecoders is how many uploads are decoded at once in this
	// process. The per-user limit bounds one user; this bounds all of them
	// together, since each decode may hold 64 MiB of pixels.
	avatarDecoders = 4
	// avatarDecodeWait is how long an upload waits for a decoder before
	// it is answered 503 with Retry-After.
	avatarDecodeWait = 5 * time.Second
)

// avatarLimits are the multipart limits of the route, checked by the
// router before authentication (type, boundary, declared length) and by
// ReadMultipart while reading, in memory only: nothing is spooled to disk.
var avatarLimits = secure.MultipartLimits{
	MaxBoundary:   secure.DefaultMaxBoundary,
	MaxParts:      avatarMaxParts,
	MaxPartBytes:  avatarMaxBytes,
	MaxTotalBytes: avatarMaxBytes + avatarEnvelope,
}

// avatarRate limits each user's uploads: decoding and scaling an image is
// the most expensive thing a signed-in user can ask of the server, so a
// few in a row (the burst: trying several pictures) and then ten an hour.
var avatarRate = ratelimit.Policy{Name: "avatar_upload", Rate: 10.0 / 3600, Burst: 5}

// avatarImageLimits is the pixel limit of docs/API.md.
var avatarImageLimits = safeimage.Limits{MaxWidth: avatarMaxPixels, MaxHeight: avatarMaxPixels}

// avatars holds the upload handler's state; like social, it keeps its
// methods off Service.
type avatars struct {
	*Service
	// decoders is a semaphore of avatarDecoders slots.
	decoders chan struct{}
}

// mountAvatar registers PATCH /api/users/me/avatar when the service has a
// media store (Config.Media); without one the route is left out rather than
// registered to fail.
func (s *Service) mountAvatar(r *warden.Router) error {
	if s.cfg.Media == nil {
		return nil
	}
	l, err := s.cfg.NewLimiter(avatarRate)
	if err != nil {
		return err
	}
	a := &avatars{Service: s, decoders: make(chan struct{}, avatarDecoders)}
	r.With(warden.Tags("users")).Patch("/api/users/me/avatar", a.handleUpload,
		s.signedIn(), warden.Require(guard.IsAuthenticated),
		warden.Limit(l, ratelimit.ByUser()),
		warden.Multipart(avatarLimits),
		// The router's default body cap could be lower (or higher) than
		// what this route needs; the multipart cap is the one that counts.
		warden.BodyLimit(avatarLimits.MaxTotalBytes),
		warden.NoStore(), docAvatar)
	return nil
}

// avatarView is the answer of an upload (docs/API.md).
type avatarView struct {
	Message   string `json:"message"`
	AvatarURL string `json:"avatar_url"`
}

// Sentences of the refusals: they name the rule, never echo the upload.
const (
	avatarMissing     = `Send the image in one multipart part named "avatar".`
	avatarRepeated    = `Send exactly one part named "avatar", not several.`
	avatarEmpty       = "The avatar part is empty."
	avatarUnsupported = "The avatar must be a JPEG, PNG or WebP image (decided by its content, not its name or declared type)."
	avatarTooLarge    = "The avatar must be at most 4096x4096 pixels."
	avatarInvalid     = "The avatar is not a complete, valid image."
)

func (a *avatars) handleUpload(w http.ResponseWriter, r *http.Request) {
	form, ok := secure.ReadMultipart(w, r, avatarLimits)
	if !ok {
		return
	}
	// Other parts are ignored, as unknown members of a JSON body are;
	// they count towards the part limit all the same.
	parts := form.All(avatarField)
	switch {
	case len(parts) == 0:
		refuseAvatar(w, avatarMissing)
		return
	case len(parts) > 1:
		// One of two values is never picked: a proxy or scanner in
		// front may have looked at the other one.
		refuseAvatar(w, avatarRepeated)
		return
	case len(parts[0].Data) == 0:
		refuseAvatar(w, avatarEmpty)
		return
	}

	// The body is read before a decoder is taken, so that a slow client
	// holds memory for its upload only, not one of the few decoders.
	if !a.acquireDecoder(r.Context()) {
		problem.WriteRetry(w, http.StatusServiceUnavailable, avatarDecodeWait, "Too many images are being processed; try again shortly.")
		return
	}
	clean, err := cleanAvatar(parts[0].Data)
	<-a.decoders
	switch {
	case errors.Is(err, safeimage.ErrUnsupported):
		refuseAvatar(w, avatarUnsupported)
		return
	case errors.Is(err, safeimage.ErrTooLarge):
		refuseAvatar(w, avatarTooLarge)
		return
	case errors.Is(err, safeimage.ErrInvalid):
		refuseAvatar(w, avatarInvalid)
		return
	case err != nil:
		a.avatarFailed(w, r, "cannot encode an avatar", err)
		return
	}

	name, err := a.cfg.Media.Create(".png", clean)
	if err != nil {
		a.avatarFailed(w, r, "cannot store an avatar", err)
		return
	}
	me := callerID(r)
	url := MediaURLPrefix + name
	prev, err := a.swapAvatarURL(r.Context(), me, &url)
	if err != nil {
		// Nothing points at the new file: remove it, or it would stay
		// for good, since only a replaced avatar's file is ever removed.
		if rerr := a.cfg.Media.Remove(name); rerr != nil {
			a.log.LogAttrs(r.Context(), slog.LevelError, "cannot remove an unrecorded avatar", slog.String("file", name), slog.String("error", rerr.Error()))
		}
		(&social{a.Service}).fail(w, r, err)
		return
	}
	a.removeReplaced(r.Context(), prev, url)
	warden.WriteJSON(w, http.StatusOK, avatarView{Message: "Avatar updated.", AvatarURL: url})
}

// cleanAvatar turns the uploaded bytes into the PNG that is stored: decoded
// as JPEG, PNG or WebP by their content within the pixel limit, scaled to
// fit avatarSide, and re-encoded from pixels alone.
func cleanAvatar(data []byte) ([]byte, error) {
	img, _, err := safeimage.Decode(data, avatarImageLimits)
	if err != nil {
		return nil, err
	}
	return safeimage.EncodePNG(img, avatarSide)
}

// acquireDecoder takes a decoder slot, waiting at most avatarDecodeWait,
// and reports whether it got one; the caller releases it by receiving
// from a.decoders.
func (a *avatars) acquireDecoder(ctx context.Context) bool {
	select {
	case a.decoders <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(avatarDecodeWait)
	defer t.Stop()
	select {
	case a.decoders <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// removeReplaced removes the file of the avatar URL prev, which the
// profile no longer points at. Only a name of the store's own form under
// MediaURLPrefix is removed: a URL set some other way (by an operator,
// through SetAvatarURL) names no file of ours and is left alone. A failure
// is logged, not answered: the new avatar is recorded, and the old file is
// an orphan for the operator, unreachable but harmless.
func (a *avatars) removeReplaced(ctx context.Context, prev sql.NullString, current string) {
	if !prev.Valid || prev.String == current {
		return
	}
	name, ok := strings.CutPrefix(prev.String, MediaURLPrefix)
	if !ok || !files.ValidName(name) {
		a.log.LogAttrs(ctx, slog.LevelInfo, "replaced avatar URL names no stored file; nothing removed")
		return
	}
	if err := a.cfg.Media.Remove(name); err != nil {
		a.log.LogAttrs(ctx, slog.LevelError, "cannot remove a replaced avatar", slog.String("file", name), slog.String("error", err.Error()))
	}
}

// swapAvatarURL records url (nil: none) as userID's avatar and returns the
// URL it replaced. The read and the write are one transaction holding the
// profile row (FOR UPDATE; SQLite's immediate transaction holds the write
// lock already), so that of two uploads at once the second learns the
// first one's URL rather than the one both started from: every replaced
// file is removed, and only once.
func (s *Service) swapAvatarURL(ctx context.Context, userID string, url *string) (sql.NullString, error) {
	c := &social{s}
	db := s.cfg.DB
	now := unixMS(s.now())
	var v sql.NullString
	if url != nil {
		v = sql.NullString{String: *url, Valid: true}
	}
	var prev sql.NullString
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		if err := c.ensureProfileTx(ctx, tx, userID, now); err != nil {
			return err
		}
		q := `SELECT avatar_url FROM profiles WHERE user_id = ?`
		if db.Dialect != store.SQLite {
			q += ` FOR UPDATE`
		}
		if err := tx.QueryRowContext(ctx, db.Rebind(q), userID).Scan(&prev); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.Rebind(`UPDATE profiles SET avatar_url = ?, updated_at = ? WHERE user_id = ?`), v, now, userID)
		return err
	})
	if err != nil {
		return sql.NullString{}, dbErr(err)
	}
	return prev, nil
}

// refuseAvatar answers 400 for an upload the route cannot use, with the
// reason on the avatar field for a form to show next to its input.
func refuseAvatar(w http.ResponseWriter, msg string) {
	problem.New(http.StatusBadRequest, msg).WithField(avatarField, msg).Write(w)
}

// avatarFailed answers 500 for the server's own failure (the file system,
// the encoder), logged without the upload.
func (a *avatars) avatarFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	a.log.LogAttrs(r.Context(), slog.LevelError, what, slog.String("error", err.Error()))
	problem.Write(w, http.StatusInternalServerError, "An internal error occurred.")
}

// docAvatar describes the route for the OpenAPI document.
var docAvatar = warden.Doc(warden.Operation{
	Summary: "Upload the caller's avatar",
	Description: "multipart/form-data with one part named avatar: a JPEG, PNG or WebP image (decided by its bytes; the file name and declared type are ignored) of at most " +
		strconv.Itoa(avatarMaxBytes>>20) + " MiB and " + strconv.Itoa(avatarMaxPixels) + "x" + strconv.Itoa(avatarMaxPixels) + " pixels. " +
		"It is stored re-encoded as PNG (metadata and anything but pixels dropped), scaled to fit " + strconv.Itoa(avatarSide) + "x" + strconv.Itoa(avatarSide) +
		", under a random name served at avatar_url (" + MediaURLPrefix + "<name>); the previous avatar's file is removed. " +
		"Other parts are ignored; at most " + strconv.Itoa(avatarMaxParts) + " parts. Limited per user: a burst of 5, then 10 an hour.",
	Request: avatarUploadDoc{},
	Responses: map[int]any{
		200: avatarView{},
		400: warden.Problem("The avatar part is missing, repeated or empty, or is not a JPEG, PNG or WebP image within 4096x4096 pixels; fields.avatar says which. Also a malformed multipart body."),
		503: warden.Problem("The database is not answering, or too many images are being processed; retry after Retry-After."),
	},
})

// avatarUploadDoc lists the parts of the body: a []byte member is a file.
type avatarUploadDoc struct {
	Avatar []byte `json:"avatar"`
}
