package safeimage_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"runtime"
	"testing"

	"github.com/wardenhq/warden/files/safeimage"
)

// gradient returns a w x h image whose pixels differ, so that scaling and
// re-encoding have something to get wrong.
func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / max(w-1, 1)), uint8(y * 255 / max(h-1, 1)), 90, 255})
		}
	}
	return img
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// pngChunk builds one PNG chunk with its CRC, which decoders check.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	binary.Write(&b, binary.BigEndian, crc.Sum32())
	return b.Bytes()
}

// webpSource is the image the WebP files in testdata were made from with
// cwebp 1.2.4 (Debian's webp package): "cwebp -lossless" for
// gradient-lossless.webp (a VP8L chunk), "cwebp -q 80" for
// gradient-lossy.webp (VP8), and, from the same image with alpha
// 255-4x, "cwebp -q 80 -alpha_q 100" for gradient-alpha.webp (VP8X, ALPH
// and VP8).
func webpSource(withAlpha bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			a := uint8(255)
			if withAlpha {
				a = uint8(255 - x*4)
			}
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 6), uint8(y * 8), 128, a})
		}
	}
	return img
}

func TestDecodeAcceptedFormats(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		src    image.Image
		format string
	}{
		{"png", encodePNG(t, gradient(40, 30)), gradient(40, 30), safeimage.PNG},
		{"jpeg", encodeJPEG(t, gradient(40, 30)), gradient(40, 30), safeimage.JPEG},
		{"webp lossless", readTestdata(t, "gradient-lossless.webp"), webpSource(false), safeimage.WebP},
		{"webp lossy", readTestdata(t, "gradient-lossy.webp"), webpSource(false), safeimage.WebP},
		{"webp with alpha", readTestdata(t, "gradient-alpha.webp"), webpSource(true), safeimage.WebP},
	}
	for _, tt := range tests {
		src := tt.src
		t.Run(tt.name, func(t *testing.T) {
			img, format, err := safeimage.Decode(tt.data, safeimage.Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if format != tt.format {
				t.Errorf("format = %q, want %q", format, tt.format)
			}
			if b := img.Bounds(); b.Dx() != 40 || b.Dy() != 30 {
				t.Errorf("size = %v, want 40x30", b.Size())
			}
			out, err := safeimage.EncodePNG(img, 512)
			if err != nil {
				t.Fatal(err)
			}
			back, err := png.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("output is not a PNG: %v", err)
			}
			if b := back.Bounds(); b.Dx() != 40 || b.Dy() != 30 {
				t.Errorf("re-encoded size = %v, want 40x30 (no upscaling)", b.Size())
			}
			// A lossy round trip keeps the picture: the corner colours stay
			// close to the source's.
			for _, p := range []image.Point{{0, 0}, {39, 0}, {0, 29}, {39, 29}} {
				if d := colorDistance(src.At(p.X, p.Y), back.At(p.X, p.Y)); d > 40 {
					t.Errorf("pixel %v differs by %d from the source", p, d)
				}
			}
		})
	}
}

func colorDistance(a, b color.Color) int {
	ar, ag, ab, _ := a.RGBA()
	br, bg, bb, _ := b.RGBA()
	d := func(x, y uint32) int { return max(int(x>>8)-int(y>>8), int(y>>8)-int(x>>8)) }
	return max(d(ar, br), d(ag, bg), d(ab, bb))
}

func TestDecodeRefusesOtherFormats(t *testing.T) {
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, gradient(8, 8), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		// image/gif is imported by this test, so it is registered with
		// the image package: Decode must still refuse it.
		{"gif", gifBuf.Bytes()},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>`)},
		{"svg with xml prolog", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`)},
		{"html", []byte("<!doctype html><script>alert(1)</script>")},
		// What an upload named x.png with Content-Type image/png might hold.
		{"pdf named x.png", []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")},
		{"bmp", append([]byte("BM"), make([]byte, 60)...)},
		{"empty", nil},
		{"png signature cut short", []byte("\x89PNG\r\n")},
		{"riff but not webp", append([]byte("RIFF\x10\x00\x00\x00WAVE"), make([]byte, 16)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, _, err := safeimage.Decode(tt.data, safeimage.Limits{})
			if !errors.Is(err, safeimage.ErrUnsupported) {
				t.Fatalf("err = %v, want ErrUnsupported", err)
			}
			if img != nil {
				t.Error("an image came back with the error")
			}
		})
	}
}

// hugePNG is a PNG signature and an IHDR declaring w x h pixels, nothing
// else: a decoder that allocated before checking would need w*h*4 bytes.
func hugePNG(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8] = 8 // bit depth
	ihdr[9] = 6 // RGBA
	return append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
}

// hugeJPEG is SOI and a baseline SOF0 declaring w x h pixels, 3 components.
func hugeJPEG(w, h uint16) []byte {
	b := []byte{0xff, 0xd8, 0xff, 0xc0, 0, 17, 8}
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)
	// Without a JFIF segment the decoder reads on to the start of scan to
	// learn the colour transform; the scan itself is not needed.
	return append(b, 0xff, 0xda, 0, 12)
}

