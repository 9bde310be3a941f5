package smtptest

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxRcpts is the recipient limit of one transaction (RFC 5321 4.5.3.1.8
// asks for at least 100).
const maxRcpts = 1000

// parsePath splits `FROM:<a@b> P1 P2` (after the verb) into the address
// and the parameters. prefix is "FROM:" or "TO:".
func parsePath(arg, prefix string) (addr string, params []string, ok bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", nil, false
	}
	rest := strings.TrimLeft(arg[len(prefix):], " ")
	if !strings.HasPrefix(rest, "<") {
		return "", nil, false
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", nil, false
	}
	return rest[1:end], strings.Fields(rest[end+1:]), true
}

// checkParams returns "" when every parameter is one the server announced
// and understands, or the reply to refuse the command with.
func (ss *session) checkParams(params []string, allowed map[string]string) (code int, enh, text string) {
	if len(params) > 0 && !ss.esmtp {
		return 555, "5.5.4", "parameters need EHLO"
	}
	for _, p := range params {
		key, val, _ := strings.Cut(p, "=")
		key = strings.ToUpper(key)
		ext, ok := allowed[key]
		if !ok || (ext != "" && !ss.offers(ext)) {
			return 555, "5.5.4", "unsupported parameter " + key
		}
		switch key {
		case "SIZE":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return 501, "5.5.4", "bad SIZE parameter"
			}
			if lim := ss.srv.opts.Size; lim > 0 && n > lim {
				return 552, "5.3.4", "message size exceeds fixed limit"
			}
		case "BODY":
			switch strings.ToUpper(val) {
			case "7BIT", "8BITMIME":
			default:
				return 555, "5.5.4", "unsupported BODY " + val
			}
		case "RET":
			if v := strings.ToUpper(val); v != "FULL" && v != "HDRS" {
				return 501, "5.5.4", "bad RET parameter"
			}
		}
	}
	return 0, "", ""
}

// offers reports whether the session announces extension kw.
func (ss *session) offers(kw string) bool {
	for _, l := range ss.extensions() {
		k, _, _ := strings.Cut(l, " ")
		if strings.EqualFold(k, kw) {
			return true
		}
	}
	return false
}

var mailParams = map[string]string{
	"SIZE": "SIZE", "BODY": "8BITMIME", "SMTPUTF8": "SMTPUTF8", "REQUIRETLS": "REQUIRETLS",
	"RET": "DSN", "ENVID": "DSN", "AUTH": "AUTH",
}

var rcptParams = map[string]string{"NOTIFY": "DSN", "ORCPT": "DSN"}

func (ss *session) mail(arg string) {
	o := &ss.srv.opts
	switch {
	case ss.helo == "":
		ss.reply(503, "5.5.1", "Error: send HELO/EHLO first")
		return
	case ss.tx != nil:
		ss.reply(503, "5.5.1", "Error: nested MAIL command")
		return
	case o.RequireTLS && !ss.tls:
		ss.reply(530, "5.7.0", "Must issue a STARTTLS command first")
		return
	case o.RequireAuth && ss.authUser == "":
		ss.reply(530, "5.7.0", "Authentication required")
		return
	}
	from, params, ok := parsePath(arg, "FROM:")
	if !ok {
		ss.errors++
		ss.reply(501, "5.5.4", "Syntax: MAIL FROM:<address>")
		return
	}
	if code, enh, text := ss.checkParams(params, mailParams); code != 0 {
		ss.reply(code, enh, text)
		return
	}
	if o.RejectMail != "" {
		ss.raw(o.RejectMail)
		return
	}
	ss.tx = &Message{Helo: ss.helo, From: from, MailParams: params, TLS: ss.tls, AuthUser: ss.authUser}
	ss.reply(250, "2.1.0", "Ok")
}

func (ss *session) rcpt(arg string) {
	if ss.tx == nil {
		ss.reply(503, "5.5.1", "Error: need MAIL command")
		return
	}
	to, params, ok := parsePath(arg, "TO:")
	if !ok || to == "" {
		ss.errors++
		ss.reply(501, "5.5.4", "Syntax: RCPT TO:<address>")
		return
	}
	if code, enh, text := ss.checkParams(params, rcptParams); code != 0 {
		ss.reply(code, enh, text)
		return
	}
	if r, ok := ss.srv.opts.RejectRcpt[to]; ok {
		ss.raw(r)
		return
	}
	if len(ss.tx.Rcpts) >= maxRcpts {
		ss.reply(452, "4.5.3", "Error: too many recipients")
		return
	}
	ss.tx.Rcpts = append(ss.tx.Rcpts, to)
	ss.tx.RcptParams = append(ss.tx.RcptParams, params)
	ss.reply(250, "2.1.5", "Ok")
}

