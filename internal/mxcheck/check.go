package mxcheck

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/smtpkit/smtpkit/internal/smtp"
)

// check connects to ip on c.Port and runs banner, EHLO and STARTTLS
// (RFC 3207), then QUIT. The TLS handshake does not verify the
// certificate itself: whether the chain verifies and whether it names the
// MX host are reported apart, as a sender with opportunistic TLS would go
// on either way (RFC 7435).
func (c *Checker) check(ctx context.Context, host, ipText string) *Check {
	ck := &Check{}
	addr := net.JoinHostPort(ipText, strconv.Itoa(c.Port))
	network := "tcp4"
	if ip, err := parseIP(ipText); err == nil && ip.Is6() {
		network = "tcp6"
	}
	t0 := c.Now()
	conn, err := smtp.Dial(ctx, smtp.DialOptions{Addr: addr, Network: network, Timeout: c.Timeout, Dialer: c.Dialer, Now: c.Now})
	ck.ConnectMS = ms(c.Now().Sub(t0))
	if err != nil {
		ck.Error = "connect: " + oneLine(err)
		return ck
	}
	cl := smtp.NewClient(conn, smtp.ClientOptions{Timeouts: smtp.Uniform(c.Timeout), Now: c.Now})
	defer cl.Close()
	t0 = c.Now()
	banner, err := cl.Greeting()
	ck.BannerMS = ms(c.Now().Sub(t0))
	ck.Banner = replyText(banner)
	if err != nil {
		ck.Error = "banner: " + oneLine(err)
		return ck
	}
	ck.Reachable = true
	t0 = c.Now()
	_, err = cl.Hello(c.EHLO)
	ck.EHLOMS = ms(c.Now().Sub(t0))
	if err != nil {
		ck.Error = "ehlo: " + oneLine(err)
		return ck
	}
	ck.EHLO = cl.ESMTP()
	ck.STARTTLS = cl.Extensions().Has("STARTTLS")
	if !ck.STARTTLS {
		_, _ = cl.Quit()
		return ck
	}
	t0 = c.Now()
	cfg := &tls.Config{ServerName: host, InsecureSkipVerify: true} // verified below, by name and chain apart
	err = cl.StartTLS(cfg)
	ck.TLSMS = ms(c.Now().Sub(t0))
	if err != nil {
		ck.Error = "starttls: " + oneLine(err)
		return ck
	}
	st, _ := cl.TLS()
	ck.TLS = true
	ck.TLSVersion = tls.VersionName(st.Version)
	if len(st.PeerCertificates) > 0 {
		ck.CertNamesHost = st.PeerCertificates[0].VerifyHostname(host) == nil
	}
	if err := smtp.VerifyChain(st, c.Roots, host, c.Now()); err != nil {
		ck.CertError = oneLine(err)
	} else {
		ck.CertVerified = true
	}
	// RFC 3207 4.2: the session starts over after TLS; EHLO then QUIT.
	if _, err := cl.Hello(c.EHLO); err == nil {
		_, _ = cl.Quit()
	}
	return ck
}

// replyText is a reply as one line: code and the first line's text.
func replyText(r smtp.Reply) string {
	if r.Code == 0 {
		return ""
	}
	s := strconv.Itoa(r.Code)
	if len(r.Lines) > 0 {
		s += " " + r.Lines[0]
	}
	return s
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func parseIP(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return ip, fmt.Errorf("bad address %q", s)
	}
	return ip, nil
}
