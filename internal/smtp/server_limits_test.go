package smtp

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestServerDefaultLimits: every limit has a non-zero default (RFC 5321
// 4.5.3), and a zero field in Limits takes it.
func TestServerDefaultLimits(t *testing.T) {
	d := DefaultLimits()
	if d.CommandLine != 512 || d.TextLine != 1000 || d.Recipients < 100 {
		t.Fatalf("RFC 5321 4.5.3.1 limits: %+v", d)
	}
	if d.MessageSize <= 0 || d.Errors <= 0 || d.NoProgress <= 0 || d.AuthFailures <= 0 || d.AuthDelay <= 0 ||
		d.CommandTimeout < 5*time.Minute || d.DataTimeout <= 0 || d.Connections <= 0 || d.PerIP <= 0 || d.AuthLine <= 0 {
		t.Fatalf("a default limit is off: %+v", d)
	}
	if got := (Limits{}).withDefaults(); got != d {
		t.Fatalf("zero Limits = %+v, want the defaults", got)
	}
}

// TestServerCommandLineLimit: RFC 5321 4.5.3.1.4 allows 512 octets with
// the CRLF; a longer line is answered 500 5.5.2 and the session goes on.
func TestServerCommandLineLimit(t *testing.T) {
	_, addr := startServer(t, ServerOptions{}, ListenerOptions{})
	c := dialRaw(t, addr)
	c.greet()
	c.cmd("NOOP "+strings.Repeat("x", 512-len("NOOP \r\n")), 250, "2.0.0")
	c.cmd("NOOP "+strings.Repeat("x", 513-len("NOOP \r\n")), 500, "5.5.2")
	c.cmd("MAIL FROM:<"+strings.Repeat("a", 600)+"@x>", 500, "5.5.2")
	c.cmd("NOOP", 250, "2.0.0")
	c.cmd("QUIT", 221, "2.0.0")
}

// TestServerHugeLineMemory sends a 10 MiB command line without a newline,
// and a 10 MiB text line inside DATA: the server discards as it reads, so
// neither the live heap nor the allocations grow with the line.
func TestServerHugeLineMemory(t *testing.T) {
	const huge = 10 << 20
	_, addr := startServer(t, ServerOptions{}, ListenerOptions{})
	c := dialRaw(t, addr)
	c.greet()
	chunk := bytes.Repeat([]byte("A"), 64<<10)
	measure := func(what string, send func(), finish func()) {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var peak atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}()
		send()
		finish() // the server has read every octet once it answers
		close(stop)
		wg.Wait()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		grew := int64(peak.Load()) - int64(before.HeapInuse)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: heap in use grew by at most %d octets; %d octets allocated", what, grew, alloc)
		if grew > 3<<20 || alloc > 4<<20 {
			t.Fatalf("%s: a %d-octet line made the heap grow by %d and allocate %d octets", what, huge, grew, alloc)
		}
	}
	sendHuge := func() {
		for i := 0; i < huge/len(chunk); i++ {
			if _, err := c.nc.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
	}
	measure("command line", sendHuge, func() {
		c.send("\r\n")
		c.want(500, "5.5.2")
	})
	c.cmd("NOOP", 250, "2.0.0")
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
	c.cmd("DATA", 354, "")
	measure("text line", sendHuge, func() {
		c.send("\r\n.\r\n")
		c.want(550, "5.6.0")
	})
	c.cmd("QUIT", 221, "2.0.0")
}

// TestServerTooManyRecipients: RFC 5321 4.5.3.1.8 requires at least 100
// recipients; the 101st gets 452 4.5.3 (4.5.3.1.10) and the message goes
// to the first 100.
func TestServerTooManyRecipients(t *testing.T) {
	be := &recBackend{}
	_, addr := startServer(t, ServerOptions{Backend: be}, ListenerOptions{})
	c := dialRaw(t, addr)
	c.greet()
	var group strings.Builder
	group.WriteString("MAIL FROM:<a@x>\r\n")
	for i := 1; i <= 101; i++ {
		fmt.Fprintf(&group, "RCPT TO:<r%d@x>\r\n", i)
	}
	c.send(group.String())
	c.want(250, "2.1.0")
	for i := 1; i <= 100; i++ {
		c.want(250, "2.1.5")
	}
	c.want(452, "4.5.3")
	c.cmd("DATA", 354, "")
	c.send("hi\r\n.\r\n")
	c.want(250, "2.0.0")
	c.cmd("QUIT", 221, "2.0.0")
	if msgs := be.messages(); len(msgs) != 1 || len(msgs[0].Rcpts) != 100 {
		t.Fatalf("delivered %d messages", len(msgs))
	}
}

// TestServerEndlessRcpt: a client that keeps sending RCPT, past the
// recipient limit (452 4.5.3) or to recipients refused for now (450), is
// cut off by the no-progress limit with 421 4.7.0; recipients accepted
// before still count as progress.
func TestServerEndlessRcpt(t *testing.T) {
	for _, tc := range []struct {
		name string
		rcpt string
		ok   int // recipients accepted first
		code int
	}{
		{"over the limit", "r%d@x", 2, 452},
		{"refused for now", "busy%d@x", 1, 450},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startServer(t, ServerOptions{Limits: Limits{Recipients: 2, NoProgress: 3}}, ListenerOptions{})
			c := dialRaw(t, addr)
			c.greet()
			c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
			for i := 1; i <= tc.ok; i++ {
				c.cmd(fmt.Sprintf("RCPT TO:<ok%d@x>", i), 250, "2.1.5")
			}
			// Bounded: the limit is 3; 50 would mean no limit at all.
			for i := 1; i <= 50; i++ {
				c.send(fmt.Sprintf("RCPT TO:<"+tc.rcpt+">\r\n", i))
				r := c.read()
				if r.Code != tc.code {
					t.Fatalf("RCPT %d: %s, want %d", i, r.String(), tc.code)
				}
				if i > 3 {
					c.want(421, "4.7.0")
					c.wantClosed()
					return
				}
			}
			t.Fatal("endless RCPT was never cut off")
		})
	}
}

