package spool

import (
	"errors"
	"syscall"

	"github.com/smtpkit/smtpkit/internal/durable"
)

// ErrNotFound is returned by Get, Retry and Remove for an ID that names no
// entry (never did, or its work is done and it was removed).
var ErrNotFound = errors.New("spool: no such entry")

// ErrLocked is returned by Retry and Remove when another process (a flush)
// holds the entry's lock; AttemptNow returns it too.
var ErrLocked = errors.New("spool: entry is locked by another process")

// Error is a filesystem failure in the spool: Op is what was being done
// ("mkdir", "create", "write", "fsync", "close", "link", "rename", "open",
// "read", "lock", "remove"), Path the file or directory, Err the cause (usually a
// syscall.Errno). Full is set when the cause is ENOSPC or EDQUOT.
//
// The CLI exits 73 (cannot create) when Create reports true and 74 (I/O
// error) otherwise.
//
// Its fields and wrapping are durable.Error's; the spool adds its prefix
// and Create.
type Error durable.Error

func (e *Error) Error() string { return "spool: " + (*durable.Error)(e).Error() }

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
	return (*Error)(durable.NewError(op, path, err))
}

// wrap gives a *durable.Error the spool's type; other errors, and nil,
// pass unchanged.
func wrap(err error) error {
	if de, ok := err.(*durable.Error); ok {
		return (*Error)(de)
	}
	return err
}
