package maildir

import (
	"errors"
	"path/filepath"

	"github.com/smtpkit/smtpkit/internal/durable"
)

// Ensure creates the maildir dir with its tmp, new and cur folders, and any
// missing parent of dir, all with mode 0700. Existing folders are left as
// they are. Each directory that gains an entry is fsynced, so a maildir
// created just before a delivery survives a crash together with it.
// Errors are *Error; Permission() tells EACCES, EPERM and EROFS apart.
func Ensure(dir string) error {
	if dir == "" {
		return &Error{Op: "mkdir", Path: dir, Err: errors.New("empty maildir path")}
	}
	if err := durable.MkdirAll(dir); err != nil {
		return wrap(err)
	}
	for _, sub := range [...]string{"tmp", "new", "cur"} {
		if err := durable.MkdirAll(filepath.Join(dir, sub)); err != nil {
			return wrap(err)
		}
	}
	return nil
}
