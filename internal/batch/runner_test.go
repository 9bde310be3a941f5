package batch

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtp"
)

// fakeServer answers transactions: a recipient in temp gets 451 for its
// first tempFails attempts, one in perm gets 550.
type fakeServer struct {
	mu        sync.Mutex
	conns     int
	delivered map[string]int
	tries     map[string]int
	tempFails int
	perConn   []int
	lostReply map[string]int // recipient: times its reply after the end of data is lost
	rcptMax   int            // recipients per transaction, then 452 4.5.3
	limits    bool           // declare rcptMax as LIMITS RCPTMAX (RFC 9422)
}

type fakeConn struct {
	s  *fakeServer
	id int
}

func (c *fakeConn) Extensions() smtp.Extensions {
	if c.s.limits {
		return smtp.ParseExtensions([]string{"fake", "PIPELINING", fmt.Sprintf("LIMITS RCPTMAX=%d", c.s.rcptMax)})
	}
	return smtp.ParseExtensions([]string{"fake", "PIPELINING"})
}
func (c *fakeConn) Quit() (smtp.Reply, error) { return smtp.Reply{Code: 221}, nil }
func (c *fakeConn) Close() error              { return nil }

func (c *fakeConn) Send(tx *smtp.Transaction) (*smtp.TxResult, error) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perConn[c.id]++
	body, _ := io.ReadAll(tx.Body)
	res := &smtp.TxResult{Mail: smtp.Reply{Code: 250}}
	for i, r := range tx.Rcpts {
		if s.rcptMax > 0 && i >= s.rcptMax {
			res.Rcpts = append(res.Rcpts, smtp.RcptResult{Addr: r.Addr, Reply: smtp.Reply{Code: 452, Enhanced: "4.5.3", Lines: []string{"too many recipients"}}})
			continue
		}
		s.tries[r.Addr]++
		rr := smtp.RcptResult{Addr: r.Addr, Reply: smtp.Reply{Code: 250}, Accepted: true}
		switch {
		case strings.HasPrefix(r.Addr, "temp") && s.tries[r.Addr] <= s.tempFails:
			rr = smtp.RcptResult{Addr: r.Addr, Reply: smtp.Reply{Code: 451}}
		case strings.HasPrefix(r.Addr, "perm"):
			rr = smtp.RcptResult{Addr: r.Addr, Reply: smtp.Reply{Code: 550}}
		}
		res.Rcpts = append(res.Rcpts, rr)
	}
	if res.Accepted() == 0 {
		return res, smtp.ErrNoRecipients
	}
	if tx.BeforeEnd != nil {
		if err := tx.BeforeEnd(); err != nil {
			return res, &smtp.AbortError{Err: err}
		}
	}
	res.EndSent = true
	for _, r := range res.Rcpts {
		if r.Accepted {
			s.delivered[r.Addr+"|"+string(body)]++
		}
	}
	if s.lostReply[tx.Rcpts[0].Addr] > 0 {
		// Delivered, but the connection drops before the reply.
		s.lostReply[tx.Rcpts[0].Addr]--
		return res, &smtp.NetError{Stage: "DATA", Err: io.ErrUnexpectedEOF}
	}
	res.Data = &smtp.Reply{Code: 250, Lines: []string{"ok queued as Q1"}}
	res.QueueID = "Q1"
	return res, nil
}

