package spool

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

// TestEnqueueDiskFull: a message that does not fit gives an *Error with
// Full set (the CLI exits 74) and leaves nothing behind; a small one still
// goes in afterwards.
func TestEnqueueDiskFull(t *testing.T) {
	c := newClock()
	s := openSpool(t, filepath.Join(smtptest.Tmpfs(t, "256k"), "spool"), c, Options{})
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	_, err := s.Enqueue(context.Background(), bytes.NewReader(big), "a@example.net", []string{"b@example.com"})
	var e *Error
	if !errors.As(err, &e) || !e.Full || e.Create() || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("error %v (%T), want a full-disk *Error", err, err)
	}
	for _, d := range []string{"queue", "tmp"} {
		if got := dirNames(t, filepath.Join(s.Dir(), d)); len(got) != 0 {
			t.Errorf("%s/ holds %v", d, got)
		}
	}
	if _, err := s.Enqueue(context.Background(), strings.NewReader(testMsg), "a@example.net", []string{"b@example.com"}); err != nil {
		t.Fatalf("small message after a full disk: %v", err)
	}
}

// TestOpenReadOnly: a spool that cannot be created is an *Error that says
// Create (the CLI exits 73).
func TestOpenReadOnly(t *testing.T) {
	dir := smtptest.Tmpfs(t, "64k")
	smtptest.RemountTmpfs(t, dir, "64k", true)
	_, err := Open(filepath.Join(dir, "spool"), Options{})
	var e *Error
	if !errors.As(err, &e) || !e.Create() || !errors.Is(err, syscall.EROFS) {
		t.Fatalf("error %v (%T), want a create *Error with EROFS", err, err)
	}
}

// TestFlushReadOnlyOrFull: a flush of a spool that cannot record an
// outcome (remounted read-only, or full) fails with the spool's *Error
// before attempting anything, so no message is delivered that the next
// flush would deliver again; with the spool writable again the entry is
// delivered once.
func TestFlushReadOnlyOrFull(t *testing.T) {
	c := newClock()
	mnt := smtptest.Tmpfs(t, "256k")
	s := openSpool(t, filepath.Join(mnt, "spool"), c, Options{})
	enqueue(t, s, "a@example.net", "b@example.com")
	mta := &fakeMTA{}

	smtptest.RemountTmpfs(t, mnt, "256k", true)
	_, err := s.Flush(context.Background(), mta.attempt, FlushOptions{})
	var e *Error
	if !errors.As(err, &e) || !e.Create() || !errors.Is(err, syscall.EROFS) {
		t.Fatalf("read-only: %v (%T), want a create *Error with EROFS", err, err)
	}
	smtptest.RemountTmpfs(t, mnt, "256k", false)

	filler := smtptest.FillUp(t, mnt)
	_, err = s.Flush(context.Background(), mta.attempt, FlushOptions{})
	if !errors.As(err, &e) || !e.Full {
		t.Fatalf("full: %v (%T), want a full *Error", err, err)
	}
	if n := mta.count.Load(); n != 0 {
		t.Fatalf("%d attempts on a spool that could not record them", n)
	}
	if got := dirNames(t, filepath.Join(s.Dir(), "tmp")); len(got) != 0 {
		t.Errorf("tmp/ holds %v", got)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	res, err := s.Flush(context.Background(), mta.attempt, FlushOptions{})
	if err != nil || len(res) != 1 || !res[0].Removed || mta.count.Load() != 1 {
		t.Fatalf("after the faults: %v, %+v, %d attempts", err, res, mta.count.Load())
	}
}
