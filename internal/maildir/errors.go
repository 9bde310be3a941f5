package maildir

import (
	"errors"
	"syscall"

	"github.com/smtpkit/smtpkit/internal/durable"
)

// Error is a filesystem failure during Ensure or a delivery: Op is what was
// being done ("create", "write", "fsync", "close", "link", "copy", "mkdir",
// "open"), Path the file or directory, Err the cause (usually a
// syscall.Errno). Full is set when the cause is ENOSPC or EDQUOT.
//
// The SMTP layer answers 452 4.3.1 when Full and 451 4.3.0 otherwise; at
// startup the CLI exits 73 (cannot create) for a Permission error.
//
// Its fields and wrapping are durable.Error's; maildir adds its prefix,
// Temporary and Permission.
type Error durable.Error

func (e *Error) Error() string { return "maildir: " + (*durable.Error)(e).Error() }

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether retrying later may succeed: the disk or quota
// is full (ENOSPC, EDQUOT), an I/O error (EIO), an interrupted call (EINTR,
// EAGAIN), or the process or system ran out of descriptors or memory
// (EMFILE, ENFILE, ENOMEM).
func (e *Error) Temporary() bool {
	var errno syscall.Errno
	if !errors.As(e.Err, &errno) {
		return false
	}
	switch errno {
	case syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EINTR, syscall.EAGAIN,
		syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM:
		return true
	}
	return false
}

// Permission reports whether the cause is a permission or read-only
// filesystem problem (EACCES, EPERM, EROFS): a configuration matter that
// waiting will not fix.
func (e *Error) Permission() bool {
	var errno syscall.Errno
	if !errors.As(e.Err, &errno) {
		return false
	}
	switch errno {
	case syscall.EACCES, syscall.EPERM, syscall.EROFS:
		return true
	}
	return false
}

// BodyError is returned when the message body reader fails mid-way (the
// client's DATA stream broke): the disk is not at fault. Err is the reader's
// error, so errors.Is and errors.As reach it.
type BodyError struct{ Err error }

func (e *BodyError) Error() string { return "maildir: read message body: " + e.Err.Error() }

func (e *BodyError) Unwrap() error { return e.Err }

// newError wraps err for op on path. The os wrappers are peeled off because
// Error already names the operation and the path.
func newError(op, path string, err error) *Error {
	return (*Error)(durable.NewError(op, path, err))
}

// wrap gives a *durable.Error maildir's type; other errors, and nil, pass
// unchanged.
func wrap(err error) error {
	if de, ok := err.(*durable.Error); ok {
		return (*Error)(de)
	}
	return err
}
