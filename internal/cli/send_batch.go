package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/smtpkit/smtpkit/internal/batch"
	"github.com/smtpkit/smtpkit/internal/cli/render"
	"github.com/smtpkit/smtpkit/internal/smtp"
)

// BatchOptions are the flags of `smtpkit send --batch`.
type BatchOptions struct {
	Batch         string
	Template      string
	Concurrency   int
	PerConnection int
	Rate          string
	Retries       int
	State         string
	Lock          bool
	Results       string
	Check         bool
	Strict        bool
	Resend        bool // --resend-unconfirmed
}

// batchHelp is the part of send's help about --batch.
const batchHelp = `

With --batch FILE (or - for stdin), smtpkit sends one message per row of a
CSV file with a header row, or of a JSONL file (one JSON object per line;
detected by a first "{"). The "to" column or field holds the row's recipients: one address,
a comma-separated list, or in JSONL a list of strings. --template FILE is the
whole message (headers, a blank line, the body) as a Go text/template over
the row's fields ({{.name}}); a field the template names but a row lacks is
an error for that row. A Date: and a Message-ID: are added when the
template has none; SIZE and BODY=8BITMIME are declared when the server
offers them. --attach and --attach-inline FILE add the same files to every
row's message (each file read once): the rendered template's body becomes
the first part of a multipart/mixed message (text/plain unless the
template's own Content-Type says otherwise) and its other headers stay the
message's. --dkim-key, --dkim-selector and --dkim-domain (or dkim_key,
dkim_selector and dkim_domain in the profile) sign each row's message, as
a single send does. A bad row (bad address, missing field, broken
quoting or JSON) is reported with its row number and the other rows
still go, unless --strict. --check validates and renders every row and
connects to nothing. Rows go over --concurrency sessions of up to
--per-connection messages each (RSET between them, a new session after
421 or a dropped connection; a row with more recipients than the server
takes, by LIMITS RCPTMAX or a 452 "too many recipients", goes on in more
transactions), paced by --rate (N/s, N/m or N/h, for all
sessions together); temporary failures are retried --retries times with a
doubling delay from 1s; when a row's every attempt fails to open a
session, the rows after it are deferred (or failed, if the refusal was
permanent) without a try.
--state FILE is a journal: each row is recorded, synced to disk, just before
its end of data is sent, and again when the server accepts it; a rerun
after a crash, kill or reboot skips the accepted rows. A row whose end of
data got no reply (a dropped connection, or a run killed at that moment)
may have been delivered: it is reported "unconfirmed" (exit 75) and not
sent again, in this run or a rerun, unless --resend-unconfirmed.
--lock (with --state) takes FILE.lock so that two cron runs never overlap
(the second exits 75). One JSON object per row goes to stdout,
or is appended to --results FILE: row, status (sent, skipped, checked,
deferred, unconfirmed, failed), recipients, reply, refused, queue_id, attempts, time,
error; JSONL whatever --format says. A summary goes to stderr (not with
-q): one line, or with --format json or jsonl one JSON object (sent,
skipped, checked, deferred, unconfirmed, failed, rate, elapsed). When stderr
is a terminal, a progress line shows there while the rows go (by input
octets for a file, a spinner for a pipe; not with -q, -v or --format
json/jsonl). The exit status is the most severe outcome of any row; 73 when
--state, its lock or --results cannot be created, 74 when writing the
journal fails mid-run (the run stops; rows not yet sent wait for a rerun).`

func (o *BatchOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.Batch, "batch", "", "send one message per row of a CSV (header row) or JSONL FILE, - for stdin")
	f.StringVar(&o.Template, "template", "", "with --batch: the message as a Go text/template FILE over each row's fields")
	f.IntVar(&o.Concurrency, "concurrency", 1, "with --batch: parallel sessions")
	f.IntVar(&o.PerConnection, "per-connection", 100, "with --batch: messages per session before a new one (0: no limit)")
	f.StringVar(&o.Rate, "rate", "", "with --batch: at most N/s, N/m or N/h messages, across all sessions")
	f.IntVar(&o.Retries, "retries", 3, "with --batch: retries of a temporary failure, with backoff")
	f.StringVar(&o.State, "state", "", "with --batch: journal FILE of accepted rows; a rerun skips them")
	f.BoolVar(&o.Lock, "lock", false, "with --batch --state: fail (exit 75) if another run holds FILE.lock")
	f.StringVar(&o.Results, "results", "", "with --batch: append the JSONL results to FILE instead of stdout")
	f.BoolVar(&o.Check, "check", false, "with --batch: validate every row and render the template; send nothing")
	f.BoolVar(&o.Strict, "strict", false, "with --batch: stop at the first bad row")
	f.BoolVar(&o.Resend, "resend-unconfirmed", false, "with --batch: send again rows whose end of data got no reply (the server may deliver them twice)")
}

