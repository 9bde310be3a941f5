//go:build !unix

package maildir

import "os"

// createExcl creates path with O_EXCL and mode 0600 for writing.
func createExcl(path string) (tmpFile, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// syncDir fsyncs a directory so the entries added to it are durable. The
// close is checked too.
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
