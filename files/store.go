package files

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// nameLen is the length of a random name without its extension: 26
// base32 characters, the 128 bits crypto/rand.Text provides.
const nameLen = 26

// ErrName is returned for a file name Store did not (or could not) make.
var ErrName = errors.New("files: not a name this store creates")

// Store writes new files into one directory under names it chooses, and
// removes them. It is safe for concurrent use. Close releases the
// directory.
type Store struct {
	root *os.Root
}

// OpenStore opens dir for writing, creating it (mode 0700) if it is
// missing: the directory and the files in it belong to the server process
// alone.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	return &Store{root: root}, nil
}

// Close releases the directory.
func (s *Store) Close() error { return s.root.Close() }

// NewName returns a random file name with extension ext (such as ".png"):
// 128 bits from crypto/rand in lower-case base32, so that names can be
// neither guessed nor chosen by a client, and carry nothing of what the
// client sent (its file name, its user name).
func NewName(ext string) (string, error) {
	if !validExt(ext) {
		return "", fmt.Errorf("files: extension %q must be a dot and 1 to 10 lower-case letters or digits", ext)
	}
	// Lower case because some file systems fold case: two names must not
	// collide there while differing here.
	return strings.ToLower(rand.Text()) + ext, nil
}

// Create writes data to a new file with a random name (NewName) and
// extension ext, and returns the name. The file is created exclusively
// (an existing file is never overwritten, not even through a symlink) with
// mode 0600, and synced before Create returns, so that a name stored in a
// database after Create does not point at an empty file after a crash.
// On error nothing is left behind.
func (s *Store) Create(ext string, data []byte) (string, error) {
	name, err := NewName(ext)
	if err != nil {
		return "", err
	}
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		// A collision of 128 random bits is not worth a retry loop; an
		// error here is the file system's.
		return "", fmt.Errorf("files: create: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.root.Remove(name)
		return "", fmt.Errorf("files: write: %w", err)
	}
	return name, nil
}

// Remove deletes the file name, which must have the form Create returns
// (ErrName otherwise), so that a corrupted or forged reference can remove
// nothing else in the directory. A name that no longer exists is not an
// error: replacing an avatar whose old file is already gone succeeds.
func (s *Store) Remove(name string) error {
	if !ValidName(name) {
		return ErrName
	}
	fi, err := s.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("files: remove: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("files: remove: %w", ErrName)
	}
	if err := s.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("files: remove: %w", err)
	}
	return nil
}

// ValidName reports whether name has the form NewName produces: 26
// lower-case base32 characters and an extension. A handler can check a
// name taken from a URL with it before looking further.
func ValidName(name string) bool {
	if len(name) <= nameLen || !validExt(name[nameLen:]) {
		return false
	}
	for i := 0; i < nameLen; i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

func validExt(ext string) bool {
	if len(ext) < 2 || len(ext) > 11 || ext[0] != '.' {
		return false
	}
	for i := 1; i < len(ext); i++ {
		if c := ext[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
