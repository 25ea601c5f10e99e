// Package browsertest drives the web console in a real Chromium against a
// real server (internal/app on a loopback port, mail over SMTP to a
// mailbox the test runs), as a person would: register and open the
// emailed link, log in, add a book, review, chat between two browsers,
// get notified, reset the password, log out everywhere, and use it on a
// phone-sized screen and from the keyboard.
//
// The tests talk to Chromium over the DevTools protocol with the
// WebSocket library the server already uses; they are skipped when no
// Chromium binary is found (WARDEN_TEST_CHROMIUM names one; else
// chromium, chromium-browser or google-chrome on PATH) and under -short.
// On Debian: apt-get install chromium.
package browsertest