// TestServerMessageSize: RFC 1870 SIZE. A declared size over the limit is
// refused at MAIL with 552 5.3.4; content over it is read to its end and
// refused with 552 5.3.4, over DATA and over BDAT.
func TestServerMessageSize(t *testing.T) {
	be := &recBackend{}
	_, addr := startServer(t, ServerOptions{Backend: be, Limits: Limits{MessageSize: 1000}}, ListenerOptions{})
	c := dialRaw(t, addr)
	ehlo := c.greet()
	if !replyHasLine(ehlo, "SIZE 1000") {
		t.Fatalf("EHLO does not announce SIZE 1000: %q", ehlo.Lines)
	}
	c.cmd("MAIL FROM:<a@x> SIZE=1001", 552, "5.3.4")
	c.cmd("MAIL FROM:<a@x> SIZE=1000", 250, "2.1.0")
	c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
	c.cmd("DATA", 354, "")
	line := strings.Repeat("x", 98) + "\r\n"
	c.send(strings.Repeat(line, 20) + ".\r\n")
	c.want(552, "5.3.4")
	c.cmd("NOOP", 250, "2.0.0") // in step: the rest of the content was read

	// Exactly the limit is fine.
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
	c.cmd("DATA", 354, "")
	c.send(strings.Repeat(line, 10) + ".\r\n")
	c.want(250, "2.0.0")

	// BDAT: one chunk over the limit, then two chunks that add up over it.
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
	c.send("BDAT 2000 LAST\r\n" + strings.Repeat(line, 20))
	c.want(552, "5.3.4")
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
	c.send("BDAT 600\r\n" + strings.Repeat(line, 6))
	c.want(250, "2.0.0")
	c.send("BDAT 600 LAST\r\n" + strings.Repeat(line, 6))
	c.want(552, "5.3.4")
	c.cmd("NOOP", 250, "2.0.0")
	c.cmd("QUIT", 221, "2.0.0")
	if msgs := be.messages(); len(msgs) != 1 || len(msgs[0].Body) != 1000 {
		t.Fatalf("delivered %d messages", len(msgs))
	}
}

func replyHasLine(r Reply, line string) bool {
	for _, l := range r.Lines {
		if l == line {
			return true
		}
	}
	return false
}

// TestServerBDATTextLine: BDAT content obeys the 1000-octet line limit of
// RFC 5321 4.5.3.1.6 as DATA does, CRLF included.
func TestServerBDATTextLine(t *testing.T) {
	be := &recBackend{}
	_, addr := startServer(t, ServerOptions{Backend: be}, ListenerOptions{})
	c := dialRaw(t, addr)
	c.greet()
	for _, tc := range []struct {
		n    int
		code int
	}{{998, 250}, {999, 550}, {1000, 550}} {
		c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
		c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
		body := strings.Repeat("y", tc.n) + "\r\n"
		c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(body), body))
		if r := c.read(); r.Code != tc.code {
			t.Fatalf("line of %d octets with CRLF: %q, want %d", len(body), r.String(), tc.code)
		}
	}
	if n := len(be.messages()); n != 1 {
		t.Fatalf("delivered %d messages", n)
	}
}

