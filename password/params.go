package password

import (
	"errors"
	"fmt"
)

// Params are the Argon2id cost parameters of a hash. They are written into
// every PHC string, so a hash stays verifiable after the parameters of a
// Hasher change; Verify then reports that it needs a rehash.
type Params struct {
	// Memory is the memory cost in KiB. 0 means 19456 (19 MiB).
	Memory uint32
	// Iterations is the number of passes over the memory. 0 means 2.
	Iterations uint32
	// Parallelism is the number of lanes (and goroutines). 0 means 1.
	Parallelism uint8
	// SaltLength is the length in bytes of the random salt. 0 means 16.
	SaltLength uint32
	// KeyLength is the length in bytes of the derived key. 0 means 32.
	KeyLength uint32
}

// Default parameters: OWASP's recommended Argon2id configuration
// (m=19 MiB, t=2, p=1) with a 128-bit salt and a 256-bit key.
const (
	DefaultMemory      = 19456
	DefaultIterations  = 2
	DefaultParallelism = 1
	DefaultSaltLength  = 16
	DefaultKeyLength   = 32
)

// DefaultParams returns the parameters a zero Params stands for.
func DefaultParams() Params {
	return Params{
		Memory:      DefaultMemory,
		Iterations:  DefaultIterations,
		Parallelism: DefaultParallelism,
		SaltLength:  DefaultSaltLength,
		KeyLength:   DefaultKeyLength,
	}
}

// withDefaults replaces each zero field by its default.
func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Iterations == 0 {
		p.Iterations = d.Iterations
	}
	if p.Parallelism == 0 {
		p.Parallelism = d.Parallelism
	}
	if p.SaltLength == 0 {
		p.SaltLength = d.SaltLength
	}
	if p.KeyLength == 0 {
		p.KeyLength = d.KeyLength
	}
	return p
}

// Bounds on the parameters of a stored hash. A PHC string outside them is
// refused before anything is allocated, so a tampered or foreign row
// cannot make a verification use more than 256 MiB, more than about four
// passes over 256 MiB of work, or more than 16 goroutines.
const (
	maxMemory      = 256 * 1024 // KiB
	maxIterations  = 32
	maxParallelism = 16
	maxWork        = 4 * maxMemory // Memory × Iterations, in KiB passes
	minSaltLength  = 8             // RFC 9106 §3.1
	maxSaltLength  = 64
	minKeyLength   = 16
	maxKeyLength   = 64
)

// Floors for the parameters of new hashes: OWASP's weakest listed Argon2id
// configuration is m=7 MiB with t=5; every configuration it lists spends at
// least 7168×5 KiB passes.
const (
	minNewMemory     = 7 * 1024
	minNewWork       = 7 * 1024 * 5
	minNewSaltLength = 16
)

// ErrWeakParams is returned by NewHasher for parameters below the floor a
// new hash must meet.
var ErrWeakParams = errors.New("password: Argon2id parameters too weak")

// checkStored reports whether p lies within the bounds accepted from a
// stored hash.
func (p Params) checkStored() error {
	switch {
	case p.Parallelism < 1 || p.Parallelism > maxParallelism:
		return fmt.Errorf("parallelism %d outside 1..%d", p.Parallelism, maxParallelism)
	case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB outside %d..%d", p.Memory, 8*uint32(p.Parallelism), maxMemory)
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return fmt.Errorf("iterations %d outside 1..%d", p.Iterations, maxIterations)
	case uint64(p.Memory)*uint64(p.Iterations) > maxWork:
		return fmt.Errorf("memory × iterations %d above %d", uint64(p.Memory)*uint64(p.Iterations), maxWork)
	case p.SaltLength < minSaltLength || p.SaltLength > maxSaltLength:
		return fmt.Errorf("salt of %d bytes outside %d..%d", p.SaltLength, minSaltLength, maxSaltLength)
	case p.KeyLength < minKeyLength || p.KeyLength > maxKeyLength:
		return fmt.Errorf("key of %d bytes outside %d..%d", p.KeyLength, minKeyLength, maxKeyLength)
	}
	return nil
}

// checkNew reports whether p (with defaults applied) may be used for new
// hashes: within the stored bounds, so every hash it makes can be verified,
// and at or above the floor.
func (p Params) checkNew() error {
	if err := p.checkStored(); err != nil {
		return fmt.Errorf("password: invalid Argon2id parameters: %s", err)
	}
	switch {
	case p.Memory < minNewMemory:
		return fmt.Errorf("%w: memory %d KiB is below %d KiB (7 MiB)", ErrWeakParams, p.Memory, minNewMemory)
	case uint64(p.Memory)*uint64(p.Iterations) < minNewWork:
		return fmt.Errorf("%w: memory × iterations %d is below %d (OWASP: 7 MiB with t=5, 19 MiB with t=2, 46 MiB with t=1)",
			ErrWeakParams, uint64(p.Memory)*uint64(p.Iterations), minNewWork)
	case p.SaltLength < minNewSaltLength:
		return fmt.Errorf("%w: salt of %d bytes is below %d", ErrWeakParams, p.SaltLength, minNewSaltLength)
	}
	return nil
}
