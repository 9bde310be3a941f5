package durable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// wantError checks that err is an *Error for op on path whose cause is
// target.
func wantError(t *testing.T, err error, op, path string, target error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *Error", err, err)
	}
	if e.Op != op || e.Path != path || !errors.Is(err, target) {
		t.Errorf("error %v: Op %q Path %q, want %q %q and %v", err, e.Op, e.Path, op, path, target)
	}
	return e
}

func TestMkdirAll(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b", "c")
	if err := MkdirAll(deep + "/"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a", "a/b", "a/b/c"} {
		smtptest.WantMode(t, filepath.Join(root, p), 0o700)
	}
	// An existing directory is left as it is, mode included.
	if err := os.Chmod(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(deep); err != nil {
		t.Fatal(err)
	}
	smtptest.WantMode(t, deep, 0o755)
	if err := MkdirAll(root + "/a/./b/../b/c"); err != nil {
		t.Errorf("unclean path: %v", err)
	}
}

func TestMkdirAllNotADirectory(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e := wantError(t, MkdirAll(file), "mkdir", file, syscall.ENOTDIR)
	if e.Full || e.Error() != "mkdir "+file+": not a directory" {
		t.Errorf("message %q, Full %v", e.Error(), e.Full)
	}
	// A file as a parent: stat(2) already fails on the path asked for.
	below := filepath.Join(file, "sub", "dir")
	wantError(t, MkdirAll(below), "mkdir", below, syscall.ENOTDIR)
}

// TestMkdirAllRace: directories created by others meanwhile are no error.
func TestMkdirAllRace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "x", "y", "z")
	errs := make(chan error, 8)
	for range cap(errs) {
		go func() { errs <- MkdirAll(dir) }()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	smtptest.WantMode(t, dir, 0o700)
}

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	wantError(t, SyncDir(missing), "open", missing, fs.ErrNotExist)
}

func TestCreateExcl(t *testing.T) {
	dir := t.TempDir()
	for name, create := range map[string]func(string) (File, error){
		"CreateExcl": func(p string) (File, error) {
			f, err := CreateExcl(p)
			if err != nil {
				return nil, err // not a nil *os.File in a non-nil File
			}
			return f, nil
		},
		"CreateRaw": CreateRaw,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			f, err := create(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("hello\r\n")); err != nil {
				t.Fatal(err)
			}
			if err := SyncClose(f, path); err != nil {
				t.Fatal(err)
			}
			smtptest.WantMode(t, path, 0o600)
			if b, err := os.ReadFile(path); err != nil || string(b) != "hello\r\n" {
				t.Errorf("content %q, %v", b, err)
			}

			// A taken name is an *fs.PathError that says so, not an *Error.
			f2, err := create(path)
			var pe *fs.PathError
			if f2 != nil || !errors.As(err, &pe) || !errors.Is(err, fs.ErrExist) || pe.Path != path {
				t.Errorf("second create: %v, %v (%T)", f2, err, err)
			}
			if _, err := create(filepath.Join(dir, "missing", "f")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("create in a missing directory: %v", err)
			}
		})
	}
}

// TestSyncCloseClosed: a file that cannot be fsynced gives the fsync step's
// *Error and is closed all the same.
func TestSyncCloseClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := CreateRaw(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var e *Error
	if err := SyncClose(f, path); !errors.As(err, &e) || e.Op != "fsync" || e.Path != path {
		t.Errorf("SyncClose of a closed file: %v", err)
	}
	if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second close: %v", err)
	}
}

func TestRename(t *testing.T) {
	root := t.TempDir()
	tmp, queue := filepath.Join(root, "tmp"), filepath.Join(root, "queue")
	for _, d := range []string{tmp, queue} {
		if err := MkdirAll(d); err != nil {
			t.Fatal(err)
		}
	}
	src, dst := filepath.Join(tmp, "a.1"), filepath.Join(queue, "a")
	for i, content := range []string{"one", "two"} {
		if err := os.WriteFile(src, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		// The second round replaces the file the first put there.
		if err := Rename(src, dst); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if b, err := os.ReadFile(dst); err != nil || string(b) != content {
			t.Errorf("round %d: %q, %v", i, b, err)
		}
		if _, err := os.Stat(src); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("round %d: source still there: %v", i, err)
		}
	}
	smtptest.WantMode(t, dst, 0o600)

	// No source: the rename step fails, named after the destination.
	wantError(t, Rename(src, dst), "rename", dst, fs.ErrNotExist)
	if b, _ := os.ReadFile(dst); string(b) != "two" {
		t.Errorf("destination changed by a failed rename: %q", b)
	}
	// A missing destination folder leaves the source where it was.
	if err := os.WriteFile(src, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	nowhere := filepath.Join(root, "missing", "a")
	wantError(t, Rename(src, nowhere), "rename", nowhere, fs.ErrNotExist)
	if _, err := os.Stat(src); err != nil {
		t.Errorf("source gone after a failed rename: %v", err)
	}
}
