package smtp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MailOptions are the ESMTP parameters of MAIL FROM.
type MailOptions struct {
	Size       int64    // SIZE= (RFC 1870), 0 to omit
	Body       string   // BODY= 7BIT, 8BITMIME (RFC 6152) or BINARYMIME (RFC 3030)
	SMTPUTF8   bool     // SMTPUTF8 (RFC 6531)
	RequireTLS bool     // REQUIRETLS (RFC 8689)
	Ret        string   // RET=FULL|HDRS (RFC 3461 4.3)
	EnvID      string   // ENVID= (RFC 3461 4.4), xtext-encoded here
	Extra      []string // raw parameters, "KEY=VALUE" or "KEY"
}

// RcptOptions are the ESMTP parameters of RCPT TO.
type RcptOptions struct {
	Notify []string // NOTIFY= NEVER or SUCCESS,FAILURE,DELAY (RFC 3461 4.1)
	ORcpt  string   // ORCPT=rfc822;addr (RFC 3461 4.2), xtext-encoded here
	Extra  []string
}

// MailCommand renders "MAIL FROM:<from> params".
func MailCommand(from string, o *MailOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "MAIL FROM:<%s>", from)
	if o == nil {
		return b.String()
	}
	if o.Size > 0 {
		fmt.Fprintf(&b, " SIZE=%d", o.Size)
	}
	if o.Body != "" {
		b.WriteString(" BODY=" + o.Body)
	}
	if o.SMTPUTF8 {
		b.WriteString(" SMTPUTF8")
	}
	if o.RequireTLS {
		b.WriteString(" REQUIRETLS")
	}
	if o.Ret != "" {
		b.WriteString(" RET=" + strings.ToUpper(o.Ret))
	}
	if o.EnvID != "" {
		b.WriteString(" ENVID=" + XText(o.EnvID))
	}
	for _, p := range o.Extra {
		b.WriteString(" " + p)
	}
	return b.String()
}

// RcptCommand renders "RCPT TO:<to> params".
func RcptCommand(to string, o *RcptOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "RCPT TO:<%s>", to)
	if o == nil {
		return b.String()
	}
	if len(o.Notify) > 0 {
		b.WriteString(" NOTIFY=" + strings.ToUpper(strings.Join(o.Notify, ",")))
	}
	if o.ORcpt != "" {
		b.WriteString(" ORCPT=rfc822;" + XText(o.ORcpt))
	}
	for _, p := range o.Extra {
		b.WriteString(" " + p)
	}
	return b.String()
}

