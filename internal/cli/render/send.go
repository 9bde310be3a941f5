package render

import (
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/smtpkit/smtpkit/internal/smtp"
)

// Recipient statuses, in text output (first column) and in JSON "status".
const (
	StatusAccepted = "accepted" // RCPT accepted and, when there was one, the data reply is 2xx
	StatusRejected = "rejected" // a 5xx for RCPT or, per recipient, for the content
	StatusDeferred = "deferred" // a 4xx for RCPT or, per recipient, for the content
	StatusUnknown  = "unknown"  // no reply was read for this recipient
)

// labelWidth is the first column of send's text output: the longest
// label ("accepted", "rejected", "deferred") and two spaces. It is fixed so
// the columns do not move between runs.
const labelWidth = 10

// Send prints the result of `smtpkit send`. transcript is the session's
// events; the json format always embeds them, jsonl only with -v, text
// ignores them (Trace printed them live).
//
// Text, one line per fact, columns aligned, stable in a pipe:
//
//	tls       TLSv1.3 TLS_AES_128_GCM_SHA256, certificate verified
//	auth      PLAIN as user@example.com
//	command   NOOP -> 250 2.0.0 Ok
//	accepted  alice@example.com  250 2.1.5 Ok
//	rejected  bob@example.com    550 5.1.1 <bob@example.com>: Recipient address rejected
//	queued    as 4F1A2B3C (250 2.0.0 Ok: queued as 4F1A2B3C)
//	stopped   after rcpt
//
// A refused MAIL prints "mail      <reply>", a refused DATA that no
// recipient line shows prints "data      <reply>", a failed AUTH ends its
// line with "failed". The session's error is not printed here: the caller
// passes it to Error. With Quiet, a successful result prints nothing and
// a failed one only its failure lines; Quiet does not change JSON.
func (p *Printer) Send(res *smtp.SubmitResult, transcript []smtp.Event) error {
	if res == nil {
		res = &smtp.SubmitResult{}
	}
	switch p.o.Format {
	case FormatJSON:
		return p.JSON(NewSendJSON(res, transcript))
	case FormatJSONL:
		var b strings.Builder
		for _, r := range NewRecipientsJSON(res.Recipients) {
			r.Type = "recipient"
			line, err := marshal(r, false)
			if err != nil {
				return err
			}
			b.Write(line)
		}
		sum := SendResultJSON{Type: "result", SessionJSON: newSessionJSON(res)}
		if p.o.Verbose > 0 {
			sum.Transcript = NewEventsJSON(transcript)
		}
		line, err := marshal(sum, false)
		if err != nil {
			return err
		}
		b.Write(line)
		return p.write(p.out, b.String())
	}
	lines := sendLines(res)
	if p.o.Quiet {
		if SendOK(res) {
			return nil
		}
		kept := lines[:0]
		for _, l := range lines {
			if l.fail {
				kept = append(kept, l)
			}
		}
		lines = kept
	}
	return p.write(p.out, formatLines(lines, p.outStyled))
}

// SendOK reports whether a send did everything asked: no session error, AUTH
// (when tried) succeeded, MAIL and DATA (when reached) were not refused,
// and every recipient was accepted. It is the "ok" of the JSON output.
func SendOK(res *smtp.SubmitResult) bool {
	if res.Error != "" {
		return false
	}
	if res.Auth != nil && !res.Auth.OK {
		return false
	}
	if res.Mail != nil && !res.Mail.Positive() {
		return false
	}
	if res.Data != nil && !res.Data.Positive() {
		return false
	}
	for _, rc := range res.Recipients {
		if st, _ := recipientStatus(rc); st != StatusAccepted {
			return false
		}
	}
	return true
}

// recipientStatus is a recipient's status and the reply that decided it:
// the RCPT reply, or the recipient's failing data reply (LMTP, or an SMTP
// transaction refused after the content).
func recipientStatus(rc smtp.RcptResult) (string, smtp.Reply) {
	if !rc.Accepted {
		switch {
		case rc.Reply.Code == 0:
			return StatusUnknown, rc.Reply
		case rc.Reply.Code/100 == 4:
			return StatusDeferred, rc.Reply
		}
		return StatusRejected, rc.Reply
	}
	if d := rc.Data; d != nil {
		switch d.Code / 100 {
		case 4:
			return StatusDeferred, *d
		case 5:
			return StatusRejected, *d
		}
	}
	return StatusAccepted, rc.Reply
}

