package smtp

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// TestFixedClock: a caller's clock stamps events and measures phases but
// never sets socket deadlines, so a clock stuck in the past does not make
// every read time out.
func TestFixedClock(t *testing.T) {
	past := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	var tr Transcript
	c, run := scripted(t, joinSteps(greetStep, smtptest.Expect("EHLO client.example"), ehloReply("8BITMIME"), quitSteps),
		ClientOptions{Now: func() time.Time { return past }, Trace: tr.Add})
	clientHello(t, c)
	clientQuit(t, c)
	run.Wait()
	for _, ev := range tr.Events {
		if !ev.Time.Equal(past) {
			t.Fatalf("event %+v not stamped with the caller's clock", ev)
		}
	}
}

func TestTraceBody(t *testing.T) {
	for _, full := range []bool{false, true} {
		var tr Transcript
		c, run := scripted(t, joinSteps(
			smtptest.Expect("MAIL FROM:<a@example.org>"), smtptest.Send("250 ok"),
			smtptest.Expect("RCPT TO:<b@example.org>"), smtptest.Send("250 ok"),
			smtptest.Expect("DATA"), smtptest.Send("354 go"),
			smtptest.ExpectData(), smtptest.Send("250 queued"),
		), ClientOptions{Trace: tr.Add, TraceBody: full})
		_, err := c.Send(&Transaction{From: "a@example.org", Rcpts: []Recipient{{Addr: "b@example.org"}},
			Body: strings.NewReader("Subject: s\n\nline one\nlast line")})
		if err != nil {
			t.Fatal(err)
		}
		run.Wait()
		var sent []string
		for _, ev := range tr.Events {
			if ev.Kind == EventSend {
				sent = append(sent, ev.Line)
			}
			if ev.Kind == EventBody && ev.Line != "(35 octets, 4 lines)" {
				t.Errorf("body summary %q", ev.Line)
			}
		}
		want := []string{"MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "DATA", "."}
		if full {
			want = []string{"MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "DATA", "Subject: s", "", "line one", "last line", "."}
		}
		if !reflect.DeepEqual(sent, want) {
			t.Errorf("TraceBody %v: sent lines %q, want %q", full, sent, want)
		}
	}
}
