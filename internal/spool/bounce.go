package spool

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Action is the RFC 3464 2.3.3 Action field of a report.
type Action string

const (
	// ActionFailed: the message could not be delivered (a bounce).
	ActionFailed Action = "failed"
	// ActionDelayed: not delivered yet, still being retried.
	ActionDelayed Action = "delayed"
)

// maxHeaderBytes bounds the original header section copied into a report.
const maxHeaderBytes = 256 << 10

// maxReturnBytes bounds the original message returned whole with RET=FULL,
// like Postfix's bounce_size_limit (50000 octets): a larger message is
// returned as its header section only, as with RET=HDRS.
const maxReturnBytes = 50000

// maxFieldText bounds the text of a Diagnostic-Code so its line stays
// within RFC 5322 2.1.1's 998 octets.
const maxFieldText = 900

// report builds a delivery status notification for rcpts of e: an RFC 6522
// multipart/report with report-type=delivery-status holding a human
// readable part, the RFC 3464 message/delivery-status part, and the
// original message: its header section as text/rfc822-headers (RFC 6522
// 3, RFC 3461 4.3's RET=HDRS, also the default), or with RET=FULL the
// whole message as message/rfc822 when it is at most maxReturnBytes. It
// is From MAILER-DAEMON at this host
// and goes to the envelope sender; the caller queues it with the null
// reverse-path (RFC 5321 4.5.5, RFC 3461 6.1: a DSN goes to the
// reverse-path with a null one of its own). RFC 3461 6.2 makes this the
// format of every DSN.
func (s *Spool) report(e *Entry, rcpts []*Recipient, action Action, now time.Time) (io.Reader, error) {
	full := e.Ret == "FULL" && e.Size <= maxReturnBytes
	var (
		orig  []byte
		eight bool
		err   error
	)
	if full {
		orig, eight, err = s.originalMessage(e.ID)
	} else {
		orig, eight, err = s.originalHeader(e.ID)
	}
	if err != nil {
		return nil, err
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	boundary := "=_smtpkit_" + hex.EncodeToString(rnd[:])
	date := now.Format(time.RFC1123Z)
	subject := "Undelivered Mail Returned to Sender"
	if action == ActionDelayed {
		subject = "Delayed Mail (still being retried)"
	}

	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\r\n", a...) }
	w("From: Mail Delivery System <MAILER-DAEMON@%s>", s.host)
	w("To: <%s>", oneLine(e.Sender))
	w("Subject: %s", subject)
	w("Date: %s", date)
	w("Message-ID: <%s.%s@%s>", e.ID, hex.EncodeToString(rnd[:4]), s.host)
	// RFC 3834 5: automatic responses say so, and are not answered.
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	// RFC 6522 3: the report-type parameter names the second part's type.
	w(`Content-Type: multipart/report; report-type=delivery-status; boundary="%s"`, boundary)
	w("")
	w("This is a MIME-encapsulated message.")
	w("")

	// Part 1: for people (RFC 6522 3: the first part is human-readable).
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=us-ascii")
	w("Content-Description: Notification")
	w("")
	w("This is the mail system at host %s.", s.host)
	w("")
	if action == ActionFailed {
		w("I'm sorry to have to inform you that your message could not")
		w("be delivered to one or more recipients.")
		switch {
		case full:
			w("The original message is attached.")
		case e.Ret == "FULL":
			w("The original message is too large to return (more than %d", maxReturnBytes)
			w("octets); its headers are attached.")
		default:
			w("The original message's headers are attached.")
		}
	} else {
		w("Your message could not be delivered yet to one or more")
		w("recipients. It will be retried until %s.", e.Created.Add(s.age).Format(time.RFC1123Z))
		w("You do not need to send it again.")
	}
	w("")
	for _, r := range rcpts {
		if r.Expired {
			w("<%s>: delivery time expired after %s; last error: %s", oneLine(r.Addr), s.age, ascii(r.Reason, maxFieldText))
		} else {
			w("<%s>: %s", oneLine(r.Addr), ascii(r.Reason, maxFieldText))
		}
	}
	w("")

	// Part 2: RFC 3464 2.2 per-message fields, then 2.3 per-recipient
	// fields, one blank-line separated group per recipient.
	w("--%s", boundary)
	w("Content-Type: message/delivery-status")
	w("Content-Description: Delivery report")
	w("")
	if e.EnvID != "" {
		w("Original-Envelope-Id: %s", ascii(e.EnvID, maxFieldText)) // RFC 3464 2.2.1
	}
	w("Reporting-MTA: dns; %s", s.host) // RFC 3464 2.2.2
	w("X-Smtpkit-Queue-ID: %s", e.ID)
	w("Arrival-Date: %s", e.Created.Format(time.RFC1123Z)) // RFC 3464 2.2.5
	for _, r := range rcpts {
		w("")
		if r.ORcpt != "" {
			w("Original-Recipient: rfc822; %s", ascii(r.ORcpt, maxFieldText)) // RFC 3464 2.3.1
		}
		w("Final-Recipient: rfc822; %s", oneLine(r.Addr)) // RFC 3464 2.3.2
		w("Action: %s", action)                           // RFC 3464 2.3.3
		w("Status: %s", dsnStatus(r, action))             // RFC 3464 2.3.4
		if r.RemoteMTA != "" {
			w("Remote-MTA: dns; %s", oneLine(r.RemoteMTA)) // RFC 3464 2.3.5
		}
		if r.Code != 0 {
			// RFC 3464 2.3.6: the SMTP reply, diagnostic-type "smtp".
			w("Diagnostic-Code: smtp; %s", ascii(r.Reason, maxFieldText))
		} else if r.Reason != "" {
			w("Diagnostic-Code: X-Smtpkit; %s", ascii(r.Reason, maxFieldText))
		}
		if !r.LastAttempt.IsZero() {
			w("Last-Attempt-Date: %s", r.LastAttempt.Format(time.RFC1123Z)) // RFC 3464 2.3.7
		}
		if action == ActionDelayed {
			w("Will-Retry-Until: %s", e.Created.Add(s.age).Format(time.RFC1123Z)) // RFC 3464 2.3.9
		}
	}
	w("")

	// Part 3: the original message or its header section (RFC 6522 3,
	// third part; RFC 3464 2: message/rfc822 or text/rfc822-headers).
	w("--%s", boundary)
	if full {
		w("Content-Type: message/rfc822")
		w("Content-Description: Undelivered Message")
	} else {
		w("Content-Type: text/rfc822-headers")
		w("Content-Description: Undelivered Message Headers")
	}
	if eight {
		// RFC 2046 5.2.1: message/rfc822 takes 7bit, 8bit or binary only.
		w("Content-Transfer-Encoding: 8bit")
	}
	w("")
	b.Write(orig)
	w("") // the CRLF before a boundary belongs to the delimiter (RFC 2046 5.1.1)
	w("--%s--", boundary)
	return &b, nil
}

// originalHeader reads the header section of entry id's message (up to the
// empty line, at most maxHeaderBytes, whole lines only) and reports
// whether it holds octets >= 0x80.
func (s *Spool) originalHeader(id string) ([]byte, bool, error) {
	f, err := os.Open(s.msgPath(id))
	if err != nil {
		return nil, false, newError("open", s.msgPath(id), err)
	}
	defer f.Close()
	br := bufio.NewReader(io.LimitReader(f, maxHeaderBytes))
	var head []byte
	for {
		line, err := br.ReadBytes('\n')
		if err != nil || len(bytes.TrimRight(line, "\r\n")) == 0 {
			break // a cut last line is dropped
		}
		head = append(head, bytes.TrimRight(line, "\r\n")...)
		head = append(head, '\r', '\n')
	}
	return head, hasEight(head), nil
}

// originalMessage reads entry id's whole message (CRLF line ends, at most
// maxReturnBytes are kept) and reports whether it holds octets >= 0x80.
func (s *Spool) originalMessage(id string) ([]byte, bool, error) {
	f, err := os.Open(s.msgPath(id))
	if err != nil {
		return nil, false, newError("open", s.msgPath(id), err)
	}
	defer f.Close()
	msg, err := io.ReadAll(io.LimitReader(f, maxReturnBytes))
	if err != nil {
		return nil, false, newError("read", s.msgPath(id), err)
	}
	return msg, hasEight(msg), nil
}

// hasEight reports whether b holds an octet >= 0x80.
func hasEight(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// dsnStatus is the RFC 3463 code for a recipient: its enhanced code when
// the class fits the action, otherwise one derived from the reply class.
func dsnStatus(r *Recipient, action Action) string {
	if validStatus(r.Enhanced) && (action == ActionFailed || r.Enhanced[0] == '4') {
		return r.Enhanced
	}
	switch {
	case action == ActionDelayed:
		return "4.0.0"
	case r.Code >= 500:
		return "5.0.0"
	}
	return "4.4.7" // RFC 3463 3.5: delivery time expired
}

// ascii makes s one line of printable US-ASCII of at most n octets, for a
// header field or a 7-bit text part.
func ascii(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		c := s[i]
		switch {
		case c == '\r' || c == '\n' || c == '\t':
			b.WriteByte(' ')
		case c < 0x20 || c >= 0x7f:
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// oneLine keeps a value from the entry's state on one line of a header or
// report field: control characters (CR and LF above all) become '?'. The
// spool wrote those values from checked addresses and replies, but a
// state file edited by hand or damaged must not inject fields into a
// report (found by FuzzSpoolEntry). UTF-8 is kept (RFC 6533 addresses).
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// validStatus reports an RFC 3463 2 status code: class "." subject "."
// detail, the class 2, 4 or 5, the others of one to three digits.
func validStatus(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.Contains("245", parts[0]) {
		return false
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}
