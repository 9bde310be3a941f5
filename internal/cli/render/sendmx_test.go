package render

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/deliver"
	"github.com/smtpkit/smtpkit/internal/smtp"
)

func mxOutcomes() []deliver.Outcome {
	return []deliver.Outcome{
		{Recipient: "alice@example.com", Status: deliver.Delivered, RemoteMTA: "mx.example.com[192.0.2.1]", RemoteHost: "mx.example.com",
			Reply: &smtp.Reply{Code: 250, Enhanced: "2.0.0", Lines: []string{"Ok: queued as 4F1A"}}, Enhanced: "2.0.0", Diagnostic: "250 2.0.0 Ok: queued as 4F1A"},
		{Recipient: "bob@example.net", Status: deliver.Deferred, RemoteMTA: "mx.example.net[192.0.2.9]", Enhanced: "4.4.1",
			Diagnostic: "connect 192.0.2.9:25: connection refused"},
		{Recipient: "carol@null.test", Status: deliver.Failed, Enhanced: "5.1.10",
			Diagnostic: "null.test: domain accepts no mail (null MX, RFC 7505)"},
	}
}

func TestSendMXText(t *testing.T) {
	p, out, _ := newTest(false, false, Options{})
	if err := p.SendMX(mxOutcomes()); err != nil {
		t.Fatal(err)
	}
	want := "delivered alice@example.com  mx.example.com[192.0.2.1]: 250 2.0.0 Ok: queued as 4F1A\n" +
		"deferred  bob@example.net    4.4.1 connect 192.0.2.9:25: connection refused\n" +
		"failed    carol@null.test    5.1.10 null.test: domain accepts no mail (null MX, RFC 7505)\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}

	p, out, _ = newTest(false, false, Options{Quiet: true})
	if err := p.SendMX(mxOutcomes()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "alice") || !strings.Contains(out.String(), "carol") {
		t.Errorf("quiet printed\n%s", out)
	}
}

func TestSendMXJSON(t *testing.T) {
	p, out, _ := newTest(false, false, Options{Format: FormatJSON})
	if err := p.SendMX(mxOutcomes()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OK         bool `json:"ok"`
		Recipients []map[string]any
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if doc.OK || len(doc.Recipients) != 3 || doc.Recipients[2]["enhanced"] != "5.1.10" || doc.Recipients[0]["remote_mta"] != "mx.example.com[192.0.2.1]" {
		t.Errorf("json %s", out)
	}

	p, out, _ = newTest(false, false, Options{Format: FormatJSONL})
	if err := p.SendMX(mxOutcomes()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], `"type":"recipient"`) || lines[3] != `{"type":"result","ok":false}` {
		t.Errorf("jsonl\n%s", out)
	}
}
