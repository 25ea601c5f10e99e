package password_test

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/password"
)

// cheap are parameters far below the production floor, so that tests run
// fast (also under -race); they go through NewTestHasher.
var cheap = password.Params{Memory: 64, Iterations: 1}

func testHasher(t testing.TB, opts password.Options) *password.Hasher {
	t.Helper()
	if opts.Params == (password.Params{}) {
		opts.Params = cheap
	}
	h, err := password.NewTestHasher(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustHash(t testing.TB, h *password.Hasher, pw string) string {
	t.Helper()
	s, err := h.Hash(context.Background(), pw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHashIsCanonicalPHC(t *testing.T) {
	h := testHasher(t, password.Options{})
	a := mustHash(t, h, "correct horse")
	b := mustHash(t, h, "correct horse")
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	for _, s := range []string{a, b} {
		if !re.MatchString(s) {
			t.Errorf("Hash = %q, want a PHC string with a 16-byte salt and 32-byte key", s)
		}
	}
	if a == b {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	h := testHasher(t, password.Options{})
	stored := mustHash(t, h, "correct horse")
	tests := []struct {
		name     string
		password string
		want     bool
	}{
		{"same password", "correct horse", true},
		{"wrong password", "correct horsf", false},
		{"different case", "Correct horse", false},
		{"prefix", "correct hors", false},
		{"empty", "", false},
		{"too long to store", strings.Repeat("a", password.MaxPasswordBytes+1), false},
		{"not UTF-8", "correct horse\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, tt.password, stored)
			if err != nil || ok != tt.want || rehash {
				t.Errorf("Verify = %v, %v, %v; want %v, false, nil", ok, rehash, err, tt.want)
			}
		})
	}
}

func TestHashRefusesUnstorablePasswords(t *testing.T) {
	h := testHasher(t, password.Options{})
	for _, pw := range []string{"", strings.Repeat("a", password.MaxPasswordBytes+1), "\xc3\x28abcdefgh"} {
		if _, err := h.Hash(context.Background(), pw); !errors.Is(err, password.ErrInvalidPassword) {
			t.Errorf("Hash(%.10q) error = %v, want ErrInvalidPassword", pw, err)
		}
	}
	if _, err := h.Hash(context.Background(), strings.Repeat("a", password.MaxPasswordBytes)); err != nil {
		t.Errorf("Hash of %d bytes: %v", password.MaxPasswordBytes, err)
	}
}

// tamper decodes the base64 field i ($-separated) of s, flips one bit and
// encodes it again, so the result is still well-formed.
func tamper(t *testing.T, s string, i int) string {
	t.Helper()
	f := strings.Split(s, "$")
	b, err := base64.RawStdEncoding.DecodeString(f[i])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	f[i] = base64.RawStdEncoding.EncodeToString(b)
	return strings.Join(f, "$")
}

func TestVerifyTamperedHash(t *testing.T) {
	ctx := context.Background()
	h := testHasher(t, password.Options{})
	stored := mustHash(t, h, "correct horse")
	tests := map[string]string{
		"salt":       tamper(t, stored, 4),
		"key":        tamper(t, stored, 5),
		"iterations": strings.Replace(stored, ",t=1,", ",t=2,", 1),
		"memory":     strings.Replace(stored, "m=64,", "m=72,", 1),
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			if s == stored {
				t.Fatal("tampering changed nothing")
			}
			ok, _, err := h.Verify(ctx, "correct horse", s)
			if ok || err != nil {
				t.Errorf("Verify = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestVerifyRefusesMalformedHash(t *testing.T) {
	const salt, key = "c29tZXNhbHQ", "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	good := "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + key
	tests := []struct{ name, phc string }{
		{"empty", ""},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"},
		{"argon2i", "$argon2i$v=19$m=65536,t=2,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=65536,t=2,p=1$" + salt + "$" + key},
		{"version 18", "$argon2id$v=18$m=65536,t=2,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=65536,t=2,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=65536,t=2,p=1$" + salt + "$" + key},
		{"no key", "$argon2id$v=19$m=65536,t=2,p=1$" + salt},
		{"empty key", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$"},
		{"no salt", "$argon2id$v=19$m=65536,t=2,p=1$" + key},
		{"extra field", good + "$"},
		{"missing p", "$argon2id$v=19$m=65536,t=2$" + salt + "$" + key},
		{"parameters reordered", "$argon2id$v=19$t=2,m=65536,p=1$" + salt + "$" + key},
		{"keyid parameter", "$argon2id$v=19$m=65536,t=2,p=1,keyid=abc$" + salt + "$" + key},
		{"leading zero", "$argon2id$v=19$m=065536,t=2,p=1$" + salt + "$" + key},
		{"plus sign", "$argon2id$v=19$m=+65536,t=2,p=1$" + salt + "$" + key},
		{"space", "$argon2id$v=19$m=65536, t=2,p=1$" + salt + "$" + key},
		{"huge memory", "$argon2id$v=19$m=4294967295,t=2,p=1$" + salt + "$" + key},
		{"memory wraps uint32", "$argon2id$v=19$m=4294967360,t=2,p=1$" + salt + "$" + key},
		{"memory over 256 MiB", "$argon2id$v=19$m=262145,t=1,p=1$" + salt + "$" + key},
		{"memory below 8p", "$argon2id$v=19$m=31,t=2,p=4$" + salt + "$" + key},
		{"too much work", "$argon2id$v=19$m=262144,t=5,p=1$" + salt + "$" + key},
		{"zero iterations", "$argon2id$v=19$m=65536,t=0,p=1$" + salt + "$" + key},
		{"huge iterations", "$argon2id$v=19$m=65536,t=4294967295,p=1$" + salt + "$" + key},
		{"zero parallelism", "$argon2id$v=19$m=65536,t=2,p=0$" + salt + "$" + key},
		{"huge parallelism", "$argon2id$v=19$m=65536,t=2,p=255$" + salt + "$" + key},
		{"short salt", "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$" + key},
		{"huge salt", "$argon2id$v=19$m=65536,t=2,p=1$" + strings.Repeat("A", 200) + "$" + key},
		{"short key", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$AAAAAAAAAAAAAAAAAAAA"},
		{"padded base64", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ=$" + key},
		{"URL alphabet", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + key[:20] + "-_" + key[22:]},
		{"non-canonical trailing bits", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHR$" + key},
		{"trailing newline", good + "\n"},
		{"newline inside key", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + key[:20] + "\n" + key[20:]},
		{"NUL", good + "\x00"},
		{"very long", good + strings.Repeat("A", 1<<20)},
	}
	h := testHasher(t, password.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(context.Background(), "password", tt.phc)
			if !errors.Is(err, password.ErrInvalidHash) || ok || rehash {
				t.Fatalf("Verify = %v, %v, %v; want ErrInvalidHash", ok, rehash, err)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("error %q reveals the stored key", err)
			}
		})
	}
}

// TestVerifyHugeMemoryDoesNotAllocate checks that out-of-bounds parameters
// are refused before Argon2 allocates its memory.
func TestVerifyHugeMemoryDoesNotAllocate(t *testing.T) {
	h := testHasher(t, password.Options{})
	for _, m := range []string{"4294967295", "262145", "9999999999"} {
		s := "$argon2id$v=19$m=" + m + ",t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := h.Verify(context.Background(), "password", s)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, password.ErrInvalidHash) {
			t.Errorf("m=%s: err = %v, want ErrInvalidHash", m, err)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
			t.Errorf("m=%s: allocated %d bytes before refusing", m, got)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	ctx := context.Background()
	old := testHasher(t, password.Options{Params: password.Params{Memory: 64, Iterations: 1}})
	stored := mustHash(t, old, "correct horse")
	tests := []struct {
		name   string
		params password.Params
		want   bool
	}{
		{"same params", password.Params{Memory: 64, Iterations: 1}, false},
		{"more memory", password.Params{Memory: 128, Iterations: 1}, true},
		{"more iterations", password.Params{Memory: 64, Iterations: 2}, true},
		{"more lanes", password.Params{Memory: 64, Iterations: 1, Parallelism: 2}, true},
		{"longer salt", password.Params{Memory: 64, Iterations: 1, SaltLength: 32}, true},
		{"longer key", password.Params{Memory: 64, Iterations: 1, KeyLength: 64}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHasher(t, password.Options{Params: tt.params})
			ok, rehash, err := h.Verify(ctx, "correct horse", stored)
			if !ok || rehash != tt.want || err != nil {
				t.Errorf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.want)
			}
			if ok, rehash, _ := h.Verify(ctx, "wrong horse", stored); ok || rehash {
				t.Errorf("wrong password: Verify = %v, %v; want false, false", ok, rehash)
			}
		})
	}
}

// TestVerifyForeignVectors checks interoperability with the Argon2
// reference implementation: each string was produced by the `argon2`
// command of Debian's argon2 package (0~20171227-0.3+deb12u1), e.g.
//
//	echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -e
func TestVerifyForeignVectors(t *testing.T) {
	tests := []struct {
		name, password, phc string
	}{
		{
			// echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -e
			"64 MiB", "password",
			"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		},
		{
			// printf 'p\xc3\xa4ssw\xc3\xb6rd' | argon2 'NaCl-sodium-chloride' -id -t 3 -k 1024 -p 2 -l 24 -e
			"two lanes, 24-byte key, non-ASCII", "p\u00e4ssw\u00f6rd",
			"$argon2id$v=19$m=1024,t=3,p=2$TmFDbC1zb2RpdW0tY2hsb3JpZGU$m6h7lp4sSoj2YqLDG71vO6E9HeKFPT9j",
		},
		{
			// The same password typed with combining diaeresis (NFD) is the
			// same password after NFKC normalization.
			"non-ASCII decomposed", "pa\u0308sswo\u0308rd",
			"$argon2id$v=19$m=1024,t=3,p=2$TmFDbC1zb2RpdW0tY2hsb3JpZGU$m6h7lp4sSoj2YqLDG71vO6E9HeKFPT9j",
		},
	}
	h := testHasher(t, password.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(context.Background(), tt.password, tt.phc)
			if !ok || !rehash || err != nil {
				t.Errorf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			if strings.Contains(tt.phc, "m=65536") {
				return // 64 MiB: once is enough (slow under -race)
			}
			if ok, _, _ := h.Verify(context.Background(), tt.password+"x", tt.phc); ok {
				t.Error("a different password verified")
			}
		})
	}
}

// TestDefaults exercises the zero Hasher, which uses OWASP's parameters,
// against a vector made at those parameters by the reference
// implementation:
//
//	echo -n 'correct horse battery staple' | argon2 saltsaltsaltsalt -id -t 2 -k 19456 -p 1 -l 32 -e
func TestDefaults(t *testing.T) {
	const vector = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$QKHrg5tayLGcN+Y0HVPNaBqykOVLUxlMkZycXE1uWRM"
	var h password.Hasher
	if got, want := h.Params(), password.DefaultParams(); got != want {
		t.Errorf("Params = %+v, want %+v", got, want)
	}
	if want := (password.Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}); password.DefaultParams() != want {
		t.Errorf("DefaultParams = %+v, want %+v", password.DefaultParams(), want)
	}
	// 256 MiB hold 13 hashes of 19 MiB; one computes per CPU.
	if got, want := h.Stats().Slots, min(13, runtime.GOMAXPROCS(0)); got != want {
		t.Errorf("Slots = %d, want %d (256 MiB / 19 MiB, at most one per CPU)", got, want)
	}
	if got := h.MemoryBudget(); got != password.DefaultMemoryBudget {
		t.Errorf("MemoryBudget = %d, want %d", got, password.DefaultMemoryBudget)
	}
	ok, rehash, err := h.Verify(context.Background(), "correct horse battery staple", vector)
	if !ok || rehash || err != nil {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	s, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("Hash = %q, want default parameters", s)
	}
}

func TestNewHasherOptions(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name      string
		opts      password.Options
		wantSlots int
		wantErr   error // nil: any error; only checked when wantSlots == 0
	}{
		{"defaults, many CPUs", password.Options{MaxConcurrent: 64}, 13, nil},
		{"defaults", password.Options{}, min(13, runtime.GOMAXPROCS(0)), nil},
		{"budget of 100 MiB", password.Options{MemoryBudget: 100 * mib, MaxConcurrent: 64}, 5, nil},
		{"budget below one hash", password.Options{MemoryBudget: 1 * mib, MaxConcurrent: 64}, 1, nil},
		{"OWASP 46 MiB, t=1", password.Options{Params: password.Params{Memory: 47104, Iterations: 1}, MemoryBudget: 92 * mib, MaxConcurrent: 64}, 2, nil},
		{"OWASP 7 MiB, t=5", password.Options{Params: password.Params{Memory: 7168, Iterations: 5}, MaxConcurrent: 64}, 36, nil},
		{"three CPUs", password.Options{MaxConcurrent: 3}, 3, nil},
		{"two lanes a hash, five CPUs", password.Options{Params: password.Params{Parallelism: 2}, MaxConcurrent: 5}, 2, nil},
		{"more lanes than CPUs", password.Options{Params: password.Params{Parallelism: 4}, MaxConcurrent: 2}, 1, nil},
		{"negative concurrency", password.Options{MaxConcurrent: -1}, 0, nil},
		{"memory below floor", password.Options{Params: password.Params{Memory: 4096, Iterations: 10}}, 0, password.ErrWeakParams},
		{"work below floor", password.Options{Params: password.Params{Memory: 7168, Iterations: 4}}, 0, password.ErrWeakParams},
		{"short salt", password.Options{Params: password.Params{SaltLength: 8}}, 0, password.ErrWeakParams},
		{"memory above bound", password.Options{Params: password.Params{Memory: 512 * 1024, Iterations: 1}}, 0, nil},
		{"key too long", password.Options{Params: password.Params{KeyLength: 128}}, 0, nil},
		{"negative budget", password.Options{MemoryBudget: -1}, 0, nil},
		{"negative wait", password.Options{MaxWait: -time.Second}, 0, nil},
		{"negative waiting", password.Options{MaxWaiting: -1}, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := password.NewHasher(tt.opts)
			if tt.wantSlots == 0 {
				if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("NewHasher error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := h.Stats().Slots; got != tt.wantSlots {
				t.Errorf("Slots = %d, want %d", got, tt.wantSlots)
			}
		})
	}
}

func TestVerifyDummy(t *testing.T) {
	ctx := context.Background()
	h := testHasher(t, password.Options{Params: password.Params{Memory: 4096, Iterations: 1}})
	stored := mustHash(t, h, "correct horse")
	if err := h.VerifyDummy(ctx, "correct horse"); err != nil {
		t.Fatalf("VerifyDummy: %v", err)
	}
	// VerifyDummy must cost what Verify of a wrong password costs. Wall
	// time is no fit for a unit test, so compare the work itself: Argon2id
	// allocates its whole memory cost on every run, so equal parameters
	// show as equal bytes allocated.
	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	real := allocated(func() { h.Verify(ctx, "wrong horse", stored) })
	dummy := allocated(func() { h.VerifyDummy(ctx, "wrong horse") })
	if real < 4096*1024 || dummy < real*9/10 || dummy > real*11/10 {
		t.Errorf("VerifyDummy allocates %d bytes, Verify %d: not the same work", dummy, real)
	}
}

func TestCanceledContext(t *testing.T) {
	h := testHasher(t, password.Options{})
	stored := mustHash(t, h, "correct horse")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "correct horse"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash error = %v, want context.Canceled", err)
	}
	if _, _, err := h.Verify(ctx, "correct horse", stored); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify error = %v, want context.Canceled", err)
	}
}

// slowParams make one operation take a few milliseconds, so that
// concurrent callers really overlap.
var slowParams = password.Params{Memory: 4096, Iterations: 1}

// verifyAll runs n verifications at once and returns their errors.
func verifyAll(t *testing.T, h *password.Hasher, stored string, n int) []error {
	t.Helper()
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			ok, _, err := h.Verify(context.Background(), "correct horse", stored)
			if err == nil && !ok {
				err = errors.New("password did not verify")
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func TestConcurrencyBound(t *testing.T) {
	const slots = 4
	h := testHasher(t, password.Options{
		Params:        slowParams,
		MemoryBudget:  slots * int64(slowParams.Memory) * 1024,
		MaxWait:       time.Minute,
		MaxWaiting:    100,
		MaxConcurrent: 64, // the memory budget binds
	})
	stored := mustHash(t, h, "correct horse")
	for i, err := range verifyAll(t, h, stored, 50) {
		if err != nil {
			t.Errorf("verification %d: %v", i, err)
		}
	}
	st := h.Stats()
	if st.Slots != slots || st.PeakInFlight > slots || st.PeakInFlight < 1 {
		t.Errorf("Slots = %d, PeakInFlight = %d; want %d slots and a peak of 1..%d", st.Slots, st.PeakInFlight, slots, slots)
	}
	if st.InFlight != 0 || st.Waiting != 0 || st.Busy != 0 {
		t.Errorf("after the run: %+v, want nothing in flight, waiting or refused", st)
	}
	t.Logf("peak in flight: %d of %d", st.PeakInFlight, slots)
}

func TestBusy(t *testing.T) {
	tests := []struct {
		name string
		opts password.Options
	}{
		{"tiny MaxWait", password.Options{MaxWait: time.Microsecond, MaxWaiting: 100}},
		{"short queue", password.Options{MaxWait: time.Minute, MaxWaiting: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const slots = 4
			tt.opts.Params = slowParams
			tt.opts.MemoryBudget = slots * int64(slowParams.Memory) * 1024
			tt.opts.MaxConcurrent = 64
			h := testHasher(t, tt.opts)
			stored := mustHash(t, h, "correct horse")
			var passed, busy int
			for _, err := range verifyAll(t, h, stored, 50) {
				switch {
				case err == nil:
					passed++
				case errors.Is(err, password.ErrBusy):
					busy++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
			st := h.Stats()
			if busy == 0 || passed == 0 || uint64(busy) != st.Busy {
				t.Errorf("%d passed, %d busy, Stats.Busy = %d; want some of each, counted", passed, busy, st.Busy)
			}
			if st.PeakInFlight > slots {
				t.Errorf("PeakInFlight = %d, want at most %d", st.PeakInFlight, slots)
			}
		})
	}
}

// TestLargeStoredHashRunsAlone checks that a stored hash needing more
// memory than the whole budget still verifies, taking the whole budget.
func TestLargeStoredHashRunsAlone(t *testing.T) {
	h := testHasher(t, password.Options{MemoryBudget: 4 * 64 * 1024}) // 4 slots of 64 KiB
	big := testHasher(t, password.Options{Params: password.Params{Memory: 1024, Iterations: 1}})
	stored := mustHash(t, big, "correct horse")
	for i, err := range verifyAll(t, h, stored, 8) {
		if err != nil {
			t.Errorf("verification %d: %v", i, err)
		}
	}
	if st := h.Stats(); st.PeakInFlight != 1 {
		t.Errorf("PeakInFlight = %d, want 1", st.PeakInFlight)
	}
}

// TestConcurrencyBoundByCPUs: with room in the budget for many hashes, no
// more than MaxConcurrent lanes compute at once, and the rest wait their
// turn instead of failing.
func TestConcurrencyBoundByCPUs(t *testing.T) {
	for _, tt := range []struct {
		name          string
		params        password.Params
		maxConcurrent int
		wantSlots     int
	}{
		{"one lane each", slowParams, 2, 2},
		{"two lanes each", password.Params{Memory: 4096, Iterations: 1, Parallelism: 2}, 3, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := testHasher(t, password.Options{
				Params:        tt.params,
				MemoryBudget:  64 << 20, // room for 16
				MaxWait:       time.Minute,
				MaxWaiting:    100,
				MaxConcurrent: tt.maxConcurrent,
			})
			stored := mustHash(t, h, "correct horse")
			for i, err := range verifyAll(t, h, stored, 30) {
				if err != nil {
					t.Errorf("verification %d: %v", i, err)
				}
			}
			st := h.Stats()
			if st.Slots != tt.wantSlots || st.PeakInFlight > tt.wantSlots || st.Busy != 0 {
				t.Errorf("%+v: want %d slots, a peak of at most %d, nothing refused", st, tt.wantSlots, tt.wantSlots)
			}
		})
	}
}

// TestStoredHashWithMoreLanesRunsAlone: a stored hash computing more
// lanes than MaxConcurrent still verifies, alone.
func TestStoredHashWithMoreLanesRunsAlone(t *testing.T) {
	h := testHasher(t, password.Options{MaxConcurrent: 2, MemoryBudget: 64 << 20})
	wide := testHasher(t, password.Options{Params: password.Params{Memory: 256, Iterations: 1, Parallelism: 4}, MaxConcurrent: 4})
	stored := mustHash(t, wide, "correct horse")
	for i, err := range verifyAll(t, h, stored, 8) {
		if err != nil {
			t.Errorf("verification %d: %v", i, err)
		}
	}
	if st := h.Stats(); st.PeakInFlight != 1 {
		t.Errorf("PeakInFlight = %d, want 1", st.PeakInFlight)
	}
}

// TestMemoryBudgetAsConfigured: MemoryBudget reports the configured
// budget, not the part whole hashes use.
func TestMemoryBudgetAsConfigured(t *testing.T) {
	h := testHasher(t, password.Options{MemoryBudget: 100 << 20})
	if got := h.MemoryBudget(); got != 100<<20 {
		t.Errorf("MemoryBudget = %d, want %d", got, 100<<20)
	}
	var zero password.Hasher
	if got := zero.MemoryBudget(); got != password.DefaultMemoryBudget {
		t.Errorf("zero Hasher: MemoryBudget = %d, want %d", got, password.DefaultMemoryBudget)
	}
}
