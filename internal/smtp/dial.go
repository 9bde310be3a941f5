package smtp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// Dialer opens connections. net.Dialer satisfies it; tests substitute
// their own.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// DialOptions say where and how to connect.
type DialOptions struct {
	Addr      string        // "host:port", or "unix:/path"
	Network   string        // "tcp", "tcp4" or "tcp6"
	LocalAddr string        // source address for TCP ("" lets the kernel choose)
	Timeout   time.Duration // connect (and implicit TLS handshake) timeout
	TLS       *tls.Config   // non-nil: implicit TLS (RFC 8314)
	Dialer    Dialer        // nil: a net.Dialer
	Trace     Trace
	Now       func() time.Time // stamps the trace events; nil: time.Now
}

// ConnectError is a failed connection attempt (refused, unreachable, timed
// out, unknown host); the CLI maps it to exit 75, or 68 when the host name
// does not resolve.
type ConnectError struct {
	Addr string
	Err  error
}

func (e *ConnectError) Error() string {
	msg := e.Err.Error()
	if oe, ok := e.Err.(*net.OpError); ok && oe.Err != nil {
		msg = oe.Err.Error()
		if se, ok := oe.Err.(*os.SyscallError); ok {
			msg = se.Err.Error()
		}
	}
	return fmt.Sprintf("connect %s: %s", e.Addr, msg)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// NoSuchHost reports that the host name did not resolve.
func (e *ConnectError) NoSuchHost() bool {
	de, ok := asDNSError(e.Err)
	return ok && de.IsNotFound
}

func asDNSError(err error) (*net.DNSError, bool) {
	for err != nil {
		if de, ok := err.(*net.DNSError); ok {
			return de, true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return nil, false
		}
		err = u.Unwrap()
	}
	return nil, false
}

// Dial connects as o says and, for implicit TLS, completes the handshake
// (failures are a *TLSError). Connection failures are a *ConnectError.
func Dial(ctx context.Context, o DialOptions) (net.Conn, error) {
	network, addr := o.Network, o.Addr
	if network == "" {
		network = "tcp"
	}
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", p
	}
	d := o.Dialer
	if d == nil {
		nd := &net.Dialer{}
		if o.LocalAddr != "" && network != "unix" {
			la, err := net.ResolveTCPAddr(network, net.JoinHostPort(o.LocalAddr, "0"))
			if err != nil {
				return nil, &ConnectError{Addr: o.Addr, Err: fmt.Errorf("local address %s: %w", o.LocalAddr, err)}
			}
			nd.LocalAddr = la
		}
		d = nd
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	emit := func(k EventKind, line string, tlsOn bool) {
		if o.Trace != nil {
			now := time.Now
			if o.Now != nil {
				now = o.Now
			}
			o.Trace(Event{Time: now(), Kind: k, Line: line, TLS: tlsOn})
		}
	}
	emit(EventDial, network+" "+addr, false)
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &ConnectError{Addr: o.Addr, Err: err}
	}
	emit(EventConnected, fmt.Sprintf("%s -> %s", conn.LocalAddr(), conn.RemoteAddr()), false)
	if o.TLS == nil {
		return conn, nil
	}
	tc := tls.Client(conn, o.TLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, classifyTLSError(err)
	}
	emit(EventTLS, DescribeTLS(tc.ConnectionState()), true)
	return tc, nil
}
