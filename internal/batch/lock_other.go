//go:build !unix

package batch

import "os"

// Lock creates path if missing and returns a function that closes it. There
// is no flock(2) here: like the spool's locks on this platform, it never
// reports ErrLocked, so two runs are not kept apart.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return func() { f.Close() }, nil
}
