package render

import (
	"strings"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtp"
)

// Transcript prefixes, after swaks: the direction and whether the line
// travelled inside TLS.
const (
	prefixInfo     = "=== "
	prefixSend     = " -> "
	prefixRecv     = "<-  "
	prefixSendTLS  = " ~> "
	prefixRecvTLS  = "<~  "
	prefixError    = "*** "
	stampLayout    = "2006-01-02T15:04:05.000Z07:00"
	elapsedPadding = "  "
)

// Trace returns the live transcript writer for -v: one line on stderr per
// event. It returns nil when Verbose is 0, and for the json and jsonl
// formats, whose transcript goes inside the JSON result instead (pass the
// collected events to Send). Quiet does not silence an explicit -v.
//
// Lines look like
//
//	=== Trying tcp smtp.example.com:587...
//	 -> EHLO client.example.net
//	<-  250 2.0.0 Ok: queued as ABC  (12.3ms)
//	 ~> AUTH PLAIN [redacted]
//	<~  235 2.7.0 Authentication successful  (8.1ms)
//	*** connection reset by peer
//
// "~" marks lines inside TLS. A reply's final line carries the time the
// reply took. With -vv each line starts with its RFC 3339 timestamp (ms).
func (p *Printer) Trace() smtp.Trace {
	if p.o.Verbose <= 0 || p.o.Format != FormatText {
		return nil
	}
	stamps := p.o.Verbose >= 2
	return func(ev smtp.Event) {
		_ = p.write(p.errOut, TranscriptLine(ev, p.errStyled, stamps)+"\n")
	}
}

// TranscriptLine formats one event as the live transcript shows it,
// without the newline; styled adds colour, stamp the -vv timestamp.
func TranscriptLine(ev smtp.Event, styled, stamp bool) string {
	var b strings.Builder
	if stamp && !ev.Time.IsZero() {
		b.WriteString(paint(styled, toneInfo, ev.Time.Format(stampLayout)))
		b.WriteByte(' ')
	}
	line := clean(ev.Line)
	switch ev.Kind {
	case smtp.EventSend:
		pre := prefixSend
		if ev.TLS {
			pre = prefixSendTLS
		}
		b.WriteString(paint(styled, toneSent, pre+line))
	case smtp.EventRecv:
		pre := prefixRecv
		if ev.TLS {
			pre = prefixRecvTLS
		}
		b.WriteString(paint(styled, replyTone(lineCode(ev.Line)), pre+line))
		if ev.Elapsed > 0 && finalReplyLine(ev.Line) {
			b.WriteString(paint(styled, toneInfo, elapsedPadding+"("+FormatDuration(ev.Elapsed)+")"))
		}
	case smtp.EventError:
		b.WriteString(paint(styled, toneError, prefixError+line))
	default:
		b.WriteString(paint(styled, toneInfo, prefixInfo+infoText(ev.Kind, line)))
	}
	return b.String()
}

func infoText(k smtp.EventKind, line string) string {
	switch k {
	case smtp.EventDial:
		return "Trying " + line + "..."
	case smtp.EventConnected:
		return "Connected " + line
	case smtp.EventTLS:
		return "TLS started: " + line
	case smtp.EventBody:
		return "Sent body " + line
	case smtp.EventClosed:
		if line != "" {
			return "Connection closed: " + line
		}
		return "Connection closed"
	}
	return strings.TrimSpace(string(k) + " " + line)
}

// finalReplyLine reports a reply line that ends its reply: the code
// followed by a space or by nothing (RFC 5321 4.2.1).
func finalReplyLine(line string) bool {
	return lineCode(line) != 0 && (len(line) == 3 || line[3] == ' ')
}

// lineCode is the reply code at the start of line, or 0.
func lineCode(line string) int {
	if len(line) < 3 {
		return 0
	}
	n := 0
	for i := 0; i < 3; i++ {
		c := line[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// EventJSON is one transcript event in JSON output.
//
//	time        string  RFC 3339 with nanoseconds
//	kind        string  dial, connected, tls, send, recv, body, error, closed
//	line        string  the protocol line (secrets already "[redacted]")
//	tls         bool    the line travelled inside TLS
//	elapsed_ms  number  recv only: ms since the command was sent (absent when unknown)
//	redacted    bool    a secret was removed from line
type EventJSON struct {
	Time      string  `json:"time"`
	Kind      string  `json:"kind"`
	Line      string  `json:"line"`
	TLS       bool    `json:"tls"`
	ElapsedMS float64 `json:"elapsed_ms,omitempty"`
	Redacted  bool    `json:"redacted"`
}

// NewEventsJSON converts a transcript for JSON; nil gives an empty list.
func NewEventsJSON(evs []smtp.Event) []EventJSON {
	out := make([]EventJSON, 0, len(evs))
	for _, ev := range evs {
		e := EventJSON{Kind: string(ev.Kind), Line: ev.Line, TLS: ev.TLS, ElapsedMS: ms(ev.Elapsed), Redacted: ev.Redacted}
		if !ev.Time.IsZero() {
			e.Time = ev.Time.Format(time.RFC3339Nano)
		}
		out = append(out, e)
	}
	return out
}
