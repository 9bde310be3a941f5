//go:build unix

package spool

import (
	"io/fs"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock(2) on f without waiting. It reports
// false, nil when another open file description holds the lock. The lock
// goes away with the descriptor, also when the process is killed, so a
// killed flush never leaves an entry locked.
func lockFile(f *os.File) (bool, error) {
	var err error
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	if err == syscall.EWOULDBLOCK {
		return false, nil
	}
	if err != nil {
		return false, &fs.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return true, nil
}
