//go:build !unix

package spool

import (
	"os"
)

// createExcl creates path with O_EXCL and mode 0600 for writing.
func createExcl(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// syncDir fsyncs a directory where the platform allows it.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return newError("open", dir, err)
	}
	err = d.Sync()
	cerr := d.Close()
	if err != nil {
		return newError("fsync", dir, err)
	}
	if cerr != nil {
		return newError("close", dir, cerr)
	}
	return nil
}

// lockFile has no flock(2) here: every lock succeeds, so concurrent
// flushes are not kept apart on this platform.
func lockFile(*os.File) (bool, error) { return true, nil }
