//go:build unix

package durable

import (
	"io/fs"
	"syscall"
)

// rawFile is a file used through plain system calls. os.OpenFile tries to
// register every file with the network poller, which on Linux costs four
// fcntl calls and a failing epoll_ctl per file; a maildir delivery opens a
// file per message (and a directory per fsync round) and needs none of
// that, and on a virtual machine every system call counts.
type rawFile struct {
	fd   int
	name string
}

// CreateRaw is CreateExcl for a file that is only written, fsynced and
// closed: on Unix it bypasses the os package (see rawFile), elsewhere it
// returns an *os.File. Errors are *fs.PathError, so errors.Is(err,
// fs.ErrExist) works.
func CreateRaw(path string) (File, error) {
	fd, err := retryEINTR(func() (int, error) {
		return syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o600)
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &rawFile{fd: fd, name: path}, nil
}

// Write writes all of p, retrying short writes and EINTR.
func (f *rawFile) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := syscall.Write(f.fd, p[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, &fs.PathError{Op: "write", Path: f.name, Err: err}
		}
		if m == 0 {
			return n, &fs.PathError{Op: "write", Path: f.name, Err: syscall.EIO}
		}
		n += m
	}
	return n, nil
}

func (f *rawFile) Sync() error {
	if _, err := retryEINTR(func() (int, error) { return 0, syscall.Fsync(f.fd) }); err != nil {
		return &fs.PathError{Op: "fsync", Path: f.name, Err: err}
	}
	return nil
}

// Close closes the descriptor once; EINTR from close(2) is not retried, as
// the descriptor is gone either way on Linux.
func (f *rawFile) Close() error {
	if f.fd < 0 {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	err := syscall.Close(f.fd)
	f.fd = -1
	if err != nil && err != syscall.EINTR {
		return &fs.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}

// SyncDir fsyncs the directory dir so the names added to or removed from
// it are durable. The close is checked too. Errors are *Error with Op
// "open" (ENOTDIR when dir is not a directory), "fsync" or "close".
func SyncDir(dir string) error {
	fd, err := retryEINTR(func() (int, error) {
		return syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	})
	if err != nil {
		return NewError("open", dir, err)
	}
	d := &rawFile{fd: fd, name: dir}
	return SyncClose(d, dir)
}

// retryEINTR calls call until it fails with something other than EINTR.
func retryEINTR(call func() (int, error)) (int, error) {
	for {
		n, err := call()
		if err != syscall.EINTR {
			return n, err
		}
	}
}
