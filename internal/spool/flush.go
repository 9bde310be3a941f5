package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/smtpkit/smtpkit/internal/message"
)

// Outcome is what one delivery attempt did for one recipient. It mirrors
// internal/deliver's Outcome, so the spool does not depend on how delivery
// is done.
type Outcome struct {
	Recipient string `json:"recipient"`
	// Status is Delivered, Deferred or Failed.
	Status Status `json:"status"`
	// Code is the SMTP reply code, 0 when no reply was received (a
	// connection or DNS failure).
	Code int `json:"code,omitempty"`
	// Enhanced is the RFC 3463 status code ("5.1.1"), if known.
	Enhanced string `json:"enhanced,omitempty"`
	// Reason is the reply as one line, or the error text.
	Reason string `json:"reason,omitempty"`
	// RemoteMTA is the host that answered, if any.
	RemoteMTA string `json:"remote_mta,omitempty"`
}

// Attempt makes one delivery attempt of msg from the envelope sender from
// ("" for <>) to rcpts, with the entry's DSN parameters dsn, and returns
// one Outcome per recipient. A recipient without an outcome counts as
// deferred. It must not keep msg after it returns.
type Attempt func(ctx context.Context, from string, rcpts []string, msg *message.Prepared, dsn DSNParams) []Outcome

// DSNParams are an entry's RFC 3461 parameters for one attempt, to be sent
// with MAIL and RCPT to a server that offers DSN.
type DSNParams struct {
	// Ret and EnvID are RET (4.3) and ENVID (4.4), "" when not given.
	Ret, EnvID string
	// Notify and ORcpt hold each recipient's NOTIFY (4.1) and ORCPT (4.2)
	// in the order of the attempt's recipients; nil and "" when not given.
	Notify [][]string
	ORcpt  []string
}

// Result is what happened to one entry in a flush or AttemptNow.
type Result struct {
	ID string
	// Entry is the state afterwards (also when it was removed).
	Entry *Entry
	// Attempted is set when the delivery function ran.
	Attempted bool
	// Outcomes are this attempt's, one per recipient attempted.
	Outcomes []Outcome
	// Expired lists recipients that failed for reaching the maximum age.
	Expired []string
	// Removed is set when nothing was left to do and the entry went away.
	Removed bool
	// Bounce is the ID of the failure report queued for the sender, Delay
	// the ID of a delay notice; "" when none.
	Bounce, Delay string
}

// FlushOptions tell Flush what to attempt and how.
type FlushOptions struct {
	// Concurrency bounds the entries attempted at once; <= 0 means 4.
	Concurrency int
	// All attempts every entry with pending recipients, due or not.
	All bool
}

