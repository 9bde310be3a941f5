//go:build unix

package message

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFromFileFIFO checks that a file that cannot be read twice (a FIFO, as
// from "--data @<(cmd)") is copied once and can still be opened again.
func TestFromFileFIFO(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		f.WriteString("Subject: fifo\n\nbody\n")
		f.Close()
	}()
	p, err := FromFile(path, DataOptions{TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const want = "Subject: fifo\r\n\r\nbody\r\n"
	for range 2 {
		if got := content(t, p); got != want {
			t.Errorf("content = %q, want %q", got, want)
		}
	}
}
