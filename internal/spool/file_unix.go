//go:build unix

package spool

import (
	"io/fs"
	"os"
	"syscall"
)

// createExcl creates path with O_EXCL and mode 0600 (before umask) for
// writing. Errors are *fs.PathError, so errors.Is(err, fs.ErrExist) works.
func createExcl(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_CLOEXEC, 0o600)
}

// syncDir fsyncs a directory so the names added to or removed from it are
// durable. The close is checked too.
func syncDir(dir string) error {
	fd, err := retryEINTR(func() (int, error) {
		return syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	})
	if err != nil {
		return newError("open", dir, err)
	}
	_, err = retryEINTR(func() (int, error) { return 0, syscall.Fsync(fd) })
	cerr := syscall.Close(fd)
	if err != nil {
		return newError("fsync", dir, err)
	}
	if cerr != nil && cerr != syscall.EINTR {
		return newError("close", dir, cerr)
	}
	return nil
}

// lockFile takes an exclusive flock(2) on f without waiting. It reports
// false, nil when another open file description holds the lock. The lock
// goes away with the descriptor, also when the process is killed, so a
// killed flush never leaves an entry locked.
func lockFile(f *os.File) (bool, error) {
	_, err := retryEINTR(func() (int, error) {
		return 0, syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	})
	if err == syscall.EWOULDBLOCK {
		return false, nil
	}
	if err != nil {
		return false, &fs.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return true, nil
}

func retryEINTR(call func() (int, error)) (int, error) {
	for {
		n, err := call()
		if err != syscall.EINTR {
			return n, err
		}
	}
}
