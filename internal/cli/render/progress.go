package render

import (
	"fmt"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/smtpkit/smtpkit/internal/batch"
)

// Redraw pacing of BatchProgress: rows can finish thousands of times a
// second, and a terminal write per row would cost more than the row.
const (
	progressMinRedraw = 100 * time.Millisecond // at most this often on results
	progressTick      = 500 * time.Millisecond // at least this often, so a wait (--rate, a retry) shows time passing
)

// BatchProgress is the live progress line of `smtpkit send --batch` on
// stderr: a bar by input octets when the input's size is known, a spinner
// otherwise, followed by the counts of sent, deferred and failed rows and
// the rate. Its methods are safe for concurrent use and do nothing on a nil
// *BatchProgress, which is what Printer.BatchProgress returns when there
// should be no line.
type BatchProgress struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	total int64
	pos   func() int64
	now   func() time.Time
	start time.Time
	last  time.Time
	n     struct{ sent, deferred, unconfirmed, failed, skipped, checked int }
	stop  chan struct{}
	done  chan struct{}
}

// BatchProgress starts the progress line of a batch, or returns nil when
// there is to be none: it is drawn only when stderr is a terminal, the
// format is text, and neither -q nor -v (whose transcript goes to stderr)
// is given. total is the input's size in octets (0 or less: unknown, for
// stdin or a pipe); pos, when not nil, says how far into the input the rows
// read so far reach. now is the clock of the rate.
func (p *Printer) BatchProgress(total int64, pos func() int64, now func() time.Time) *BatchProgress {
	return p.batchProgress(total, pos, now, progressTick)
}

// batchProgress is BatchProgress redrawing every tick, or only on results
// when tick is 0.
func (p *Printer) batchProgress(total int64, pos func() int64, now func() time.Time, tick time.Duration) *BatchProgress {
	if !p.errTTY || p.o.Format != FormatText || p.o.Quiet || p.o.Verbose > 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	dumb := false
	if v, _ := p.o.Env("TERM"); v == "dumb" {
		dumb = true
	}
	max := int64(-1)
	if total > 0 && pos != nil {
		max = total
	}
	b := &BatchProgress{
		total: max,
		pos:   pos,
		now:   now,
		start: now(),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	b.bar = progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(p.errOut),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowDescriptionAtLineEnd(),
		// A dumb terminal gets the line cleared with spaces instead.
		progressbar.OptionUseANSICodes(!dumb),
		// No goroutine of the bar's own: every draw is under b.mu.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionSpinnerType(9),
	)
	b.draw()
	if tick > 0 {
		go b.tick(tick)
	} else {
		close(b.done)
	}
	return b
}

func (b *BatchProgress) tick(d time.Duration) {
	defer close(b.done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.mu.Lock()
			b.draw()
			b.mu.Unlock()
		}
	}
}

// Result counts one row's outcome and redraws the line, at most every
// 100ms.
func (b *BatchProgress) Result(r batch.Result) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch r.Status {
	case batch.StatusSent:
		b.n.sent++
	case batch.StatusDeferred:
		b.n.deferred++
	case batch.StatusUnconfirmed:
		b.n.unconfirmed++
	case batch.StatusFailed:
		b.n.failed++
	case batch.StatusSkipped:
		b.n.skipped++
	case batch.StatusChecked:
		b.n.checked++
	}
	if b.now().Sub(b.last) >= progressMinRedraw {
		b.draw()
	}
}

// Around erases the line, runs write (which prints on the terminal the
// line shares, such as a result row on stdout), and draws the line again
// below what write printed.
func (b *BatchProgress) Around(write func()) {
	if b == nil {
		write()
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.bar.Clear()
	write()
	b.draw()
}

// Done erases the line for good, before the summary is printed.
func (b *BatchProgress) Done() {
	if b == nil {
		return
	}
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.bar.Clear()
	_ = b.bar.Exit()
}

// draw renders the line; b.mu is held.
func (b *BatchProgress) draw() {
	now := b.now()
	b.last = now
	desc := fmt.Sprintf("%d sent, %d deferred, %d failed", b.n.sent, b.n.deferred, b.n.failed)
	if b.n.unconfirmed > 0 {
		desc += fmt.Sprintf(", %d unconfirmed", b.n.unconfirmed)
	}
	if b.n.skipped > 0 {
		desc += fmt.Sprintf(", %d skipped", b.n.skipped)
	}
	if b.n.checked > 0 {
		desc += fmt.Sprintf(", %d checked", b.n.checked)
	}
	if s := now.Sub(b.start).Seconds(); s >= 1 {
		desc += fmt.Sprintf(", %.1f msg/s", float64(b.n.sent)/s)
	}
	// Describe draws; Set64 draws again only when the percentage changes.
	b.bar.Describe("batch: " + desc)
	if b.total > 0 {
		// Never the whole input before Done: the bar would count itself
		// finished while the last rows are still on their way.
		_ = b.bar.Set64(min(b.pos(), b.total-1))
	}
}
