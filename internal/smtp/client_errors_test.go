package smtp

import (
	"strings"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

func TestTimeouts(t *testing.T) {
	short := Uniform(100 * time.Millisecond)
	t.Run("greeting never comes", func(t *testing.T) {
		c, run := scripted(t, joinSteps(smtptest.Hang()), ClientOptions{Timeouts: short})
		_, err := c.Greeting()
		ne := wantErr[*NetError](t, err)
		if ne.Stage != "greeting" || !strings.Contains(ne.Error(), "timed out") {
			t.Errorf("error = %q", ne)
		}
		c.Close()
		run.Wait()
	})
	t.Run("no reply to EHLO", func(t *testing.T) {
		c, run := scripted(t, joinSteps(greetStep, smtptest.Expect("EHLO client.example"), smtptest.Hang()), ClientOptions{Timeouts: short})
		c.Greeting()
		_, err := c.Hello("client.example")
		if ne := wantErr[*NetError](t, err); ne.Error() != "EHLO: timed out" {
			t.Errorf("error = %q", ne)
		}
		c.Close()
		run.Wait()
	})
	t.Run("peer stops reading", func(t *testing.T) {
		release := make(chan struct{})
		c, run := scripted(t, joinSteps(greetStep, smtptest.Do("stop reading", func(*smtptest.Peer) error {
			<-release
			return nil
		}), smtptest.ExpectClose()), ClientOptions{Timeouts: short})
		c.Greeting()
		_, err := c.Noop()
		close(release)
		if ne := wantErr[*NetError](t, err); !strings.Contains(ne.Error(), "timed out") {
			t.Errorf("error = %q", ne)
		}
		c.Close()
		run.Wait()
	})
	t.Run("connection closed", func(t *testing.T) {
		c, run := scripted(t, joinSteps(greetStep, smtptest.Expect("NOOP"), smtptest.Close()), ClientOptions{})
		c.Greeting()
		_, err := c.Noop()
		if ne := wantErr[*NetError](t, err); ne.Error() != "NOOP: connection closed by server" {
			t.Errorf("error = %q", ne)
		}
		run.Wait()
	})
}

func TestErrorMethods(t *testing.T) {
	tests := []struct {
		reply                       Reply
		temp, perm, unknown, policy bool
	}{
		{Reply{Code: 550, Enhanced: "5.1.1"}, false, true, true, false},
		{Reply{Code: 450, Enhanced: "4.1.1"}, true, false, false, false},
		{Reply{Code: 550}, false, true, false, false},
		{Reply{Code: 535, Enhanced: "5.7.8"}, false, true, false, true},
		{Reply{Code: 530}, false, true, false, true},
		{Reply{Code: 554, Enhanced: "5.7.1"}, false, true, false, true},
		{Reply{Code: 421, Enhanced: "4.7.0"}, true, false, false, true},
		{Reply{Code: 452, Enhanced: "4.2.2"}, true, false, false, false},
	}
	for _, tt := range tests {
		e := &Error{Command: "RCPT TO:<x>", Reply: tt.reply}
		if e.Temporary() != tt.temp || e.Permanent() != tt.perm || e.UnknownUser() != tt.unknown || e.Policy() != tt.policy {
			t.Errorf("%v: Temporary %v Permanent %v UnknownUser %v Policy %v", tt.reply, e.Temporary(), e.Permanent(), e.UnknownUser(), e.Policy())
		}
	}
	e := &Error{Command: "MAIL FROM:<a@b>", Reply: Reply{Code: 550, Enhanced: "5.7.1", Lines: []string{"go", "away"}}}
	if got := e.Error(); got != "MAIL FROM:<a@b>: server said 550 5.7.1 go away" {
		t.Errorf("Error() = %q", got)
	}
	if err := replyError("DATA", Reply{Code: 250}); err == nil {
		t.Error("a 2xx reply where a 3xx was due is not an error")
	} else {
		wantErr[*ProtocolError](t, err)
	}
}
