// Package durable holds the file-system steps that spool and maildir share
// to store a file so that it survives a crash (README,
// "Development"): a file's content is durable once the file is fsynced
// and its close has succeeded; a name added to (or removed from) a
// directory is durable once the directory is fsynced.
//
// Directories are created with mode 0700 and files with mode 0600 (before
// umask). Failures are *Error unless a function says otherwise.
package durable

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// File is a file being written durably: an *os.File, or what CreateRaw
// returns.
type File interface {
	io.Writer
	Sync() error
	Close() error
}

// CreateExcl creates path for writing with O_EXCL and mode 0600 (before
// umask). Errors are the *fs.PathError of os.OpenFile, not *Error, so that
// errors.Is(err, fs.ErrExist) tells a taken name apart and the caller can
// pick another.
func CreateExcl(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// SyncClose fsyncs and closes f (at path), checking both: a write error
// may surface only at fsync or close (NFS, quotas). f is closed on every
// path. Errors are *Error with Op "fsync" or "close".
func SyncClose(f File, path string) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return NewError("fsync", path, err)
	}
	if err := f.Close(); err != nil {
		return NewError("close", path, err)
	}
	return nil
}

// MkdirAll creates the directory path and any missing parent, each with
// mode 0700, and fsyncs the parent of every directory it creates, so the
// new directories survive a crash together with what is then stored in
// them. Existing directories are left as they are, also one that another
// process creates meanwhile. A path naming something that is not a
// directory is an *Error with Op "mkdir" and ENOTDIR; a failing fsync of a
// parent is SyncDir's *Error.
func MkdirAll(path string) error {
	path = filepath.Clean(path)
	fi, err := os.Stat(path)
	if err == nil {
		if !fi.IsDir() {
			return NewError("mkdir", path, syscall.ENOTDIR)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return NewError("mkdir", path, err)
	}
	parent := filepath.Dir(path)
	if parent != path {
		if err := MkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		// Another process (or session) may have created it meanwhile.
		if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
			return nil
		}
		return NewError("mkdir", path, err)
	}
	return SyncDir(parent)
}

// Rename renames oldpath to newpath, replacing a file already there, and
// fsyncs newpath's directory so the new name is durable. oldpath's
// directory is not fsynced: after a crash the old name may come back, which
// suits a file renamed out of a scratch folder whose leftovers are
// garbage. A failed rename is an *Error with Op "rename" and Path newpath;
// a failed fsync is SyncDir's *Error (the rename has then happened).
func Rename(oldpath, newpath string) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return NewError("rename", newpath, err)
	}
	return SyncDir(filepath.Dir(newpath))
}
