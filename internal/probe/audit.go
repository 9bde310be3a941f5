package probe

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/tlsscan"
)

// audit asks internal/tlsscan which versions, suites and groups the server
// accepts. Every handshake gets a fresh connection, readied for a
// ClientHello: after the greeting, EHLO and a 220 to STARTTLS (or at once
// for implicit TLS).
func (o *Options) audit(ctx context.Context, r *Report) {
	dial := func(ctx context.Context) (net.Conn, error) {
		conn, err := o.dial(ctx)
		if err != nil || o.Implicit {
			return conn, err
		}
		c := smtp.NewClient(conn, smtp.ClientOptions{Timeouts: smtp.Uniform(o.Timeout), Now: o.Now})
		if _, err := c.Greeting(); err != nil {
			conn.Close()
			return nil, err
		}
		if _, err := c.Hello(o.EHLO); err != nil {
			conn.Close()
			return nil, err
		}
		if rep, err := c.Raw("STARTTLS"); err != nil || rep.Code != 220 {
			conn.Close()
			if err == nil {
				err = fmt.Errorf("STARTTLS answered %s", rep)
			}
			return nil, err
		}
		return conn, nil
	}
	name := o.Host
	if net.ParseIP(name) != nil {
		name = ""
	}
	res, err := tlsscan.Audit(ctx, dial, tlsscan.Options{
		ServerName: name, Concurrency: o.AuditConcurrency, HandshakeTimeout: o.Timeout,
	})
	if err != nil {
		r.AuditError = err.Error()
	}
	r.Audit = res
	auditChecks(r, res)
}

// auditChecks turns what the audit found into checks.
func auditChecks(r *Report, res *tlsscan.Result) {
	if res == nil {
		return
	}
	for _, v := range res.Versions {
		if !v.Accepted {
			continue
		}
		switch v.Version {
		case tlsscan.SSL30:
			r.add(IDOldTLS, SevHigh, "SSLv3 is accepted")
		case tlsscan.TLS10, tlsscan.TLS11:
			r.add(IDOldTLS, SevMedium, "%s is accepted (below TLS 1.2)", v.Version)
		}
		var weak, medium, anon, noFS []string
		for _, s := range v.Suites {
			switch {
			case s.Export || s.Null || s.RC4 || s.DES:
				weak = append(weak, s.Name)
			case s.TripleDES:
				medium = append(medium, s.Name)
			}
			if s.Anonymous {
				anon = append(anon, s.Name)
			}
			if !s.ForwardSecrecy {
				noFS = append(noFS, s.Name)
			}
		}
		if len(weak) > 0 {
			r.add(IDWeakCipher, SevHigh, "%s accepts export, NULL, RC4 or DES suites: %s", v.Version, strings.Join(weak, ", "))
		}
		if len(medium) > 0 {
			r.add(IDWeakCipher, SevMedium, "%s accepts 3DES suites (Sweet32): %s", v.Version, strings.Join(medium, ", "))
		}
		if len(anon) > 0 {
			// Common and harmless-ish on an MX with opportunistic TLS, but
			// it authenticates nothing.
			r.add(IDAnonCipher, SevMedium, "%s accepts anonymous suites: %s", v.Version, strings.Join(anon, ", "))
		}
		switch {
		case len(v.Suites) > 0 && len(noFS) == len(v.Suites):
			r.add(IDNoPFS, SevMedium, "%s offers no suite with forward secrecy", v.Version)
		case len(noFS) > 0:
			r.add(IDNoPFS, SevLow, "%s also accepts suites without forward secrecy: %s", v.Version, strings.Join(noFS, ", "))
		}
	}
}
