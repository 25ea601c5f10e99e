// Package mail is Warden's mail transport: it validates a Message and
// delivers it over SMTP, or writes it to a development outbox. What a
// message says is its sender's business: the features that send mail
// (accounts: address verification, password reset and the notices that go
// with them) build their own texts and links and hand this package a
// finished Message.
//
// # Contract
//
// A Mailer sends one Message (one recipient, a subject, a plain-text body
// and an optional HTML alternative) or returns an error; it never drops a
// failure silently. Two Mailers are provided, built at start-up from the
// configuration and safe for concurrent use:
//
//   - SMTP (NewSMTP, from WARDEN_SMTP_URL) submits to a mail server:
//     smtp://user:pass@host:587 upgrades with STARTTLS whenever the server
//     offers it, smtps://user:pass@host:465 uses TLS from the first byte.
//   - Outbox (NewOutbox, when no SMTP URL is set) writes each message as an
//     .eml file into a private directory, for development.
//
// Both build the message with the same code, so an .eml in the outbox holds
// the headers and MIME structure SMTP would send. SendLogged sends and logs
// a failure for callers that must not fail with the mail (registration).
// IsOneLine is the rule headers follow, for senders that put a value on
// one line of a body.
//
// A failed send returns its error. Callers decide what it means: the
// accounts flows log it (SendLogged) and answer as if the mail had gone,
// so that neither a mail outage nor timing reveals who has an account.
//
// # Threat model
//
// Whoever registers chooses the recipient address, the username and the
// moment a message is sent; they do not necessarily own the mailbox. The
// mail server, and the network to it unless TLS protects it, may be read
// by others. Logs are read by more people than the mailboxes are. The
// configuration is trusted.
//
// What the package guarantees:
//   - No header is built from unvalidated input. To must be exactly one bare
//     address (net/mail), at most 254 bytes; To and Subject must be valid
//     UTF-8 without any control character (CR, LF, NUL, ...) or Unicode line
//     separator, and Subject at most 200 characters. Anything else is
//     refused with ErrInvalidMessage before a byte is sent or written, so
//     "victim@example.com\r\nBcc: attacker@example.com" adds no recipient.
//     From is validated the same way once, at construction.
//   - Message bodies, which carry one-time tokens, are never logged. The
//     SMTP mailer's errors and SendLogged's records do not contain the
//     recipient's address (only its domain); the outbox, a development
//     tool, logs the recipient so the developer can find the file.
//   - The SMTP password never appears in an error, a log record or the
//     mailer's printed form, and is sent only with AUTH PLAIN or LOGIN over
//     TLS (or to a loopback server). A server without STARTTLS gets no
//     password: the send fails instead. Certificates are verified; there is
//     no option to skip verification.
//   - Outbox files are created 0600 in a directory that only the owner may
//     enter, under unguessable names, and appear only when complete.
//
// Out of scope: the bodies. Text and HTML are sent as given, so their
// sender must escape what it puts in them (html/template for HTML) and
// build links from the configured public URL, never from a request's Host
// header; the accounts feature's texts do both.
//
// With smtp:// and a server that does not offer STARTTLS (or an attacker
// on the path who strips the offer), a message without credentials
// travels in clear text, tokens included; use smtps:// to a relay beyond
// the local host. Delivery after the first server (its relays, the
// recipient's provider), SPF, DKIM and DMARC are the mail system's
// business. Rate limiting of the flows that send mail (registration,
// resend, reset) belongs to the routes (per client) and to the sender (per
// recipient: the accounts jobs), and a send's duration is the caller's to
// hide (send in the background or after answering).
package mail