// checkBatch rejects send flags that make no sense with --batch, and batch
// flags without it.
func (o *SendOptions) checkBatch() error {
	b := &o.BatchOptions
	if b.Batch == "" {
		for _, n := range []string{"template", "concurrency", "per-connection", "rate", "retries", "state", "lock", "results", "check", "strict", "resend-unconfirmed"} {
			if o.changed(n) {
				return usageErrorf("--%s needs --batch", n)
			}
		}
		return nil
	}
	// --attach, --attach-inline and the --dkim-* flags apply to every
	// row's message (batchFinish).
	for _, n := range []string{"to", "cc", "bcc", "subject", "body", "html", "header", "data", "dry-run", "quit-after", "command"} {
		if o.changed(n) {
			return usageErrorf("--%s cannot be used with --batch: the rows and --template give the messages", n)
		}
	}
	if b.Template == "" {
		return usageErrorf("--batch needs --template FILE")
	}
	if b.Concurrency < 1 || b.Concurrency > 1000 {
		return usageErrorf("--concurrency %d: want 1 to 1000", b.Concurrency)
	}
	if b.PerConnection < 0 || b.Retries < 0 || b.Retries > 100 {
		return usageErrorf("--per-connection and --retries: want 0 or more (retries at most 100)")
	}
	if b.Lock && b.State == "" {
		return usageErrorf("--lock needs --state FILE")
	}
	return nil
}

// runSendBatch is `smtpkit send --batch`.
func runSendBatch(ctx context.Context, g *globals, o *SendOptions) error {
	b := &o.BatchOptions
	var lim *batch.Limiter
	if b.Rate != "" {
		r, err := batch.ParseRate(b.Rate)
		if err != nil {
			return usageErrorf("--%v", err)
		}
		lim = batch.NewLimiter(r, nil)
	}
	s, err := g.loadConfig()
	if err != nil {
		return err
	}
	o.applySettings(s)
	if o.Server == "" {
		return usageErrorf("--batch needs --server (or a profile that names one)")
	}
	// The session part of a single send: everything up to AUTH.
	o.QuitAfter = "auth"
	p, err := o.plan(ctx, g, s)
	if err != nil {
		return err
	}
	tmpl, err := batch.LoadTemplate(b.Template)
	if err != nil {
		return err
	}
	fin, err := o.batchFinish(g)
	if err != nil {
		return err
	}
	tmpl.SetFinish(fin)
	in, closeIn, err := openBatchInput(g, b.Batch)
	if err != nil {
		return err
	}
	defer closeIn()
	rd, err := batch.NewReader(in, sniffFormat(in))
	if err != nil {
		return &ExitError{Code: ExitData, Err: fmt.Errorf("%s: %w", b.Batch, err)}
	}

	var jn *batch.Journal
	if b.State != "" && !b.Check {
		if b.Lock {
			unlock, err := batch.Lock(b.State + ".lock")
			if errors.Is(err, batch.ErrLocked) {
				return &ExitError{Code: ExitTempFail, Err: err}
			}
			if err != nil {
				return cantCreate(err)
			}
			defer unlock()
		}
		if jn, err = batch.OpenJournal(b.State); err != nil {
			return cantCreate(err)
		}
		defer jn.Close()
	}

	pr := g.printer()
	out := pr.Out()
	if b.Results != "" {
		// 0600 like the --state journal: the rows name their recipients.
		f, err := os.OpenFile(b.Results, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return cantCreate(err)
		}
		defer f.Close()
		out = f
	}
	// Buffered (except to a terminal): one write per row would cost a
	// system call each; the journal, not the results, is what a rerun
	// relies on.
	bw := bufio.NewWriterSize(out, 64<<10)
	results := render.NewBatchResults(bw)
	flushEach := b.Results == "" && g.env.StdoutTTY

	notify, _ := parseNotify(o.DSNNotify) // checked by plan
	sub := p.submit
	if live := pr.Trace(); live != nil {
		sub.Client.Trace = live
	}
	worst := ExitOK
	var first error
	var writeErr error
	bar := batchProgress(g, pr, b.Batch, rd)
	sum, runErr := batch.Run(ctx, batch.Options{
		Reader:        rd,
		Template:      tmpl,
		From:          sub.From,
		MailOpts:      &sub.MailOpts,
		RcptOpts:      &smtp.RcptOptions{Notify: notify, Extra: o.RcptParams},
		Connect:       func(ctx context.Context) (batch.Conn, error) { return smtp.Open(ctx, sub) },
		Concurrency:   b.Concurrency,
		PerConnection: b.PerConnection,
		Retries:       b.Retries,
		Pipelining:    sub.Pipelining != "off",
		// BDAT only when asked: with PIPELINING, DATA needs fewer round
		// trips per message than BDAT, which this client does not pipeline.
		Chunking: sub.Chunking == "on",
		Limiter:  lim,
		Journal:  jn,
		Check:    b.Check,
		Strict:   b.Strict,
		// Rows whose end of data got no reply are not sent again
		// unless asked: the server may have them (RFC 1047).
		ResendUnconfirmed: b.Resend,
		Result: func(r batch.Result) {
			if err := results.Write(r); err != nil && writeErr == nil {
				writeErr = err
			}
			bar.Result(r)
			if flushEach {
				// The row goes to the terminal the bar may share.
				bar.Around(func() { _ = bw.Flush() })
			}
			if c := rowExit(r); c != ExitOK {
				if worse(worst, c) != worst || first == nil {
					first = errors.New(resultReason(r))
				}
				worst = worse(worst, c)
			}
		},
	})
	bar.Done()
	if err := bw.Flush(); err != nil && writeErr == nil {
		writeErr = err
	}
	pr.BatchSummary(sum)
	if runErr != nil {
		return runErr
	}
	if writeErr != nil {
		return &ExitError{Code: ExitIOErr, Err: fmt.Errorf("write results: %w", writeErr)}
	}
	if worst != ExitOK {
		n := sum.Deferred + sum.Failed + sum.Unconfirmed
		return &ExitError{Code: worst, Err: fmt.Errorf("%d of %d rows not sent (first: %v)", n, n+sum.Sent+sum.Skipped+sum.Checked, first)}
	}
	return nil
}

