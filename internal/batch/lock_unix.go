//go:build unix

package batch

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Lock takes a non-blocking exclusive flock on path (created if missing)
// and returns the function that releases it. ErrLocked means another run
// holds it. The lock goes away with the descriptor, also when the process
// is killed.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
