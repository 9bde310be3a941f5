package maildir

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

func TestDiskFull(t *testing.T) {
	dir := filepath.Join(smtptest.Tmpfs(t, "256k"), "Maildir")
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	s := newTestStore()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	_, err := s.Deliver(context.Background(), dir, []byte("X: y\r\n"), bytes.NewReader(big))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *Error", err, err)
	}
	if !e.Full || !e.Temporary() || e.Permission() || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("%v: Full %v Temporary %v Permission %v", e, e.Full, e.Temporary(), e.Permission())
	}
	wantEmpty(t, filepath.Join(dir, "new"))
	wantEmpty(t, filepath.Join(dir, "tmp"))

	// The space came back: a small message still goes through.
	d, err := s.Deliver(context.Background(), dir, nil, strings.NewReader("small\r\n"))
	if err != nil {
		t.Fatalf("small message after a full disk: %v", err)
	}
	if b, _ := os.ReadFile(d.Path); string(b) != "small\r\n" {
		t.Errorf("content %q", b)
	}
}

// TestDiskFullCopies: the second copy does not fit; the first goes too.
func TestDiskFullCopies(t *testing.T) {
	mnt := smtptest.Tmpfs(t, "256k")
	a, b := filepath.Join(mnt, "a"), filepath.Join(mnt, "b")
	for _, d := range []string{a, b} {
		if err := Ensure(d); err != nil {
			t.Fatal(err)
		}
	}
	body := bytes.Repeat([]byte("x"), 150<<10)
	_, err := newTestStore().DeliverCopies(context.Background(),
		[]Target{{Dir: a, Prefix: []byte("To: a\r\n")}, {Dir: b, Prefix: []byte("To: b\r\n")}}, bytes.NewReader(body))
	var e *Error
	if !errors.As(err, &e) || !e.Full {
		t.Fatalf("error %v, want a full disk", err)
	}
	for _, d := range []string{a, b} {
		wantEmpty(t, filepath.Join(d, "new"))
		wantEmpty(t, filepath.Join(d, "tmp"))
	}
}

func TestReadOnly(t *testing.T) {
	mnt := smtptest.Tmpfs(t, "1m")
	dir := filepath.Join(mnt, "Maildir")
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	smtptest.RemountTmpfs(t, mnt, "1m", true)
	_, err := newTestStore().Deliver(context.Background(), dir, nil, strings.NewReader("x"))
	var e *Error
	if !errors.As(err, &e) || !e.Permission() || e.Temporary() || !errors.Is(err, syscall.EROFS) {
		t.Errorf("deliver on a read-only filesystem: %v", err)
	}
	err = Ensure(filepath.Join(mnt, "other"))
	if !errors.As(err, &e) || !e.Permission() {
		t.Errorf("Ensure on a read-only filesystem: %v", err)
	}
}

// TestCopiesAcrossFilesystems: equal prefixes cannot share an inode across
// filesystems (EXDEV); the copy falls back to copying.
func TestCopiesAcrossFilesystems(t *testing.T) {
	local := filepath.Join(t.TempDir(), "local")
	other := filepath.Join(smtptest.Tmpfs(t, "1m"), "other")
	prefix := []byte("Return-Path: <a@x>\r\n")
	got, err := newTestStore().DeliverCopies(context.Background(),
		[]Target{{Dir: local, Prefix: prefix}, {Dir: other, Prefix: prefix}}, strings.NewReader("body\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range got {
		if b, _ := os.ReadFile(d.Path); string(b) != string(prefix)+"body\r\n" {
			t.Errorf("%s: %q", d.Path, b)
		}
	}
	wantEmpty(t, filepath.Join(local, "tmp"))
	wantEmpty(t, filepath.Join(other, "tmp"))
}