// cantCreate gives a failure to open a file the run writes (the --state
// journal, its lock, --results) exit 73, EX_CANTCREAT: "a (user
// specified) output file cannot be created" (a read-only or full
// filesystem, no permission, a missing folder). Writing to it later fails
// with 74.
func cantCreate(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Op == "open" {
		return &ExitError{Code: ExitCantCreat, Err: err}
	}
	return err
}

// rowExit is the exit code one row's outcome calls for.
func rowExit(r batch.Result) int {
	switch r.Status {
	case batch.StatusDeferred, batch.StatusUnconfirmed:
		return ExitTempFail
	case batch.StatusSent, batch.StatusSkipped, batch.StatusChecked:
		code := ExitOK
		for _, rf := range r.Refused {
			code = worse(code, replyExit(&smtp.Error{Reply: rf.Reply}))
		}
		return code
	}
	var re *batch.RowError
	if errors.As(r.Err, &re) {
		return ExitData
	}
	if errors.Is(r.Err, smtp.ErrNoRecipients) {
		code := ExitOK
		for _, rf := range r.Refused {
			code = worse(code, replyExit(&smtp.Error{Reply: rf.Reply}))
		}
		if code != ExitOK {
			return code
		}
	}
	if c := ExitCode(r.Err); c != ExitOK && c != ExitSoftware {
		return c
	}
	return ExitUnavailable
}

// resultReason is why a row was not (fully) sent, naming the row.
func resultReason(r batch.Result) string {
	var re *batch.RowError
	if errors.As(r.Err, &re) {
		return r.Error
	}
	if r.Error != "" {
		return fmt.Sprintf("row %d: %s", r.Row, r.Error)
	}
	if len(r.Refused) > 0 {
		rf := r.Refused[0]
		return fmt.Sprintf("row %d: %s refused: %d %s", r.Row, rf.Addr, rf.Reply.Code, strings.Join(rf.Reply.Lines, " "))
	}
	return string(r.Status)
}

// openBatchInput opens FILE, or stdin for "-".
func openBatchInput(g *globals, name string) (*bufio.Reader, func(), error) {
	if name == "-" {
		return bufio.NewReaderSize(g.env.Stdin, 64<<10), func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return bufio.NewReaderSize(f, 64<<10), func() { f.Close() }, nil
}

// sniffFormat says JSONL when the input's first non-blank byte is "{",
// CSV otherwise. It only peeks.
func sniffFormat(r *bufio.Reader) batch.Format {
	head, _ := r.Peek(4096)
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\ufeff")), " \t\r\n")
	if len(head) > 0 && head[0] == '{' {
		return batch.FormatJSONL
	}
	return batch.FormatCSV
}