// XText encodes s as RFC 3461 4 xtext: "+", "=", controls, space and
// non-ASCII octets become "+XX".
func XText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '+' || c == '=' {
			fmt.Fprintf(&b, "+%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Mail sends MAIL FROM. The error is an *Error on 4xx/5xx.
func (c *Client) Mail(from string, o *MailOptions) (Reply, error) {
	return c.cmd(MailCommand(from, o), "", 2, c.opts.Timeouts.Mail)
}

// Rcpt sends RCPT TO. The error is an *Error on 4xx/5xx.
func (c *Client) Rcpt(to string, o *RcptOptions) (Reply, error) {
	return c.cmd(RcptCommand(to, o), "", 2, c.opts.Timeouts.Rcpt)
}

// Recipient is one envelope recipient with its parameters.
type Recipient struct {
	Addr string
	Opts *RcptOptions
}

// Transaction is one message: the envelope and the content. Body is read
// once, streamed, never held in memory.
type Transaction struct {
	From       string
	MailOpts   *MailOptions
	Rcpts      []Recipient
	Body       io.Reader
	Pipelining bool // send MAIL, the RCPTs and DATA in one write (RFC 2920)
	Chunking   bool // BDAT instead of DATA (RFC 3030)
	ChunkSize  int  // BDAT chunk size, default 1 MiB
	// Reset sends RSET first, for a transaction after another on the same
	// session (RFC 5321 4.1.1.5); with Pipelining it goes in the same write
	// as MAIL (RFC 2920 3.1 lets RSET start a group), saving a round trip.
	Reset bool
	// BeforeEnd, when set, is called once the content is written and
	// before the end of data (the "." line, or BDAT LAST) is sent: the last
	// moment at which the server cannot have accepted the message. An error
	// from it stops the transaction with an *AbortError; the session is then
	// unusable and must be closed.
	BeforeEnd func() error
}

// RcptResult is the server's answer for one recipient.
type RcptResult struct {
	Addr     string `json:"address"`
	Reply    Reply  `json:"reply"`
	Accepted bool   `json:"accepted"`
	// Data is the recipient's own reply after the content in LMTP (RFC 2033
	// 4.2); in SMTP it repeats the transaction's Data reply.
	Data *Reply `json:"data,omitempty"`
}

// TxResult is what the server said during a transaction.
type TxResult struct {
	Mail    Reply        `json:"mail"`
	Rcpts   []RcptResult `json:"recipients"`
	Data    *Reply       `json:"data,omitempty"`
	QueueID string       `json:"queue_id,omitempty"`
	// Octets is the size of the content sent: line endings made CRLF, the
	// last line terminated, dot-stuffing not counted (the SIZE value of RFC
	// 1870 3, the same for DATA and BDAT).
	Octets int64 `json:"octets"`
	// DataTime is how long the content phase took: from the 354 (or the
	// first BDAT) to the final reply.
	DataTime time.Duration `json:"-"`
	// EndSent is set once the end of data has been written to the server:
	// after it, a failure to read the reply leaves the outcome unknown (the
	// server may have accepted the message; RFC 1047).
	EndSent bool `json:"-"`
}

// Accepted counts recipients accepted (and, in LMTP, delivered).
func (r *TxResult) Accepted() int {
	n := 0
	for _, rc := range r.Rcpts {
		if rc.Accepted && (rc.Data == nil || rc.Data.Code/100 == 2) {
			n++
		}
	}
	return n
}

// ErrNoRecipients is returned by Send when every RCPT was refused; the
// result holds each refusal.
var ErrNoRecipients = errors.New("no recipient accepted")

// Send runs MAIL, RCPT for each recipient, and DATA or BDAT. With
// Pipelining it writes MAIL, every RCPT and DATA at once and matches the
// replies in order (RFC 2920 3.1). Refused recipients are reported in the
// result and do not stop the transaction; when none is accepted Send
// returns ErrNoRecipients (after ending the DATA phase cleanly when it was
// pipelined). A refused MAIL or DATA is an *Error.
func (c *Client) Send(tx *Transaction) (*TxResult, error) {
	res := &TxResult{}
	mailCmd := MailCommand(tx.From, tx.MailOpts)
	pipeline := tx.Pipelining && !tx.Chunking
	if tx.Reset && !tx.Pipelining {
		if _, err := c.Reset(); err != nil {
			return res, err
		}
	}
	if tx.Pipelining {
		// Queue everything, then read the replies in order.
		if tx.Reset {
			c.stage = "RSET"
			if err := c.writeLine("RSET", "", c.opts.Timeouts.Command); err != nil {
				return res, err
			}
		}
		c.stage = "MAIL FROM"
		if err := c.writeLine(mailCmd, "", c.opts.Timeouts.Mail); err != nil {
			return res, err
		}
		for _, r := range tx.Rcpts {
			if err := c.writeLine(RcptCommand(r.Addr, r.Opts), "", c.opts.Timeouts.Rcpt); err != nil {
				return res, err
			}
		}
		if pipeline {
			if err := c.writeLine("DATA", "", c.opts.Timeouts.DataInit); err != nil {
				return res, err
			}
		}
		if err := c.flush(); err != nil {
			return res, err
		}
		if tx.Reset {
			rep, err := c.readReply("RSET", c.opts.Timeouts.Command)
			if err != nil {
				return res, err
			}
			if rep.Code/100 != 2 {
				// The replies to the rest of the group would not be
				// trusted after a refused RSET: the session ends.
				return res, replyError("RSET", rep)
			}
		}
		var err error
		if res.Mail, err = c.readReply(mailCmd, c.opts.Timeouts.Mail); err != nil {
			return res, err
		}
		mailErr := error(nil)
		if res.Mail.Code/100 != 2 {
			mailErr = replyError(mailCmd, res.Mail)
			if res.Mail.Code == CodeUnavailable {
				// RFC 5321 3.8: the server is closing the session; the
				// other replies will not come.
				return res, mailErr
			}
		}
		// After a refused MAIL the connection's failure is less telling
		// than the refusal.
		readErr := func(err error) error {
			if mailErr != nil {
				return mailErr
			}
			return err
		}
		for _, r := range tx.Rcpts {
			cmd := RcptCommand(r.Addr, r.Opts)
			rep, err := c.readReply(cmd, c.opts.Timeouts.Rcpt)
			if err != nil {
				return res, readErr(err)
			}
			res.Rcpts = append(res.Rcpts, RcptResult{Addr: r.Addr, Reply: rep, Accepted: rep.Code/100 == 2})
			if rep.Code == CodeUnavailable {
				return res, replyError(cmd, rep)
			}
		}
		if pipeline {
			rep, err := c.readReply("DATA", c.opts.Timeouts.DataInit)
			if err != nil {
				return res, readErr(err)
			}
			if rep.Code == CodeUnavailable {
				res.Data = &rep
				return res, replyError("DATA", rep)
			}
			if rep.Code == CodeStartData && (mailErr != nil || res.Accepted() == 0) {
				// RFC 2920 3.1: the server accepted DATA although nothing
				// can be delivered; end it with an empty message.
				c.stage = "DATA"
				if err := c.writeLine(".", "", c.opts.Timeouts.DataEnd); err != nil {
					return res, err
				}
				if err := c.flush(); err != nil {
					return res, err
				}
				if _, err := c.readReply("DATA", c.opts.Timeouts.DataEnd); err != nil {
					return res, err
				}
			}
			if mailErr != nil {
				return res, mailErr
			}
			if res.Accepted() == 0 {
				return res, ErrNoRecipients
			}
			if rep.Code != CodeStartData {
				res.Data = &rep
				return res, replyError("DATA", rep)
			}
			return res, c.sendBody(tx, res)
		}
		if mailErr != nil {
			return res, mailErr
		}
	} else {
		rep, err := c.Mail(tx.From, tx.MailOpts)
		res.Mail = rep
		if err != nil {
			return res, err
		}
		for _, r := range tx.Rcpts {
			rep, err := c.Rcpt(r.Addr, r.Opts)
			var se *Error
			if err != nil && !errors.As(err, &se) {
				return res, err
			}
			res.Rcpts = append(res.Rcpts, RcptResult{Addr: r.Addr, Reply: rep, Accepted: err == nil})
			if rep.Code == CodeUnavailable {
				return res, err // the server is closing (RFC 5321 3.8)
			}
		}
	}
	if res.Accepted() == 0 {
		return res, ErrNoRecipients
	}
	if tx.Chunking {
		return res, c.sendChunks(tx, res)
	}
	rep, err := c.cmd("DATA", "", 3, c.opts.Timeouts.DataInit)
	if err != nil {
		if rep.Code != 0 {
			res.Data = &rep
		}
		return res, err
	}
	return res, c.sendBody(tx, res)
}

// sendBody streams the content after a 354, then the terminator, and reads
// the final reply (one per accepted recipient in LMTP).
func (c *Client) sendBody(tx *Transaction, res *TxResult) error {
	start := c.opts.Now()
	defer func() { res.DataTime = c.opts.Now().Sub(start) }()
	c.stage = "DATA"
	c.writeTimeout = c.opts.Timeouts.DataBlock
	bw := newBodyWriter(c.bw, true)
	src, flushTrace := c.traceBody(bodySource{tx.Body})
	if _, err := copyBody(bw, src); err != nil {
		return bodyErr(err)
	}
	flushTrace()
	if err := bw.finish(); err != nil {
		return &NetError{Stage: "DATA", Err: err}
	}
	res.Octets = bw.n - bw.stuffed
	c.emit(Event{Kind: EventBody, Line: fmt.Sprintf("(%d octets, %d lines)", bw.n, bw.lines)})
	if tx.BeforeEnd != nil {
		if err := tx.BeforeEnd(); err != nil {
			return &AbortError{Err: err}
		}
	}
	if err := c.writeLine(".", "", c.opts.Timeouts.DataEnd); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	res.EndSent = true
	// Errors name the reply to the end of the content after DATA: ".: timed
	// out" would say nothing.
	return c.readDataReplies("DATA", res)
}

// copyBufs are the buffers content is streamed through: one per message
// would be 32 KiB of garbage for each message of a batch.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func copyBody(dst io.Writer, src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(dst, src, *bp)
}

// BodyReadError is a failure to read the message content (the user's file
// or stdin) while sending it; the CLI maps it to exit 74.
type BodyReadError struct{ Err error }

func (e *BodyReadError) Error() string { return "reading message: " + e.Err.Error() }
func (e *BodyReadError) Unwrap() error { return e.Err }

type bodySource struct{ r io.Reader }

func (b bodySource) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = &BodyReadError{Err: err}
	}
	return n, err
}

