package maildir

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// event is one step of the group commit, in the order the hooks saw them.
type event struct {
	kind string // "link", "start", "end", "commit"
	gen  uint64
	err  error
}

// eventLog keeps one event list per syncer: generations count per syncer,
// and a syncer lives only while deliveries use it.
type eventLog struct {
	mu    sync.Mutex
	order []*syncer
	ev    map[*syncer][]event
}

func (l *eventLog) add(y *syncer, kind string, gen uint64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ev == nil {
		l.ev = map[*syncer][]event{}
	}
	if _, ok := l.ev[y]; !ok {
		l.order = append(l.order, y)
	}
	l.ev[y] = append(l.ev[y], event{kind, gen, err})
}

// check runs checkGroupCommit on every syncer's events and returns the
// total numbers of commits and fsyncs.
func (l *eventLog) check(t *testing.T) (commits, fsyncs int) {
	t.Helper()
	for _, y := range l.order {
		for _, e := range l.ev[y] {
			if e.kind == "commit" {
				commits++
			}
		}
		fsyncs += checkGroupCommit(t, l.ev[y])
	}
	return commits, fsyncs
}

// watch installs hooks recording every step into a log; delay stretches
// each directory fsync so that concurrent deliveries surely overlap one.
func watch(s *Store, delay time.Duration) *eventLog {
	l := &eventLog{}
	s.hooks = &hooks{
		linked:     func(y *syncer, gen uint64) { l.add(y, "link", gen, nil) },
		syncStart:  func(y *syncer, gen uint64) { l.add(y, "start", gen, nil) },
		beforeSync: func(*syncer) { time.Sleep(delay) },
		syncEnd:    func(y *syncer, gen uint64, err error) { l.add(y, "end", gen, err) },
		committed:  func(y *syncer, gen uint64, err error) { l.add(y, "commit", gen, err) },
	}
	return l
}

// checkGroupCommit verifies the log of one directory: at most DefaultDirSyncs
// fsyncs run at once,
// each covers exactly the links made before it started, and every commit
// returned after the end of an fsync that started after its link. It
// returns the number of fsyncs.
func checkGroupCommit(t *testing.T, ev []event) int {
	t.Helper()
	linkAt := map[uint64]int{}
	var maxLinked uint64
	type span struct {
		gen        uint64
		start, end int
	}
	var rounds []span
	running := map[uint64]int{} // gen -> index in rounds
	for i, e := range ev {
		switch e.kind {
		case "link":
			if _, dup := linkAt[e.gen]; dup {
				t.Fatalf("generation %d linked twice", e.gen)
			}
			linkAt[e.gen] = i
			maxLinked = max(maxLinked, e.gen)
		case "start":
			if len(running) >= DefaultDirSyncs {
				t.Fatalf("event %d: fsync started while %d others run (limit %d)", i, len(running), DefaultDirSyncs)
			}
			if e.gen != maxLinked {
				t.Fatalf("event %d: fsync covers generation %d, but %d were linked", i, e.gen, maxLinked)
			}
			if _, dup := running[e.gen]; dup {
				t.Fatalf("event %d: two fsyncs cover generation %d", i, e.gen)
			}
			rounds = append(rounds, span{e.gen, i, -1})
			running[e.gen] = len(rounds) - 1
		case "end":
			k, ok := running[e.gen]
			if !ok {
				t.Fatalf("event %d: end of an fsync that is not running", i)
			}
			rounds[k].end = i
			delete(running, e.gen)
		}
	}
	commits := 0
	for i, e := range ev {
		if e.kind != "commit" {
			continue
		}
		commits++
		l, ok := linkAt[e.gen]
		if !ok {
			t.Fatalf("commit of generation %d never linked", e.gen)
		}
		covered := false
		for _, r := range rounds {
			if r.start > l && r.gen >= e.gen && r.end >= 0 && r.end < i {
				covered = true
				break
			}
		}
		if !covered {
			t.Errorf("generation %d (linked at event %d) returned at event %d without an fsync that started after its link", e.gen, l, i)
		}
	}
	if commits != len(linkAt) {
		t.Errorf("%d commits for %d links", commits, len(linkAt))
	}
	return len(rounds)
}

func TestGroupCommit(t *testing.T) {
	const writers, each = 20, 10
	dir := t.TempDir()
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	s := newTestStore()
	log := watch(s, 2*time.Millisecond)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := s.Deliver(context.Background(), dir, nil, strings.NewReader(fmt.Sprint(w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	commits, fsyncs := log.check(t)
	t.Logf("%d deliveries, %d fsyncs of new/", commits, fsyncs)
	if commits != writers*each {
		t.Errorf("%d commits seen, want %d", commits, writers*each)
	}
	if fsyncs >= writers*each {
		t.Errorf("%d fsyncs of new/ for %d deliveries: nothing coalesced", fsyncs, writers*each)
	}
}

// TestSyncerAlone drives one syncer with bare commits, without files.
func TestSyncerAlone(t *testing.T) {
	s := newTestStore()
	log := watch(s, time.Millisecond)
	dir := t.TempDir()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 20 {
				y := s.acquire(dir)
				gen, err := y.commit()
				s.hooks.committed(y, gen, err)
				s.release(y)
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	commits, fsyncs := log.check(t)
	t.Logf("%d commits, %d fsyncs", commits, fsyncs)
	if fsyncs >= 1000 {
		t.Errorf("%d fsyncs for 1000 commits", fsyncs)
	}
}

// TestSyncerError: every caller waiting on a failed fsync gets its error.
func TestSyncerError(t *testing.T) {
	s := newTestStore()
	dir := filepath.Join(t.TempDir(), "gone")
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			y := s.acquire(dir)
			defer s.release(y)
			_, err := y.commit()
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, syscall.ENOENT) {
				t.Errorf("commit: %v, want ENOENT as *Error", err)
			}
		})
	}
	wg.Wait()
}
