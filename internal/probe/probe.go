package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

// Options say what to probe and how.
type Options struct {
	Addr     string // host:port or ip:port to connect to
	Target   string // what the user asked for (defaults to Addr)
	Host     string // the name the certificate must match and SNI; defaults to Addr's host
	Implicit bool   // TLS from the first byte (port 465) instead of STARTTLS
	EHLO     string // name to greet with; "" means "localhost"
	Network  string // "tcp", "tcp4", "tcp6"

	Timeout time.Duration // per stage; 0 means 10s
	Dialer  smtp.Dialer   // nil: net.Dialer
	RootCAs *x509.CertPool
	Now     func() time.Time
	Trace   smtp.Trace

	CertWarnDays int // cert-expiring at medium below this many days (0: 30)
	CertCritDays int // cert-expiring at high below this many days (0: 7)

	// SkipExtras skips the second connection (STARTTLS injection and session
	// resumption) and the VRFY/EXPN commands.
	SkipExtras bool

	// TLSA are the host's TLSA records (with their AD bits) for a DANE
	// verdict; DANE is judged when TLSALookedUp is set.
	TLSA         []tlspolicy.TLSA
	TLSALookedUp bool
	// STS is the domain's MTA-STS policy, judged when non-nil.
	STS *tlspolicy.Policy

	// Audit lists the TLS versions, suites and groups the server accepts
	// (internal/tlsscan), AuditConcurrency handshakes at a time (0: 8).
	Audit            bool
	AuditConcurrency int

	RelayTest bool
	RelayFrom string

	roots   func() *x509.CertPool // RootCAs, or the system's once loaded // default "probe@smtpkit.invalid"
	RelayTo string                // default "relay-test@smtpkit-relay-test.invalid"
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.EHLO == "" {
		o.EHLO = "localhost"
	}
	if o.Target == "" {
		o.Target = o.Addr
	}
	if o.Host == "" {
		o.Host, _, _ = net.SplitHostPort(o.Addr)
	}
	if o.Network == "" {
		o.Network = "tcp"
	}
	if o.CertWarnDays <= 0 {
		o.CertWarnDays = 30
	}
	if o.CertCritDays <= 0 {
		o.CertCritDays = 7
	}
	if o.RelayFrom == "" {
		o.RelayFrom = "probe@smtpkit.invalid"
	}
	if o.RelayTo == "" {
		o.RelayTo = "relay-test@smtpkit-relay-test.invalid"
	}
}

// Run probes one server. It always returns a report; the error is the
// reason the probe stopped early (a *smtp.ConnectError, *smtp.NetError,
// *smtp.ProtocolError, *smtp.Error or *smtp.TLSError), which the report's
// Error and Stage fields also carry. Checks are filled either way.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	r := &Report{Target: o.Target, Host: o.Host, Addr: o.Addr, Mode: "starttls", Checks: []Check{}}
	if o.Implicit {
		r.Mode = "implicit"
	}
	start := o.Now()
	if o.RootCAs == nil {
		// Loading the system's roots takes longer than a loopback probe:
		// let it run while the session talks.
		ch := make(chan *x509.CertPool, 1)
		go func() { ch <- tlspolicy.SystemRoots() }()
		o.roots = sync.OnceValue(func() *x509.CertPool { return <-ch })
	} else {
		o.roots = func() *x509.CertPool { return o.RootCAs }
	}
	cache := tls.NewLRUClientSessionCache(4)
	st, err := o.session(ctx, r, cache)
	r.TotalMS = ms(o.Now().Sub(start))
	if err != nil {
		r.add(IDConnect, connectSeverity(r), "%s failed: %s", r.Stage, oneLine(err.Error()))
	}
	if st != nil {
		o.tlsDetails(r, *st)
		if !o.SkipExtras {
			r.TLS.Resumption, r.Injection = o.second(ctx, cache)
		} else {
			r.TLS.Resumption = "not tested"
		}
	}
	if st == nil && r.STARTTLS == "not offered" && !o.SkipExtras {
		r.Injection = "not tested: no STARTTLS"
	}
	if o.Audit && st != nil {
		o.audit(ctx, r)
	}
	o.judge(r, st)
	if r.Worst == "" {
		r.Worst = SevOK.String()
	}
	return r, err
}

// connectSeverity: a server that cannot be reached is critical for a probe.
func connectSeverity(r *Report) Severity {
	if r.Stage == "starttls" || r.Stage == "tls" {
		return SevHigh
	}
	return SevCritical
}

func (o *Options) tlsConfig(cache tls.ClientSessionCache) *tls.Config {
	return &tls.Config{
		ServerName: o.Host,
		// The chain is judged after the handshake, so that a bad
		// certificate is reported rather than ending the probe.
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS10,
		ClientSessionCache: cache,
		// Every suite crypto/tls implements, the insecure ones too: a
		// probe must get through to an old server to report on it (RSA key
		// exchange and 3DES are off by default since Go 1.22).
		CipherSuites: allSuites,
	}
}

