// Package safeimage turns untrusted uploaded bytes into a clean PNG.
//
// Contract:
//   - Decode decides the format from the bytes alone (magic numbers):
//     JPEG, PNG and WebP are accepted, nothing else: not GIF, BMP, SVG,
//     PDF or HTML, whatever name or Content-Type the upload claimed. The
//     three decoders are called directly, not through image.Decode, so a
//     format another package registers with the image package can never
//     widen the list.
//   - The dimensions are read from the header and checked against Limits
//     before any pixel is decoded, so a small file declaring a huge image
//     (a decompression bomb) is refused without allocating its pixels.
//   - EncodePNG draws the decoded pixels into a new image and encodes that:
//     the output holds pixels only. Metadata (EXIF with its GPS position,
//     text chunks, ICC profiles), bytes appended after the image (HTML or
//     script in a polyglot) and anything else the upload carried are gone.
//
// The package stores nothing; files.Store writes the result under a random
// name. It lives apart from package files so that serving files does not
// pull in image decoders, and is not called "image" so that callers can
// still use the standard image package by its name.
package safeimage

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// DefaultMaxSide is the default limit on width and height: 4096 pixels,
// a 64 MiB RGBA image at most once decoded.
const DefaultMaxSide = 4096

// Format names Decode returns.
const (
	JPEG = "jpeg"
	PNG  = "png"
	WebP = "webp"
)

// Errors Decode returns, for the caller to turn into a problem sentence:
// ErrUnsupported and ErrInvalid describe the client's upload (415 or 400),
// ErrTooLarge its declared size (413 or 422).
var (
	ErrUnsupported = errors.New("safeimage: not a JPEG, PNG or WebP image")
	ErrTooLarge    = errors.New("safeimage: image dimensions over the limit")
	ErrInvalid     = errors.New("safeimage: malformed or truncated image")
)

// Limits bounds what Decode accepts. The zero value means
// DefaultMaxSide x DefaultMaxSide.
type Limits struct {
	MaxWidth, MaxHeight int
}

type codec struct {
	name         string
	decodeConfig func(*bytes.Reader) (image.Config, error)
	decode       func(*bytes.Reader) (image.Image, error)
}

var (
	pngCodec = codec{PNG,
		func(r *bytes.Reader) (image.Config, error) { return png.DecodeConfig(r) },
		func(r *bytes.Reader) (image.Image, error) { return png.Decode(r) }}
	jpegCodec = codec{JPEG,
		func(r *bytes.Reader) (image.Config, error) { return jpeg.DecodeConfig(r) },
		func(r *bytes.Reader) (image.Image, error) { return jpeg.Decode(r) }}
	webpCodec = codec{WebP,
		func(r *bytes.Reader) (image.Config, error) { return webp.DecodeConfig(r) },
		func(r *bytes.Reader) (image.Image, error) { return webp.Decode(r) }}
)

// sniff picks the decoder from the first bytes, the way the formats define
// themselves: the PNG signature, the JPEG start-of-image marker followed by
// another marker, and a RIFF container whose form type is WEBP.
func sniff(data []byte) (codec, bool) {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return pngCodec, true
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return jpegCodec, true
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return webpCodec, true
	}
	return codec{}, false
}

// DecodeConfig returns the format and dimensions data declares, checked
// against l, without decoding pixels.
func DecodeConfig(data []byte, l Limits) (image.Config, string, error) {
	c, ok := sniff(data)
	if !ok {
		return image.Config{}, "", ErrUnsupported
	}
	cfg, err := guard(func() (image.Config, error) { return c.decodeConfig(bytes.NewReader(data)) })
	if err != nil {
		return image.Config{}, c.name, fmt.Errorf("%w: %s header: %v", ErrInvalid, c.name, err)
	}
	maxW, maxH := l.MaxWidth, l.MaxHeight
	if maxW <= 0 {
		maxW = DefaultMaxSide
	}
	if maxH <= 0 {
		maxH = DefaultMaxSide
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return image.Config{}, c.name, fmt.Errorf("%w: %dx%d pixels", ErrInvalid, cfg.Width, cfg.Height)
	}
	if cfg.Width > maxW || cfg.Height > maxH {
		return image.Config{}, c.name, fmt.Errorf("%w: %dx%d pixels, at most %dx%d allowed", ErrTooLarge, cfg.Width, cfg.Height, maxW, maxH)
	}
	return cfg, c.name, nil
}

// Decode decodes data as a JPEG, PNG or WebP image within l and returns it
// with its format name (JPEG, PNG or WebP). Errors wrap ErrUnsupported,
// ErrTooLarge or ErrInvalid.
func Decode(data []byte, l Limits) (image.Image, string, error) {
	cfg, name, err := DecodeConfig(data, l)
	if err != nil {
		return nil, name, err
	}
	c, _ := sniff(data)
	img, err := guard(func() (image.Image, error) { return c.decode(bytes.NewReader(data)) })
	if err != nil {
		return nil, name, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	// The header was checked, but the decoder's result is what gets
	// allocated and drawn; a decoder that disagreed with its own header
	// must not slip a larger image past the limit.
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, name, fmt.Errorf("%w: %s decodes to %dx%d, its header says %dx%d", ErrInvalid, name, b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	return img, name, nil
}

// guard turns a panic in a decoder into ErrInvalid. The decoders parse
// bytes chosen by an attacker; a bug in one of them should cost that
// upload, not the process, also where no recovering middleware runs.
func guard[T any](fn func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			v, err = zero, fmt.Errorf("decoder panic: %v", p)
		}
	}()
	return fn()
}

// EncodePNG scales img down to fit within maxSide x maxSide, keeping its
// aspect ratio (never scaling up), and encodes it as PNG. The pixels are
// first drawn into a new RGBA image, so the output carries nothing but
// them. maxSide must be positive.
//
// img should come from Decode: EncodePNG allocates for its full size.
func EncodePNG(img image.Image, maxSide int) ([]byte, error) {
	if maxSide <= 0 {
		return nil, fmt.Errorf("safeimage: maxSide %d must be positive", maxSide)
	}
	src := img.Bounds()
	w, h := fit(src.Dx(), src.Dy(), maxSide)
	if w == 0 || h == 0 {
		return nil, fmt.Errorf("%w: empty image", ErrInvalid)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if w == src.Dx() && h == src.Dy() {
		draw.Draw(dst, dst.Bounds(), img, src.Min, draw.Src)
	} else {
		// Catmull-Rom: a sharp, ringing-light cubic, the usual choice for
		// downscaling photographs; its cost grows with the source size,
		// which Limits bounds.
		draw.CatmullRom.Scale(dst, dst.Bounds(), img, src, draw.Src, nil)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, dst); err != nil {
		return nil, fmt.Errorf("safeimage: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// fit returns the size of a w x h image scaled to fit within side x side,
// rounded to the nearest pixel and at least one, or the size itself when it
// already fits.
func fit(w, h, side int) (int, int) {
	if w <= side && h <= side {
		return w, h
	}
	if w >= h {
		return side, max(1, int((int64(h)*int64(side)+int64(w)/2)/int64(w)))
	}
	return max(1, int((int64(w)*int64(side)+int64(h)/2)/int64(h))), side
}
