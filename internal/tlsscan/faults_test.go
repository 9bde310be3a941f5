package tlsscan

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// readHello consumes one ClientHello record so that the peer's answer
// comes after it, as on a real connection.
func readHello(c net.Conn) error {
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	_, err := io.CopyN(io.Discard, c, int64(hdr[3])<<8|int64(hdr[4]))
	return err
}

func TestAuditPlaintextPeer(t *testing.T) {
	// A server that never switched to TLS answers the hello as a command.
	dial := serve(t, func(c net.Conn) {
		_ = readHello(c)
		_, _ = io.WriteString(c, "500 5.5.1 Unknown command\r\n")
	})
	res, err := Audit(context.Background(), dial, Options{})
	if err == nil || !strings.Contains(err.Error(), "plaintext answer") {
		t.Fatalf("error %v, want a plaintext answer", err)
	}
	if res == nil || len(res.Accepted()) != 0 || len(res.Errors) != len(AllVersions()) {
		t.Errorf("result %+v", res)
	}
}

func TestAuditGarbagePeer(t *testing.T) {
	dial := serve(t, func(c net.Conn) {
		_ = readHello(c)
		_, _ = c.Write([]byte{22, 3, 3, 0, 9, 2, 0, 0, 5, 1, 2, 3, 4, 5})
	})
	// A malformed ServerHello teaches nothing: every version is an error.
	res, err := Audit(context.Background(), dial, Options{})
	if err == nil || !strings.Contains(err.Error(), "server hello: truncated") {
		t.Fatalf("error %v, want a truncated server hello", err)
	}
	if len(res.Accepted()) != 0 || len(res.Errors) != len(AllVersions()) {
		t.Errorf("result %+v", res)
	}
}

func TestAuditHangUp(t *testing.T) {
	// Closing on every hello refuses every version; that is an answer.
	dial := serve(t, func(c net.Conn) { _ = readHello(c) })
	res, err := Audit(context.Background(), dial, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range res.Versions {
		if v.Accepted || v.Refusal != "connection closed" {
			t.Errorf("%s: %+v", v.Version, v)
		}
	}
}

func TestAuditSilentPeerTimesOut(t *testing.T) {
	done := make(chan struct{})
	defer close(done) // before serve's cleanup waits for the handlers
	dial := serve(t, func(c net.Conn) {
		_ = readHello(c)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	})
	res, err := Audit(context.Background(), dial, Options{HandshakeTimeout: 100 * time.Millisecond})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want a deadline", err)
	}
	if len(res.Errors) != len(AllVersions()) {
		t.Errorf("errors %q", res.Errors)
	}
}

func TestAuditCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dial := serve(t, func(c net.Conn) {
		_ = readHello(c)
		cancel() // the first hello cancels the audit
		_, _ = io.Copy(io.Discard, c)
	})
	res, err := Audit(ctx, dial, Options{})
	if !errors.Is(err, context.Canceled) || res == nil {
		t.Fatalf("Audit = %v, %v; want a partial result and context.Canceled", res, err)
	}
}

func TestAuditDialFailure(t *testing.T) {
	boom := errors.New("connection refused by test")
	_, err := Audit(context.Background(), func(context.Context) (net.Conn, error) { return nil, boom }, Options{})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	if _, err := Audit(context.Background(), nil, Options{}); err == nil {
		t.Error("no error without a dialer")
	}
}

func TestAuditReadLimit(t *testing.T) {
	dial := serve(t, func(c net.Conn) {
		_ = readHello(c)
		rec := []byte{20, 3, 3, 0, 1, 1}
		for i := 0; i < 1000; i++ {
			if _, err := c.Write(rec); err != nil {
				return
			}
		}
	})
	res, err := Audit(context.Background(), dial, Options{MaxBytes: 600, Versions: []Version{TLS12}})
	if err == nil || !errors.Is(err, ErrReadLimit) {
		t.Fatalf("error %v, want ErrReadLimit", err)
	}
	if res.Version(TLS12).Error == "" {
		t.Error("no error recorded for TLS 1.2")
	}
}

// TestAuditConcurrencyBound counts connections open at once.
func TestAuditConcurrencyBound(t *testing.T) {
	cert := newRSACert(t)
	inner := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{cert.tls}, MinVersion: tls.VersionTLS10})
	var open, peak atomic.Int32
	dial := func(ctx context.Context) (net.Conn, error) {
		c, err := inner(ctx)
		if err != nil {
			return nil, err
		}
		n := open.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		return &countedConn{Conn: c, open: &open}, nil
	}
	for _, limit := range []int{1, 2} {
		peak.Store(0)
		res := audit(t, dial, Options{Concurrency: limit})
		if p := peak.Load(); p > int32(limit) || p == 0 {
			t.Errorf("limit %d: %d connections at once", limit, p)
		}
		if len(res.Accepted()) != 4 {
			t.Errorf("limit %d: accepted %v", limit, res.Accepted())
		}
	}
}

type countedConn struct {
	net.Conn
	open *atomic.Int32
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}
