package spool

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// enqueueDSN enqueues testMsg (or msg, when not "") with DSN parameters.
func enqueueDSN(t *testing.T, s *Spool, msg string, o EnqueueOptions, from string, rcpts ...string) *Entry {
	t.Helper()
	if msg == "" {
		msg = testMsg
	}
	e, err := s.EnqueueWith(context.Background(), strings.NewReader(msg), from, rcpts, o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestNotifyNeverNoBounce: RFC 3461 4.1, NOTIFY=NEVER: a permanent failure
// is not reported; the entry goes away all the same.
func TestNotifyNeverNoBounce(t *testing.T) {
	for _, notify := range [][]string{{"NEVER"}, {"SUCCESS"}, {"DELAY"}, {"SUCCESS", "DELAY"}} {
		t.Run(strings.Join(notify, ","), func(t *testing.T) {
			s := openSpool(t, t.TempDir(), newClock(), Options{})
			mta := &fakeMTA{answer: map[string]Outcome{"b@example.com": fail550}}
			enqueueDSN(t, s, "", EnqueueOptions{Notify: notify}, "a@example.net", "b@example.com")
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
		})
	}
}

// TestNotifyFailureBounces: NOTIFY listing FAILURE (and the default, no
// NOTIFY) still gets the failure report.
func TestNotifyFailureBounces(t *testing.T) {
	for _, notify := range [][]string{nil, {"FAILURE"}, {"SUCCESS", "FAILURE"}} {
		s := openSpool(t, t.TempDir(), newClock(), Options{})
		mta := &fakeMTA{answer: map[string]Outcome{"b@example.com": fail550}}
		enqueueDSN(t, s, "", EnqueueOptions{Notify: notify}, "a@example.net", "b@example.com")
		res, err := s.Flush(context.Background(), mta.attempt, FlushOptions{})
		if err != nil || len(res) != 2 || res[0].Bounce == "" {
			t.Fatalf("NOTIFY=%v: flush: %+v, %v", notify, res, err)
		}
	}
}

// TestDSNParamsPassedOn: each attempt gets the entry's RET, ENVID and each
// recipient's NOTIFY and ORCPT, in the order of its recipients.
func TestDSNParamsPassedOn(t *testing.T) {
	s := openSpool(t, t.TempDir(), newClock(), Options{})
	mta := &fakeMTA{}
	o := EnqueueOptions{Ret: "hdrs", EnvID: "env-1", Notify: []string{"SUCCESS", "FAILURE"}, ORcpts: []string{"orig-b@example.com", ""}}
	enqueueDSN(t, s, "", o, "a@example.net", "b@example.com", "c@example.com")
	if _, err := s.Flush(context.Background(), mta.attempt, FlushOptions{}); err != nil {
		t.Fatal(err)
	}
	mta.mu.Lock()
	defer mta.mu.Unlock()
	d := mta.attempts[0].dsn
	if d.Ret != "HDRS" || d.EnvID != "env-1" || len(d.Notify) != 2 || strings.Join(d.Notify[1], ",") != "SUCCESS,FAILURE" ||
		strings.Join(d.ORcpt, "|") != "orig-b@example.com|" {
		t.Errorf("dsn %+v", d)
	}
	if _, err := s.EnqueueWith(context.Background(), strings.NewReader(testMsg), "a@example.net", []string{"b@example.com"}, EnqueueOptions{Ret: "ALL"}); err == nil {
		t.Error("RET=ALL accepted")
	}
}

// TestRetFullBounce: RFC 3461 4.3, RET=FULL: the report carries the whole
// message as message/rfc822; ENVID and ORCPT come back as RFC 3464 2.2.1
// Original-Envelope-Id and 2.3.1 Original-Recipient.
func TestRetFullBounce(t *testing.T) {
	s := openSpool(t, t.TempDir(), newClock(), Options{})
	o := EnqueueOptions{Ret: "FULL", EnvID: "QQ314159", ORcpts: []string{"orig@example.com"}}
	e := enqueueDSN(t, s, "", o, "a@example.net", "b@example.com")
	_, bounce := flushBounced(t, s, &fakeMTA{answer: map[string]Outcome{"b@example.com": fail550}})
	d := ParseDSN(t, bounce.body)
	if d.Full != stored(s, e, testMsg) || d.Headers != "" {
		t.Errorf("returned message %q, headers %q; want the whole message", d.Full, d.Headers)
	}
	if got := d.PerMessage.Get("Original-Envelope-Id"); got != "QQ314159" {
		t.Errorf("Original-Envelope-Id %q", got)
	}
	if got := d.PerRcpt[0].Get("Original-Recipient"); got != "rfc822; orig@example.com" {
		t.Errorf("Original-Recipient %q", got)
	}
	if !strings.Contains(d.Human, "original message is attached") {
		t.Errorf("human part: %s", d.Human)
	}
}

// TestRetHdrsAndOversizedFull: RET=HDRS, and RET=FULL for a message over
// maxReturnBytes, return the header section only.
func TestRetHdrsAndOversizedFull(t *testing.T) {
	big := testMsg + strings.Repeat(strings.Repeat("x", 70)+"\r\n", maxReturnBytes/72+10)
	for _, c := range []struct{ ret, msg, human string }{
		{"HDRS", "", "headers are attached"},
		{"", "", "headers are attached"},
		{"FULL", big, "too large to return"},
	} {
		s := openSpool(t, t.TempDir(), newClock(), Options{})
		enqueueDSN(t, s, c.msg, EnqueueOptions{Ret: c.ret}, "a@example.net", "b@example.com")
		_, bounce := flushBounced(t, s, &fakeMTA{answer: map[string]Outcome{"b@example.com": fail550}})
		d := ParseDSN(t, bounce.body)
		if d.Full != "" || !strings.Contains(d.Headers, "Subject: hello") || strings.Contains(d.Headers, "body line") {
			t.Errorf("RET=%q: full %d octets, headers %q", c.ret, len(d.Full), d.Headers)
		}
		if d.PerMessage.Get("Original-Envelope-Id") != "" || d.PerRcpt[0].Get("Original-Recipient") != "" {
			t.Errorf("RET=%q: ENVID/ORCPT fields without the parameters", c.ret)
		}
		if !strings.Contains(d.Human, c.human) {
			t.Errorf("RET=%q: human part: %s", c.ret, d.Human)
		}
	}
}

// TestDelayNoticeFollowsNotify: with NotifyDelay, a recipient whose NOTIFY
// leaves out DELAY gets no delay notice; one listing DELAY does.
func TestDelayNoticeFollowsNotify(t *testing.T) {
	for _, c := range []struct {
		notify []string
		want   bool
	}{{[]string{"FAILURE"}, false}, {[]string{"NEVER"}, false}, {[]string{"DELAY"}, true}, {nil, true}} {
		clk := newClock()
		s := openSpool(t, t.TempDir(), clk, Options{NotifyDelay: time.Hour})
		mta := &fakeMTA{answer: map[string]Outcome{"b@example.com": defer451}}
		enqueueDSN(t, s, "", EnqueueOptions{Notify: c.notify}, "a@example.net", "b@example.com")
		notices := 0
		for range 6 {
			res, err := s.Flush(context.Background(), mta.attempt, FlushOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if r.Delay != "" {
					notices++
				}
			}
			clk.Add(20 * time.Minute)
		}
		if (notices == 1) != c.want || notices > 1 {
			t.Errorf("NOTIFY=%v: %d delay notices, want notice %v", c.notify, notices, c.want)
		}
	}
}

// TestOldEntryLoads: a state file written before the DSN fields existed
// loads, and its failure is bounced as before (no NOTIFY means FAILURE).
func TestOldEntryLoads(t *testing.T) {
	s := openSpool(t, t.TempDir(), newClock(), Options{})
	e := enqueue(t, s, "a@example.net", "b@example.com")
	old := `{"id":"` + e.ID + `","created":"2026-03-01T12:00:00Z","sender":"a@example.net","size":1,` +
		`"recipients":[{"addr":"b@example.com","status":"queued","next_attempt":"2026-03-01T12:00:00Z"}]}`
	if err := os.WriteFile(s.statePath(e.ID), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(e.ID)
	if err != nil || got.Ret != "" || got.EnvID != "" || got.Recipients[0].Notify != nil {
		t.Fatalf("old entry: %+v, %v", got, err)
	}
	mta := &fakeMTA{answer: map[string]Outcome{"b@example.com": fail550}}
	res, err := s.Flush(context.Background(), mta.attempt, FlushOptions{})
	if err != nil || len(res) != 2 || res[0].Bounce == "" {
		t.Fatalf("flush: %+v, %v", res, err)
	}
}
