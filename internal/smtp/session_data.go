package smtp

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

func (c *conn) chunking() bool { return !c.s.o.NoChunking && !c.st.LMTP }

// rcptStatus is one LMTP per-recipient outcome.
type rcptStatus struct {
	rcpt string
	err  error
}

// runData hands r to the backend: Data, or LMTPData on an LMTP listener.
// It returns the backend's error and, for LMTP, the per-recipient
// outcomes.
func (c *conn) runData(r io.Reader) ([]rcptStatus, error) {
	if !c.st.LMTP {
		return nil, c.sess.Data(r)
	}
	ls, ok := c.sess.(LMTPSession)
	if !ok {
		err := c.sess.Data(r)
		out := make([]rcptStatus, len(c.rcpts))
		for i, rc := range c.rcpts {
			out[i] = rcptStatus{rc, err}
		}
		return out, err
	}
	var out []rcptStatus
	err := ls.LMTPData(r, func(rcpt string, err error) { out = append(out, rcptStatus{rcpt, err}) })
	return out, err
}

// contentReply is the answer to data that broke the rules.
func contentReply(err error) (Reply, bool) {
	switch {
	case errors.Is(err, ErrBareLineEnding):
		return Reply{Code: 550, Enhanced: "5.6.0", Lines: []string{"Error: message contains a bare CR or LF (only CRLF ends a line)"}}, true
	case errors.Is(err, ErrLineTooLong):
		return Reply{Code: 550, Enhanced: "5.6.0", Lines: []string{"Error: message has a line longer than 1000 octets"}}, true
	case errors.Is(err, ErrTooBig):
		return Reply{Code: 552, Enhanced: "5.3.4", Lines: []string{"Error: message size exceeds fixed limit"}}, true
	}
	return Reply{}, false
}

// finish answers the end of the data: a content error wins, then the
// backend's error, then success; LMTP answers once per recipient (RFC 2033
// 4.2).
func (c *conn) finish(contentErr, backendErr error, statuses []rcptStatus) {
	ok := Reply{Code: 250, Enhanced: "2.0.0", Lines: []string{"Ok: queued as " + c.st.TxID}}
	if r, bad := contentReply(contentErr); bad {
		c.s.o.Logger.Info("message refused", "id", c.st.ID, "reason", contentErr.Error())
		c.repeat(r)
		return
	}
	if !c.st.LMTP {
		if backendErr != nil {
			c.replyFor(backendErr)
			return
		}
		c.progressed()
		c.writeReply(ok)
		return
	}
	for i := range c.rcpts {
		var err error
		if i < len(statuses) {
			err = statuses[i].err
		} else if backendErr != nil {
			err = backendErr
		} else {
			err = errors.New("backend gave no status")
		}
		if err != nil {
			c.replyFor(err)
		} else {
			c.progressed()
			c.writeReply(Reply{Code: 250, Enhanced: "2.1.5", Lines: []string{fmt.Sprintf("<%s> Ok: delivered as %s", c.rcpts[i], c.st.TxID)}})
		}
	}
}

// repeat writes r once, or once per recipient in LMTP.
func (c *conn) repeat(r Reply) {
	n := 1
	if c.st.LMTP {
		n = len(c.rcpts)
	}
	for i := 0; i < n; i++ {
		c.writeReply(r)
	}
}

func (c *conn) checkTxReady() bool {
	if !c.inTx {
		c.reply(503, "5.5.1", "Error: need MAIL command")
		return false
	}
	if len(c.rcpts) == 0 {
		c.reply(554, "5.5.1", "Error: no valid recipients")
		return false
	}
	return true
}

func (c *conn) handleData(cmd Command) error {
	if cmd.Arg != "" {
		c.reply(501, "5.5.4", "Syntax: DATA")
		return c.countError()
	}
	if !c.checkTxReady() {
		return c.countError()
	}
	if c.hook("data") {
		c.resetTx()
		return nil
	}
	c.reply(354, "", "End data with <CR><LF>.<CR><LF>")
	if err := c.flush(); err != nil {
		return err
	}
	_ = c.nc.SetReadDeadline(c.s.o.Now().Add(c.s.lim.DataTimeout))
	dr := newDataReader(c.br, c.s.lim.TextLine, c.s.lim.MessageSize)
	var (
		backendErr error
		statuses   []rcptStatus
		injected   *Reply
	)
	if c.s.o.Hook != nil {
		d, r := c.s.o.Hook("dot")
		if r != nil {
			_, _ = io.Copy(io.Discard, dr)
			injected = r
		}
		defer c.s.pause(d)
	}
	if injected == nil {
		statuses, backendErr = c.runData(dr)
	}
	if !dr.done && dr.err == nil {
		_, _ = io.Copy(io.Discard, dr)
	}
	if dr.err != nil {
		if !isContentErr(dr.err) {
			return dr.err // the connection broke: nothing to answer
		}
		if err := dr.drain(); err != nil {
			return err
		}
	}
	if injected != nil {
		c.repeat(*injected)
	} else {
		c.finish(dr.err, backendErr, statuses)
	}
	c.resetTx()
	return c.flushEndOfData()
}

// flushEndOfData sends the reply to the end of the content at once, even
// when more pipelined input is waiting: the message may be stored now, and
// every moment its 250 waits is a chance of a duplicate (RFC 1047).
func (c *conn) flushEndOfData() error {
	return c.flush()
}

// bdatState is a BDAT transaction in progress: the backend reads the
// chunks through a pipe on its own goroutine.
type bdatState struct {
	pw     *io.PipeWriter
	done   chan bdatResult
	chk    chunkChecker
	failed error
	octets int64
}

type bdatResult struct {
	err      error
	statuses []rcptStatus
	panicked any
}

