// Package smtp is smtpkit's protocol engine: the wire types shared by client
// and server (replies, commands, extensions), the client (Client, Submit)
// and the server (Server, driving a Backend).
package smtp

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// Reply codes the engine names (RFC 5321 4.2.3).
const (
	CodeReady          = 220
	CodeClosing        = 221
	CodeAuthOK         = 235
	CodeOK             = 250
	CodeCannotVerify   = 252
	CodeAuthContinue   = 334
	CodeStartData      = 354
	CodeUnavailable    = 421
	CodeAuthRequired   = 530
	CodeAuthFailed     = 535
	maxReplyLines      = 1000
	maxReplyLineLength = 4096
)

// Reply is one SMTP reply: a three-digit code, the enhanced status code
// (RFC 3463) when the server gives one, and the text of every line without
// the code prefix.
type Reply struct {
	Code     int      `json:"code"`
	Enhanced string   `json:"enhanced,omitempty"`
	Lines    []string `json:"lines"`
}

// Text joins the reply's lines with spaces.
func (r Reply) Text() string { return strings.Join(r.Lines, " ") }

// String renders the reply as a single line: "250 2.0.0 Ok: queued".
func (r Reply) String() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(r.Code))
	if r.Enhanced != "" {
		b.WriteByte(' ')
		b.WriteString(r.Enhanced)
	}
	if t := r.Text(); t != "" {
		b.WriteByte(' ')
		b.WriteString(t)
	}
	return b.String()
}

// Positive reports a 2xx or 3xx reply.
func (r Reply) Positive() bool { return r.Code >= 200 && r.Code < 400 }

// Temporary reports a 4xx reply.
func (r Reply) Temporary() bool { return r.Code >= 400 && r.Code < 500 }

// Permanent reports a 5xx reply.
func (r Reply) Permanent() bool { return r.Code >= 500 && r.Code < 600 }

// ProtocolError is a reply or exchange that breaks RFC 5321: a malformed
// reply line, an unexpected code class, bytes injected behind a STARTTLS
// reply. The CLI maps it to exit 76.
type ProtocolError struct {
	Command string // the command whose reply was bad, "" for the greeting
	Reason  string
}

func (e *ProtocolError) Error() string {
	if e.Command == "" {
		return "protocol error: " + e.Reason
	}
	return fmt.Sprintf("protocol error after %s: %s", e.Command, e.Reason)
}

// readReply reads one possibly multi-line reply (RFC 5321 4.2.1). Every line
// must carry the same code; a "-" after the code continues the reply.
// It returns a *ProtocolError for malformed input and the reader's error for
// I/O failures.
func readReply(br *bufio.Reader, onLine func(string)) (Reply, error) {
	var r Reply
	for i := 0; ; i++ {
		if i >= maxReplyLines {
			return r, &ProtocolError{Reason: fmt.Sprintf("reply longer than %d lines", maxReplyLines)}
		}
		line, err := readLine(br, maxReplyLineLength)
		if err != nil {
			return r, err
		}
		if onLine != nil {
			onLine(line)
		}
		code, cont, text, err := parseReplyLine(line)
		if err != nil {
			return r, err
		}
		if i == 0 {
			r.Code = code
		} else if code != r.Code {
			return r, &ProtocolError{Reason: fmt.Sprintf("reply code changed from %d to %d within a multi-line reply", r.Code, code)}
		}
		r.Lines = append(r.Lines, text)
		if !cont {
			break
		}
	}
	r.Enhanced, r.Lines = splitEnhanced(r.Code, r.Lines)
	return r, nil
}

// ParseReplyLine splits "250-PIPELINING" into 250, true, "PIPELINING".
// RFC 5321 4.2: the code is three digits followed by SP, "-" or the end of
// the line.
func parseReplyLine(line string) (code int, cont bool, text string, err error) {
	if len(line) < 3 {
		return 0, false, "", &ProtocolError{Reason: fmt.Sprintf("malformed reply %q", clip(line))}
	}
	for i := 0; i < 3; i++ {
		if line[i] < '0' || line[i] > '9' {
			return 0, false, "", &ProtocolError{Reason: fmt.Sprintf("malformed reply %q", clip(line))}
		}
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if code < 200 || code > 599 {
		return 0, false, "", &ProtocolError{Reason: fmt.Sprintf("reply code %d out of range", code)}
	}
	if len(line) == 3 {
		return code, false, "", nil
	}
	switch line[3] {
	case ' ':
		return code, false, line[4:], nil
	case '-':
		return code, true, line[4:], nil
	}
	return 0, false, "", &ProtocolError{Reason: fmt.Sprintf("malformed reply %q", clip(line))}
}

// splitEnhanced removes an RFC 3463 enhanced status code from the start of
// each line when the first line has one whose class matches the reply code.
func splitEnhanced(code int, lines []string) (string, []string) {
	if len(lines) == 0 {
		return "", lines
	}
	enh, _, ok := cutEnhanced(lines[0])
	if !ok || int(enh[0]-'0') != code/100 {
		return "", lines
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		if e, rest, ok := cutEnhanced(l); ok && e == enh {
			out[i] = rest
		} else {
			out[i] = l
		}
	}
	return enh, out
}

// cutEnhanced recognises "class.subject.detail" (RFC 3463 2: class 2, 4 or 5;
// subject and detail 1 to 3 digits) at the start of s.
func cutEnhanced(s string) (enh, rest string, ok bool) {
	field, rest, _ := strings.Cut(s, " ")
	parts := strings.Split(field, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.ContainsAny(parts[0], "245") {
		return "", s, false
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 {
			return "", s, false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return "", s, false
			}
		}
	}
	return field, rest, true
}

// readLine reads one CRLF- (or LF-) terminated line of at most max octets
// and returns it without the terminator.
func readLine(br *bufio.Reader, max int) (string, error) {
	var buf []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			return "", err
		}
		buf = append(buf, chunk...)
		if len(buf) > max {
			return "", &ProtocolError{Reason: fmt.Sprintf("line longer than %d octets", max)}
		}
		if !isPrefix {
			break
		}
	}
	return string(buf), nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
