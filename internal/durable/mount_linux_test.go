package durable

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs of the given size on a fresh directory and
// unmounts it when the test ends; it skips the test when it cannot.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs needs root (CI runs as root)")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Skipf("skipped: mount -t tmpfs -o size=%s tmpfs %s: %v (no CAP_SYS_ADMIN here?)", size, dir, err)
	}
	// Registered after t.TempDir's removal, so it runs before it.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("umount %s: %v", dir, err)
		}
	})
	return dir
}

// TestReadOnly: every step that would change a read-only filesystem is an
// *Error with EROFS, named after the path it could not change.
func TestReadOnly(t *testing.T) {
	mnt := mountTmpfs(t, "1m")
	src := filepath.Join(mnt, "src")
	if err := os.WriteFile(src, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("", mnt, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("skipped: remount read-only: %v", err)
	}
	sub := filepath.Join(mnt, "a")
	wantError(t, MkdirAll(filepath.Join(sub, "b")), "mkdir", sub, syscall.EROFS)
	dst := filepath.Join(mnt, "dst")
	wantError(t, Rename(src, dst), "rename", dst, syscall.EROFS)
	if _, err := CreateRaw(dst); !errors.Is(err, syscall.EROFS) {
		t.Errorf("CreateRaw: %v", err)
	}
	// Nothing changes, so there is nothing to fsync, and nothing fails.
	if err := SyncDir(mnt); err != nil {
		t.Errorf("SyncDir: %v", err)
	}
	if err := MkdirAll(mnt); err != nil {
		t.Errorf("MkdirAll of an existing directory: %v", err)
	}
}

// TestDiskFull: a write that does not fit gives ENOSPC, which NewError
// marks Full.
func TestDiskFull(t *testing.T) {
	path := filepath.Join(mountTmpfs(t, "64k"), "f")
	f, err := CreateRaw(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Write(bytes.Repeat([]byte("x"), 1<<20))
	f.Close()
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != path {
		t.Fatalf("write: %v (%T), want *fs.PathError", err, err)
	}
	if e := NewError("write", path, err); !e.Full || e.Err != syscall.ENOSPC {
		t.Errorf("%v: Full %v", e, e.Full)
	}
}
