package spool

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/message"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fakeMTA is a delivery function: it records every attempt and answers each
// recipient from its table (default: delivered).
type fakeMTA struct {
	mu       sync.Mutex
	answer   map[string]Outcome // by recipient
	attempts []fakeAttempt
	hold     time.Duration // sleep inside each attempt
	count    atomic.Int64
}

// flushBounced flushes s once through mta, where the message fails, and
// returns what mta got: the message, then its bounce.
func flushBounced(t *testing.T, s *Spool, mta *fakeMTA) (msg, bounce fakeAttempt) {
	t.Helper()
	if _, err := s.Flush(context.Background(), mta.attempt, FlushOptions{}); err != nil {
		t.Fatal(err)
	}
	mta.mu.Lock()
	defer mta.mu.Unlock()
	if len(mta.attempts) != 2 {
		t.Fatalf("%d attempts, want the message and its bounce", len(mta.attempts))
	}
	return mta.attempts[0], mta.attempts[1]
}

type fakeAttempt struct {
	from  string
	rcpts []string
	body  []byte
	dsn   DSNParams
}

func (f *fakeMTA) attempt(_ context.Context, from string, rcpts []string, msg *message.Prepared, dsn DSNParams) []Outcome {
	f.count.Add(1)
	rc, err := msg.Open()
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if f.hold > 0 {
		time.Sleep(f.hold)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts = append(f.attempts, fakeAttempt{from, rcpts, body, dsn})
	var out []Outcome
	for _, r := range rcpts {
		o, ok := f.answer[r]
		if !ok {
			o = Outcome{Status: Delivered, Code: 250, Reason: "250 2.0.0 ok", RemoteMTA: "mx.test"}
		}
		o.Recipient = r
		out = append(out, o)
	}
	return out
}

var (
	defer451 = Outcome{Status: Deferred, Code: 451, Enhanced: "4.3.0", Reason: "451 4.3.0 try later", RemoteMTA: "mx.example.com"}
	fail550  = Outcome{Status: Failed, Code: 550, Enhanced: "5.1.1", Reason: "550 5.1.1 no such user", RemoteMTA: "mx.example.com"}
)

const testMsg = "From: <a@example.net>\r\nTo: <b@example.com>\r\nSubject: hello\r\nMessage-ID: <1@example.net>\r\n\r\nbody line\r\n"

func openSpool(t *testing.T, dir string, c *clock, o Options) *Spool {
	t.Helper()
	o.Now = c.Now
	if o.Hostname == "" {
		o.Hostname = "relay.test"
	}
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stored is what the spool keeps of msg for entry e: the message after
// the Received field Enqueue adds (TestEnqueueAddsReceived checks it).
func stored(s *Spool, e *Entry, msg string) string {
	return s.received(e.ID, e.Created) + msg
}

func enqueue(t *testing.T, s *Spool, from string, rcpts ...string) *Entry {
	t.Helper()
	e, err := s.Enqueue(context.Background(), strings.NewReader(testMsg), from, rcpts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func listIDs(t *testing.T, s *Spool) []string {
	t.Helper()
	es, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

// TestEnqueueDurable checks what Enqueue leaves on disk: the message as
// given and the state in queue/, owner-only modes, nothing in tmp/.
func TestEnqueueDurable(t *testing.T) {
	c := newClock()
	dir := filepath.Join(t.TempDir(), "a", "spool")
	s := openSpool(t, dir, c, Options{})
	e := enqueue(t, s, "a@example.net", "b@example.com", "c@example.org")

	for _, d := range []string{dir, filepath.Join(dir, "queue"), filepath.Join(dir, "tmp")} {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v; want 0700", d, fi.Mode(), err)
		}
	}
	if got := dirNames(t, filepath.Join(dir, "tmp")); len(got) != 0 {
		t.Errorf("tmp/ holds %v after Enqueue", got)
	}
	names := dirNames(t, filepath.Join(dir, "queue"))
	want := []string{e.ID + ".json", e.ID + ".msg"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("queue/ = %v, want %v", names, want)
	}
	for _, n := range names {
		fi, _ := os.Stat(filepath.Join(dir, "queue", n))
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", n, fi.Mode())
		}
	}
	b, _ := os.ReadFile(s.MessagePath(e.ID))
	if string(b) != stored(s, e, testMsg) {
		t.Errorf("message file = %q", b)
	}
	got, err := s.Get(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sender != "a@example.net" || got.Size != int64(len(b)) || len(got.Recipients) != 2 ||
		got.Recipients[1].Addr != "c@example.org" || got.Recipients[0].Status != Queued || !got.Due(c.Now()) {
		t.Errorf("state = %+v", got)
	}
}

// TestEnqueueAddsReceived: every stored message starts with one Received
// field naming this host, the submitting user, the entry's ID and the time
// (as Postfix's pickup adds one); the entry's Size counts it; a bounce the
// spool makes gets one too.
func TestEnqueueAddsReceived(t *testing.T) {
	c := newClock()
	s := openSpool(t, t.TempDir(), c, Options{})
	e := enqueue(t, s, "a@example.net", "b@example.com")
	b, err := os.ReadFile(s.MessagePath(e.ID))
	if err != nil {
		t.Fatal(err)
	}
	want := "Received: by relay.test (smtpkit, from userid " + strconv.Itoa(os.Getuid()) + ") id " + e.ID +
		"; Sun, 01 Mar 2026 12:00:00 +0000\r\n" + testMsg
	if string(b) != want {
		t.Errorf("stored\n%q\nwant\n%q", b, want)
	}
	if e.Size != int64(len(want)) {
		t.Errorf("Size %d, want %d", e.Size, len(want))
	}

	sent, bounce := flushBounced(t, s, &fakeMTA{answer: map[string]Outcome{"b@example.com": fail550}})
	if got := string(sent.body); got != want {
		t.Errorf("sent %q, want %q", got, want)
	}
	first, _, _ := strings.Cut(string(bounce.body), "\r\n")
	if !regexp.MustCompile(`^Received: by relay\.test \(smtpkit, from userid \d+\) id [0-9A-F]+; Sun, 01 Mar 2026 12:00:00 \+0000$`).MatchString(first) {
		t.Errorf("bounce starts with %q", first)
	}
}

type failReader struct{ n int }

func (r *failReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("boom")
	}
	r.n--
	return copy(p, "x"), nil
}

// TestEnqueueFailureLeavesNothing: a failing reader or a cancelled
// context leaves neither queue/ nor tmp/ with anything in it.
func TestEnqueueFailureLeavesNothing(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := openSpool(t, dir, c, Options{})
	if _, err := s.Enqueue(context.Background(), &failReader{n: 3}, "a@example.net", []string{"b@example.com"}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failing reader: err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Enqueue(ctx, strings.NewReader(testMsg), "a@example.net", []string{"b@example.com"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
	if _, err := s.Enqueue(context.Background(), strings.NewReader(testMsg), "a@example.net", nil); err == nil {
		t.Error("no recipients: no error")
	}
	for _, d := range []string{"queue", "tmp"} {
		if got := dirNames(t, filepath.Join(dir, d)); len(got) != 0 {
			t.Errorf("%s/ holds %v", d, got)
		}
	}
}

// TestStateSurvivesReload: what one Spool recorded, a new one on the same
// directory reads back, and honours (not due, then due).
func TestStateSurvivesReload(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	s := openSpool(t, dir, c, Options{})
	mta := &fakeMTA{answer: map[string]Outcome{"b@example.com": defer451}}
	e := enqueue(t, s, "a@example.net", "b@example.com", "ok@example.org")
	if _, err := s.Flush(context.Background(), mta.attempt, FlushOptions{}); err != nil {
		t.Fatal(err)
	}

	s2 := openSpool(t, dir, c, Options{})
	got, err := s2.Get(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, ok := got.Recipients[0], got.Recipients[1]
	if b.Status != Deferred || b.Attempts != 1 || b.Code != 451 || b.Reason != "451 4.3.0 try later" ||
		b.RemoteMTA != "mx.example.com" || !b.NextAttempt.Equal(c.Now().Add(5*time.Minute)) {
		t.Errorf("deferred recipient after reload: %+v", b)
	}
	if ok.Status != Delivered || ok.Attempts != 1 {
		t.Errorf("delivered recipient after reload: %+v", ok)
	}
	// Not due: a flush of the reloaded spool does nothing.
	res, _ := s2.Flush(context.Background(), mta.attempt, FlushOptions{})
	if len(res) != 0 || mta.count.Load() != 1 {
		t.Fatalf("flush before due: %d results, %d attempts", len(res), mta.count.Load())
	}
	// Due: only the deferred recipient is tried again; then it is done.
	c.Add(5 * time.Minute)
	delete(mta.answer, "b@example.com")
	res, err = s2.Flush(context.Background(), mta.attempt, FlushOptions{})
	if err != nil || len(res) != 1 || !res[0].Removed {
		t.Fatalf("flush when due: %+v, %v", res, err)
	}
	if last := mta.attempts[len(mta.attempts)-1]; strings.Join(last.rcpts, ",") != "b@example.com" || string(last.body) != stored(s2, e, testMsg) {
		t.Errorf("second attempt: %q with %q", last.rcpts, last.body)
	}
	if ids := listIDs(t, s2); len(ids) != 0 {
		t.Errorf("spool not empty: %v", ids)
	}
	if got := dirNames(t, filepath.Join(dir, "queue")); len(got) != 0 {
		t.Errorf("queue/ holds %v", got)
	}
}

// TestBackoffSchedule: each wait equals the age reached, at least 5 min
// and at most 4000 s (Postfix); Flush attempts only due entries.
func TestBackoffSchedule(t *testing.T) {
	c := newClock()
	s := openSpool(t, t.TempDir(), c, Options{})
	mta := &fakeMTA{answer: map[string]Outcome{"b@example.com": defer451}}
	e := enqueue(t, s, "a@example.net", "b@example.com")
	start := c.Now()
	want := []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, 80 * time.Minute,
		80*time.Minute + 4000*time.Second, 80*time.Minute + 8000*time.Second}
	for i, w := range want {
		if _, err := s.Flush(context.Background(), mta.attempt, FlushOptions{}); err != nil {
			t.Fatal(err)
		}
		if n := mta.count.Load(); n != int64(i+1) {
			t.Fatalf("round %d: %d attempts", i, n)
		}
		got, _ := s.Get(e.ID)
		if next := got.NextAttempt().Sub(start); next != w {
			t.Fatalf("round %d: next attempt at +%v, want +%v", i, next, w)
		}
		// A second before it is due, nothing happens.
		c.Add(got.NextAttempt().Sub(c.Now()) - time.Second)
		s.Flush(context.Background(), mta.attempt, FlushOptions{})
		if n := mta.count.Load(); n != int64(i+1) {
			t.Fatalf("round %d: attempted before due", i)
		}
		c.Add(time.Second)
	}
	// Configurable bounds.
	s2 := openSpool(t, t.TempDir(), c, Options{MinBackoff: time.Minute, MaxBackoff: 2 * time.Minute})
	for age, w := range map[time.Duration]time.Duration{0: time.Minute, 90 * time.Second: 90 * time.Second, time.Hour: 2 * time.Minute} {
		if got := s2.Backoff(age); got != w {
			t.Errorf("Backoff(%v) = %v, want %v", age, got, w)
		}
	}
}

func removeFile(p string) error { return os.Remove(p) }

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
