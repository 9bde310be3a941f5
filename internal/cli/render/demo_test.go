package render

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func demoSteps() (ok, failed, skipped DemoStep) {
	t := NewTable()
	t.AddRow("queued", "ABC: <a@example.test> to <b@example.test>")
	ok = DemoStep{Name: "relay", Title: "spool and flush", Status: DemoOK, Summary: "delivered", Elapsed: 12300 * time.Microsecond,
		Body:     []DemoBlock{{Table: t}, {Command: "smtpkit relay queue", Text: "queue is empty\n"}},
		Commands: []DemoCommand{{Command: "smtpkit relay queue", Output: json.RawMessage(`{"spool":"/s","entries":[]}`)}}}
	failed = DemoStep{Name: "send", Title: "a message", Status: DemoFailed, Error: "connect 127.0.0.1:1: connection refused", ExitCode: 75,
		Body: []DemoBlock{{Command: "smtpkit send -v", Text: "=== Trying tcp 127.0.0.1:1...\n"}}}
	skipped = DemoStep{Name: "probe", Title: "audit", Status: DemoSkipped}
	return
}

func TestDemoText(t *testing.T) {
	ok, failed, skipped := demoSteps()
	p, out, _ := newTest(false, false, Options{})
	_ = p.DemoIntro("smtpkit demo")
	_ = p.DemoHeader(ok, 1, 3)
	_ = p.DemoStep(ok, 1, 3)
	_ = p.DemoHeader(failed, 2, 3)
	_ = p.DemoStep(failed, 2, 3)
	_ = p.DemoStep(skipped, 3, 3)
	_ = p.Demo(Demo{Error: "send failed: connect 127.0.0.1:1: connection refused", Dir: "/tmp/d", Kept: true, Steps: []DemoStep{ok, failed, skipped}})
	want := `smtpkit demo

==> 1/3 relay: spool and flush
    queued  ABC: <a@example.test> to <b@example.test>
    $ smtpkit relay queue
    queue is empty
✓ relay: delivered (12.3ms)

==> 2/3 send: a message
    $ smtpkit send -v
    === Trying tcp 127.0.0.1:1...
✗ send: connect 127.0.0.1:1: connection refused
-   probe: skipped

✗ demo: send failed: connect 127.0.0.1:1: connection refused
kept /tmp/d (remove it with: rm -r /tmp/d)
`
	if got := out.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDemoQuietAndStyled(t *testing.T) {
	ok, failed, skipped := demoSteps()
	p, out, _ := newTest(false, false, Options{Quiet: true})
	for i, s := range []DemoStep{ok, failed, skipped} {
		_ = p.DemoHeader(s, i+1, 3)
		_ = p.DemoStep(s, i+1, 3)
	}
	_ = p.Demo(Demo{Steps: []DemoStep{ok, failed, skipped}})
	if got := out.String(); !strings.HasPrefix(got, "==> 2/3 send: a message\n") || strings.Contains(got, "relay") || strings.Contains(got, "probe") {
		t.Errorf("quiet printed\n%s", got)
	}

	p, out, _ = newTest(true, true, Options{})
	_ = p.DemoStep(ok, 1, 3)
	got := out.String()
	if !strings.Contains(got, "\x1b[32m✓ relay:") {
		t.Errorf("no green ✓ on a terminal:\n%q", got)
	}
	if !strings.Contains(got, "    queue is empty\n") {
		t.Errorf("command output not passed through:\n%q", got)
	}
}

func TestDemoJSON(t *testing.T) {
	ok, failed, skipped := demoSteps()
	d := Demo{Dir: "/tmp/d", ExitCode: 75, Error: "send failed", Elapsed: time.Second, Steps: []DemoStep{ok, failed, skipped}}
	p, out, _ := newTest(false, false, Options{Format: FormatJSON})
	for i, s := range d.Steps {
		_ = p.DemoHeader(s, i+1, 3)
		_ = p.DemoStep(s, i+1, 3)
	}
	if out.Len() != 0 {
		t.Fatalf("json printed before the end: %s", out)
	}
	_ = p.Demo(d)
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	steps := doc["steps"].([]any)
	relay := steps[0].(map[string]any)
	if doc["ok"] != false || doc["exit_code"] != 75.0 || doc["elapsed_ms"] != 1000.0 || len(steps) != 3 ||
		relay["elapsed_ms"] != 12.3 || relay["commands"].([]any)[0].(map[string]any)["output"].(map[string]any)["spool"] != "/s" ||
		steps[2].(map[string]any)["status"] != "skipped" {
		t.Errorf("json:\n%s", out)
	}

	p, out, _ = newTest(false, false, Options{Format: FormatJSONL})
	for i, s := range d.Steps {
		_ = p.DemoStep(s, i+1, 3)
	}
	_ = p.Demo(d)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], `{"type":"step","name":"relay"`) ||
		!strings.HasPrefix(lines[3], `{"type":"result","ok":false`) || strings.Contains(lines[3], `"steps"`) {
		t.Errorf("jsonl:\n%s", out)
	}
}