// bodyErr keeps a read error as is and makes any other a *NetError.
func bodyErr(err error) error {
	var (
		ne *NetError
		be *BodyReadError
	)
	if errors.As(err, &ne) || errors.As(err, &be) {
		return err
	}
	return &NetError{Stage: "DATA", Err: err}
}

func (c *Client) readDataReplies(cmd string, res *TxResult) error {
	if !c.opts.LMTP {
		rep, err := c.readReply(cmd, c.opts.Timeouts.DataEnd)
		if err != nil {
			return err
		}
		res.Data = &rep
		res.QueueID = QueueID(rep)
		for i := range res.Rcpts {
			if res.Rcpts[i].Accepted {
				res.Rcpts[i].Data = &rep
			}
		}
		if rep.Code/100 != 2 {
			return replyError("DATA", rep)
		}
		return nil
	}
	// RFC 2033 4.2: one reply per accepted recipient, in RCPT order.
	var firstErr error
	ok := 0
	for i := range res.Rcpts {
		if !res.Rcpts[i].Accepted {
			continue
		}
		rep, err := c.readReply(cmd, c.opts.Timeouts.DataEnd)
		if err != nil {
			return err
		}
		r := rep
		res.Rcpts[i].Data = &r
		if res.Data == nil {
			res.Data = &r
		}
		if rep.Code/100 == 2 {
			ok++
			if res.QueueID == "" {
				res.QueueID = QueueID(rep)
			}
		} else if firstErr == nil {
			firstErr = replyError("DATA for <"+res.Rcpts[i].Addr+">", rep)
		}
	}
	if ok == 0 && firstErr != nil {
		return firstErr
	}
	return nil
}

