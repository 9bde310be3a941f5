package smtp

import (
	"context"
	"crypto/tls"
	"time"
)

// Open runs the start of a submission session (connect, greeting, EHLO,
// STARTTLS, AUTH) as Submit does and returns the client, ready for any
// number of transactions with Client.Send; the caller ends it with Quit
// and Close. The message, QuitAfter and Commands of o are ignored. Errors
// are those of Submit before the transaction: *ConnectError, *TLSError,
// *NetError, *ProtocolError, *InjectionError, *CapabilityError, *Error.
func Open(ctx context.Context, o SubmitOptions) (*Client, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	if o.Client.Now == nil {
		o.Client.Now = now
	}
	if o.Protocol == "lmtp" {
		o.Client.LMTP = true
	}
	s := &session{o: o, res: &SubmitResult{Server: o.Addr}, now: now}
	implicit := s.implicitTLS()
	conn, err := Dial(ctx, DialOptions{Addr: o.Addr, Network: o.Network, LocalAddr: o.LocalAddr,
		Timeout: o.Client.Timeouts.Connect, TLS: implicit, Dialer: o.Dialer, Trace: o.Client.Trace, Now: now})
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c := NewClient(conn, o.Client)
	s.c = c
	for _, step := range []func() error{
		func() error { _, err := c.Greeting(); return err },
		s.hello, s.startTLS, s.auth,
	} {
		if err := step(); err != nil {
			s.quitAfterRefusal(err)
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// implicitTLS is the TLS config for an implicit TLS connection, or nil.
func (s *session) implicitTLS() *tls.Config {
	if s.o.TLS != TLSImplicit {
		return nil
	}
	return s.tlsConfig()
}