// dribble writes one octet of s every 50 ms until the server stops taking
// them, stop is closed, or max octets went; it returns how many went.
func dribble(c *rawClient, s string, max int, stop <-chan struct{}) int {
	for i := 0; i < max; i++ {
		select {
		case <-stop:
			return i
		case <-time.After(50 * time.Millisecond):
		}
		if c.trySend(s[i%len(s):i%len(s)+1]) != nil {
			return i
		}
	}
	return max
}

// TestServerDribbler: a client that sends one octet every 50 ms is cut off
// by the command timeout (RFC 5321 4.5.3.2.7) with 421 4.4.2, after a
// bounded number of octets, while another client is served normally; the
// same inside DATA with the data timeout.
func TestServerDribbler(t *testing.T) {
	const max = 400 // 20 s of dribbling: far beyond the 300 ms timeout
	be := &recBackend{}
	_, addr := startServer(t, ServerOptions{Backend: be, Limits: Limits{CommandTimeout: 300 * time.Millisecond, DataTimeout: 300 * time.Millisecond}}, ListenerOptions{})
	for _, inData := range []bool{false, true} {
		d := dialRaw(t, addr)
		d.want(220, "")
		if inData {
			d.cmd("EHLO slow.test", 250, "")
			d.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
			d.cmd("RCPT TO:<b@x>", 250, "2.1.5")
			d.cmd("DATA", 354, "")
		}
		stop := make(chan struct{})
		sent := make(chan int, 1)
		go func() { sent <- dribble(d, "NOOP NOOP NOOP ", max, stop) }()

		// Meanwhile a normal client is served.
		c := dialRaw(t, addr)
		openTx(c)
		c.cmd("DATA", 354, "")
		c.send("hello\r\n.\r\n")
		c.want(250, "2.0.0")
		c.cmd("QUIT", 221, "2.0.0")

		d.want(421, "4.4.2")
		close(stop)
		n := <-sent
		d.wantClosed()
		t.Logf("in DATA %v: cut off after %d octets", inData, n)
		if n >= max {
			t.Fatalf("dribbler sent %d octets and was not cut off", n)
		}
	}
	if n := len(be.messages()); n != 2 {
		t.Fatalf("delivered %d messages, want 2", n)
	}
}

// TestServerConnectionLimits: connections beyond Limits.Connections or
// Limits.PerIP are refused with 421 4.7.0; once the flood goes away a
// well-behaved client is served again.
func TestServerConnectionLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		lim  Limits
		text string
	}{
		{"total", Limits{Connections: 3, PerIP: 100}, "Too many connections"},
		{"per IP", Limits{Connections: 100, PerIP: 3}, "from your address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := &recBackend{}
			srv, addr := startServer(t, ServerOptions{Backend: be, Limits: tc.lim}, ListenerOptions{})
			var flood []*rawClient
			for i := 0; i < 3; i++ {
				c := dialRaw(t, addr)
				c.want(220, "")
				flood = append(flood, c)
			}
			for i := 0; i < 5; i++ {
				c := dialRaw(t, addr)
				if r := c.want(421, "4.7.0"); !strings.Contains(r.Text(), tc.text) {
					t.Fatalf("refusal %q", r.String())
				}
				c.wantClosed()
			}
			if n := be.sessions.Load(); n != 3 {
				t.Fatalf("%d backend sessions, want 3: refused connections got one", n)
			}
			for _, c := range flood {
				c.nc.Close()
			}
			pollUntil(t, "the flood to go", func() bool { return srv.Conns() == 0 })
			c := dialRaw(t, addr)
			openTx(c)
			c.cmd("DATA", 354, "")
			c.send("served\r\n.\r\n")
			c.want(250, "2.0.0")
			c.cmd("QUIT", 221, "2.0.0")
		})
	}
}

// TestServerNoGoroutineLeak runs floods, refusals, abandoned transactions
// and a stuck client, then shuts the server down: every goroutine the
// server started is gone.
func TestServerNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	be := &recBackend{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(ServerOptions{Hostname: "mx.test", Backend: be, Limits: serverTestLimits(Limits{Connections: 4, PerIP: 4})})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln, ListenerOptions{}) }()
	addr := ln.Addr().String()

	var clients []*rawClient
	dial := func() *rawClient {
		c := dialRaw(t, addr)
		clients = append(clients, c)
		return c
	}
	bdat := dial()
	openTx(bdat)
	bdat.send("BDAT 4\r\nhi\r\n")
	bdat.want(250, "2.0.0")
	data := dial()
	openTx(data)
	data.cmd("DATA", 354, "")
	data.send("half a message\r\n")
	idle := dial()
	idle.greet()
	half := dial()
	half.want(220, "")
	half.send("MAIL FROM:<a") // a partial command line
	for i := 0; i < 3; i++ {
		c := dial()
		c.want(421, "4.7.0")
		c.wantClosed()
	}
	pollUntil(t, "both Data calls to start", func() bool { return be.active.Load() == 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown returned nil with a session stuck in DATA")
	}
	if err := <-served; err != ErrServerClosed {
		t.Fatalf("Serve: %v", err)
	}
	for _, c := range clients {
		c.nc.Close()
	}
	if n := be.sessions.Load(); n != 0 {
		t.Fatalf("%d sessions not logged out", n)
	}
	if n := be.active.Load(); n != 0 {
		t.Fatalf("%d Data calls still running", n)
	}
	checkNoGoroutineLeak(t, before)
}

