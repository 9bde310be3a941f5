package durable

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

func TestNewError(t *testing.T) {
	for _, tt := range []struct {
		err   error
		cause error
		full  bool
	}{
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, syscall.ENOSPC, true},
		{syscall.EDQUOT, syscall.EDQUOT, true},
		{&os.SyscallError{Syscall: "fsync", Err: syscall.EIO}, syscall.EIO, false},
		{&os.LinkError{Op: "link", Old: "a", New: "b", Err: syscall.EACCES}, syscall.EACCES, false},
		{syscall.EROFS, syscall.EROFS, false},
		{io.ErrUnexpectedEOF, io.ErrUnexpectedEOF, false},
		// A wrapper deeper inside is peeled too; a full disk behind one
		// still counts.
		{&wrapped{&fs.PathError{Op: "open", Path: "/y", Err: syscall.EDQUOT}}, syscall.EDQUOT, true},
	} {
		e := NewError("write", "/d/f", tt.err)
		if e.Op != "write" || e.Path != "/d/f" || e.Err != tt.cause || e.Full != tt.full {
			t.Errorf("%v: %+v, want cause %v full %v", tt.err, *e, tt.cause, tt.full)
		}
		// The message is the step, the path and the cause alone: no
		// wrapper's text.
		if want := "write /d/f: " + tt.cause.Error(); e.Error() != want {
			t.Errorf("%v: message %q, want %q", tt.err, e.Error(), want)
		}
		if !errors.Is(e, tt.cause) || errors.Unwrap(e) != tt.cause {
			t.Errorf("%v: errors.Is/Unwrap do not reach %v", tt.err, tt.cause)
		}
	}
}

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "wrapped: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }
