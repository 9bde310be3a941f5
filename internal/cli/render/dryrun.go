package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DryRun is what `send --dry-run` would do: the envelope and the message.
type DryRun struct {
	Server     string
	From       string
	Rcpts      []string
	MailParams string    // MAIL FROM parameters, e.g. "SIZE=1234 BODY=8BITMIME"
	Size       int64     // message octets with CRLF line endings
	Message    io.Reader // the message as it would be sent; nil for none
}

// DryRunJSON is the json document (and the single jsonl line) of
// `send --dry-run`:
//
//	type         string    "dry_run" (jsonl only)
//	server       string    the server that would be dialled
//	from         string    the envelope sender ("" for the null sender)
//	recipients   [string]  the envelope recipients
//	mail_params  string    MAIL FROM parameters (absent when none)
//	size         number    message octets with CRLF line endings
//	message      string    the message as it would be sent (absent without one)
type DryRunJSON struct {
	Type       string   `json:"type,omitempty"`
	Server     string   `json:"server"`
	From       string   `json:"from"`
	Recipients []string `json:"recipients"`
	MailParams string   `json:"mail_params,omitempty"`
	Size       int64    `json:"size"`
	Message    *string  `json:"message,omitempty"`
}

// DryRun prints the envelope, then a blank line and the message as it
// would be sent, with CRLF shown as LF (json keeps the CRLF):
//
//	server    smtp.example.com:587
//	from      alice@example.com
//	rcpt      bob@example.com
//	params    SIZE=1234
//	size      1234 octets
//
//	From: ...
//
// Quiet does not suppress it: it is the output the user asked for. Errors
// reading d.Message are returned as "read message: ...".
func (p *Printer) DryRun(d DryRun) error {
	var msg []byte
	if d.Message != nil {
		var err error
		if msg, err = io.ReadAll(d.Message); err != nil {
			return fmt.Errorf("read message: %w", err)
		}
	}
	if p.o.Format == FormatJSON || p.o.Format == FormatJSONL {
		j := DryRunJSON{Server: d.Server, From: d.From, Recipients: d.Rcpts, MailParams: d.MailParams, Size: d.Size}
		if j.Recipients == nil {
			j.Recipients = []string{}
		}
		if d.Message != nil {
			s := string(msg)
			j.Message = &s
		}
		if p.o.Format == FormatJSONL {
			j.Type = "dry_run"
			return p.JSONLine(j)
		}
		return p.JSON(j)
	}
	var b strings.Builder
	field := func(k, v string) {
		b.WriteString(paint(p.outStyled, ToneBold, k))
		b.WriteString(strings.Repeat(" ", labelWidth-len(k)))
		b.WriteString(clean(v))
		b.WriteByte('\n')
	}
	field("server", d.Server)
	from := d.From
	if from == "" {
		from = "<>"
	}
	field("from", from)
	for _, r := range d.Rcpts {
		field("rcpt", r)
	}
	if d.MailParams != "" {
		field("params", d.MailParams)
	}
	if d.Message != nil {
		field("size", strconv.FormatInt(d.Size, 10)+" octets")
		b.WriteByte('\n')
		text := strings.ReplaceAll(string(msg), "\r\n", "\n")
		b.WriteString(text)
		if text != "" && !strings.HasSuffix(text, "\n") {
			b.WriteByte('\n')
		}
	}
	return p.write(p.out, b.String())
}
