package spool

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// DSN is a delivery status notification read back with go-message.
type DSN struct {
	Header     gomessage.Header
	ReportType string
	Human      string
	PerMessage textproto.Header
	PerRcpt    []textproto.Header
	Headers    string // the text/rfc822-headers part
	Full       string // the message/rfc822 part (RET=FULL)
}

// ParseDSN reads b as an RFC 6522 multipart/report of type
// delivery-status with its three parts, failing t when it is not one.
func ParseDSN(t *testing.T, b []byte) *DSN {
	t.Helper()
	ent, err := gomessage.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("go-message cannot read the report: %v\n%s", err, b)
	}
	mt, params, err := ent.Header.ContentType()
	if err != nil || mt != "multipart/report" {
		t.Fatalf("Content-Type %q (%v), want multipart/report", mt, err)
	}
	d := &DSN{Header: ent.Header, ReportType: params["report-type"]}
	mr := ent.MultipartReader()
	if mr == nil {
		t.Fatal("not multipart")
	}
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		pt, _, _ := p.Header.ContentType()
		types = append(types, pt)
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		switch pt {
		case "text/plain":
			d.Human = string(body)
		case "message/delivery-status":
			// RFC 3464 2.1: groups of header-like fields separated by
			// blank lines: per-message first, then one per recipient.
			br := bufio.NewReader(bytes.NewReader(body))
			for i := 0; ; i++ {
				if _, err := br.Peek(1); err == io.EOF {
					break
				}
				h, err := textproto.ReadHeader(br)
				if err != nil {
					t.Fatalf("delivery-status group %d: %v\n%s", i, err, body)
				}
				if h.Len() == 0 {
					continue
				}
				if i == 0 {
					d.PerMessage = h
				} else {
					d.PerRcpt = append(d.PerRcpt, h)
				}
			}
		case "text/rfc822-headers":
			d.Headers = string(body)
		case "message/rfc822":
			d.Full = string(body)
		}
	}
	if j := strings.Join(types, " "); j != "text/plain message/delivery-status text/rfc822-headers" && j != "text/plain message/delivery-status message/rfc822" {
		t.Fatalf("parts %v", types)
	}
	return d
}

// TestReportParses builds a failure and a delay report and reads them back
// with go-message: RFC 6522 structure, RFC 3464 fields, original headers.
func TestReportParses(t *testing.T) {
	c := newClock()
	s := openSpool(t, t.TempDir(), c, Options{Hostname: "relay.test"})
	e := enqueue(t, s, "a@example.net", "b@example.com", "c@example.org")
	last := c.Now().Add(time.Minute)
	rs := []*Recipient{
		{Addr: "b@example.com", Status: Failed, Code: 550, Enhanced: "5.1.1", Reason: "550 5.1.1 <b@example.com>: no such user\r\nhere", RemoteMTA: "mx.example.com", LastAttempt: last},
		{Addr: "c@example.org", Status: Failed, Expired: true, Reason: "dial tcp 192.0.2.1:25: connection refused", LastAttempt: last},
	}
	r, err := s.report(e, rs, ActionFailed, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	for _, line := range strings.SplitAfter(string(b), "\r\n") {
		if len(line) > 1000 || strings.Contains(strings.TrimSuffix(line, "\r\n"), "\n") {
			t.Errorf("bad line %q", line)
		}
	}
	d := ParseDSN(t, b)
	if d.ReportType != "delivery-status" {
		t.Errorf("report-type %q", d.ReportType)
	}
	if got := d.Header.Get("From"); got != "Mail Delivery System <MAILER-DAEMON@relay.test>" {
		t.Errorf("From %q", got)
	}
	if got := d.Header.Get("To"); got != "<a@example.net>" {
		t.Errorf("To %q", got)
	}
	if got := d.Header.Get("Auto-Submitted"); got != "auto-replied" {
		t.Errorf("Auto-Submitted %q", got)
	}
	if got := d.PerMessage.Get("Reporting-MTA"); got != "dns; relay.test" {
		t.Errorf("Reporting-MTA %q", got)
	}
	if got := d.PerMessage.Get("Arrival-Date"); got != e.Created.Format(time.RFC1123Z) {
		t.Errorf("Arrival-Date %q", got)
	}
	if len(d.PerRcpt) != 2 {
		t.Fatalf("%d recipient groups", len(d.PerRcpt))
	}
	want := []map[string]string{{
		"Final-Recipient":   "rfc822; b@example.com",
		"Action":            "failed",
		"Status":            "5.1.1",
		"Remote-MTA":        "dns; mx.example.com",
		"Diagnostic-Code":   "smtp; 550 5.1.1 <b@example.com>: no such user  here",
		"Last-Attempt-Date": last.Format(time.RFC1123Z),
	}, {
		"Final-Recipient": "rfc822; c@example.org",
		"Action":          "failed",
		"Status":          "4.4.7",
		"Remote-MTA":      "",
		"Diagnostic-Code": "X-Smtpkit; dial tcp 192.0.2.1:25: connection refused",
	}}
	for i, w := range want {
		for k, v := range w {
			if got := d.PerRcpt[i].Get(k); got != v {
				t.Errorf("recipient %d: %s = %q, want %q", i, k, got, v)
			}
		}
	}
	// The CRLF before the closing boundary belongs to the boundary (RFC
	// 2046 5.1.1): the part is the header section without its blank line.
	head, _, _ := strings.Cut(stored(s, e, testMsg), "\r\n\r\n")
	if d.Headers != head+"\r\n" {
		t.Errorf("rfc822-headers part = %q", d.Headers)
	}
	if !strings.Contains(d.Human, "<c@example.org>: delivery time expired after 120h0m0s; last error: dial tcp") {
		t.Errorf("human part: %q", d.Human)
	}

	// A delay notice: Action delayed, a 4.x.x status, Will-Retry-Until.
	rs = []*Recipient{{Addr: "b@example.com", Status: Deferred, Code: 451, Enhanced: "4.3.0", Reason: "451 4.3.0 later", LastAttempt: last}}
	r, _ = s.report(e, rs, ActionDelayed, c.Now())
	b, _ = io.ReadAll(r)
	d = ParseDSN(t, b)
	g := d.PerRcpt[0]
	if g.Get("Action") != "delayed" || g.Get("Status") != "4.3.0" || g.Get("Will-Retry-Until") != e.Created.Add(DefaultMaxAge).Format(time.RFC1123Z) {
		t.Errorf("delay group: %v %v %v", g.Get("Action"), g.Get("Status"), g.Get("Will-Retry-Until"))
	}
	if d.Header.Get("Subject") != "Delayed Mail (still being retried)" {
		t.Errorf("Subject %q", d.Header.Get("Subject"))
	}
}

// TestMaxAgeBounce: a recipient still deferred at the maximum age fails
// with its last temporary reason, and the sender gets a report from <>,
// queued and delivered in the same flush.
func TestMaxAgeBounce(t *testing.T) {
	c := newClock()
	s := openSpool(t, t.TempDir(), c, Options{MaxAge: 2 * time.Hour})
	mta := &fakeMTA{answer: map[string]Outcome{"b@example.com": defer451}}
	e := enqueue(t, s, "a@example.net", "b@example.com", "ok@example.org")
	ctx := context.Background()
	for i := 0; i < 10 && len(listIDs(t, s)) > 0; i++ {
		if _, err := s.Flush(ctx, mta.attempt, FlushOptions{}); err != nil {
			t.Fatal(err)
		}
		c.Add(30 * time.Minute)
	}
	if ids := listIDs(t, s); len(ids) != 0 {
		t.Fatalf("spool still holds %v", ids)
	}
	// Attempts at 0, 5, 15(due at 10), 35(due at 20)... then the bounce.
	mta.mu.Lock()
	defer mta.mu.Unlock()
	bounce := mta.attempts[len(mta.attempts)-1]
	if bounce.from != "" || strings.Join(bounce.rcpts, ",") != "a@example.net" {
		t.Fatalf("last attempt from %q to %v, want the bounce from <> to the sender", bounce.from, bounce.rcpts)
	}
	for _, a := range mta.attempts[:len(mta.attempts)-1] {
		if a.from != "a@example.net" {
			t.Errorf("an attempt from %q before the bounce", a.from)
		}
	}
	d := ParseDSN(t, bounce.body)
	if len(d.PerRcpt) != 1 {
		t.Fatalf("%d recipients in the report, want only the expired one", len(d.PerRcpt))
	}
	g := d.PerRcpt[0]
	if g.Get("Final-Recipient") != "rfc822; b@example.com" || g.Get("Action") != "failed" ||
		g.Get("Status") != "4.3.0" || g.Get("Diagnostic-Code") != "smtp; 451 4.3.0 try later" {
		t.Errorf("report group: %v", g.Map())
	}
	if !strings.Contains(d.PerMessage.Get("X-Smtpkit-Queue-ID"), e.ID) {
		t.Errorf("queue id %q", d.PerMessage.Get("X-Smtpkit-Queue-ID"))
	}
}

// TestNullSenderNeverBounced: a message from <> that fails is dropped with
// a log line; nothing is queued for anyone.
func TestNullSenderNeverBounced(t *testing.T) {
	c := newClock()
	var log bytes.Buffer
	s := openSpool(t, t.TempDir(), c, Options{Logger: newTextLogger(&log)})
	mta := &fakeMTA{answer: map[string]Outcome{"b@example.com": fail550}}
	enqueue(t, s, "", "b@example.com")
	res, err := s.Flush(context.Background(), mta.attempt, FlushOptions{})
	if err != nil || len(res) != 1 || res[0].Bounce != "" || !res[0].Removed {
		t.Fatalf("flush: %+v, %v", res, err)
	}
	if n := mta.count.Load(); n != 1 {
		t.Errorf("%d attempts, want 1 (no bounce)", n)
	}
	if ids := listIDs(t, s); len(ids) != 0 {
		t.Errorf("spool holds %v", ids)
	}
	if !strings.Contains(log.String(), "msg=dropped") || !strings.Contains(log.String(), "null sender") {
		t.Errorf("log: %s", log.String())
	}
}

// TestBounceOfBounceDropped: the sender's address fails too, so the bounce
// itself fails: it is dropped, never bounced again.
func TestBounceOfBounceDropped(t *testing.T) {
	c := newClock()
	var log bytes.Buffer
	s := openSpool(t, t.TempDir(), c, Options{Logger: newTextLogger(&log)})
	mta := &fakeMTA{answer: map[string]Outcome{"b@example.com": fail550, "a@example.net": fail550}}
	enqueue(t, s, "a@example.net", "b@example.com")
	res, err := s.Flush(context.Background(), mta.attempt, FlushOptions{})
	if err != nil || len(res) != 2 || res[0].Bounce == "" || res[1].ID != res[0].Bounce || res[1].Bounce != "" {
		t.Fatalf("flush: %+v, %v", res, err)
	}
	if n := mta.count.Load(); n != 2 {
		t.Errorf("%d attempts, want 2 (message, bounce)", n)
	}
	if ids := listIDs(t, s); len(ids) != 0 {
		t.Errorf("spool holds %v", ids)
	}
	if !strings.Contains(log.String(), "bounce of a bounce") {
		t.Errorf("log: %s", log.String())
	}
}

// TestDelayNotice: with NotifyDelay, one "delayed" report once the entry
// is that old and still deferred; the entry stays queued.
func TestDelayNotice(t *testing.T) {
	c := newClock()
	s := openSpool(t, t.TempDir(), c, Options{NotifyDelay: time.Hour})
	mta := &fakeMTA{answer: map[string]Outcome{"b@example.com": defer451}}
	e := enqueue(t, s, "a@example.net", "b@example.com")
	notices := 0
	for i := 0; i < 12; i++ {
		res, err := s.Flush(context.Background(), mta.attempt, FlushOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Delay != "" {
				notices++
			}
		}
		c.Add(20 * time.Minute)
	}
	if notices != 1 {
		t.Errorf("%d delay notices, want 1", notices)
	}
	got, err := s.Get(e.ID)
	if err != nil || !got.DelayNotified {
		t.Errorf("entry after notice: %+v, %v", got, err)
	}
	mta.mu.Lock()
	defer mta.mu.Unlock()
	for _, a := range mta.attempts {
		if a.from == "" {
			if g := ParseDSN(t, a.body).PerRcpt[0]; g.Get("Action") != "delayed" {
				t.Errorf("notice action %q", g.Get("Action"))
			}
		}
	}
}

// TestExpiredEntryGetsOneAttempt: an entry already past the maximum age
// when first seen (a report queued by a flush with a tiny max age) is
// attempted once before anything expires.
func TestExpiredEntryGetsOneAttempt(t *testing.T) {
	c := newClock()
	s := openSpool(t, t.TempDir(), c, Options{MaxAge: time.Minute})
	mta := &fakeMTA{answer: map[string]Outcome{"b@example.com": defer451}}
	e := enqueue(t, s, "a@example.net", "b@example.com", "ok@example.org")
	c.Add(time.Hour)
	res, err := s.Flush(context.Background(), mta.attempt, FlushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || !res[0].Attempted || len(res[0].Outcomes) != 2 || strings.Join(res[0].Expired, ",") != "b@example.com" || res[0].Bounce == "" {
		t.Fatalf("first flush: %+v", res)
	}
	// The bounce itself was queued past nobody's age and delivered.
	if res[1].ID != res[0].Bounce || !res[1].Attempted || res[1].Outcomes[0].Status != Delivered {
		t.Errorf("bounce: %+v", res[1])
	}
	if _, err := s.Get(e.ID); err != ErrNotFound {
		t.Errorf("entry still there: %v", err)
	}
}
