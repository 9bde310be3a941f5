package smtp

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// shutdownAsync starts Shutdown with the given grace and returns its
// result channel.
func shutdownAsync(srv *Server, grace time.Duration) <-chan error {
	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		res <- srv.Shutdown(ctx)
	}()
	return res
}

// TestServerShutdownIdle: a session waiting for a command is told 421
// 4.3.2 (RFC 5321 3.8) and closed, also one in the middle of a command
// line or of an AUTH exchange; new connections are no longer accepted.
func TestServerShutdownIdle(t *testing.T) {
	be := &recBackend{}
	srv, addr := startServer(t, ServerOptions{Backend: be, Auth: aliceAuth, AllowPlaintextAuth: true}, ListenerOptions{})
	idle := dialRaw(t, addr)
	idle.greet()
	partial := dialRaw(t, addr)
	partial.greet()
	partial.send("MAIL FROM:<a")
	auth := dialRaw(t, addr)
	auth.greet()
	auth.send("AUTH LOGIN\r\n")
	auth.want(334, "")

	done := shutdownAsync(srv, hangGuard)
	for _, c := range []*rawClient{idle, partial, auth} {
		c.want(421, "4.3.2")
		c.wantClosed()
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if nc, err := net.Dial("tcp", addr); err == nil {
		c := newRawClient(t, nc, nc)
		c.wantClosed()
	}
	if n := be.sessions.Load(); n != 0 {
		t.Fatalf("%d sessions not logged out", n)
	}
}

// TestServerShutdownDuringData: a session inside DATA may finish; it gets
// its 250 and only then 421 4.3.2 and the close.
func TestServerShutdownDuringData(t *testing.T) {
	for _, bdat := range []bool{false, true} {
		be := &recBackend{}
		srv, addr := startServer(t, ServerOptions{Backend: be}, ListenerOptions{})
		c := dialRaw(t, addr)
		openTx(c)
		if bdat {
			c.send("BDAT 33 LAST\r\nfirst half\r\n")
		} else {
			c.cmd("DATA", 354, "")
			c.send("first half\r\n")
		}
		// Inside the content, not waiting for a command any more.
		pollUntil(t, "Data to start", func() bool { return be.active.Load() == 1 })
		// An idle session's 421 shows that Shutdown is under way.
		witness := dialRaw(t, addr)
		witness.greet()
		done := shutdownAsync(srv, hangGuard)
		witness.want(421, "4.3.2")

		if bdat {
			c.send("and the second half\r\n")
		} else {
			c.send("and the second half\r\n.\r\n")
		}
		c.want(250, "2.0.0")
		c.want(421, "4.3.2")
		c.wantClosed()
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if msgs := be.messages(); len(msgs) != 1 || string(msgs[0].Body) != "first half\r\nand the second half\r\n" {
			t.Fatalf("BDAT %v: delivered %q", bdat, msgs)
		}
	}
}

// TestServerShutdownGrace: when the grace runs out, Shutdown closes a
// session stuck in the middle of DATA or of a BDAT chunk, and the backend
// stores nothing.
func TestServerShutdownGrace(t *testing.T) {
	for _, bdat := range []bool{false, true} {
		be := &recBackend{}
		srv, addr := startServer(t, ServerOptions{Backend: be}, ListenerOptions{})
		c := dialRaw(t, addr)
		openTx(c)
		if bdat {
			c.send("BDAT 100 LAST\r\nonly part of it")
		} else {
			c.cmd("DATA", 354, "")
			c.send("only part of it\r\n")
		}
		pollUntil(t, "Data to start", func() bool { return be.active.Load() == 1 })
		if err := <-shutdownAsync(srv, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown with a stuck session: %v, want DeadlineExceeded", err)
		}
		c.wantClosed()
		if n := len(be.messages()); n != 0 || be.active.Load() != 0 || be.sessions.Load() != 0 {
			t.Fatalf("after the grace: %d messages, %d Data calls, %d sessions", n, be.active.Load(), be.sessions.Load())
		}
	}
}

// TestServerShutdownAfterStartTLS: Shutdown and Close reach a session that
// has swapped its connection for TLS (they act on the accepted connection,
// which never changes), and the 421 goes inside TLS.
func TestServerShutdownAfterStartTLS(t *testing.T) {
	certs := serverCerts(t)
	for _, hard := range []bool{false, true} {
		srv, addr := startServer(t, ServerOptions{TLS: certs.Server}, ListenerOptions{})
		c := dialRaw(t, addr)
		c.greet()
		c.startTLS(trustCerts(certs))
		c.cmd("EHLO client.test", 250, "")
		if hard {
			if err := srv.Close(); err != nil {
				t.Fatal(err)
			}
			c.wantClosedAfterClose()
			continue
		}
		done := shutdownAsync(srv, hangGuard)
		c.want(421, "4.3.2")
		c.wantClosed()
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	}
}

// TestServerDrain: after Drain (serve --max-messages), a client whose
// message was just accepted gets 221 for its QUIT, not 421; any other
// command gets 421 4.3.2 and the close; no new session starts; Drain
// returns once every session has ended.
func TestServerDrain(t *testing.T) {
	be := &recBackend{}
	srv, addr := startServer(t, ServerOptions{Backend: be}, ListenerOptions{})
	last := dialRaw(t, addr)
	openTx(last)
	last.cmd("DATA", 354, "")
	last.send("the last one\r\n.\r\n")
	last.want(250, "2.0.0")
	other := dialRaw(t, addr)
	other.greet()

	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		res <- srv.Drain(ctx)
	}()
	// No new session once draining (the listener is closed, or the
	// session is refused with 421 if it was accepted just before).
	pollUntil(t, "the listener to close", func() bool {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		defer nc.Close()
		buf := make([]byte, 64)
		n, _ := nc.Read(buf)
		return n == 0 || string(buf[:3]) == "421"
	})
	other.send("MAIL FROM:<a@x>\r\n")
	other.want(421, "4.3.2")
	other.wantClosed()
	last.cmd("QUIT", 221, "")
	last.wantClosed()
	if err := <-res; err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if n := len(be.messages()); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
}

// TestServerDrainThenShutdown: a session that says nothing keeps Drain
// waiting until its context ends; Shutdown then answers it 421.
func TestServerDrainThenShutdown(t *testing.T) {
	srv, addr := startServer(t, ServerOptions{Backend: &recBackend{}}, ListenerOptions{})
	quiet := dialRaw(t, addr)
	quiet.greet()
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- srv.Drain(ctx) }()
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain with a session open = %v, want context.Canceled", err)
	}
	done := shutdownAsync(srv, hangGuard)
	quiet.want(421, "4.3.2")
	quiet.wantClosed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
