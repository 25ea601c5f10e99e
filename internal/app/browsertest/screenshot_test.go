package browsertest

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// Screenshots of the main pages are artefacts of a run, written to
// WARDEN_E2E_ARTIFACTS or, by default, to a directory under the system's
// temporary directory: never into the repository.

var artefacts struct {
	once sync.Once
	dir  string
	err  error
}

// artefactDir returns the directory screenshots go to, creating it and
// saying where it is once per run.
func artefactDir(t *testing.T) string {
	t.Helper()
	artefacts.once.Do(func() {
		artefacts.dir = os.Getenv("WARDEN_E2E_ARTIFACTS")
		if artefacts.dir == "" {
			artefacts.dir = filepath.Join(os.TempDir(), "warden-e2e-artifacts")
		}
		if artefacts.dir, artefacts.err = filepath.Abs(artefacts.dir); artefacts.err == nil {
			artefacts.err = os.MkdirAll(artefacts.dir, 0o755)
		}
		if artefacts.err == nil {
			t.Logf("screenshots are written to %s", artefacts.dir)
		}
	})
	if artefacts.err != nil {
		t.Fatalf("screenshot directory: %v", artefacts.err)
	}
	return artefacts.dir
}

// shot writes a screenshot of the whole page p shows as name.png.
func (p *tab) shot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("%s: screenshot %s: %v", p.name, name, err)
	}
	if err := os.WriteFile(filepath.Join(artefactDir(t), name+".png"), img, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestREADMEScreenshot writes docs/console.png, the console as the README
// shows it: a chat room with a conversation, in a desktop browser, from
// sample data. It runs only with WARDEN_E2E_README_SCREENSHOT=1:
//
//	WARDEN_E2E_README_SCREENSHOT=1 go test -run TestREADMEScreenshot ./internal/app/browsertest/
func TestREADMEScreenshot(t *testing.T) {
	if os.Getenv("WARDEN_E2E_README_SCREENSHOT") != "1" {
		t.Skip("set WARDEN_E2E_README_SCREENSHOT=1 to write docs/console.png")
	}
	out := filepath.Join(moduleRoot(t), "docs", "console.png")
	browser(t) // skips before the server starts
	s := server(t, "margaret", "tomas")
	room := seedSample(t, s)

	p := newTab(t, "reader")
	login(t, p, s.base, "margaret", pw)
	p.open(t, s.base+"/chat/"+room)
	p.waitFor(t, `/^\/chat\/\d+$/.test(location.pathname) && document.querySelectorAll(".chat-log li").length >= 4 && !document.querySelector(".composer button").disabled`, "the room with its history, connected")
	// The page as a person sees it, without the caret blinking in it.
	eval[chromedp.Void](t, p, `document.activeElement && document.activeElement.blur()`)

	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	// Chromium's PNG encoder favours speed; the README's copy is
	// re-encoded at the best compression, to keep the repository small.
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 150<<10 {
		t.Errorf("the screenshot is %d KB; keep docs/console.png under 150 KB", buf.Len()>>10)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d KB, %dx%d)", out, buf.Len()>>10, img.Bounds().Dx(), img.Bounds().Dy())
	if probs := p.problems(); len(probs) > 0 {
		t.Errorf("console: %q", probs)
	}
}

// moduleRoot returns the directory of the module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/wardenhq/warden\n") {
			return dir
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of github.com/wardenhq/warden above the working directory")
		}
		dir = parent
	}
}

// seedSample fills the book club with a chat room and a conversation, as
// a small club would have.
func seedSample(t *testing.T, s *site) string {
	t.Helper()
	tok := s.token(t, "alice")
	status, room := s.api(t, "POST", "/api/chat/rooms", tok, `{"name":"Thursday readers"}`)
	if status != 201 {
		t.Fatalf("room: %d %v", status, room)
	}
	id := jsonNumber(room["id"])
	for _, u := range []string{"bob", "margaret", "tomas"} {
		if status, out := s.api(t, "POST", "/api/chat/rooms/"+id+"/members", tok, `{"username":`+js(u)+`}`); status != 204 {
			t.Fatalf("add %s: %d %v", u, status, out)
		}
	}
	// Messages travel only over the socket: each person says their line
	// from a browser of their own.
	lines := []struct{ who, text string }{
		{"alice", "Welcome! This month: The Left Hand of Darkness."},
		{"bob", "Halfway through. The chapter on the ice is unforgettable."},
		{"tomas", "I keep thinking about the kemmer chapters. Thursday at 7?"},
		{"bob", "Same here. And I still can’t decide whether I trust Estraven."},
		{"tomas", "You should. Wait until you get to the Gobrin Ice."},
		{"alice", "Thursday at 7 it is. Margaret, you’re bringing the tea."},
	}
	tabs := map[string]*tab{}
	for _, l := range lines {
		p := tabs[l.who]
		if p == nil {
			p = newTab(t, l.who)
			tabs[l.who] = p
			login(t, p, s.base, l.who, pw)
			p.open(t, s.base+"/chat/"+id)
			p.waitFor(t, `!document.querySelector(".composer button").disabled`, l.who+" connected")
		}
		p.fill(t, `#chat-input`, l.text)
		p.click(t, `.composer button[type=submit]`)
		// Each line is stored before the next is sent, so that the
		// history keeps the conversation's order.
		p.waitFor(t, `[...document.querySelectorAll(".chat-log .msg-text")].some((e) => e.innerText === `+js(l.text)+`)`, l.who+"'s line shown")
	}
	return id
}
