package smtptest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of size (mount -t tmpfs -o size=SIZE,mode=0700: "64k",
// "1m") on a fresh directory, for disk-full and read-only tests, and
// unmounts it when the test ends. Where mounting is not permitted (not
// root, no CAP_SYS_ADMIN) the test skips, or fails under RequirePeers.
// Call it before starting anything that uses the mount: cleanups run last
// registered first, so the unmount comes after they stop.
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	skip := t.Skipf
	if RequirePeers() {
		skip = t.Fatalf
	}
	if os.Geteuid() != 0 {
		skip("a small tmpfs needs root to mount (CI runs as root; SMTPKIT_REQUIRE_PEERS=1 makes this a failure)")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		skip("mount -t tmpfs -o size=%s tmpfs %s: %v (no CAP_SYS_ADMIN here?)", size, dir, err)
	}
	// Registered after t.TempDir's removal, so it runs before it; made
	// writable first in case the test left it read-only.
	t.Cleanup(func() {
		_ = syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size="+size)
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("smtptest: umount %s: %v", dir, err)
		}
	})
	return dir
}

// RemountTmpfs makes the tmpfs Tmpfs mounted on dir read-only, or writable
// again.
func RemountTmpfs(t testing.TB, dir, size string, readOnly bool) {
	t.Helper()
	flags := uintptr(syscall.MS_REMOUNT)
	if readOnly {
		flags |= syscall.MS_RDONLY
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, "size="+size); err != nil {
		t.Fatalf("smtptest: remount %s (read-only %v): %v", dir, readOnly, err)
	}
}

// FillUp writes a file in dir until the filesystem is full (ENOSPC) and
// returns its path; removing it gives the space back.
func FillUp(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte("x"), 4096)
	for i := 0; ; i++ {
		if i > 1<<20 {
			t.Fatal("smtptest: the filesystem never filled up")
		}
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// The last partial page too.
	for n := 2048; n > 0; n /= 2 {
		_, _ = f.Write(chunk[:n])
	}
	return path
}