// sendChunks sends the content as BDAT chunks (RFC 3030 2), each answered
// before the next; the last is "BDAT n LAST".
func (c *Client) sendChunks(tx *Transaction, res *TxResult) error {
	size := tx.ChunkSize
	if size <= 0 {
		size = 1 << 20
	}
	c.stage = "BDAT"
	start := c.opts.Now()
	defer func() { res.DataTime = c.opts.Now().Sub(start) }()
	var lastErr error
	cw := &chunkWriter{buf: make([]byte, 0, size)}
	var total int64
	cw.send = func(chunk []byte, last bool) error {
		line := "BDAT " + strconv.Itoa(len(chunk))
		if last {
			line += " LAST"
		}
		if err := c.writeLine(line, "", c.opts.Timeouts.DataBlock); err != nil {
			return err
		}
		c.writeTimeout = c.opts.Timeouts.DataBlock
		if _, err := c.bw.Write(chunk); err != nil {
			return &NetError{Stage: "BDAT", Err: err}
		}
		total += int64(len(chunk))
		c.emit(Event{Kind: EventBody, Line: fmt.Sprintf("(%d octets)", len(chunk))})
		if err := c.flush(); err != nil {
			return err
		}
		if last {
			res.EndSent = true
			return nil
		}
		rep, err := c.readReply(line, c.opts.Timeouts.DataEnd)
		if err != nil {
			return err
		}
		if rep.Code/100 != 2 {
			res.Data = &rep
			lastErr = replyError(line, rep)
			return lastErr
		}
		return nil
	}
	inner := bufio.NewWriterSize(cw, 32*1024)
	bw := newBodyWriter(inner, false)
	src, flushTrace := c.traceBody(bodySource{tx.Body})
	if _, err := copyBody(bw, src); err != nil {
		if lastErr != nil {
			return lastErr
		}
		return bodyErr(err)
	}
	flushTrace()
	if err := bw.finish(); err != nil {
		return err
	}
	if err := inner.Flush(); err != nil {
		if lastErr != nil {
			return lastErr
		}
		return err
	}
	if tx.BeforeEnd != nil {
		if err := tx.BeforeEnd(); err != nil {
			return &AbortError{Err: err}
		}
	}
	if err := cw.send(cw.buf, true); err != nil {
		return err
	}
	res.Octets = total
	return c.readDataReplies(fmt.Sprintf("BDAT %d LAST", len(cw.buf)), res)
}

