package deliver

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/dnsx/dnstest"
	"github.com/smtpkit/smtpkit/internal/message"
	"github.com/smtpkit/smtpkit/internal/smtp"
)

// mapDialer connects "addr:port" pairs the test names to loopback servers
// and refuses anything else, so no test ever leaves the machine.
type mapDialer struct {
	mu    sync.Mutex
	to    map[string]string     // dialled address -> loopback address
	pipes map[string][]net.Conn // dialled address -> ends of net.Pipes, one per dial
	dials []string
}

func newDialer() *mapDialer {
	return &mapDialer{to: map[string]string{}, pipes: map[string][]net.Conn{}}
}

// route sends connections for addr to the loopback address lo.
func (m *mapDialer) route(addr, lo string) *mapDialer {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.to[addr] = lo
	return m
}

func (m *mapDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	m.mu.Lock()
	m.dials = append(m.dials, addr)
	lo, ok := m.to[addr]
	var pipe net.Conn
	if q := m.pipes[addr]; len(q) > 0 {
		pipe, m.pipes[addr] = q[0], q[1:]
	}
	m.mu.Unlock()
	if pipe != nil {
		return pipe, nil
	}
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("test dialer: no route to %s", addr)}
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", lo)
}

// closeUnused closes the pipes nobody dialled, so their scripts end.
func (m *mapDialer) closeUnused() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for addr, q := range m.pipes {
		for _, c := range q {
			c.Close()
		}
		delete(m.pipes, addr)
	}
}

func (m *mapDialer) dialled() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.dials...)
}

// deadAddr is a loopback address where nothing listens: connecting is
// refused at once.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func testMessage(t *testing.T) *message.Prepared {
	t.Helper()
	p, err := message.FromReader(strings.NewReader("From: a@sender.test\r\nTo: b@example.test\r\nSubject: test\r\n\r\nHello.\r\n"), message.DataOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func testOptions(r *dnstest.Mock, d *mapDialer) Options {
	return Options{
		Resolver: r,
		Dialer:   d,
		EHLO:     "client.test",
		Timeouts: smtp.Uniform(5 * time.Second),
	}
}

func deliver(t *testing.T, o Options, to ...string) []Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := Deliver(ctx, Request{From: "a@sender.test", To: to, Msg: testMessage(t)}, o)
	if len(out) != len(to) {
		t.Fatalf("got %d outcomes for %d recipients", len(out), len(to))
	}
	for i, o := range out {
		if o.Recipient != to[i] {
			t.Errorf("outcome %d is for %q, want %q", i, o.Recipient, to[i])
		}
	}
	return out
}

// want checks one outcome's status and enhanced code.
func want(t *testing.T, o Outcome, st Status, enhanced string) {
	t.Helper()
	if o.Status != st || o.Enhanced != enhanced {
		t.Errorf("%s: got %s %s (%s), want %s %s", o.Recipient, o.Status, o.Enhanced, o.Diagnostic, st, enhanced)
	}
	if o.Diagnostic == "" {
		t.Errorf("%s: no diagnostic", o.Recipient)
	}
}