// seg is a piece of a text line with its tone.
type seg struct {
	text string
	tone Tone
}

// outLine is one line of send's text output.
type outLine struct {
	label string
	tone  Tone
	addr  string // recipient lines only: aligned as a second column
	rcpt  bool
	rest  []seg
	fail  bool // kept with Quiet
}

func sendLines(res *smtp.SubmitResult) []outLine {
	var ls []outLine
	if t := res.TLS; t != nil {
		l := outLine{label: "tls", tone: ToneBold, rest: []seg{{t.Version + " " + t.Cipher + ", ", ToneNone}}}
		if t.Verified {
			l.rest = append(l.rest, seg{"certificate verified", ToneGood})
		} else {
			msg := "certificate NOT verified"
			if t.VerifyError != "" {
				msg += ": " + t.VerifyError
			}
			l.rest = append(l.rest, seg{msg, ToneBad})
		}
		ls = append(ls, l)
	}
	if a := res.Auth; a != nil {
		l := outLine{label: "auth", tone: ToneBold, rest: []seg{{a.Mechanism, ToneNone}}}
		if a.User != "" {
			l.rest = append(l.rest, seg{" as " + a.User, ToneNone})
		}
		if !a.OK {
			l.tone, l.fail = ToneBad, true
			l.rest = append(l.rest, seg{" failed", ToneBad})
		}
		ls = append(ls, l)
	}
	for _, c := range res.Commands {
		ls = append(ls, outLine{label: "command", tone: ToneBold, rest: []seg{
			{c.Command, ToneNone}, {" -> ", ToneDim}, {c.Reply.String(), replyTone(c.Reply.Code)},
		}})
	}
	if m := res.Mail; m != nil && !m.Positive() {
		ls = append(ls, outLine{label: "mail", tone: replyTone(m.Code), fail: true, rest: []seg{{m.String(), ToneDim}}})
	}
	carried := false // some recipient line shows a data reply
	var queued *smtp.Reply
	if d := res.Data; d != nil && d.Code/100 == 2 {
		queued = d
	}
	for _, rc := range res.Recipients {
		st, rep := recipientStatus(rc)
		tone := ToneGood
		switch st {
		case StatusRejected:
			tone = ToneBad
		case StatusDeferred, StatusUnknown:
			tone = ToneWarn
		}
		text := rep.String()
		if rep.Code == 0 {
			text = "no reply"
		}
		ls = append(ls, outLine{label: st, tone: tone, addr: rc.Addr, rcpt: true, fail: st != StatusAccepted,
			rest: []seg{{text, ToneDim}}})
		if rc.Data != nil {
			carried = true
			if queued == nil && rc.Data.Code/100 == 2 {
				queued = rc.Data
			}
		}
	}
	if d := res.Data; d != nil && !d.Positive() && !carried {
		ls = append(ls, outLine{label: "data", tone: replyTone(d.Code), fail: true, rest: []seg{{d.String(), ToneDim}}})
	}
	if queued != nil {
		l := outLine{label: "queued", tone: ToneGood}
		id := res.QueueID
		if id == "" {
			id = smtp.QueueID(*queued)
		}
		if id != "" {
			l.rest = []seg{{"as " + id, ToneNone}, {" (" + queued.String() + ")", ToneDim}}
		} else {
			l.rest = []seg{{queued.String(), ToneDim}}
		}
		ls = append(ls, l)
	}
	if res.StoppedAfter != "" {
		ls = append(ls, outLine{label: "stopped", tone: ToneWarn, rest: []seg{{"after " + res.StoppedAfter, ToneNone}}})
	}
	return ls
}

// formatLines aligns the label column, and the address column of
// recipient lines, and styles when asked. Text is cleaned of control
// characters first, so widths are those of what the terminal shows.
func formatLines(ls []outLine, styled bool) string {
	addrW := 0
	for _, l := range ls {
		if l.rcpt {
			addrW = max(addrW, lipgloss.Width(clean(l.addr)))
		}
	}
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(paint(styled, l.tone, l.label))
		b.WriteString(strings.Repeat(" ", max(labelWidth-len(l.label), 1)))
		if l.rcpt {
			a := clean(l.addr)
			b.WriteString(a)
			b.WriteString(strings.Repeat(" ", addrW-lipgloss.Width(a)+2))
		}
		for _, s := range l.rest {
			b.WriteString(paint(styled, s.tone, clean(s.text)))
		}
		b.WriteByte('\n')
	}
	return b.String()
}