// hugeWebP is a RIFF/WEBP container with a VP8X chunk declaring a
// w x h canvas (each at most 1<<24).
func hugeWebP(w, h uint32) []byte {
	vp8x := make([]byte, 10)
	vp8x[4], vp8x[5], vp8x[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	vp8x[7], vp8x[8], vp8x[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	body := append([]byte("WEBPVP8X\x0a\x00\x00\x00"), vp8x...)
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(len(body)))
	return append(out, body...)
}

// hugeWebPLossless is a RIFF/WEBP container with a bare VP8L header
// declaring w x h pixels (each at most 1<<14).
func hugeWebPLossless(w, h uint32) []byte {
	bits := (w - 1) | (h-1)<<14 | 1<<28 // alpha hint set, version 0
	vp8l := binary.LittleEndian.AppendUint32([]byte{0x2f}, bits)
	body := append([]byte("WEBPVP8L"), binary.LittleEndian.AppendUint32(nil, uint32(len(vp8l)))...)
	body = append(append(body, vp8l...), 0) // pad to an even length
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(len(body)))
	return append(out, body...)
}

func TestDecodeRefusesHugeDimensionsBeforeDecoding(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"png 100000x100000", hugePNG(100000, 100000)},
		{"png 4097x1", hugePNG(4097, 1)},
		{"jpeg 65000x65000", hugeJPEG(65000, 65000)},
		{"jpeg 1x4097", hugeJPEG(1, 4097)},
		// x/image/webp itself refuses canvases over 2^31-1 pixels.
		{"webp vp8x 40000x40000", hugeWebP(40000, 40000)},
		{"webp vp8x 4097x1", hugeWebP(4097, 1)},
		{"webp vp8l 16384x16384", hugeWebPLossless(16384, 16384)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := safeimage.Decode(tt.data, safeimage.Limits{})
			runtime.ReadMemStats(&after)
			if !errors.Is(err, safeimage.ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			// The pixels would take gigabytes; the header read takes a few
			// small buffers (the JPEG decoder's is the largest).
			if got := after.TotalAlloc - before.TotalAlloc; got > 256<<10 {
				t.Errorf("allocated %d bytes refusing a header", got)
			}
		})
	}
}

func TestDecodeLimits(t *testing.T) {
	data := encodePNG(t, gradient(100, 60))
	if _, _, err := safeimage.Decode(data, safeimage.Limits{MaxWidth: 99}); !errors.Is(err, safeimage.ErrTooLarge) {
		t.Errorf("width over MaxWidth: err = %v, want ErrTooLarge", err)
	}
	if _, _, err := safeimage.Decode(data, safeimage.Limits{MaxHeight: 59}); !errors.Is(err, safeimage.ErrTooLarge) {
		t.Errorf("height over MaxHeight: err = %v, want ErrTooLarge", err)
	}
	if _, _, err := safeimage.Decode(data, safeimage.Limits{MaxWidth: 100, MaxHeight: 60}); err != nil {
		t.Errorf("exactly at the limits: %v", err)
	}
	cfg, format, err := safeimage.DecodeConfig(data, safeimage.Limits{})
	if err != nil || format != safeimage.PNG || cfg.Width != 100 || cfg.Height != 60 {
		t.Errorf("DecodeConfig = %+v, %q, %v", cfg, format, err)
	}
}