// traceBody copies each body line into the trace as it is read when
// TraceBody is on; flush traces a last line that has no line ending.
func (c *Client) traceBody(r io.Reader) (src io.Reader, flush func()) {
	if !c.opts.TraceBody || c.opts.Trace == nil {
		return r, func() {}
	}
	lt := &lineTracer{c: c}
	return io.TeeReader(r, lt), lt.flush
}

type lineTracer struct {
	c    *Client
	part []byte
	any  bool // part holds bytes of an unfinished line
}

func (l *lineTracer) flush() {
	if l.any {
		l.c.emit(Event{Kind: EventSend, Line: strings.TrimSuffix(string(l.part), "\r")})
		l.part, l.any = l.part[:0], false
	}
}

func (l *lineTracer) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' {
			l.c.emit(Event{Kind: EventSend, Line: strings.TrimSuffix(string(l.part), "\r")})
			l.part, l.any = l.part[:0], false
			continue
		}
		l.any = true
		if len(l.part) < 4096 {
			l.part = append(l.part, b)
		}
	}
	return len(p), nil
}

var queueIDPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)queued as ([A-Za-z0-9._-]+)`),     // Postfix, aiosmtpd-style
	regexp.MustCompile(`(?i)\bid=([A-Za-z0-9._-]+)`),          // Exim
	regexp.MustCompile(`^([A-Za-z0-9]{8,}) Message accepted`), // Sendmail
	regexp.MustCompile(`(?i)^OK ([A-Za-z0-9._-]+) - gsmtp`),   // Gmail
	regexp.MustCompile(`(?i)\bqueue(?:d)?(?: id)?[: ]+([A-Za-z0-9._-]{6,})`),
}

// QueueID extracts the server's queue identifier from a reply to the end of
// data, when the text follows a known convention.
func QueueID(r Reply) string {
	t := r.Text()
	for _, re := range queueIDPatterns {
		if m := re.FindStringSubmatch(t); m != nil {
			return strings.TrimRight(m[1], ".")
		}
	}
	return ""
}
