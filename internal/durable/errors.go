package durable

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// Error is a failed durable step: Op is what was being done ("open",
// "fsync", "close", "mkdir", "rename", or a caller's own: "create",
// "write", "link"...), Path the file or directory, Err the cause with the
// os wrappers peeled off (usually a syscall.Errno). Full is set when the
// cause is ENOSPC or EDQUOT. The message is "OP PATH: CAUSE".
//
// Packages that report these failures under their own name define their
// error type on this one (type Error durable.Error) and convert the
// pointer, so each keeps its own prefix and classes while the fields and
// the wrapping stay shared.
type Error struct {
	Op   string
	Path string
	Err  error
	Full bool
}

func (e *Error) Error() string { return e.Op + " " + e.Path + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// NewError wraps err for op on path. The *fs.PathError, *os.LinkError and
// *os.SyscallError wrappers are peeled off, because Error names the
// operation and the path already; Full is set for ENOSPC and EDQUOT.
func NewError(op, path string, err error) *Error {
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