var allSuites = func() []uint16 {
	var ids []uint16
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		ids = append(ids, s.ID)
	}
	return ids
}()

func (o *Options) dial(ctx context.Context) (net.Conn, error) {
	return smtp.Dial(ctx, smtp.DialOptions{
		Addr: o.Addr, Network: o.Network, Timeout: o.Timeout, Dialer: o.Dialer, Trace: o.Trace, Now: o.Now,
	})
}

// session is the main probe session. It returns the TLS state when TLS
// was established.
func (o *Options) session(ctx context.Context, r *Report, cache tls.ClientSessionCache) (*tls.ConnectionState, error) {
	t := o.Now()
	r.Stage = "connect"
	conn, err := o.dial(ctx)
	if err != nil {
		r.Error = err.Error()
		return nil, err
	}
	r.ConnectMS = ms(o.Now().Sub(t))
	if ra := conn.RemoteAddr(); ra != nil && ra.Network() == "tcp" {
		r.Addr = ra.String()
	}
	var st *tls.ConnectionState
	if o.Implicit {
		t = o.Now()
		r.Stage = "tls"
		tc := tls.Client(conn, o.tlsConfig(cache))
		hctx, cancel := context.WithTimeout(ctx, o.Timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			conn.Close()
			r.Error = "tls handshake: " + err.Error()
			return nil, &smtp.TLSError{Err: fmt.Errorf("tls handshake: %w", err)}
		}
		r.TLSMS = ms(o.Now().Sub(t))
		cs := tc.ConnectionState()
		st = &cs
		conn = tc
		r.STARTTLS = "implicit"
	}
	c := smtp.NewClient(conn, smtp.ClientOptions{Trace: o.Trace, Timeouts: smtp.Uniform(o.Timeout), Now: o.Now})
	defer c.Close()

	t = o.Now()
	r.Stage = "banner"
	banner, err := c.Greeting()
	if banner.Code != 0 {
		r.Banner = newReply(banner)
	}
	if err != nil {
		r.Error = err.Error()
		return st, err
	}
	r.BannerMS = ms(o.Now().Sub(t))

	t = o.Now()
	r.Stage = "ehlo"
	if _, err := c.Hello(o.EHLO); err != nil {
		r.Error = err.Error()
		return st, err
	}
	r.EHLOMS = ms(o.Now().Sub(t))
	before := c.Extensions()
	r.EHLO = nonNil(before.Lines())

	if !o.Implicit {
		if !before.Has("STARTTLS") {
			r.STARTTLS = "not offered"
		} else {
			t = o.Now()
			r.Stage = "starttls"
			if err := c.StartTLS(o.tlsConfig(cache)); err != nil {
				r.STARTTLS = "failed"
				r.Error = err.Error()
				return nil, err
			}
			r.TLSMS = ms(o.Now().Sub(t))
			r.STARTTLS = "ok"
			cs, _ := c.TLS()
			st = &cs
			r.Stage = "ehlo"
			if _, err := c.Hello(o.EHLO); err != nil {
				r.Error = "EHLO after STARTTLS: " + err.Error()
				return st, err
			}
			after := c.Extensions()
			r.EHLOTLS = nonNil(after.Lines())
			r.Added, r.Removed = before.Diff(after)
		}
	}
	r.Stage = ""
	if !o.SkipExtras {
		if rep, err := c.Verify("postmaster"); rep.Code != 0 {
			r.VRFY = newReply(rep)
		} else if err != nil && !isReplyError(err) {
			return st, nil // the connection broke: what was found stands
		}
		if rep, _ := c.Raw("EXPN postmaster"); rep.Code != 0 {
			r.EXPN = newReply(rep)
		}
	}
	if o.RelayTest {
		r.Relay = o.relayTest(c)
	}
	_, _ = c.Quit()
	return st, nil
}

func (o *Options) relayTest(c *smtp.Client) *Relay {
	rl := &Relay{From: o.RelayFrom, To: o.RelayTo}
	mail, err := c.Mail(o.RelayFrom, nil)
	if mail.Code != 0 {
		rl.Mail = newReply(mail)
	}
	if err == nil {
		rcpt, _ := c.Rcpt(o.RelayTo, nil)
		if rcpt.Code != 0 {
			rl.Rcpt = newReply(rcpt)
			rl.Accepted = rcpt.Positive()
		}
	}
	_, _ = c.Reset()
	return rl
}

func isReplyError(err error) bool {
	var se *smtp.Error
	return errors.As(err, &se)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
