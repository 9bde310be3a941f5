//go:build unix

package durable

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSyncDirNotADirectory: on Unix the directory is opened with
// O_DIRECTORY, so a file is refused at the open step.
func TestSyncDirNotADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantError(t, SyncDir(file), "open", file, syscall.ENOTDIR)
}

// TestRawFileClosed: a raw file refuses work once closed.
func TestRawFileClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := CreateRaw(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, syscall.EBADF) {
		t.Errorf("write after close: %v", err)
	}
	if err := f.Sync(); !errors.Is(err, syscall.EBADF) {
		t.Errorf("fsync after close: %v", err)
	}
}

func TestRetryEINTR(t *testing.T) {
	calls := 0
	n, err := retryEINTR(func() (int, error) {
		calls++
		if calls < 3 {
			return -1, syscall.EINTR
		}
		return 7, nil
	})
	if n != 7 || err != nil || calls != 3 {
		t.Errorf("got %d, %v after %d calls", n, err, calls)
	}
	_, err = retryEINTR(func() (int, error) { return -1, syscall.EIO })
	if err != syscall.EIO {
		t.Errorf("EIO: %v", err)
	}
}
