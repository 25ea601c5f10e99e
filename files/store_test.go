package files_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/wardenhq/warden/files"
)

func TestStoreCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "media")
	st, err := files.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if fi, err := os.Stat(dir); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700) {
		t.Fatalf("directory: %v, %v", fi.Mode(), err)
	}

	seen := map[string]bool{}
	for range 50 {
		name, err := st.Create(".png", []byte("data"))
		if err != nil {
			t.Fatal(err)
		}
		if !files.ValidName(name) || !strings.HasSuffix(name, ".png") || len(name) != 26+4 {
			t.Fatalf("name %q", name)
		}
		if seen[name] {
			t.Fatalf("name %q repeated", name)
		}
		seen[name] = true
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
			t.Errorf("mode %v", fi.Mode())
		}
		if got, _ := os.ReadFile(filepath.Join(dir, name)); string(got) != "data" {
			t.Errorf("content %q", got)
		}
	}

	for _, ext := range []string{"", "png", ".", ".PNG", "./x", ".p/g", ".averyverylongext", "/../x"} {
		if name, err := st.Create(ext, nil); err == nil {
			t.Errorf("Create(%q) = %q", ext, name)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 50 {
		t.Errorf("%d entries; refused Creates must leave nothing", len(entries))
	}
}

func TestStoreRemove(t *testing.T) {
	dir := t.TempDir()
	st, err := files.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	name, err := st.Create(".png", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Remove(name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("still there: %v", err)
	}
	if err := st.Remove(name); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}

	// Files the store did not make, and names that are not its form, are
	// out of its reach.
	os.WriteFile(filepath.Join(dir, "keep.txt"), []byte("k"), 0o600)
	dirName := strings.Repeat("a", 26) + ".png"
	os.Mkdir(filepath.Join(dir, dirName), 0o700)
	for _, n := range []string{"keep.txt", "../" + name, "/etc/passwd", "", strings.ToUpper(name), "AAAAAAAAAAAAAAAAAAAAAAAAAA.png", strings.Repeat("a", 26) + "1.png"} {
		if err := st.Remove(n); !errors.Is(err, files.ErrName) {
			t.Errorf("Remove(%q) = %v, want ErrName", n, err)
		}
	}
	if err := st.Remove(dirName); !errors.Is(err, files.ErrName) {
		t.Errorf("Remove of a directory = %v, want ErrName", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keep.txt")); err != nil {
		t.Error("keep.txt was removed")
	}
	if _, err := os.Stat(filepath.Join(dir, dirName)); err != nil {
		t.Error("the directory was removed")
	}
}

func TestStoreRemoveDoesNotFollowSymlinks(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "victim.png")
	os.WriteFile(outside, []byte("v"), 0o600)
	dir := filepath.Join(base, "media")
	st, err := files.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	link := strings.Repeat("b", 26) + ".png"
	if err := os.Symlink(outside, filepath.Join(dir, link)); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	if err := st.Remove(link); !errors.Is(err, files.ErrName) {
		t.Errorf("Remove of a symlink = %v, want ErrName", err)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Error("the symlink's target was removed")
	}
}

func TestNewName(t *testing.T) {
	a, err := files.NewName(".webp")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := files.NewName(".webp")
	if a == b || !files.ValidName(a) || !strings.HasSuffix(a, ".webp") {
		t.Errorf("names %q, %q", a, b)
	}
	for _, n := range []string{"", ".png", "abc.png", strings.Repeat("a", 26), strings.Repeat("a", 26) + ".", strings.Repeat("a", 26) + ".png/", strings.Repeat("0", 26) + ".png", strings.Repeat("a", 27) + ".png"} {
		if files.ValidName(n) {
			t.Errorf("ValidName(%q) = true", n)
		}
	}
}
