package batch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtp"
)

// Conn is one open SMTP session, greeted, with STARTTLS and AUTH done.
// *smtp.Client satisfies it.
type Conn interface {
	Send(tx *smtp.Transaction) (*smtp.TxResult, error)
	Quit() (smtp.Reply, error)
	Close() error
	Extensions() smtp.Extensions
}

// Connect opens a new session.
type Connect func(ctx context.Context) (Conn, error)

// Status is the outcome of one row.
type Status string

// The row outcomes, from best to worst.
const (
	StatusSent     Status = "sent"     // every recipient accepted (or some, the rest permanently refused)
	StatusSkipped  Status = "skipped"  // accepted by an earlier run (--state)
	StatusChecked  Status = "checked"  // --check: valid and rendered, not sent
	StatusDeferred Status = "deferred" // temporary failure after every retry
	// StatusUnconfirmed: the end of data was sent but its reply never
	// came (a dropped connection, or an earlier run killed at that moment):
	// the server may have the message, so it is not sent again unless
	// ResendUnconfirmed.
	StatusUnconfirmed Status = "unconfirmed"
	StatusFailed      Status = "failed" // permanent failure, or a bad row
)

// Result is what happened to one row.
type Result struct {
	Row      int           `json:"row"`
	Status   Status        `json:"status"`
	Rcpts    []string      `json:"recipients"`
	Reply    *smtp.Reply   `json:"reply,omitempty"`
	Refused  []RcptRefusal `json:"refused,omitempty"`
	QueueID  string        `json:"queue_id,omitempty"`
	Attempts int           `json:"attempts"`
	Time     time.Time     `json:"time"`
	Error    string        `json:"error,omitempty"`
	// Err is the error behind Error, for the exit code.
	Err error `json:"-"`
}

// RcptRefusal is one recipient the server refused in a sent row.
type RcptRefusal struct {
	Addr  string     `json:"address"`
	Reply smtp.Reply `json:"reply"`
}

// Summary counts the outcomes of a run.
type Summary struct {
	Sent     int `json:"sent"`
	Skipped  int `json:"skipped"`
	Checked  int `json:"checked"`
	Deferred int `json:"deferred"`
	// Unconfirmed rows may or may not have been delivered (RFC 1047).
	Unconfirmed int           `json:"unconfirmed"`
	Failed      int           `json:"failed"`
	Elapsed     time.Duration `json:"-"`
	// Rate is sent messages per second over the run.
	Rate float64 `json:"rate"`
}

// Options configure a Run.
type Options struct {
	Reader   Reader
	Template *Template
	From     string
	MailOpts *smtp.MailOptions
	RcptOpts *smtp.RcptOptions

	Connect       Connect
	Concurrency   int           // sessions, default 1
	PerConnection int           // messages per session before QUIT, 0: no limit
	Retries       int           // extra attempts after a temporary failure
	Backoff       time.Duration // first retry delay, doubled each time; default 1s
	Pipelining    bool          // use PIPELINING when the server offers it
	Chunking      bool          // use BDAT when the server offers CHUNKING

	Limiter *Limiter
	Journal *Journal // nil: no --state
	Check   bool     // validate and render only
	Strict  bool     // the first bad row stops the batch
	// ResendUnconfirmed sends again rows whose end of data got no reply,
	// in this run or (from the journal) an earlier one: a server that had
	// them delivers them twice.
	ResendUnconfirmed bool
	Clock             Clock // nil: WallClock
	// KeepHeaders sends the rendered message as it is; otherwise a Date:
	// and a Message-ID: are added when the template has none.
	KeepHeaders bool

	// Result is called once per row, from one goroutine at a time.
	Result func(Result)
}

// job is a rendered row waiting for a session.
type job struct {
	row  *Row
	body []byte
}