func (c *conn) startBDAT() {
	pr, pw := io.Pipe()
	b := &bdatState{pw: pw, done: make(chan bdatResult, 1), chk: chunkChecker{maxLine: c.s.lim.TextLine, maxSize: c.s.lim.MessageSize}}
	c.bdat = b
	go func() {
		var res bdatResult
		defer func() {
			if r := recover(); r != nil {
				res.panicked = r
			}
			pr.CloseWithError(errors.New("backend stopped reading"))
			b.done <- res
		}()
		res.statuses, res.err = c.runData(pr)
	}()
}

// abortBDAT stops a BDAT transaction and waits for the backend to return.
func (c *conn) abortBDAT(reason error) {
	b := c.bdat
	if b == nil {
		return
	}
	c.bdat = nil
	// The backend must see a failure, never a clean end: a client that
	// drops the connection at a chunk boundary (io.ReadFull's io.EOF)
	// would otherwise have a truncated message stored.
	if reason == nil || errors.Is(reason, io.EOF) {
		reason = io.ErrUnexpectedEOF
	}
	b.pw.CloseWithError(reason)
	res := <-b.done
	if res.panicked != nil {
		panic(res.panicked)
	}
}

func (c *conn) handleBDAT(cmd Command) error {
	f := strings.Fields(cmd.Arg)
	var n int64 = -1
	// RFC 3030 4: chunk-size = 1*DIGIT (no sign).
	if len(f) >= 1 && len(f[0]) <= 18 && strings.Trim(f[0], "0123456789") == "" {
		if v, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			n = v
		}
	}
	if n < 0 || len(f) > 2 || (len(f) == 2 && !strings.EqualFold(f[1], "LAST")) {
		// Without a valid size the chunk cannot be skipped: stop here.
		c.reply(501, "5.5.4", "Syntax: BDAT size [LAST]; closing connection")
		c.flush()
		return errClose
	}
	last := len(f) == 2
	_ = c.nc.SetReadDeadline(c.s.o.Now().Add(c.s.lim.DataTimeout))
	if !c.chunking() {
		if _, err := io.CopyN(io.Discard, c.br, n); err != nil {
			return err
		}
		c.reply(502, "5.5.1", "BDAT not available")
		return c.countError()
	}
	if c.bdat == nil && !c.checkTxReady() {
		if _, err := io.CopyN(io.Discard, c.br, n); err != nil {
			return err
		}
		return c.countError()
	}
	if c.bdat == nil {
		if c.hook("data") {
			if _, err := io.CopyN(io.Discard, c.br, n); err != nil {
				return err
			}
			c.resetTx()
			return nil
		}
		c.startBDAT()
	}
	b := c.bdat
	if b.failed == nil && c.s.lim.MessageSize > 0 && b.octets+n > c.s.lim.MessageSize {
		b.failed = ErrTooBig
		b.pw.CloseWithError(b.failed)
	}
	if err := c.copyChunk(b, n); err != nil {
		c.abortBDAT(err)
		return err
	}
	if c.s.o.NoPipelining && c.br.Buffered() > 0 {
		return c.improperPipelining()
	}
	if !last {
		if b.failed != nil {
			// RFC 3030 2: a failed chunk fails the transaction.
			failed := b.failed
			b.pw.CloseWithError(failed)
			res := <-b.done
			c.bdat = nil
			if res.panicked != nil {
				panic(res.panicked)
			}
			if r, ok := contentReply(failed); ok {
				c.writeReply(r)
			} else if res.err != nil {
				c.replyFor(res.err)
			} else {
				c.replyFor(failed)
			}
			c.resetTx()
			return nil
		}
		c.reply(250, "2.0.0", fmt.Sprintf("%d octets received", n))
		return nil
	}
	if b.failed == nil {
		b.failed = b.chk.end()
	}
	// The "dot" hook answers instead of the backend, as after DATA: the
	// backend's reader fails, so it stores nothing.
	var (
		delay    time.Duration
		injected *Reply
	)
	if c.s.o.Hook != nil {
		delay, injected = c.s.o.Hook("dot")
	}
	switch {
	case b.failed != nil:
		b.pw.CloseWithError(b.failed)
	case injected != nil:
		b.pw.CloseWithError(errInjected)
	default:
		b.pw.Close()
	}
	res := <-b.done
	c.bdat = nil
	if res.panicked != nil {
		panic(res.panicked)
	}
	if delay > 0 {
		c.flush()
		c.s.pause(delay)
	}
	if injected != nil {
		c.repeat(*injected)
		c.resetTx()
		return c.flushEndOfData()
	}
	c.finish(b.failed, res.err, res.statuses)
	c.inTx, c.rcpts = false, nil
	c.safeReset()
	return c.flushEndOfData()
}

// copyChunk moves n octets from the client to the backend, checking them;
// after a failure it keeps reading (and discarding) so the stream stays in
// step. Only an I/O error is returned.
func (c *conn) copyChunk(b *bdatState, n int64) error {
	buf := make([]byte, 32*1024)
	for n > 0 {
		m := int64(len(buf))
		if n < m {
			m = n
		}
		k, err := io.ReadFull(c.br, buf[:m])
		n -= int64(k)
		b.octets += int64(k)
		if err != nil {
			return err
		}
		if b.failed != nil {
			continue
		}
		if err := b.chk.check(buf[:k]); err != nil {
			b.failed = err
			b.pw.CloseWithError(err)
			continue
		}
		if _, err := b.pw.Write(buf[:k]); err != nil {
			// The backend stopped reading (it failed); its error is the reply.
			b.failed = errBackendStopped
		}
	}
	return nil
}

var (
	errBackendStopped = errors.New("backend stopped reading")
	errInjected       = errors.New("the fault-injection hook answered instead")
)
