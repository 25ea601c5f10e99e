// Package browsertest drives the web console in a real Chromium against a
// real server (internal/app on a loopback port, mail over SMTP to a
// mailbox the test runs), as people would: register and open the emailed
// link, log in, add a book, post a review carrying an XSS payload (no
// dialog opens, no element is injected), chat between two browsers, get
// notified, reset the password, log out everywhere (the other browser's
// socket closes), and use it on a phone-sized screen and from the
// keyboard. An attacker's page on another origin, visited by a signed-in
// victim, forges requests with the victim's cookie (auto-submitted forms,
// fetches with credentials) and opens the chat socket with a valid ticket
// it was handed: the server refuses each (403, the Origin check before
// the ticket, which stays unspent) and the API shows nothing changed.
//
// The tests use chromedp over Chromium's DevTools pipe, with one
// browser per test binary and a browser context (its own cookies) per
// person. They are skipped under -short and when no Chromium is found
// (WARDEN_TEST_CHROMIUM names one; else chromium or chromium-browser on
// PATH; on Debian: apt-get install -y chromium).
//
// Screenshots of the main pages are written to WARDEN_E2E_ARTIFACTS
// (default: warden-e2e-artifacts under the system's temporary directory),
// never into the repository. The README's docs/console.png is written
// only on request:
//
//	WARDEN_E2E_README_SCREENSHOT=1 go test -run TestREADMEScreenshot ./internal/app/browsertest/
package browsertest
