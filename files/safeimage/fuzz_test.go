package safeimage_test

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/wardenhq/warden/files/safeimage"
)

// FuzzDecode feeds Decode arbitrary bytes (the committed corpus holds
// small JPEG, PNG and WebP files, huge headers and polyglots). Every
// outcome must be one of the documented errors, or an image within the
// limits that DecodeConfig agrees with and EncodePNG turns into a PNG.
func FuzzDecode(f *testing.F) {
	f.Add(encodePNG(f, gradient(3, 2)))
	f.Add(encodeJPEG(f, gradient(3, 2)))
	for _, name := range []string{"gradient-lossless.webp", "gradient-lossy.webp", "gradient-alpha.webp"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(hugePNG(300, 2))
	f.Add(hugeJPEG(2, 300))
	f.Add(hugeWebP(300, 300))

	l := safeimage.Limits{MaxWidth: 256, MaxHeight: 256}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, cerr := safeimage.DecodeConfig(data, l)
		img, format, err := safeimage.Decode(data, l)
		if err != nil {
			if !errors.Is(err, safeimage.ErrUnsupported) && !errors.Is(err, safeimage.ErrTooLarge) && !errors.Is(err, safeimage.ErrInvalid) {
				t.Fatalf("undocumented error %v", err)
			}
			if strings.Contains(err.Error(), "decoder panic") {
				// Recovered, so harmless in production, but a decoder bug
				// worth reporting upstream.
				t.Errorf("%s: %v", format, err)
			}
			if cerr == nil && !errors.Is(err, safeimage.ErrInvalid) {
				t.Fatalf("DecodeConfig accepted, Decode said %v", err)
			}
			return
		}
		if cerr != nil {
			t.Fatalf("Decode accepted what DecodeConfig refused: %v", cerr)
		}
		b := img.Bounds()
		if b.Dx() != cfg.Width || b.Dy() != cfg.Height || b.Dx() > l.MaxWidth || b.Dy() > l.MaxHeight || b.Empty() {
			t.Fatalf("%s image %v, config %dx%d", format, b, cfg.Width, cfg.Height)
		}
		out, err := safeimage.EncodePNG(img, 32)
		if err != nil {
			t.Fatal(err)
		}
		back, err := png.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("output does not decode: %v", err)
		}
		if ob := back.Bounds(); ob.Dx() > 32 || ob.Dy() > 32 || ob.Empty() {
			t.Fatalf("output %v", ob)
		}
	})
}
