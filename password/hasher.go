package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/sync/semaphore"
	"golang.org/x/text/unicode/norm"
)

// ErrBusy is returned when no hashing slot freed up within Options.MaxWait,
// or when too many callers were already waiting for one. The server is
// overloaded: answer 503 with Retry-After rather than queue without bound.
var ErrBusy = errors.New("password: too many concurrent password hashes")

// ErrInvalidPassword is returned by Hash for a password that cannot be
// stored: empty, longer than MaxPasswordBytes, or not valid UTF-8. Policy
// refuses all of these first, with a message for the user.
var ErrInvalidPassword = errors.New("password: invalid password")

// MaxPasswordBytes is the longest password, in bytes as received, that Hash
// accepts and Verify compares.
const MaxPasswordBytes = 4096

// Defaults for Options.
const (
	DefaultMemoryBudget = 256 << 20 // bytes
	DefaultMaxWait      = 2 * time.Second
)

// Options configure a Hasher. The zero value is the default configuration.
type Options struct {
	// Params are the parameters of new hashes; zero fields take their
	// defaults (see Params). Parameters below OWASP's weakest recommended
	// configuration (7 MiB with 5 passes) are refused with ErrWeakParams.
	Params Params

	// MemoryBudget bounds, in bytes, the Argon2 memory of all hashes and
	// verifications in flight at once. Default 256 MiB. It allows
	// max(1, MemoryBudget / (Params.Memory KiB)) concurrent operations at
	// the current parameters; a verification of a stored hash with other
	// parameters takes a share of the budget proportional to its memory.
	MemoryBudget int64

	// MaxWait is how long an operation waits for room in the budget before
	// it fails with ErrBusy. Default 2 s.
	MaxWait time.Duration

	// MaxWaiting bounds the number of operations waiting for room at once;
	// one more fails with ErrBusy at once. Default 4 per hash the memory
	// budget holds at the current parameters (52 by default).
	MaxWaiting int

	// MaxConcurrent bounds the Argon2 lanes computing at once; a hash
	// computes Params.Parallelism lanes, each on a goroutine of its own.
	// Default runtime.GOMAXPROCS(0) when the Hasher is set up. More
	// hashes at once than there are CPUs make none finish sooner: they
	// share the CPUs, each takes longer, more of them hold their memory
	// at the same time, and each costs about a quarter more CPU time
	// (caches, page faults, scheduling; see BenchmarkHashConcurrent). The
	// others wait in line, first come first served, within MaxWait and
	// MaxWaiting. The memory budget bounds the concurrency further.
	MaxConcurrent int
}

// Stats is a snapshot of a Hasher's concurrency counters.
type Stats struct {
	// Slots is the number of operations at the current parameters that
	// run at once: as many as the memory budget holds, at most
	// MaxConcurrent / Params.Parallelism, at least one.
	Slots int
	// InFlight is the number of operations computing Argon2 now, and
	// PeakInFlight the most there have been at once.
	InFlight, PeakInFlight int
	// Waiting is the number of operations waiting for room now.
	Waiting int
	// Busy counts the operations refused with ErrBusy.
	Busy uint64
	// Derivations counts the Argon2id computations run so far: hashes,
	// verifications, dummies and MatchAny alike. Callers that must do the
	// same work on two paths (a known and an unknown user) can compare it.
	Derivations uint64
}

// Hasher hashes and verifies passwords with Argon2id within a memory
// budget. It is safe for concurrent use. The zero value uses the default
// Options; a Hasher must not be copied after first use.
type Hasher struct {
	once sync.Once
	err  error

	params     Params
	slots      int
	budget     int64 // bytes, as configured
	capacity   int64 // KiB: the budget rounded down to whole hashes, at least one
	lanes      int64 // MaxConcurrent
	maxWait    time.Duration
	maxWaiting int64
	sem        *semaphore.Weighted
	dummy      string

	inFlight, peak, waiting atomic.Int64
	busy, derived           atomic.Uint64
}

