// Package password stores and checks user passwords: Argon2id hashes in PHC
// string form, a memory budget that bounds concurrent hashing, and a policy
// for new passwords with a shipped list of common passwords.
//
// # Contract
//
// A Hasher turns a password into a PHC string,
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// (salt and key in standard base64 without padding), with a fresh 16-byte
// salt from crypto/rand and, by default, OWASP's recommended parameters:
// 19 MiB of memory, 2 passes, 1 lane, a 32-byte key. Verify checks a
// password against such a string, compares keys in constant time, and says
// when the stored parameters differ from the current ones so the caller
// can store a fresh hash (needsRehash) after a successful login.
// VerifyDummy costs what Verify costs and never succeeds: call it when the
// user does not exist, so unknown users and wrong passwords look the same.
//
// Passwords are normalized to Unicode NFKC before hashing and before
// policy checks, as NIST SP 800-63B recommends, so the same characters
// typed on different systems (precomposed or combining accents, full-width
// forms) give the same hash. A hash imported from a system that did not
// normalize verifies only when its password was already in NFKC form, as
// every ASCII password is.
//
// Each hash or verification takes its Argon2 memory out of the Hasher's
// MemoryBudget (256 MiB by default, room for 13 at 19 MiB), and at most
// MaxConcurrent Argon2 lanes compute at once (GOMAXPROCS by default: one
// hash per CPU at the default parameters), because hashes beyond the CPUs
// finish no sooner and cost more CPU each. A call that finds no room
// waits in line, first come first served, at most MaxWait (2 s), and only
// behind at most MaxWaiting others (52 by default); otherwise it fails
// with ErrBusy, which the HTTP layer answers with 503 and Retry-After.
// Memory use is bounded whatever the load: live Argon2 memory never
// exceeds the budget (Hasher.MemoryBudget lets a server derive a bound on
// the whole process from it). How many logins a machine sustains is
// about its cores divided by the time of one hash (see BenchmarkHash).
//
// Policy.Validate returns the reasons a new password is refused, as
// sentences for the user: 8 to 128 characters (code points) by default,
// not in the list of 30,000 common passwords (case-insensitive), not all
// digits, not too similar to the username or email address; composition
// rules are available and off by default.
//
// # Threat model
//
// The attacker may read the password table (a stolen backup) and tries to
// recover passwords offline: Argon2id's memory-hard cost and per-hash
// random salts make each guess expensive and precomputation useless, and
// the policy removes the guesses tried first. The attacker also sends
// logins online: the memory budget keeps a flood of logins from exhausting
// memory (it turns into fast ErrBusy refusals; rate limiting in front is
// still needed for CPU), VerifyDummy and the constant-time comparison keep
// response times from revealing which users exist or how much of a key
// matched. Finally the attacker may be able to write a stored hash (a
// tampered row or an imported foreign hash): Verify parses PHC strictly and
// refuses parameters beyond fixed bounds (256 MiB, 32 passes, 16 lanes,
// 64-byte salt and key) before allocating anything, so such a row cannot
// exhaust memory or stall the server; it can at worst make that one
// account unusable.
//
// Out of scope: an attacker who can read process memory, or who can change
// the code or the Hasher's options; secrets beyond the password (Argon2's
// optional secret key, a "pepper", is not used).
package password
