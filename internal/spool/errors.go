package spool

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotFound is returned by Get, Retry and Remove for an ID that names no
// entry (never did, or its work is done and it was removed).
var ErrNotFound = errors.New("spool: no such entry")

// ErrLocked is returned by Retry and Remove when another process (a flush)
// holds the entry's lock; AttemptNow returns it too.
var ErrLocked = errors.New("spool: entry is locked by another process")

// Error is a filesystem failure in the spool: Op is what was being done
// ("mkdir", "create", "write", "fsync", "close", "link", "rename", "open",
// "read", "lock"), Path the file or directory, Err the cause (usually a
// syscall.Errno). Full is set when the cause is ENOSPC or EDQUOT.
//
// The CLI exits 73 (cannot create) when Create reports true and 74 (I/O
// error) otherwise.
type Error struct {
	Op   string
	Path string
	Err  error
	Full bool
}

func (e *Error) Error() string { return "spool: " + e.Op + " " + e.Path + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Create reports whether the spool could not create a directory or file
// at all (mkdir, create, link, or a permission problem), as opposed to a
// failure while writing or syncing one.
func (e *Error) Create() bool {
	switch e.Op {
	case "mkdir", "create", "link":
		return true
	}
	return errors.Is(e.Err, syscall.EACCES) || errors.Is(e.Err, syscall.EPERM) || errors.Is(e.Err, syscall.EROFS)
}

// newError wraps err for op on path, peeling off the os wrappers because
// Error names the operation and the path already.
func newError(op, path string, err error) *Error {
	var (
		pe *fs.PathError
		le *os.LinkError
		se *os.SyscallError
	)
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	case errors.As(err, &se):
		err = se.Err
	}
	return &Error{Op: op, Path: path, Err: err, Full: errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)}
}