// TestServerTooManyErrors: past Limits.Errors bad commands the server
// says 421 4.7.0 and closes. A permanent refusal of a recipient counts.
func TestServerTooManyErrors(t *testing.T) {
	_, addr := startServer(t, ServerOptions{Limits: Limits{Errors: 3}}, ListenerOptions{})
	c := dialRaw(t, addr)
	c.greet()
	c.cmd("BOGUS", 500, "5.5.2")
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<bad@x>", 550, "5.1.1")
	c.cmd("XYZZY", 500, "5.5.2")
	c.want(421, "4.7.0")
	c.wantClosed()

	// An accepted message forgives the errors before it.
	c = dialRaw(t, addr)
	c.greet()
	c.cmd("BOGUS", 500, "5.5.2")
	c.cmd("BOGUS", 500, "5.5.2")
	openTxNoGreet(c)
	c.cmd("DATA", 354, "")
	c.send("x\r\n.\r\n")
	c.want(250, "2.0.0")
	c.cmd("BOGUS", 500, "5.5.2")
	c.cmd("BOGUS", 500, "5.5.2")
	c.cmd("QUIT", 221, "")

	// The default is not zero.
	_, addr = startServer(t, ServerOptions{}, ListenerOptions{})
	c = dialRaw(t, addr)
	c.greet()
	for i := 0; i < DefaultLimits().Errors; i++ {
		c.cmd("\x01", 500, "5.5.2")
	}
	c.want(421, "4.7.0")
	c.wantClosed()
}

// openTxNoGreet starts a transaction on a session already greeted.
func openTxNoGreet(c *rawClient) {
	c.t.Helper()
	c.cmd("MAIL FROM:<a@x>", 250, "2.1.0")
	c.cmd("RCPT TO:<b@x>", 250, "2.1.5")
}

// TestServerNoProgress: commands that move nothing forward (NOOP, RSET,
// VRFY, HELP) are limited; only an accepted message resets the count (as
// Postfix's junk command count), so a MAIL, RCPT, RSET loop that never
// sends a message is cut off too.
func TestServerNoProgress(t *testing.T) {
	_, addr := startServer(t, ServerOptions{Limits: Limits{NoProgress: 4}}, ListenerOptions{})
	c := dialRaw(t, addr)
	c.greet()
	for _, cmd := range []string{"NOOP", "RSET", "VRFY a@x", "HELP"} {
		c.send(cmd + "\r\n")
		c.read()
	}
	openTxNoGreet(c) // MAIL and RCPT are no progress by themselves
	c.cmd("NOOP", 250, "2.0.0")
	c.want(421, "4.7.0")
	c.wantClosed()

	// An accepted message resets the count.
	c = dialRaw(t, addr)
	c.greet()
	for i := 0; i < 4; i++ {
		c.cmd("NOOP", 250, "2.0.0")
	}
	openTxNoGreet(c)
	c.cmd("DATA", 354, "")
	c.send("x\r\n.\r\n")
	c.want(250, "2.0.0")
	for i := 0; i < 4; i++ {
		c.cmd("NOOP", 250, "2.0.0")
	}
	c.cmd("NOOP", 250, "2.0.0")
	c.want(421, "4.7.0")
	c.wantClosed()

	// MAIL, RCPT, RSET forever.
	c = dialRaw(t, addr)
	c.greet()
	for i := 0; i < 4; i++ {
		openTxNoGreet(c)
		c.cmd("RSET", 250, "2.0.0")
	}
	openTxNoGreet(c)
	c.cmd("RSET", 250, "2.0.0")
	c.want(421, "4.7.0")
	c.wantClosed()

	_, addr = startServer(t, ServerOptions{}, ListenerOptions{})
	c = dialRaw(t, addr)
	c.greet()
	for i := 0; i <= DefaultLimits().NoProgress; i++ {
		c.cmd("NOOP", 250, "2.0.0")
	}
	c.want(421, "4.7.0")
	c.wantClosed()
}
