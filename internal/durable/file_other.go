//go:build !unix

package durable

import "os"

// CreateRaw is CreateExcl behind the File interface; on Unix it bypasses
// the os package. Errors are *fs.PathError, so errors.Is(err, fs.ErrExist)
// works.
func CreateRaw(path string) (File, error) {
	f, err := CreateExcl(path)
	if err != nil {
		// A nil *os.File in a File would not compare equal to nil.
		return nil, err
	}
	return f, nil
}

// SyncDir fsyncs the directory dir where the platform allows it, so the
// names added to or removed from it are durable. The close is checked too.
// Errors are *Error with Op "open", "fsync" or "close".
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return NewError("open", dir, err)
	}
	return SyncClose(d, dir)
}
