package render

import (
	"strings"

	"github.com/smtpkit/smtpkit/internal/deliver"
)

// SendMXJSON is the JSON document of `smtpkit send` without --server:
// whether every recipient was delivered, and each recipient's outcome
// (deliver.Outcome's documented fields: recipient, status, reply,
// remote_mta, remote_host, enhanced, diagnostic).
type SendMXJSON struct {
	Type       string            `json:"type,omitempty"` // "result" in jsonl
	OK         bool              `json:"ok"`
	Recipients []deliver.Outcome `json:"recipients,omitempty"`
}

// outcomeLine is one jsonl line: an outcome tagged "recipient".
type outcomeLine struct {
	Type string `json:"type"`
	deliver.Outcome
}

// SendMX prints the outcomes of delivery straight to the recipients' MX.
// Text, one line per recipient, columns aligned like Send's:
//
//	delivered  alice@example.com  mx.example.com[192.0.2.1]: 250 2.0.0 Ok: queued as 4F1A
//	deferred   bob@example.net    4.4.1 connect 192.0.2.9:25: connection refused
//	failed     carol@null.test    5.1.10 null.test: domain accepts no mail (null MX, RFC 7505)
//
// With Quiet only the recipients not delivered are printed. json prints one
// SendMXJSON; jsonl one line per outcome (type "recipient") and a "result"
// line.
func (p *Printer) SendMX(outs []deliver.Outcome) error {
	ok := true
	for _, o := range outs {
		ok = ok && o.Status == deliver.Delivered
	}
	switch p.o.Format {
	case FormatJSON:
		return p.JSON(SendMXJSON{OK: ok, Recipients: outs})
	case FormatJSONL:
		var b strings.Builder
		for _, o := range outs {
			line, err := marshal(outcomeLine{Type: "recipient", Outcome: o}, false)
			if err != nil {
				return err
			}
			b.Write(line)
		}
		line, err := marshal(SendMXJSON{Type: "result", OK: ok}, false)
		if err != nil {
			return err
		}
		b.Write(line)
		return p.write(p.out, b.String())
	}
	var ls []outLine
	for _, o := range outs {
		if p.o.Quiet && o.Status == deliver.Delivered {
			continue
		}
		tone := ToneGood
		switch o.Status {
		case deliver.Deferred:
			tone = ToneWarn
		case deliver.Failed:
			tone = ToneBad
		}
		var rest []seg
		if o.RemoteMTA != "" && o.Reply != nil {
			rest = append(rest, seg{o.RemoteMTA + ": ", ToneNone})
		}
		text := o.Diagnostic
		switch {
		case o.Reply != nil:
			text = o.Reply.String()
		case o.Enhanced != "":
			text = o.Enhanced + " " + text
		}
		rest = append(rest, seg{text, ToneDim})
		ls = append(ls, outLine{label: string(o.Status), tone: tone, addr: o.Recipient, rcpt: true,
			fail: o.Status != deliver.Delivered, rest: rest})
	}
	return p.write(p.out, formatLines(ls, p.outStyled))
}
