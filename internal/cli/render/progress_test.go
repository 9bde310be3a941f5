package render

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/batch"
	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// fakeNow is a clock that moves only when told.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeNow) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeNow) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestBatchProgressOnlyOnATerminal(t *testing.T) {
	for _, tt := range []struct {
		name   string
		errTTY bool
		o      Options
		want   bool
	}{
		{"terminal", true, Options{}, true},
		{"terminal, no colour", true, Options{Color: ColorNever}, true},
		{"pipe", false, Options{}, false},
		{"pipe, colour forced", false, Options{Color: ColorAlways}, false},
		{"quiet", true, Options{Quiet: true}, false},
		{"json", true, Options{Format: FormatJSON}, false},
		{"jsonl", true, Options{Format: FormatJSONL}, false},
		{"verbose", true, Options{Verbose: 1}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, out, errOut := newTest(true, tt.errTTY, tt.o)
			b := p.batchProgress(-1, nil, nil, 0)
			if got := b != nil; got != tt.want {
				t.Fatalf("bar %v, want %v", got, tt.want)
			}
			// A nil bar is safe to use.
			b.Result(batch.Result{Status: batch.StatusSent})
			wrote := false
			b.Around(func() { wrote = true })
			b.Done()
			if !wrote {
				t.Error("Around did not run its write")
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q: the bar goes to stderr only", out)
			}
			if got := strings.Contains(errOut.String(), "batch: 1 sent"); got != tt.want {
				t.Errorf("stderr %q", errOut)
			}
		})
	}
}

func TestBatchProgressCounts(t *testing.T) {
	clock := &fakeNow{t: t0}
	p, out, errOut := newTest(false, true, Options{Env: env("TERM", "xterm")})
	pos := int64(0)
	var mu sync.Mutex
	b := p.batchProgress(1000, func() int64 { mu.Lock(); defer mu.Unlock(); return pos }, clock.now, 0)
	if !strings.Contains(errOut.String(), "batch: 0 sent, 0 deferred, 0 failed") {
		t.Errorf("no first line: %q", errOut)
	}
	for i, st := range []batch.Status{batch.StatusSent, batch.StatusSent, batch.StatusDeferred, batch.StatusFailed, batch.StatusSkipped, batch.StatusUnconfirmed} {
		mu.Lock()
		pos = int64(100 * (i + 1))
		mu.Unlock()
		clock.add(time.Second)
		b.Result(batch.Result{Row: i + 1, Status: st})
	}
	mu.Lock()
	pos = 1000 // all read; the bar must not finish itself before Done
	mu.Unlock()
	clock.add(time.Second)
	b.Result(batch.Result{Row: 7, Status: batch.StatusSent})
	got := errOut.String()
	for _, want := range []string{
		"batch: 3 sent, 1 deferred, 1 failed, 1 unconfirmed, 1 skipped, 0.4 msg/s",
		"60%", "99%", "\x1b[0K", // a bar by input octets, each draw clearing the line's rest
	} {
		if !strings.Contains(got, want) {
			t.Errorf("stderr lacks %q:\n%q", want, got)
		}
	}
	if strings.Contains(got, "100%") {
		t.Errorf("the bar reached 100%% before Done:\n%q", got)
	}

	// Around erases the line before the write and draws it after.
	errOut.Reset()
	b.Around(func() { errOut.WriteString("ROW\n") })
	if s := errOut.String(); !strings.HasPrefix(s, "\x1b[2K\r") || !strings.Contains(s, "ROW\n\r") {
		t.Errorf("Around: %q", s)
	}

	errOut.Reset()
	b.Done()
	if s := errOut.String(); s != "\x1b[2K\r" {
		t.Errorf("Done wrote %q, want the line cleared", s)
	}
	// Nothing after Done.
	b.Result(batch.Result{Status: batch.StatusSent})
	if errOut.String() != "\x1b[2K\r" || out.Len() != 0 {
		t.Errorf("output after Done: %q, stdout %q", errOut, out)
	}
}

func TestBatchProgressRedrawPace(t *testing.T) {
	clock := &fakeNow{t: t0}
	p, _, errOut := newTest(false, true, Options{Env: env()})
	b := p.batchProgress(0, nil, clock.now, 0) // size unknown: a spinner
	defer b.Done()
	n := strings.Count(errOut.String(), "batch:")
	for i := 0; i < 50; i++ {
		b.Result(batch.Result{Status: batch.StatusSent}) // no time passes: no redraw
	}
	clock.add(progressMinRedraw)
	b.Result(batch.Result{Status: batch.StatusSent})
	got := errOut.String()
	if c := strings.Count(got, "batch:"); c != n+1 {
		t.Errorf("%d draws for 51 rows within one redraw interval:\n%q", c-n, got)
	}
	if !strings.Contains(got, "batch: 51 sent") {
		t.Errorf("last draw missing:\n%q", got)
	}
	if strings.Contains(got, "%") {
		t.Errorf("a percentage without a known size:\n%q", got)
	}
}

func TestBatchSummaryFormats(t *testing.T) {
	s := batch.Summary{Sent: 3, Deferred: 1, Failed: 2, Elapsed: 1500 * time.Millisecond, Rate: 2}
	p, out, errOut := newTest(false, false, Options{})
	p.BatchSummary(s)
	if errOut.String() != "batch: 3 sent, 1 deferred, 2 failed in 1.5s (2.0 msg/s)\n" || out.Len() != 0 {
		t.Errorf("text: %q, stdout %q", errOut, out)
	}
	for _, f := range []Format{FormatJSON, FormatJSONL} {
		p, out, errOut := newTest(false, false, Options{Format: f})
		p.BatchSummary(s)
		line := errOut.String()
		if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") || out.Len() != 0 {
			t.Fatalf("%s: want one line on stderr, got %q (stdout %q)", f, line, out)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for k, v := range map[string]float64{"sent": 3, "deferred": 1, "failed": 2, "skipped": 0, "checked": 0, "unconfirmed": 0, "rate": 2, "elapsed": 1.5} {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v (%s)", f, k, got[k], v, line)
			}
		}
		q, _, qerr := newTest(false, false, Options{Format: f, Quiet: true})
		q.BatchSummary(s)
		if qerr.Len() != 0 {
			t.Errorf("%s -q: %q", f, qerr)
		}
	}
}

// TestBatchProgressTicks: with no row finishing (a wait for --rate, a
// retry's backoff), the line is still redrawn; Done stops that for good.
func TestBatchProgressTicks(t *testing.T) {
	var errOut smtptest.SyncBuffer
	p := New(&strings.Builder{}, &errOut, false, true, Options{Env: env()})
	b := p.batchProgress(-1, nil, nil, time.Millisecond)
	// A bounded wait for a few ticks, not a speed requirement.
	for i := 0; i < 5000 && strings.Count(errOut.String(), "batch:") < 3; i++ {
		time.Sleep(time.Millisecond)
	}
	if c := strings.Count(errOut.String(), "batch:"); c < 3 {
		t.Fatalf("%d draws without results, want the ticker's too", c)
	}
	b.Done()
	after := errOut.String()
	time.Sleep(20 * time.Millisecond)
	if errOut.String() != after {
		t.Error("drawn after Done")
	}
}