// NewHasher returns a Hasher configured by opts, or an error saying which
// option is unusable and why.
func NewHasher(opts Options) (*Hasher, error) {
	h := new(Hasher)
	h.once.Do(func() { h.err = h.setup(opts) })
	if h.err != nil {
		return nil, h.err
	}
	return h, nil
}

func (h *Hasher) init() error {
	h.once.Do(func() { h.err = h.setup(Options{}) })
	return h.err
}

func (h *Hasher) setup(opts Options) error {
	p := opts.Params.withDefaults()
	if err := p.checkNew(); err != nil {
		return err
	}
	return h.setupParams(p, opts)
}

// setupParams configures h for p without checking the floor for new
// hashes; tests reach it to use cheap parameters.
func (h *Hasher) setupParams(p Params, opts Options) error {
	if opts.MemoryBudget < 0 {
		return fmt.Errorf("password: MemoryBudget %d is negative", opts.MemoryBudget)
	}
	if opts.MaxWait < 0 {
		return fmt.Errorf("password: MaxWait %v is negative", opts.MaxWait)
	}
	if opts.MaxWaiting < 0 {
		return fmt.Errorf("password: MaxWaiting %d is negative", opts.MaxWaiting)
	}
	if opts.MaxConcurrent < 0 {
		return fmt.Errorf("password: MaxConcurrent %d is negative", opts.MaxConcurrent)
	}
	budget := opts.MemoryBudget
	if budget == 0 {
		budget = DefaultMemoryBudget
	}
	h.lanes = int64(opts.MaxConcurrent)
	if h.lanes == 0 {
		h.lanes = int64(runtime.GOMAXPROCS(0))
	}
	h.params = p
	h.budget = budget
	memSlots := max(1, budget/(int64(p.Memory)*1024))
	h.capacity = memSlots * int64(p.Memory)
	h.slots = int(max(1, min(memSlots, h.lanes/int64(p.Parallelism))))
	h.sem = semaphore.NewWeighted(h.capacity)
	h.maxWait = opts.MaxWait
	if h.maxWait == 0 {
		h.maxWait = DefaultMaxWait
	}
	h.maxWaiting = int64(opts.MaxWaiting)
	if h.maxWaiting == 0 {
		// Waiting holds no Argon2 memory, so the line may be as long as
		// it was when every hash the budget holds ran at once.
		h.maxWaiting = 4 * memSlots
	}
	// The dummy hash only has to cost what a real one costs, and never
	// match: random bytes in place of a derived key do both, without
	// running Argon2 at start-up.
	h.dummy = encodePHC(p, randomBytes(p.SaltLength), randomBytes(p.KeyLength))
	return nil
}

// Params returns the parameters of new hashes.
func (h *Hasher) Params() Params {
	if h.init() != nil {
		return Params{}
	}
	return h.params
}

// MemoryBudget returns the bytes of Argon2 memory the Hasher's operations
// may hold at once, as configured (Options.MemoryBudget or its default).
// A server can derive a bound on its own memory from it.
func (h *Hasher) MemoryBudget() int64 {
	if h.init() != nil {
		return 0
	}
	return h.budget
}

// Stats returns the current concurrency counters.
func (h *Hasher) Stats() Stats {
	if h.init() != nil {
		return Stats{}
	}
	return Stats{
		Slots:        h.slots,
		InFlight:     int(h.inFlight.Load()),
		PeakInFlight: int(h.peak.Load()),
		Waiting:      int(h.waiting.Load()),
		Busy:         h.busy.Load(),
		Derivations:  h.derived.Load(),
	}
}

