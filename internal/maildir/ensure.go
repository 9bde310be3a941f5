package maildir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
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
	if err := mkdirDurable(filepath.Clean(dir)); err != nil {
		return err
	}
	for _, sub := range [...]string{"tmp", "new", "cur"} {
		if err := mkdirDurable(filepath.Join(dir, sub)); err != nil {
			return err
		}
	}
	return nil
}

// mkdirDurable creates path and its missing parents (mode 0700) and fsyncs
// the parent of each directory it creates.
func mkdirDurable(path string) error {
	fi, err := os.Stat(path)
	if err == nil {
		if !fi.IsDir() {
			return newError("mkdir", path, syscall.ENOTDIR)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return newError("mkdir", path, err)
	}
	parent := filepath.Dir(path)
	if parent != path {
		if err := mkdirDurable(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		// Another process (or session) may have created it meanwhile.
		if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
			return nil
		}
		return newError("mkdir", path, err)
	}
	return syncDir(parent)
}
