package batch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestJournalResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 3} {
		if err := j.Accept(n); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	// A crash in the middle of an append leaves a torn line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("4")
	f.Close()

	j, err = OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if !j.Done(1) || j.Done(2) || !j.Done(3) || j.Done(4) || j.Len() != 2 {
		t.Fatalf("done: 1=%v 2=%v 3=%v 4=%v", j.Done(1), j.Done(2), j.Done(3), j.Done(4))
	}
	if err := j.Accept(5); err != nil {
		t.Fatal(err)
	}
	j.Close()
	b, _ := os.ReadFile(path)
	if string(b) != "1\n3\n5\n" {
		t.Fatalf("journal %q", b)
	}
}

func TestJournalInFlight(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	// Row 1 accepted; row 2 refused at the end of data; row 3 killed
	// between its end of data and the reply; row 4 begun twice, accepted
	// the second time.
	steps := []func() error{
		func() error { return j.Begin(1) }, func() error { return j.Accept(1) },
		func() error { return j.Begin(2) }, func() error { return j.Release(2) },
		func() error { return j.Begin(3) },
		func() error { return j.Begin(4) }, func() error { return j.Release(4) },
		func() error { return j.Begin(4) }, func() error { return j.Accept(4) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, err = OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for n, want := range map[int][2]bool{1: {true, false}, 2: {false, false}, 3: {false, true}, 4: {true, false}, 5: {false, false}} {
		if j.Done(n) != want[0] || j.Unconfirmed(n) != want[1] {
			t.Errorf("row %d: done %v unconfirmed %v, want %v", n, j.Done(n), j.Unconfirmed(n), want)
		}
	}
	b, _ := os.ReadFile(path)
	if string(b) != "?1\n1\n?2\n-2\n?3\n?4\n-4\n?4\n4\n" {
		t.Fatalf("journal %q", b)
	}
}

func TestJournalConcurrentBegin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 50; i++ {
				n := w*50 + i
				if err := j.Begin(n); err != nil {
					t.Error(err)
					return
				}
				if err := j.Accept(n); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	j.Close()
	j, err = OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if j.Len() != 400 {
		t.Fatalf("%d rows accepted, want 400", j.Len())
	}
}

func TestJournalGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	for _, bad := range []string{"1\nhello\n", "?\n", "-0\n", "+3\n", "?-3\n", "--3\n", "3x\n"} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := OpenJournal(path); err == nil {
			t.Errorf("%q: want an error for a line that is not a journal line", bad)
		}
	}
}

func TestLock(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no flock(2): Lock does not exclude here (lock_other.go)")
	}
	path := filepath.Join(t.TempDir(), "state.lock")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: want ErrLocked, got %v", err)
	}
	unlock()
	unlock2, err := Lock(path)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]Rate{"10/s": {10, time.Second}, "5/m": {5, time.Minute}, "100/h": {100, time.Hour}} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "10", "0/s", "x/s", "10/d", "-1/s"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
}

// fakeClock advances only when someone sleeps.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func TestLimiterBound(t *testing.T) {
	for _, r := range []Rate{{10, time.Second}, {120, time.Minute}, {3, time.Hour}} {
		c := &fakeClock{now: time.Unix(1e9, 0)}
		l := NewLimiter(r, c)
		start := c.Now()
		const n = 50
		for i := 0; i < n; i++ {
			if err := l.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		el := c.Now().Sub(start)
		// n sends need at least (n - burst) intervals: count is bounded by
		// burst + elapsed/interval.
		max := l.burst + float64(el)/float64(l.interval)
		if float64(n) > max+1e-9 {
			t.Errorf("%v: %d sends in %v, bound %.1f", r, n, el, max)
		}
		if min := time.Duration(float64(n-1) - l.burst); el < min*l.interval {
			t.Errorf("%v: %d sends in only %v", r, n, el)
		}
	}
}