// Flush attempts every due entry (every pending one with All), at most
// Concurrency at once, and then the reports it queued. Entries another
// process has locked are skipped. It returns one Result per entry it
// worked on, in no particular order; the error is the first spool failure
// (the other entries are still worked on) or ctx's error.
//
// When there is something to attempt, Flush first checks that the spool
// can record an outcome (see writable): on a read-only or full spool it
// returns that *Error and attempts nothing, rather than deliver messages
// whose entries it then could not update or remove, which the next flush
// would deliver again.
func (s *Spool) Flush(ctx context.Context, attempt Attempt, o FlushOptions) ([]Result, error) {
	entries, err := s.List()
	if err != nil {
		return nil, err
	}
	now := s.now()
	var ids []string
	for _, e := range entries {
		if o.All && len(e.Pending()) > 0 || e.Due(now) || s.expired(e, now) && len(e.Pending()) > 0 {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) > 0 {
		if err := s.writable(); err != nil {
			return nil, err
		}
	}
	res, err := s.run(ctx, attempt, ids, o.All, o.Concurrency)
	// Reports queued by this run go out with it (one more round, no more).
	var more []string
	for _, r := range res {
		for _, id := range []string{r.Bounce, r.Delay} {
			if id != "" {
				more = append(more, id)
			}
		}
	}
	if len(more) > 0 && ctx.Err() == nil {
		res2, err2 := s.run(ctx, attempt, more, true, o.Concurrency)
		res = append(res, res2...)
		if err == nil {
			err = err2
		}
	}
	return res, err
}

func (s *Spool) run(ctx context.Context, attempt Attempt, ids []string, force bool, conc int) ([]Result, error) {
	if conc <= 0 {
		conc = 4
	}
	var (
		mu    sync.Mutex
		out   []Result
		first error
		wg    sync.WaitGroup
		work  = make(chan string)
	)
	for range min(conc, len(ids)) {
		wg.Go(func() {
			for id := range work {
				r, err := s.attemptID(ctx, id, attempt, force)
				mu.Lock()
				if err == nil {
					out = append(out, r)
				} else if !errors.Is(err, ErrLocked) && !errors.Is(err, ErrNotFound) && first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		work <- id
	}
	close(work)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return out, first
}

// AttemptNow locks entry id and attempts every pending recipient at once,
// due or not (relay's first attempt, and each of --retry-for's). Reports
// it queues are attempted right after, their results logged only. It
// returns ErrNotFound, ErrLocked, or an *Error when the state cannot be
// kept.
func (s *Spool) AttemptNow(ctx context.Context, id string, attempt Attempt) (Result, error) {
	r, err := s.attemptID(ctx, id, attempt, true)
	if err != nil {
		return r, err
	}
	for _, b := range []string{r.Bounce, r.Delay} {
		if b != "" {
			_, _ = s.attemptID(ctx, b, attempt, true)
		}
	}
	return r, nil
}

func (s *Spool) attemptID(ctx context.Context, id string, attempt Attempt, force bool) (Result, error) {
	l, err := s.lock(id)
	if err != nil {
		return Result{ID: id}, err
	}
	defer l.unlock()
	return s.process(ctx, l, attempt, force)
}

// expired reports whether e has reached the maximum age at now.
func (s *Spool) expired(e *Entry, now time.Time) bool {
	return now.Sub(e.Created) >= s.age
}

// Backoff is the wait before the next attempt of an entry of the given
// age, like Postfix's queue manager: the age itself, kept between the
// minimum and maximum backoff. RFC 5321 4.5.4.1 asks for at least 30
// minutes between retries in general and leaves the strategy to the
// sender; starting at 5 minutes and doubling (each wait equals the age
// reached) up to about 67 minutes is what Postfix does for fresh mail.
func (s *Spool) Backoff(age time.Duration) time.Duration {
	return min(max(age, s.minB), s.maxB)
}

// process runs one locked entry: attempt (unless only expiry is due),
// record the outcomes, expire, queue reports, then save or remove.
func (s *Spool) process(ctx context.Context, l *locked, attempt Attempt, force bool) (Result, error) {
	e := l.e
	res := Result{ID: e.ID, Entry: e}
	now := s.now()
	expired := s.expired(e, now)
	var due []*Recipient
	for _, r := range e.Pending() {
		// Past the maximum age only a recipient never attempted gets its
		// one attempt (a report queued by a flush with a tiny --max-age
		// must still go out once).
		if expired && r.Status != Queued {
			continue
		}
		if force || expired || !r.NextAttempt.After(now) {
			due = append(due, r)
		}
	}
	if len(due) > 0 {
		res.Attempted = true
		res.Outcomes = s.attempt(ctx, e, due, attempt)
		if ctx.Err() != nil {
			// Cut short: whatever was not decided stays as it was
			// (deferred outcomes were recorded and are harmless).
			if err := l.save(); err != nil {
				return res, err
			}
			return res, fmt.Errorf("spool: %s: %w", e.ID, ctx.Err())
		}
		now = s.now()
		expired = s.expired(e, now)
		for _, r := range due {
			if r.Status == Deferred {
				r.NextAttempt = now.Add(s.Backoff(now.Sub(e.Created)))
			}
		}
	}
	if expired {
		for _, r := range e.Pending() {
			if r.Status != Deferred {
				continue
			}
			r.Status, r.Expired = Failed, true
			if r.Enhanced == "" {
				r.Enhanced = "4.4.7" // RFC 3463 3.5: delivery time expired
			}
			res.Expired = append(res.Expired, r.Addr)
			s.log.Warn("expired", "id", e.ID, "rcpt", r.Addr, "age", now.Sub(e.Created).Round(time.Second).String())
		}
	}
	if err := s.notify(ctx, e, now, &res); err != nil {
		return res, err
	}
	if len(e.Pending()) == 0 {
		res.Removed = true
		s.log.Info("removed", "id", e.ID, "reason", "done")
		return res, l.remove()
	}
	return res, l.save()
}

// attempt hands due to the delivery function and records each outcome.
func (s *Spool) attempt(ctx context.Context, e *Entry, due []*Recipient, attempt Attempt) []Outcome {
	now := s.now()
	rcpts := make([]string, len(due))
	dsn := DSNParams{Ret: e.Ret, EnvID: e.EnvID, Notify: make([][]string, len(due)), ORcpt: make([]string, len(due))}
	for i, r := range due {
		rcpts[i] = r.Addr
		dsn.Notify[i], dsn.ORcpt[i] = r.Notify, r.ORcpt
	}
	var outs []Outcome
	msg, err := message.FromFile(s.msgPath(e.ID), message.DataOptions{})
	if err != nil {
		// A message we cannot read is our own trouble: retry later.
		for _, a := range rcpts {
			outs = append(outs, Outcome{Recipient: a, Status: Deferred, Enhanced: "4.3.0", Reason: "spool: " + err.Error()})
		}
	} else {
		outs = attempt(ctx, e.Sender, rcpts, msg, dsn)
		msg.Close()
	}
	byAddr := make(map[string]Outcome, len(outs))
	for _, o := range outs {
		byAddr[o.Recipient] = o
	}
	var recorded []Outcome
	for _, r := range due {
		o, ok := byAddr[r.Addr]
		if !ok || (o.Status != Delivered && o.Status != Failed) {
			if !ok {
				o = Outcome{Recipient: r.Addr, Reason: "no outcome from the delivery attempt"}
			}
			o.Status = Deferred
		}
		r.Status, r.Attempts, r.LastAttempt = o.Status, r.Attempts+1, now
		r.Reason, r.Code, r.Enhanced, r.RemoteMTA = o.Reason, o.Code, o.Enhanced, o.RemoteMTA
		recorded = append(recorded, o)
		s.log.Info("attempt", "id", e.ID, "rcpt", r.Addr, "status", string(o.Status), "relay", o.RemoteMTA, "reason", o.Reason)
	}
	return recorded
}

// notify queues the failure report for newly failed recipients and, when
// asked, the one delay notice. RFC 3461 4.1: NOTIFY=NEVER asks for no
// report at all, a NOTIFY list without FAILURE for no failure report, and
// one without DELAY for no delay report; with no NOTIFY parameter an MTA
// reports failures, and delays at its discretion, hence delay notices only
// with NotifyDelay (and then only to recipients whose NOTIFY is unset or
// lists DELAY). RFC 5321 6.1: a message accepted for delivery that then
// fails must be reported to its sender unless the sender asked otherwise,
// with a null reverse-path so no report is ever reported on; RFC 3464
// gives the form. A null sender (which includes every report of ours) gets
// none: the failure is logged and dropped. The report is queued before the
// entry's state says so, so a crash in between sends it twice rather than
// never.
func (s *Spool) notify(ctx context.Context, e *Entry, now time.Time, res *Result) error {
	var failed []*Recipient
	for i := range e.Recipients {
		r := &e.Recipients[i]
		if r.Status != Failed || r.Notified {
			continue
		}
		if !r.wants("FAILURE") {
			// RFC 3461 4.1: the sender asked for no failure report.
			s.log.Info("not reported", "id", e.ID, "rcpt", r.Addr, "why", "NOTIFY="+strings.Join(r.Notify, ","), "reason", r.Reason)
			r.Notified = true
			continue
		}
		failed = append(failed, r)
	}
	if len(failed) > 0 {
		if e.Sender == "" {
			what := "null sender"
			if e.Bounce {
				what = "bounce of a bounce"
			}
			for _, r := range failed {
				s.log.Warn("dropped", "id", e.ID, "rcpt", r.Addr, "why", "failed, not reported: "+what, "reason", r.Reason)
			}
		} else {
			b, err := s.report(e, failed, ActionFailed, now)
			if err != nil {
				return err
			}
			be, err := s.enqueue(ctx, b, "", []string{e.Sender}, true, EnqueueOptions{})
			if err != nil {
				return err
			}
			res.Bounce = be.ID
			s.log.Info("bounce", "id", e.ID, "bounce_id", be.ID, "to", e.Sender, "failed", len(failed))
		}
		for _, r := range failed {
			r.Notified = true
		}
	}
	if s.delay > 0 && !e.DelayNotified && e.Sender != "" && now.Sub(e.Created) >= s.delay {
		var deferred []*Recipient
		for _, r := range e.Pending() {
			if r.Status == Deferred && r.wants("DELAY") {
				deferred = append(deferred, r)
			}
		}
		if len(deferred) > 0 {
			b, err := s.report(e, deferred, ActionDelayed, now)
			if err != nil {
				return err
			}
			de, err := s.enqueue(ctx, b, "", []string{e.Sender}, true, EnqueueOptions{})
			if err != nil {
				return err
			}
			e.DelayNotified = true
			res.Delay = de.ID
			s.log.Info("delay notice", "id", e.ID, "notice_id", de.ID, "to", e.Sender)
		}
	}
	return nil
}

// probeSize is what writable writes: more than an entry's state file
// usually takes, so that a spool with room for the probe has room for the
// states a flush writes.
const probeSize = 4096

// writable checks that the spool can take a state update now: it creates
// a file in tmp/, writes probeSize octets, fsyncs, closes and removes it.
// It returns the *Error of the first step that fails (Create for a
// read-only spool, Full for a full one).
func (s *Spool) writable() error {
	f, path, err := s.createTmp("probe")
	if err != nil {
		return err
	}
	defer os.Remove(path)
	if _, err := f.Write(make([]byte, probeSize)); err != nil {
		f.Close()
		return newError("write", path, err)
	}
	return syncClose(f, path)
}
