package smtptest

import (
	"io/fs"
	"os"
	"testing"
)

// WantMode fails t unless path's permission bits are want (0600 files,
// 0700 directories: what spool, maildir and journals create).
func WantMode(t testing.TB, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}
