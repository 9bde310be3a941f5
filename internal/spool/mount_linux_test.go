package spool

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs with the given options on a fresh directory and
// unmounts it when the test ends; it skips the test when it cannot.
func mountTmpfs(t *testing.T, flags uintptr, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs needs root (CI runs as root)")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, opts); err != nil {
		t.Skipf("skipped: mount -t tmpfs -o %s tmpfs %s: %v (no CAP_SYS_ADMIN here?)", opts, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("umount %s: %v", dir, err)
		}
	})
	return dir
}

// TestEnqueueDiskFull: a message that does not fit gives an *Error with
// Full set (the CLI exits 74) and leaves nothing behind; a small one still
// goes in afterwards.
func TestEnqueueDiskFull(t *testing.T) {
	c := newClock()
	s := openSpool(t, filepath.Join(mountTmpfs(t, 0, "size=256k,mode=0700"), "spool"), c, Options{})
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	_, err := s.Enqueue(context.Background(), bytes.NewReader(big), "a@example.net", []string{"b@example.com"})
	var e *Error
	if !errors.As(err, &e) || !e.Full || e.Create() || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("error %v (%T), want a full-disk *Error", err, err)
	}
	for _, d := range []string{"queue", "tmp"} {
		if got := dirNames(t, filepath.Join(s.Dir(), d)); len(got) != 0 {
			t.Errorf("%s/ holds %v", d, got)
		}
	}
	if _, err := s.Enqueue(context.Background(), strings.NewReader(testMsg), "a@example.net", []string{"b@example.com"}); err != nil {
		t.Fatalf("small message after a full disk: %v", err)
	}
}

// TestOpenReadOnly: a spool that cannot be created is an *Error that says
// Create (the CLI exits 73).
func TestOpenReadOnly(t *testing.T) {
	dir := mountTmpfs(t, syscall.MS_RDONLY, "size=64k")
	_, err := Open(filepath.Join(dir, "spool"), Options{})
	var e *Error
	if !errors.As(err, &e) || !e.Create() || !errors.Is(err, syscall.EROFS) {
		t.Fatalf("error %v (%T), want a create *Error with EROFS", err, err)
	}
}