// Run sends every row and returns the summary. The error is for what stops
// the whole batch: an input read error, a journal write error, a bad row
// with Strict, or ctx ending; per-row failures are in the results.
func Run(ctx context.Context, o Options) (Summary, error) {
	if o.Clock == nil {
		o.Clock = WallClock
	}
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	start := o.Clock.Now()
	var (
		mu      sync.Mutex
		sum     Summary
		fatal   error
		results = func(r Result) {
			mu.Lock()
			defer mu.Unlock()
			switch r.Status {
			case StatusSent:
				sum.Sent++
			case StatusSkipped:
				sum.Skipped++
			case StatusChecked:
				sum.Checked++
			case StatusDeferred:
				sum.Deferred++
			case StatusUnconfirmed:
				sum.Unconfirmed++
			case StatusFailed:
				sum.Failed++
			}
			if o.Result != nil {
				o.Result(r)
			}
		}
		setFatal = func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if fatal == nil {
				fatal = err
			}
		}
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job, o.Concurrency)
	down := &serverDown{}
	var wg sync.WaitGroup
	if !o.Check {
		for i := 0; i < o.Concurrency; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := &worker{o: &o, report: results, down: down}
				if err := w.run(ctx, jobs); err != nil {
					setFatal(err)
					cancel()
				}
			}()
		}
	}
	err := feed(ctx, &o, jobs, results)
	close(jobs)
	wg.Wait()
	if err != nil {
		setFatal(err)
	}
	sum.Elapsed = o.Clock.Now().Sub(start)
	if s := sum.Elapsed.Seconds(); s > 0 {
		sum.Rate = float64(sum.Sent) / s
	}
	return sum, fatal
}

