package render

import (
	"fmt"
	"io"
	"sync"

	"github.com/smtpkit/smtpkit/internal/batch"
)

// The results of `smtpkit send --batch` are JSONL, one object per input
// row, in the order rows finish (a documented contract: fields are only
// ever added):
//
//	row         number    the row number (1 = first data row; the CSV header is not counted)
//	status      string    sent, skipped (accepted by an earlier run, --state),
//	                      checked (--check), deferred (temporary failure after
//	                      every retry) or failed (permanent failure or a bad row)
//	recipients  [string]  the row's recipients
//	reply       object    the server's final reply to the content (absent if none)
//	refused     [object]  recipients refused in a sent row: address, reply
//	queue_id    string    the queue id from the final reply, when one is found
//	attempts    number    transactions tried for this row
//	time        string    RFC 3339 time of the outcome
//	error       string    why the row was deferred or failed

// BatchResults writes one JSONL object per row to w, safe for concurrent
// use.
type BatchResults struct {
	mu sync.Mutex
	w  io.Writer
}

// NewBatchResults writes results to w (stdout or the --results file).
func NewBatchResults(w io.Writer) *BatchResults { return &BatchResults{w: w} }

// Write writes one result line.
func (b *BatchResults) Write(r batch.Result) error {
	if r.Rcpts == nil {
		r.Rcpts = []string{}
	}
	line, err := marshal(r, false)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_, err = b.w.Write(line)
	return err
}

// BatchSummary prints the run's counts on stderr: one line with the text
// format; with json or jsonl, one JSON object on one line (the rows on
// stdout or in --results are JSONL whatever the format):
//
//	sent, skipped, checked, deferred, unconfirmed, failed
//	          number   rows with each status
//	rate      number   sent messages per second over the run
//	elapsed   number   seconds the run took
//
// Nothing with Quiet.
func (p *Printer) BatchSummary(s batch.Summary) {
	if p.o.Quiet {
		return
	}
	if p.o.Format != FormatText {
		v := struct {
			batch.Summary
			Elapsed float64 `json:"elapsed"`
		}{s, s.Elapsed.Seconds()}
		if b, err := marshal(v, false); err == nil {
			p.write(p.errOut, string(b))
		}
		return
	}
	msg := fmt.Sprintf("batch: %d sent, %d deferred, %d failed", s.Sent, s.Deferred, s.Failed)
	if s.Unconfirmed > 0 {
		msg += fmt.Sprintf(", %d unconfirmed (sent, no reply: not sent again)", s.Unconfirmed)
	}
	if s.Skipped > 0 {
		msg += fmt.Sprintf(", %d skipped (already sent)", s.Skipped)
	}
	if s.Checked > 0 {
		msg += fmt.Sprintf(", %d checked", s.Checked)
	}
	if s.Sent > 0 {
		msg += fmt.Sprintf(" in %.1fs (%.1f msg/s)", s.Elapsed.Seconds(), s.Rate)
	}
	p.write(p.errOut, msg+"\n")
}
