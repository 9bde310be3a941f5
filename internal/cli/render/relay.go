package render

import (
	"fmt"
	"strconv"
	"time"

	"github.com/smtpkit/smtpkit/internal/spool"
)

// The JSON output of `smtpkit relay` and its subcommands is a documented
// contract: field names only ever get added.
//
// relay (RelayResult):
//
//	id          string    the spool entry's ID
//	spool       string    the spool directory
//	attempts    number    delivery attempts made by this run
//	recipients  [object]  one per recipient, its latest outcome: recipient,
//	                      status (delivered, deferred, failed), code (SMTP
//	                      reply code, absent when none came), enhanced
//	                      (RFC 3463), reason (the reply or error, one line),
//	                      remote_mta
//	bounce_id   string    the bounce queued for the sender (absent if none)
//	exit_code   number    the exit status
//
// relay flush (RelayFlush): spool, results (one per entry worked on: id,
// attempted, outcomes as above, expired (recipients that reached the
// maximum age), removed (nothing left to do), bounce_id, delay_id), error
// (absent unless a spool error stopped part of the flush).
//
// relay queue (RelayQueue): spool, entries (oldest first: id, created,
// sender ("" for <>), size, bounce (a report of ours), recipients (addr,
// status (queued, deferred, delivered, failed), attempts, last_attempt,
// next_attempt, reason, code, enhanced, remote_mta, expired, notified),
// delay_notified, age_seconds, next_attempt (the earliest)).

// RelayResult is one `smtpkit relay` run.
type RelayResult struct {
	ID         string          `json:"id"`
	Spool      string          `json:"spool"`
	Attempts   int             `json:"attempts"`
	Recipients []spool.Outcome `json:"recipients"`
	BounceID   string          `json:"bounce_id,omitempty"`
	ExitCode   int             `json:"exit_code"`
}

// RelayFlushEntry is one entry of a flush.
type RelayFlushEntry struct {
	ID        string          `json:"id"`
	Attempted bool            `json:"attempted"`
	Outcomes  []spool.Outcome `json:"outcomes"`
	Expired   []string        `json:"expired,omitempty"`
	Removed   bool            `json:"removed"`
	BounceID  string          `json:"bounce_id,omitempty"`
	DelayID   string          `json:"delay_id,omitempty"`
}

// RelayFlush is one `smtpkit relay flush` run.
type RelayFlush struct {
	Spool   string            `json:"spool"`
	Results []RelayFlushEntry `json:"results"`
	Error   string            `json:"error,omitempty"`
}

// RelayQueue is `smtpkit relay queue`.
type RelayQueue struct {
	Spool   string            `json:"spool"`
	Entries []RelayQueueEntry `json:"entries"`
}

// RelayQueueEntry is one entry with its age at the time of listing.
type RelayQueueEntry struct {
	*spool.Entry
	AgeSeconds  float64   `json:"age_seconds"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
}

func statusTone(s spool.Status) Tone {
	switch s {
	case spool.Delivered:
		return ToneGood
	case spool.Failed:
		return ToneBad
	case spool.Deferred:
		return ToneWarn
	}
	return ToneNone
}

// Relay prints the outcome of `smtpkit relay`: in text, one line per
// recipient (ID, recipient, status, reason).
func (p *Printer) Relay(r RelayResult) error {
	if r.Recipients == nil {
		r.Recipients = []spool.Outcome{}
	}
	switch p.o.Format {
	case FormatJSON:
		return p.JSON(r)
	case FormatJSONL:
		return p.JSONLine(r)
	}
	if p.o.Quiet {
		return nil
	}
	t := NewTable("ID", "RECIPIENT", "STATUS", "REASON")
	for _, o := range r.Recipients {
		t.AddCells(Cell{Text: r.ID}, Cell{Text: o.Recipient}, Cell{Text: string(o.Status), Tone: statusTone(o.Status)}, Cell{Text: reasonText(o), Tone: ToneDim})
	}
	return p.Table(t)
}

func reasonText(o spool.Outcome) string {
	if o.RemoteMTA != "" && o.Reason != "" {
		return o.Reason + " (" + o.RemoteMTA + ")"
	}
	return o.Reason
}

// RelayFlush prints a flush: one line per recipient attempted or expired.
func (p *Printer) RelayFlush(f RelayFlush) error {
	if f.Results == nil {
		f.Results = []RelayFlushEntry{}
	}
	for i := range f.Results {
		if f.Results[i].Outcomes == nil {
			f.Results[i].Outcomes = []spool.Outcome{}
		}
	}
	switch p.o.Format {
	case FormatJSON:
		return p.JSON(f)
	case FormatJSONL:
		for _, r := range f.Results {
			if err := p.JSONLine(r); err != nil {
				return err
			}
		}
		return nil
	}
	if p.o.Quiet || len(f.Results) == 0 {
		return nil
	}
	t := NewTable("ID", "RECIPIENT", "STATUS", "REASON")
	for _, r := range f.Results {
		for _, o := range r.Outcomes {
			t.AddCells(Cell{Text: r.ID}, Cell{Text: o.Recipient}, Cell{Text: string(o.Status), Tone: statusTone(o.Status)}, Cell{Text: reasonText(o), Tone: ToneDim})
		}
		for _, a := range r.Expired {
			t.AddCells(Cell{Text: r.ID}, Cell{Text: a}, Cell{Text: "expired", Tone: ToneBad})
		}
	}
	return p.Table(t)
}

// RelayQueue prints the spool like mailq: one line per recipient still to
// be delivered, with the entry's ID, age, size and sender on each.
func (p *Printer) RelayQueue(q RelayQueue, now time.Time) error {
	if q.Entries == nil {
		q.Entries = []RelayQueueEntry{}
	}
	switch p.o.Format {
	case FormatJSON:
		return p.JSON(q)
	case FormatJSONL:
		for _, e := range q.Entries {
			if err := p.JSONLine(e); err != nil {
				return err
			}
		}
		return nil
	}
	if len(q.Entries) == 0 {
		return p.write(p.out, "queue is empty\n")
	}
	t := NewTable("ID", "AGE", "SIZE", "SENDER", "RECIPIENT", "STATUS", "TRIES", "NEXT", "REASON")
	for _, e := range q.Entries {
		sender := "<" + e.Sender + ">"
		for _, r := range e.Pending() {
			next := "now"
			if r.NextAttempt.After(now) {
				next = "in " + ShortDuration(r.NextAttempt.Sub(now))
			}
			t.AddCells(Cell{Text: e.ID}, Cell{Text: ShortDuration(time.Duration(e.AgeSeconds * float64(time.Second)))},
				Cell{Text: strconv.FormatInt(e.Size, 10)}, Cell{Text: sender}, Cell{Text: r.Addr},
				Cell{Text: string(r.Status), Tone: statusTone(r.Status)}, Cell{Text: strconv.Itoa(r.Attempts)},
				Cell{Text: next}, Cell{Text: r.Reason, Tone: ToneDim})
		}
	}
	return p.Table(t)
}

// ShortDuration renders d coarsely, like "45s", "12m", "3h5m", "2d4h".
func ShortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