// feed reads, checks and renders rows and hands them to the sessions.
func feed(ctx context.Context, o *Options, jobs chan<- job, report func(Result)) error {
	for {
		row, err := o.Reader.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		now := o.Clock.Now()
		if o.Journal != nil && o.Journal.Done(row.N) {
			report(Result{Row: row.N, Status: StatusSkipped, Rcpts: row.Rcpts, Time: now})
			continue
		}
		if o.Journal != nil && !o.ResendUnconfirmed && !o.Check && o.Journal.Unconfirmed(row.N) {
			report(Result{Row: row.N, Status: StatusUnconfirmed, Rcpts: row.Rcpts, Time: now,
				Error: "an earlier run sent the end of data and stopped before the reply: the server may have it; not sent again (--resend-unconfirmed sends it)"})
			continue
		}
		var body []byte
		if row.Err == nil {
			body, row.Err = o.Template.RenderBytes(row)
		}
		if row.Err == nil && !o.KeepHeaders {
			body = addMissingHeaders(body, now, domainOf(o.From))
		}
		if row.Err != nil {
			report(Result{Row: row.N, Status: StatusFailed, Rcpts: row.Rcpts, Time: now, Error: row.Err.Error(), Err: row.Err})
			if o.Strict {
				return row.Err
			}
			continue
		}
		if o.Check {
			report(Result{Row: row.N, Status: StatusChecked, Rcpts: row.Rcpts, Time: now})
			continue
		}
		select {
		case jobs <- job{row: row, body: body}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// worker is one session: it sends up to PerConnection messages over one
// connection, then opens a new one.
type worker struct {
	o      *Options
	report func(Result)
	conn   Conn
	sent   int // transactions on conn
	down   *serverDown
	fatal  error // the journal failed: the batch stops
}

// serverDown remembers, for all sessions, that the server could not be
// reached through every retry of a row: the rows after it are deferred at
// once (the next run tries again) instead of each waiting through its own
// retries, as an MTA defers a destination after a failed connection.
type serverDown struct {
	mu  sync.Mutex
	err error
}

func (d *serverDown) get() error { d.mu.Lock(); defer d.mu.Unlock(); return d.err }

func (d *serverDown) set(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err == nil {
		d.err = err
	}
}

// connectError is a failure to open a session.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }

func (e *connectError) Unwrap() error { return e.err }

func (w *worker) run(ctx context.Context, jobs <-chan job) error {
	defer w.hangUp(true)
	for j := range jobs {
		r := w.send(ctx, j)
		if r.Status == StatusSent && w.o.Journal != nil {
			if err := w.o.Journal.Accept(r.Row); err != nil {
				w.report(r)
				return err
			}
		}
		w.report(r)
		if w.fatal != nil {
			return w.fatal
		}
	}
	return nil
}

// send tries one row up to 1+Retries times.
func (w *worker) send(ctx context.Context, j job) Result {
	o := w.o
	res := Result{Row: j.row.N, Rcpts: j.row.Rcpts}
	if err := w.down.get(); err != nil {
		res.Status, res.Time, res.Err = StatusDeferred, o.Clock.Now(), err
		if !temporary(err, nil) {
			res.Status = StatusFailed
		}
		res.Error = "not tried: no session could be opened: " + err.Error()
		return res
	}
	delay := o.Backoff
	for attempt := 1; attempt <= 1+o.Retries; attempt++ {
		if attempt > 1 {
			if err := o.Clock.Sleep(ctx, delay); err != nil {
				break
			}
			delay *= 2
		}
		res.Attempts = attempt
		if err := o.Limiter.Wait(ctx); err != nil {
			res.Err = err
			break
		}
		tx, err := w.try(ctx, j)
		var je *journalError
		if errors.As(err, &je) {
			res.Status, res.Time, res.Err = StatusDeferred, o.Clock.Now(), je.err
			res.Error = "not sent: " + je.err.Error()
			w.fatal = je.err
			return res
		}
		res.Time = o.Clock.Now()
		res.Err, res.Reply, res.Refused, res.QueueID = err, nil, nil, ""
		if tx != nil {
			res.QueueID = tx.QueueID
			res.Reply = tx.Data
			for _, rc := range tx.Rcpts {
				if !rc.Accepted {
					res.Refused = append(res.Refused, RcptRefusal{Addr: rc.Addr, Reply: rc.Reply})
				}
			}
		}
		if err == nil {
			res.Status = StatusSent
			return res
		}
		if inDoubt(tx, err) && !o.ResendUnconfirmed {
			res.Status = StatusUnconfirmed
			res.Error = "no reply to the end of data: " + err.Error() + ": the server may have the message; not sent again (--resend-unconfirmed sends it)"
			return res
		}
		if !temporary(err, tx) {
			res.Status = StatusFailed
			res.Error = err.Error()
			var ce *connectError
			if errors.As(err, &ce) {
				w.down.set(ce.err)
			}
			return res
		}
	}
	res.Status = StatusDeferred
	var ce *connectError
	if errors.As(res.Err, &ce) {
		w.down.set(ce.err)
	}
	if res.Err != nil {
		res.Error = res.Err.Error()
	}
	return res
}

// try runs one transaction, opening a session if needed. A refused
// recipient among accepted ones is not an error (the row is sent; the
// refusal is in the result); no accepted recipient is.
func (w *worker) try(ctx context.Context, j job) (*smtp.TxResult, error) {
	o := w.o
	if w.conn != nil && o.PerConnection > 0 && w.sent >= o.PerConnection {
		w.hangUp(true)
	}
	if w.conn == nil {
		c, err := o.Connect(ctx)
		if err != nil {
			return nil, &connectError{err: err}
		}
		w.conn, w.sent = c, 0
	}
	ext := w.conn.Extensions()
	tx := &smtp.Transaction{
		From:       o.From,
		MailOpts:   mailOpts(o.MailOpts, ext, j.body),
		Body:       bytes.NewReader(j.body),
		Pipelining: o.Pipelining && ext.Has("PIPELINING"),
		Chunking:   o.Chunking && ext.Has("CHUNKING"),
		// RFC 5321 4.1.1.5: a clean state between transactions; pipelined
		// with MAIL when the server offers PIPELINING.
		Reset: w.sent > 0,
	}
	if max := ext.Size(); max > 0 && int64(len(j.body)) > max {
		return nil, &smtp.Error{Command: "MAIL FROM", Reply: smtp.Reply{Code: 552, Enhanced: "5.3.4", Lines: []string{fmt.Sprintf("message of %d octets exceeds the server's SIZE %d", len(j.body), max)}}}
	}
	for _, r := range j.row.Rcpts {
		tx.Rcpts = append(tx.Rcpts, smtp.Recipient{Addr: r, Opts: o.RcptOpts})
	}
	// RFC 9422 4.2: no more recipients per transaction than LIMITS RCPTMAX;
	// the rest follow in more transactions on the same session.
	var later []smtp.Recipient
	if max := ext.RcptMax(); max > 0 && len(tx.Rcpts) > max {
		tx.Rcpts, later = tx.Rcpts[:max], tx.Rcpts[max:]
	}
	begun := false
	if o.Journal != nil {
		tx.BeforeEnd = func() error {
			if err := o.Journal.Begin(j.row.N); err != nil {
				return err
			}
			begun = true
			return nil
		}
	}
	w.sent++
	res, err := w.conn.Send(tx)
	var ae *smtp.AbortError
	if errors.As(err, &ae) {
		w.hangUp(false) // left inside the content
		return res, &journalError{err: ae.Err}
	}
	if err != nil && begun && (!inDoubt(res, err) || o.ResendUnconfirmed) {
		// Not accepted (or to be sent again): a rerun may send it.
		if jerr := o.Journal.Release(j.row.N); jerr != nil {
			w.hangUp(false)
			return res, &journalError{err: jerr}
		}
	}
	if err != nil && tx.Reset && (resetRefused(err) || dropped(err) && res != nil && res.Mail.Code == 0) {
		// The session ended or is in no known state before this
		// transaction began (a server that closed an idle session, say):
		// try again on a new one, as the same attempt (bounded: conn is
		// nil now, so the next try sends no RSET).
		w.hangUp(false)
		return w.try(ctx, j)
	}
	if err != nil && dropped(err) {
		w.hangUp(false)
	}
	if err == nil {
		w.sendRest(tx, res, later, j.body)
	}
	// With some recipients refused and others accepted, Send returns nil:
	// the row counts as sent (the refusals are in its result) and is not
	// retried, so no accepted recipient gets the message twice.
	return res, err
}

// hangUp ends the session, politely when asked.
func (w *worker) hangUp(quit bool) {
	if w.conn == nil {
		return
	}
	if quit {
		_, _ = w.conn.Quit()
	}
	_ = w.conn.Close()
	w.conn = nil
}

// sendRest sends the message to the recipients of a row beyond the first
// transaction: those over the server's RCPTMAX, and those refused with
// "452 too many recipients" (RFC 5321 4.5.3.1.10), in more transactions on
// the same session, and merges their outcomes into res. The row already
// reached some recipients, so a failure here is not retried: the
// recipients left are reported refused with the reason.
func (w *worker) sendRest(first *smtp.Transaction, res *smtp.TxResult, later []smtp.Recipient, body []byte) {
	max := w.conn.Extensions().RcptMax()
	for {
		var rest []smtp.Recipient
		kept := res.Rcpts[:0]
		for _, rc := range res.Rcpts {
			if !rc.Accepted && smtp.TooManyRecipients(rc.Reply) {
				rest = append(rest, smtp.Recipient{Addr: rc.Addr, Opts: w.o.RcptOpts})
				continue
			}
			kept = append(kept, rc)
		}
		res.Rcpts = kept
		rest = append(rest, later...)
		later = nil
		if len(rest) == 0 {
			return
		}
		if max > 0 && len(rest) > max {
			rest, later = rest[:max], rest[max:]
		}
		tx := *first
		tx.Rcpts, tx.Body, tx.Reset = rest, bytes.NewReader(body), true
		w.sent++
		more, err := w.conn.Send(&tx)
		if err != nil || more.Accepted() == 0 {
			reason := smtp.Reply{Code: 451, Enhanced: "4.4.0", Lines: []string{"not sent after the first recipients"}}
			if err != nil {
				reason.Lines = []string{"not sent after the first recipients: " + err.Error()}
				if dropped(err) {
					w.hangUp(false)
				}
			}
			done := map[string]bool{}
			if more != nil {
				for _, rc := range more.Rcpts {
					if !rc.Accepted && !smtp.TooManyRecipients(rc.Reply) {
						res.Rcpts = append(res.Rcpts, rc)
						done[rc.Addr] = true
					}
				}
			}
			for _, r := range append(rest, later...) {
				if !done[r.Addr] {
					res.Rcpts = append(res.Rcpts, smtp.RcptResult{Addr: r.Addr, Reply: reason})
				}
			}
			return
		}
		res.Rcpts = append(res.Rcpts, more.Rcpts...)
	}
}

// journalError is a failure to write the --state journal: the batch
// stops, since a row sent without its record could be sent twice.
type journalError struct{ err error }

func (e *journalError) Error() string { return e.err.Error() }

// inDoubt reports whether a failed transaction may have been accepted
// anyway: the end of data was sent and no reply to it was read (RFC 1047).
func inDoubt(tx *smtp.TxResult, err error) bool {
	if tx == nil || !tx.EndSent {
		return false
	}
	var se *smtp.Error
	return !errors.As(err, &se)
}

// resetRefused reports whether err is the refusal of the RSET that began
// a transaction: nothing of the transaction was accepted.
func resetRefused(err error) bool {
	var se *smtp.Error
	if errors.As(err, &se) && se.Command == "RSET" {
		return true
	}
	var pe *smtp.ProtocolError
	return errors.As(err, &pe) && pe.Command == "RSET"
}

// dropped reports whether err means the connection is no longer usable:
// a network error, or a 421 (RFC 5321 3.8: the server is closing).
func dropped(err error) bool {
	var ne *smtp.NetError
	if errors.As(err, &ne) {
		return true
	}
	var se *smtp.Error
	return errors.As(err, &se) && se.Reply.Code == 421
}

// temporary reports whether a failed attempt is worth retrying: a 4xx, a
// connection problem, or every recipient refused with at least one 4xx.
func temporary(err error, tx *smtp.TxResult) bool {
	var se *smtp.Error
	if errors.As(err, &se) {
		return se.Temporary()
	}
	if errors.Is(err, smtp.ErrNoRecipients) && tx != nil {
		for _, r := range tx.Rcpts {
			if r.Reply.Code/100 == 4 {
				return true
			}
		}
		return false
	}
	var ce *smtp.CapabilityError
	if errors.As(err, &ce) {
		return false
	}
	var te *smtp.TLSError
	if errors.As(err, &te) && te.Verify {
		return false // a certificate rejected by policy stays rejected
	}
	var cone *smtp.ConnectError
	if errors.As(err, &cone) && cone.NoSuchHost() {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	return true // network, dial, timeout
}

// mailOpts adds what this message must declare on MAIL FROM: SIZE when
// offered (RFC 1870 3) and BODY=8BITMIME for content that is not 7-bit
// when offered (RFC 6152 2).
func mailOpts(base *smtp.MailOptions, ext smtp.Extensions, body []byte) *smtp.MailOptions {
	mo := smtp.MailOptions{}
	if base != nil {
		mo = *base
	}
	if ext.Has("SIZE") {
		mo.Size = int64(len(body))
	}
	if ext.Has("8BITMIME") && !is7bit(body) {
		mo.Body = "8BITMIME"
	}
	return &mo
}

func is7bit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// domainOf is the domain of an address, "" for none.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.Trim(addr[i+1:], "<> ")
	}
	return ""
}