// Hash returns a PHC string of an Argon2id hash of password (after NFKC
// normalization) under a fresh random salt, at the Hasher's parameters.
// It fails with ErrInvalidPassword for an empty, over-long or non-UTF-8
// password, with ErrBusy when the memory budget stays full, and with the
// context's error when ctx ends while it waits.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.init(); err != nil {
		return "", err
	}
	pw, err := normalize(password)
	if err != nil {
		return "", err
	}
	salt := randomBytes(h.params.SaltLength)
	key, err := h.derive(ctx, pw, salt, h.params)
	if err != nil {
		return "", err
	}
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether password matches the stored PHC string, and, when
// it does, whether the hash should be replaced by Hash(password) because
// its parameters differ from the Hasher's.
//
// The stored string must be in the exact form Hash writes, with parameters
// within fixed bounds (memory at most 256 MiB, iterations at most 32,
// memory × iterations at most 1 GiB, parallelism at most 16, salt 8 to 64
// bytes, key 16 to 64 bytes); otherwise Verify fails with ErrInvalidHash
// without deriving anything. A password that Hash would refuse cannot
// match and yields false with no error. Keys are compared in constant
// time. ErrBusy and context errors are as for Hash.
func (h *Hasher) Verify(ctx context.Context, password, phcString string) (ok, needsRehash bool, err error) {
	if err := h.init(); err != nil {
		return false, false, err
	}
	stored, err := parsePHC(phcString)
	if err != nil {
		return false, false, err
	}
	pw, err := normalize(password)
	if err != nil {
		return false, false, nil
	}
	key, err := h.derive(ctx, pw, stored.salt, stored.params)
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(key, stored.key) != 1 {
		return false, false, nil
	}
	return true, stored.params != h.params, nil
}

// VerifyDummy does the work of Verify against a hash at the Hasher's
// current parameters that no password matches. Call it when the user is
// unknown, so that a login for an unknown user costs what a wrong password
// costs and answers in the same time. Its only errors are ErrBusy and the
// context's, which the caller should treat as Verify's.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	if err := h.init(); err != nil {
		return err
	}
	_, _, err := h.Verify(ctx, password, h.dummy)
	return err
}

// derive runs Argon2id within the memory budget.
func (h *Hasher) derive(ctx context.Context, pw, salt []byte, p Params) ([]byte, error) {
	release, err := h.acquire(ctx, int64(p.Memory), int64(p.Parallelism))
	if err != nil {
		return nil, err
	}
	defer release()
	h.derived.Add(1)
	return argon2.IDKey(pw, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength), nil
}

// acquire waits for room for an operation of kib KiB computing lanes
// lanes. One semaphore, weighted in KiB of the budget, bounds both memory
// and CPUs: an operation takes its memory, but at least its lanes' share
// of the whole (capacity × lanes / MaxConcurrent, rounded up), so the
// operations running at once never hold more than the budget nor compute
// more than MaxConcurrent lanes. One that needs more than the whole takes
// the whole and runs alone. The semaphore serves waiters in order.
func (h *Hasher) acquire(ctx context.Context, kib, lanes int64) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cpuShare := (h.capacity*lanes + h.lanes - 1) / h.lanes
	w := min(max(kib, cpuShare), h.capacity)
	if !h.sem.TryAcquire(w) {
		if err := h.wait(ctx, w); err != nil {
			return nil, err
		}
	}
	n := h.inFlight.Add(1)
	for {
		peak := h.peak.Load()
		if n <= peak || h.peak.CompareAndSwap(peak, n) {
			break
		}
	}
	return func() {
		h.inFlight.Add(-1)
		h.sem.Release(w)
	}, nil
}

func (h *Hasher) wait(ctx context.Context, w int64) error {
	if h.waiting.Add(1) > h.maxWaiting {
		h.waiting.Add(-1)
		h.busy.Add(1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	wctx, cancel := context.WithTimeout(ctx, h.maxWait)
	defer cancel()
	if err := h.sem.Acquire(wctx, w); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h.busy.Add(1)
		return ErrBusy
	}
	return nil
}

// normalize returns the bytes that are hashed for password: its NFKC form,
// as NIST SP 800-63B asks, so that the same characters typed on different
// systems give the same hash.
func normalize(password string) ([]byte, error) {
	switch {
	case password == "":
		return nil, fmt.Errorf("%w: empty", ErrInvalidPassword)
	case len(password) > MaxPasswordBytes:
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidPassword, MaxPasswordBytes)
	case !utf8.ValidString(password):
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrInvalidPassword)
	}
	return norm.NFKC.Bytes([]byte(password)), nil
}

func randomBytes(n uint32) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return b
}
