package smtptest

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestTmpfs: the mount is a small filesystem of its own: FillUp fills it
// (ENOSPC after), RemountTmpfs makes it read-only (EROFS) and writable again.
func TestTmpfs(t *testing.T) {
	dir := Tmpfs(t, "64k")
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Type != 0x01021994 { // TMPFS_MAGIC
		t.Fatalf("statfs %s: type %#x, %v", dir, st.Type, err)
	}
	filler := FillUp(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "more"), make([]byte, 8192), 0o600); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a full tmpfs: %v, want ENOSPC", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	RemountTmpfs(t, dir, "64k", true)
	if err := os.WriteFile(filepath.Join(dir, "x"), []byte("x"), 0o600); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("write on a read-only tmpfs: %v, want EROFS", err)
	}
	RemountTmpfs(t, dir, "64k", false)
	if err := os.WriteFile(filepath.Join(dir, "x"), []byte("x"), 0o600); err != nil {
		t.Fatalf("write after remounting writable: %v", err)
	}
}