// ready checks that a transaction can take content.
func (ss *session) ready() bool {
	switch {
	case ss.tx == nil:
		ss.reply(503, "5.5.1", "Error: need MAIL command")
	case len(ss.tx.Rcpts) == 0:
		ss.reply(554, "5.5.1", "Error: no valid recipients")
	default:
		return true
	}
	return false
}

func (ss *session) data(arg string) error {
	if arg != "" {
		ss.reply(501, "5.5.4", "Syntax: DATA")
		return nil
	}
	if !ss.ready() {
		return nil
	}
	if ss.tx.Chunked {
		ss.reply(503, "5.5.1", "Error: DATA after BDAT")
		return nil
	}
	ss.reply(354, "", "End data with <CR><LF>.<CR><LF>")
	if err := ss.bw.Flush(); err != nil {
		return err
	}
	var data []byte
	tooBig := false
	for lines := 0; ; lines++ {
		if lines == 1 {
			if done, err := ss.fault(AtBody); done && err != nil {
				return err
			}
		}
		raw, err := ss.readRaw()
		if err != nil {
			return err
		}
		if string(raw) == ".\r\n" {
			break
		}
		if raw[0] == '.' { // RFC 5321 4.5.2
			raw = raw[1:]
		}
		if len(data)+len(raw) > maxMessage {
			tooBig = true
			continue
		}
		data = append(data, raw...)
	}
	ss.tx.Data = data
	return ss.finish(tooBig)
}

// readRaw reads one line with its terminator. Lines longer than the
// buffer are returned in pieces, which keeps memory bounded; only a piece
// that is exactly ".\r\n" ends the content.
func (ss *session) readRaw() ([]byte, error) {
	line, err := ss.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return append([]byte(nil), line...), nil
	}
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), line...), nil
}

func (ss *session) bdat(arg string) error {
	f := strings.Fields(arg)
	n, err := strconv.ParseInt(strings.Join(f[:min(1, len(f))], ""), 10, 64)
	last := len(f) == 2 && strings.EqualFold(f[1], "LAST")
	if err != nil || n < 0 || len(f) > 2 || (len(f) == 2 && !last) {
		// The octets that follow cannot be found: end the session.
		ss.reply(501, "5.5.4", "Syntax: BDAT size [LAST]")
		return errEnd
	}
	if n > maxMessage {
		ss.reply(552, "5.3.4", "chunk too big")
		return errEnd
	}
	if ss.tx != nil && !ss.tx.Chunked && len(ss.tx.Data) == 0 {
		if done, err := ss.fault(AtData); done {
			return err
		}
	}
	chunk := make([]byte, n)
	half := n / 2
	if _, err := io.ReadFull(ss.br, chunk[:half]); err != nil {
		return err
	}
	if ss.tx != nil {
		if done, err := ss.fault(AtBody); done && err != nil {
			return err
		}
	}
	if _, err := io.ReadFull(ss.br, chunk[half:]); err != nil {
		return err
	}
	if !ss.offers("CHUNKING") {
		ss.reply(502, "5.5.1", "Error: command not implemented")
		return nil
	}
	if !ss.ready() {
		return nil
	}
	ss.tx.Chunked = true
	if len(ss.tx.Data)+len(chunk) > maxMessage {
		ss.reply(552, "5.3.4", "message too big")
		ss.tx = nil
		return nil
	}
	ss.tx.Data = append(ss.tx.Data, chunk...)
	if !last {
		ss.reply(250, "2.0.0", fmt.Sprintf("%d octets received", n))
		return nil
	}
	return ss.finish(false)
}

// finish ends the content of the transaction: it checks the size, records
// the message and answers (once per recipient in LMTP, RFC 2033 4.2).
func (ss *session) finish(tooBig bool) error {
	tx := ss.tx
	ss.tx = nil
	if lim := ss.srv.opts.Size; tooBig || (lim > 0 && int64(len(tx.Data)) > lim) {
		ss.reply(552, "5.3.4", "Error: message file too big")
		return nil
	}
	if done, err := ss.fault(AtDot); done {
		return err
	}
	s := ss.srv
	s.mu.Lock()
	s.queued++
	id := fmt.Sprintf("Q%d", s.queued)
	s.messages = append(s.messages, *tx)
	s.mu.Unlock()
	n := 1
	if ss.lmtp {
		n = len(tx.Rcpts)
	}
	for range n {
		if s.opts.DataReply != "" {
			ss.raw(s.opts.DataReply)
		} else {
			ss.reply(250, "2.0.0", "Ok: queued as "+id)
		}
	}
	return nil
}
