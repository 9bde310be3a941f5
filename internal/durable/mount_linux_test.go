package durable

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// TestReadOnly: every step that would change a read-only filesystem is an
// *Error with EROFS, named after the path it could not change.
func TestReadOnly(t *testing.T) {
	mnt := smtptest.Tmpfs(t, "1m")
	src := filepath.Join(mnt, "src")
	if err := os.WriteFile(src, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	smtptest.RemountTmpfs(t, mnt, "1m", true)
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
	path := filepath.Join(smtptest.Tmpfs(t, "64k"), "f")
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