func runFake(t *testing.T, in string, s *fakeServer, o Options) (Summary, []Result, error) {
	t.Helper()
	r, err := NewReader(strings.NewReader(in), FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := ParseTemplate("t", "Subject: {{.name}}\n\nhi\n")
	o.Reader, o.Template, o.From = r, tp, "me@example.com"
	o.Clock = &fakeClock{now: time.Unix(1e9, 0)}
	o.Connect = func(context.Context) (Conn, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.conns++
		s.perConn = append(s.perConn, 0)
		return &fakeConn{s: s, id: s.conns - 1}, nil
	}
	var mu sync.Mutex
	var res []Result
	o.Result = func(r Result) { mu.Lock(); res = append(res, r); mu.Unlock() }
	sum, err := Run(context.Background(), o)
	sort.Slice(res, func(i, j int) bool { return res[i].Row < res[j].Row })
	return sum, res, err
}

func newFake(tempFails int) *fakeServer {
	return &fakeServer{delivered: map[string]int{}, tries: map[string]int{}, tempFails: tempFails, lostReply: map[string]int{}}
}

func TestRunOutcomes(t *testing.T) {
	in := "to,name\na@x.org,A\ntemp@x.org,T\nperm@x.org,P\nbad,B\nb@x.org,B\nc@x.org,C\n"
	s := newFake(2)
	sum, res, err := runFake(t, in, s, Options{Concurrency: 2, PerConnection: 2, Retries: 3})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sent != 4 || sum.Failed != 2 || sum.Deferred != 0 {
		t.Fatalf("summary %+v", sum)
	}
	if len(res) != 6 || res[1].Attempts != 3 || res[1].Status != StatusSent || res[2].Status != StatusFailed || res[3].Status != StatusFailed {
		t.Fatalf("results %+v", res)
	}
	for k, n := range s.delivered {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
	for i, n := range s.perConn {
		if n > 2 {
			t.Errorf("connection %d carried %d messages, want at most 2", i, n)
		}
	}
}

func TestRunDeferredAndResume(t *testing.T) {
	in := "to,name\na@x.org,A\ntemp@x.org,T\nb@x.org,B\n"
	path := filepath.Join(t.TempDir(), "state")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	s := newFake(5)
	sum, _, err := runFake(t, in, s, Options{Retries: 1, Journal: j})
	if err != nil || sum.Sent != 2 || sum.Deferred != 1 {
		t.Fatalf("first run: %+v %v", sum, err)
	}
	j.Close()
	j, _ = OpenJournal(path)
	defer j.Close()
	s2 := newFake(0)
	sum, _, err = runFake(t, in, s2, Options{Journal: j})
	if err != nil || sum.Sent != 1 || sum.Skipped != 2 || len(s2.delivered) != 1 {
		t.Fatalf("rerun: %+v %v %v", sum, err, s2.delivered)
	}
}

func TestRunCheckAndStrict(t *testing.T) {
	in := "to,name\na@x.org,A\nbad,B\nb@x.org,B\n"
	s := newFake(0)
	sum, _, err := runFake(t, in, s, Options{Check: true})
	if err != nil || sum.Checked != 2 || sum.Failed != 1 || s.conns != 0 {
		t.Fatalf("check: %+v %v conns=%d", sum, err, s.conns)
	}
	s = newFake(0)
	if _, _, err = runFake(t, in, s, Options{Strict: true}); err == nil || !strings.Contains(err.Error(), "row 2") {
		t.Fatalf("strict: %v", err)
	}
}

// closingConn answers 421 to its second transaction, as a server that
// closes the session does (RFC 5321 3.8).
type closingConn struct {
	fakeConn
	n      int
	closed bool
}

func (c *closingConn) Send(tx *smtp.Transaction) (*smtp.TxResult, error) {
	if c.closed {
		return nil, &smtp.NetError{Stage: "MAIL", Err: io.EOF}
	}
	c.n++
	if c.n == 2 {
		c.closed = true
		return &smtp.TxResult{Mail: smtp.Reply{Code: 421}}, &smtp.Error{Command: "MAIL FROM", Reply: smtp.Reply{Code: 421, Lines: []string{"closing"}}}
	}
	return c.fakeConn.Send(tx)
}

func TestRunReconnectOn421(t *testing.T) {
	in := "to,name\na@x.org,A\nb@x.org,B\nc@x.org,C\nd@x.org,D\n"
	s := newFake(0)
	r, _ := NewReader(strings.NewReader(in), FormatCSV)
	tp, _ := ParseTemplate("t", "Subject: {{.name}}\n\nhi\n")
	conns := 0
	o := Options{
		Reader: r, Template: tp, From: "me@example.com", Retries: 2,
		Clock: &fakeClock{now: time.Unix(1e9, 0)},
		Connect: func(context.Context) (Conn, error) {
			conns++
			s.perConn = append(s.perConn, 0)
			return &closingConn{fakeConn: fakeConn{s: s, id: conns - 1}}, nil
		},
	}
	sum, err := Run(context.Background(), o)
	if err != nil || sum.Sent != 4 || sum.Failed+sum.Deferred != 0 {
		t.Fatalf("%+v %v", sum, err)
	}
	if conns < 2 {
		t.Fatalf("%d connections: want a new one after the 421", conns)
	}
	if len(s.delivered) != 4 {
		t.Fatalf("delivered %v", s.delivered)
	}
}

func TestRunServerDown(t *testing.T) {
	in := "to,name\na@x.org,A\nb@x.org,B\nc@x.org,C\n"
	r, _ := NewReader(strings.NewReader(in), FormatCSV)
	tp, _ := ParseTemplate("t", "Subject: {{.name}}\n\nhi\n")
	dials := 0
	sum, err := Run(context.Background(), Options{
		Reader: r, Template: tp, From: "me@example.com", Retries: 2,
		Clock: &fakeClock{now: time.Unix(1e9, 0)},
		Connect: func(context.Context) (Conn, error) {
			dials++
			return nil, &smtp.NetError{Stage: "connect", Err: io.ErrUnexpectedEOF}
		},
	})
	if err != nil || sum.Deferred != 3 {
		t.Fatalf("%+v %v", sum, err)
	}
	if dials != 3 {
		t.Fatalf("%d dials: want 3 (the first row's attempts), the rest deferred at once", dials)
	}
}

func TestRunConnectRefusedForGood(t *testing.T) {
	in := "to,name\na@x.org,A\nb@x.org,B\n"
	r, _ := NewReader(strings.NewReader(in), FormatCSV)
	tp, _ := ParseTemplate("t", "Subject: {{.name}}\n\nhi\n")
	dials := 0
	sum, err := Run(context.Background(), Options{
		Reader: r, Template: tp, From: "me@example.com", Retries: 2,
		Clock: &fakeClock{now: time.Unix(1e9, 0)},
		Connect: func(context.Context) (Conn, error) {
			dials++
			return nil, &smtp.Error{Command: "AUTH PLAIN", Reply: smtp.Reply{Code: 535, Enhanced: "5.7.8"}}
		},
	})
	if err != nil || sum.Failed != 2 || dials != 1 {
		t.Fatalf("%+v %v dials=%d", sum, err, dials)
	}
}

func TestRunPartialRefusal(t *testing.T) {
	s := newFake(0)
	sum, res, err := runFake(t, "to,name\n\"a@x.org, perm@x.org\",A\n", s, Options{Retries: 2})
	if err != nil || sum.Sent != 1 || len(res) != 1 || res[0].Attempts != 1 {
		t.Fatalf("%+v %+v %v", sum, res, err)
	}
	if len(res[0].Refused) != 1 || res[0].Refused[0].Addr != "perm@x.org" || res[0].Refused[0].Reply.Code != 550 {
		t.Fatalf("refused: %+v", res[0].Refused)
	}
}

// resetConn fails the RSET before its second transaction: refused with
// 500 on even sessions, the session dropped (as a server closing an idle
// connection) on odd ones.
type resetConn struct {
	fakeConn
	resets int
}

func (c *resetConn) Send(tx *smtp.Transaction) (*smtp.TxResult, error) {
	if tx.Reset {
		c.resets++
		if c.resets == 1 {
			if c.id%2 == 0 {
				return &smtp.TxResult{}, &smtp.Error{Command: "RSET", Reply: smtp.Reply{Code: 500}}
			}
			return &smtp.TxResult{}, &smtp.NetError{Stage: "RSET", Err: io.EOF}
		}
	}
	return c.fakeConn.Send(tx)
}

func TestRunResetFailureOpensNewSession(t *testing.T) {
	in := "to,name\na@x.org,A\nb@x.org,B\nc@x.org,C\nd@x.org,D\ne@x.org,E\n"
	s := newFake(0)
	r, _ := NewReader(strings.NewReader(in), FormatCSV)
	tp, _ := ParseTemplate("t", "Subject: {{.name}}\n\nhi\n")
	var res []Result
	sum, err := Run(context.Background(), Options{
		Reader: r, Template: tp, From: "me@example.com", Pipelining: true,
		Clock: &fakeClock{now: time.Unix(1e9, 0)},
		Connect: func(context.Context) (Conn, error) {
			s.perConn = append(s.perConn, 0)
			s.conns++
			return &resetConn{fakeConn: fakeConn{s: s, id: s.conns - 1}}, nil
		},
		Result: func(r Result) { res = append(res, r) },
	})
	// Retries is 0: a failed RSET must not cost the row its one attempt.
	if err != nil || sum.Sent != 5 {
		t.Fatalf("%+v %v", sum, err)
	}
	for _, r := range res {
		if r.Attempts != 1 {
			t.Errorf("row %d: %d attempts", r.Row, r.Attempts)
		}
	}
	if s.conns != 5 {
		t.Errorf("%d sessions, want 5 (each RSET failure ends one)", s.conns)
	}
	for k, n := range s.delivered {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
}

func TestRunUnconfirmed(t *testing.T) {
	in := "to,name\na@x.org,A\nlost@x.org,L\nb@x.org,B\n"
	path := filepath.Join(t.TempDir(), "state")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	s := newFake(0)
	s.lostReply["lost@x.org"] = 1
	sum, res, err := runFake(t, in, s, Options{Retries: 3, Journal: j})
	if err != nil || sum.Sent != 2 || sum.Unconfirmed != 1 {
		t.Fatalf("first run: %+v %v", sum, err)
	}
	if r := res[1]; r.Status != StatusUnconfirmed || r.Attempts != 1 || !strings.Contains(r.Error, "--resend-unconfirmed") {
		t.Fatalf("lost reply: %+v (want unconfirmed after one attempt, not retried)", r)
	}
	j.Close()

	// A rerun skips the accepted rows and does not send the unconfirmed one.
	j, _ = OpenJournal(path)
	s2 := newFake(0)
	sum, res, err = runFake(t, in, s2, Options{Journal: j})
	if err != nil || sum.Skipped != 2 || sum.Unconfirmed != 1 || len(s2.delivered) != 0 || res[1].Status != StatusUnconfirmed {
		t.Fatalf("rerun: %+v %v %v", sum, err, s2.delivered)
	}
	j.Close()

	// --resend-unconfirmed sends it, and then it is done.
	j, _ = OpenJournal(path)
	sum, _, err = runFake(t, in, s2, Options{Journal: j, ResendUnconfirmed: true})
	if err != nil || sum.Sent != 1 || sum.Skipped != 2 || len(s2.delivered) != 1 {
		t.Fatalf("resend: %+v %v %v", sum, err, s2.delivered)
	}
	j.Close()
	j, _ = OpenJournal(path)
	defer j.Close()
	if !j.Done(2) || j.Unconfirmed(2) {
		t.Fatal("row 2 not recorded as accepted after --resend-unconfirmed")
	}
}

func TestRunJournalFailureStops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	j.f.Close() // every write fails from now on
	s := newFake(0)
	sum, res, err := runFake(t, "to,name\na@x.org,A\nb@x.org,B\nc@x.org,C\n", s, Options{Journal: j})
	if err == nil || !strings.Contains(err.Error(), "state") {
		t.Fatalf("want the journal error to stop the batch, got %v (%+v)", err, sum)
	}
	if len(s.delivered) != 0 {
		t.Fatalf("delivered %v: nothing may go without its record", s.delivered)
	}
	if len(res) == 0 || res[0].Status != StatusDeferred {
		t.Fatalf("results %+v", res)
	}
}

func TestRunRecipientLimit(t *testing.T) {
	in := "to,name\n\"a@x.org,b@x.org,c@x.org,d@x.org,e@x.org\",A\nf@x.org,F\n"
	for _, limits := range []bool{false, true} {
		s := newFake(0)
		s.rcptMax, s.limits = 2, limits
		sum, res, err := runFake(t, in, s, Options{PerConnection: 0})
		if err != nil || sum.Sent != 2 || len(res) != 2 {
			t.Fatalf("limits=%v: %+v %v", limits, sum, err)
		}
		if len(res[0].Refused) != 0 || res[0].Attempts != 1 {
			t.Errorf("limits=%v: row 1: %+v", limits, res[0])
		}
		if len(s.delivered) != 6 {
			t.Errorf("limits=%v: delivered %v, want each of the 6 recipients once", limits, s.delivered)
		}
		for k, n := range s.delivered {
			if n != 1 {
				t.Errorf("limits=%v: %s delivered %d times", limits, k, n)
			}
		}
		// 5 recipients, 2 per transaction: 3 transactions for row 1.
		if got := s.perConn[0]; got != 4 {
			t.Errorf("limits=%v: %d transactions, want 4", limits, got)
		}
	}
}
