package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// TestConcurrentFlushesNeverDuplicate runs two flushes (two Spool values,
// as two processes would have) over the same entries at once, several
// rounds; every entry is delivered exactly once.
func TestConcurrentFlushesNeverDuplicate(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	a := openSpool(t, dir, c, Options{})
	b := openSpool(t, dir, c, Options{})
	for round := 0; round < 3; round++ {
		mta := &fakeMTA{hold: time.Millisecond}
		const n = 30
		for i := 0; i < n; i++ {
			body := fmt.Sprintf("Subject: m%d\r\n\r\nx\r\n", i)
			if _, err := a.Enqueue(context.Background(), strings.NewReader(body), "a@example.net", []string{"b@example.com"}); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for _, s := range []*Spool{a, b, a, b} {
			wg.Go(func() {
				if _, err := s.Flush(context.Background(), mta.attempt, FlushOptions{Concurrency: 3}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		seen := map[string]int{}
		for _, at := range mta.attempts {
			seen[string(at.body)]++
		}
		if len(seen) != n {
			t.Errorf("round %d: %d distinct messages delivered, want %d", round, len(seen), n)
		}
		for m, k := range seen {
			if k != 1 {
				t.Errorf("round %d: %q delivered %d times", round, m, k)
			}
		}
		if ids := listIDs(t, a); len(ids) != 0 {
			t.Errorf("round %d: spool holds %v", round, ids)
		}
	}
}

// TestLockedEntry: while one holder has an entry locked, flush skips it and
// Retry, Remove and AttemptNow say ErrLocked; once released, all work.
func TestLockedEntry(t *testing.T) {
	c := newClock()
	s := openSpool(t, t.TempDir(), c, Options{})
	mta := &fakeMTA{answer: map[string]Outcome{"b@example.com": defer451}}
	e := enqueue(t, s, "a@example.net", "b@example.com")
	l, err := s.lock(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Flush(context.Background(), mta.attempt, FlushOptions{})
	if err != nil || len(res) != 0 || mta.count.Load() != 0 {
		t.Fatalf("flush of a locked entry: %+v, %v, %d attempts", res, err, mta.count.Load())
	}
	if err := s.Retry(e.ID); !errors.Is(err, ErrLocked) {
		t.Errorf("Retry: %v", err)
	}
	if err := s.Remove(e.ID); !errors.Is(err, ErrLocked) {
		t.Errorf("Remove: %v", err)
	}
	if _, err := s.AttemptNow(context.Background(), e.ID, mta.attempt); !errors.Is(err, ErrLocked) {
		t.Errorf("AttemptNow: %v", err)
	}
	l.unlock()

	if _, err := s.AttemptNow(context.Background(), e.ID, mta.attempt); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(e.ID)
	if got.Due(c.Now()) {
		t.Fatal("due right after a deferral")
	}
	if err := s.Retry(e.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Get(e.ID)
	if !got.Due(c.Now()) {
		t.Error("not due after Retry")
	}
	if err := s.Remove(e.ID); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func(string) error{s.Remove, s.Retry} {
		if err := f(e.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("after Remove: %v", err)
		}
	}
	if _, err := s.Get("../../etc/passwd"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a path: %v", err)
	}
}

// TestLockAfterRemoval: a process that opened the message file before the
// holder removed the entry gets the lock afterwards, and must see the
// entry as gone rather than deliver it again.
func TestLockAfterRemoval(t *testing.T) {
	c := newClock()
	s := openSpool(t, t.TempDir(), c, Options{})
	mta := &fakeMTA{}
	e := enqueue(t, s, "a@example.net", "b@example.com")
	l, err := s.lock(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.process(context.Background(), l, mta.attempt, true); err != nil {
		t.Fatal(err)
	}
	// Lock the (now unlinked) inode through the old descriptor's path
	// check: lock() must report ErrNotFound.
	l.unlock()
	if _, err := s.lock(e.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("lock after removal: %v", err)
	}
}

// TestClean removes leftovers of crashed processes that are an hour old,
// and nothing younger.
func TestClean(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := openSpool(t, dir, c, Options{})
	e := enqueue(t, s, "a@example.net", "b@example.com")
	// An orphan message (crash between the two links) and a tmp file.
	f, tmp, err := s.createTmp("X.msg")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	o, err := s.Enqueue(context.Background(), bytes.NewReader([]byte(testMsg)), "a@example.net", []string{"b@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := removeFile(s.statePath(o.ID)); err != nil {
		t.Fatal(err)
	}
	if n := s.Clean(); n != 0 {
		t.Errorf("Clean removed %d young files", n)
	}
	old := c.Now().Add(-2 * time.Hour)
	for _, p := range []string{tmp, s.msgPath(o.ID), s.msgPath(e.ID)} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Clean(); n != 2 {
		t.Errorf("Clean removed %d files, want 2", n)
	}
	if fileExists(tmp) || fileExists(s.msgPath(o.ID)) || !fileExists(s.msgPath(e.ID)) {
		t.Error("Clean removed the wrong files")
	}
}