func TestDecodeRefusesTruncatedAndCorrupt(t *testing.T) {
	src := gradient(64, 64)
	pngData := encodePNG(t, src)
	jpegData := encodeJPEG(t, src)
	webpData := readTestdata(t, "gradient-lossy.webp")
	corrupt := bytes.Clone(pngData)
	corrupt[len(corrupt)/2] ^= 0xff // breaks the IDAT CRC
	tests := []struct {
		name string
		data []byte
	}{
		{"png cut in half", pngData[:len(pngData)/2]},
		{"png header only", hugePNG(10, 10)},
		{"png with a broken CRC", corrupt},
		{"jpeg cut in half", jpegData[:len(jpegData)/2]},
		{"jpeg markers only", []byte{0xff, 0xd8, 0xff, 0xd9}},
		{"webp cut in half", webpData[:len(webpData)/2]},
		{"png 0x0", hugePNG(0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, _, err := safeimage.Decode(tt.data, safeimage.Limits{})
			if !errors.Is(err, safeimage.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if img != nil {
				t.Error("an image came back with the error")
			}
		})
	}
}

// A polyglot is a valid image that is also something else: here HTML with
// a script after the PNG's end. Decoders stop at IEND, so it decodes; what
// is stored is a re-encoding, which cannot carry the appended bytes, nor
// anything in ancillary chunks or JPEG segments.
func TestReencodingDropsEverythingButPixels(t *testing.T) {
	const script = "<script>alert(document.cookie)</script>"
	base := encodePNG(t, gradient(32, 32))

	appended := append(bytes.Clone(base), []byte("<html><body>"+script+"</body></html>")...)

	// A tEXt chunk inserted before IEND (the last 12 bytes).
	text := pngChunk("tEXt", []byte("Comment\x00"+script))
	withText := append(append(bytes.Clone(base[:len(base)-12]), text...), base[len(base)-12:]...)

	// An Exif APP1 segment with a made-up GPS note right after SOI.
	jpg := encodeJPEG(t, gradient(32, 32))
	exifPayload := []byte("Exif\x00\x00GPSLatitude=48.8584 secret-home-address " + script)
	app1 := []byte{0xff, 0xe1}
	app1 = binary.BigEndian.AppendUint16(app1, uint16(len(exifPayload)+2))
	app1 = append(app1, exifPayload...)
	withExif := append(append(bytes.Clone(jpg[:2]), app1...), jpg[2:]...)

	for name, data := range map[string][]byte{
		"html appended to a png": appended,
		"script in a png tEXt":   withText,
		"exif in a jpeg":         withExif,
	} {
		t.Run(name, func(t *testing.T) {
			if !bytes.Contains(data, []byte("<script")) {
				t.Fatal("test input lost its payload")
			}
			img, _, err := safeimage.Decode(data, safeimage.Limits{})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			out, err := safeimage.EncodePNG(img, 512)
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range []string{"<script", "<html", "secret-home-address", "Exif", "tEXt"} {
				if bytes.Contains(out, []byte(bad)) {
					t.Errorf("re-encoded output still contains %q", bad)
				}
			}
			if !bytes.HasPrefix(out, []byte("\x89PNG\r\n\x1a\n")) || !bytes.HasSuffix(out, pngChunk("IEND", nil)) {
				t.Error("output does not start and end as a PNG")
			}
		})
	}
}

func TestEncodePNGScales(t *testing.T) {
	tests := []struct {
		w, h, side   int
		wantW, wantH int
	}{
		{2000, 1000, 512, 512, 256},
		{1000, 2000, 512, 256, 512},
		{100, 300, 512, 100, 300},
		{600, 200, 512, 512, 171}, // 200*512/600 = 170.67, rounded
		{513, 513, 512, 512, 512},
		{5000, 3, 512, 512, 1}, // never below one pixel
		{10, 10, 512, 10, 10},  // never scaled up
	}
	for _, tt := range tests {
		img := image.NewRGBA(image.Rect(0, 0, tt.w, tt.h))
		out, err := safeimage.EncodePNG(img, tt.side)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Width != tt.wantW || cfg.Height != tt.wantH {
			t.Errorf("%dx%d in %d: got %dx%d, want %dx%d", tt.w, tt.h, tt.side, cfg.Width, cfg.Height, tt.wantW, tt.wantH)
		}
	}
	if _, err := safeimage.EncodePNG(image.NewRGBA(image.Rect(0, 0, 4, 4)), 0); err == nil {
		t.Error("maxSide 0 accepted")
	}
}

func TestEncodePNGKeepsColour(t *testing.T) {
	// A uniform image must stay uniform through the scaler: a kernel that
	// sampled outside the source, or mixed in the transparent black of an
	// uninitialised destination, would darken the edges.
	src := image.NewNRGBA(image.Rect(10, 20, 1010, 520)) // bounds not at the origin
	c := color.NRGBA{200, 30, 60, 255}
	for y := src.Rect.Min.Y; y < src.Rect.Max.Y; y++ {
		for x := src.Rect.Min.X; x < src.Rect.Max.X; x++ {
			src.SetNRGBA(x, y, c)
		}
	}
	out, err := safeimage.EncodePNG(src, 100)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b != image.Rect(0, 0, 100, 50) {
		t.Fatalf("bounds %v", b)
	}
	for _, p := range []image.Point{{0, 0}, {99, 0}, {0, 49}, {99, 49}, {50, 25}} {
		if d := colorDistance(c, img.At(p.X, p.Y)); d > 1 {
			t.Errorf("pixel %v = %v, want %v", p, img.At(p.X, p.Y), c)
		}
	}
}

func TestDecodeLargestAllowedIsScaledQuickly(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("decodes and scales a 4096x4096 image: slow in -short and -race runs")
	}
	data := encodePNG(t, gradient(4096, 4096))
	img, _, err := safeimage.Decode(data, safeimage.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := safeimage.EncodePNG(img, 512)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(out))
	if err != nil || cfg.Width != 512 || cfg.Height != 512 {
		t.Fatalf("got %+v, %v", cfg, err)
	}
}

func BenchmarkAvatarPipeline(b *testing.B) {
	data := encodeJPEG(b, gradient(4096, 3072))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		img, _, err := safeimage.Decode(data, safeimage.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := safeimage.EncodePNG(img, 512); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleDecode() {
	var upload bytes.Buffer // the bytes of a multipart part, say
	png.Encode(&upload, image.NewGray(image.Rect(0, 0, 800, 600)))

	img, format, err := safeimage.Decode(upload.Bytes(), safeimage.Limits{})
	if err != nil {
		// errors.Is(err, safeimage.ErrUnsupported) etc. choose the answer.
		return
	}
	clean, _ := safeimage.EncodePNG(img, 512)
	cfg, _ := png.DecodeConfig(bytes.NewReader(clean))
	fmt.Println(format, cfg.Width, cfg.Height)
	// Output: png 512 384
}
