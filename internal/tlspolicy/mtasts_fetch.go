package tlspolicy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"
)

// MaxPolicySize is the largest policy body FetchPolicy accepts (RFC 8461 3.3 lets senders
// limit it; 64 KiB is far beyond any real policy).
const MaxPolicySize = 64 << 10

// DefaultFetchTimeout bounds FetchPolicy when ctx has no deadline.
const DefaultFetchTimeout = time.Minute

// ErrPolicyNotFound says the domain serves no policy: the policy host does not exist or the
// server answered 404. FetchPolicy's error wraps it.
var ErrPolicyNotFound = errors.New("no MTA-STS policy served")

// FetchInfo describes the HTTPS exchange of a policy fetch, for reports.
type FetchInfo struct {
	// URL is the policy URL: https://mta-sts.<domain>/.well-known/mta-sts.txt.
	URL string `json:"url"`
	// StatusCode is the HTTP status of the response.
	StatusCode int `json:"status_code"`
	// ContentType is the Content-Type header as sent.
	ContentType string `json:"content_type,omitempty"`
	// Location is the Location header of a redirect, which FetchPolicy never follows.
	Location string `json:"location,omitempty"`
	// TLSVersion is the negotiated TLS version, as "TLS 1.3".
	TLSVersion string `json:"tls_version,omitempty"`
	// CertificateNotAfter is when the server's certificate expires.
	CertificateNotAfter time.Time `json:"certificate_not_after,omitzero"`
	// Body is the policy text, when it was read (up to MaxPolicySize bytes).
	Body string `json:"body,omitempty"`
}

// PolicyURL returns the URL of domain's policy: https://mta-sts.<domain>/.well-known/mta-sts.txt
// (RFC 8461 3.3), with domain lowered and its trailing dot dropped. It returns an error when
// domain is not a host name.
func PolicyURL(domain string) (string, error) {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	if msg := checkMXPattern(d); msg != "" || strings.HasPrefix(d, "*.") {
		if msg == "" {
			msg = "wildcard"
		}
		return "", fmt.Errorf("mta-sts: bad domain %q: %s", clip(domain), msg)
	}
	return "https://mta-sts." + d + "/.well-known/mta-sts.txt", nil
}

// FetchPolicy fetches and parses domain's MTA-STS policy from PolicyURL(domain) (RFC 8461
// 3.3) with client; a nil client means NewHTTPClient(nil, nil). Whatever client's own
// CheckRedirect says, a redirect is never followed: a 3xx response is an error naming the
// Location. The response must be 200 with Content-Type text/plain (parameters such as
// charset allowed), and a body of at most MaxPolicySize bytes; at most one byte more is
// read. The server certificate must verify for mta-sts.<domain> under client's TLS
// settings (RootCAs for tests): a response whose connection has no verified chain is an
// error even if client skips verification. ctx bounds the whole fetch; without a deadline,
// DefaultFetchTimeout applies.
//
// FetchInfo is non-nil whenever a response arrived, also alongside an error. The error wraps
// ErrPolicyNotFound when the policy host does not exist or answers 404.
func FetchPolicy(ctx context.Context, client *http.Client, domain string) (*Policy, *FetchInfo, error) {
	u, err := PolicyURL(domain)
	if err != nil {
		return nil, nil, err
	}
	if client == nil {
		client = NewHTTPClient(nil, nil)
	}
	c := *client
	// RFC 8461 3.3: "Senders MUST NOT follow HTTP redirects".
	c.CheckRedirect = refuseRedirect
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultFetchTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		if isNotFound(err) {
			return nil, nil, fmt.Errorf("fetch %s: %w: %w", u, ErrPolicyNotFound, err)
		}
		return nil, nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	info := &FetchInfo{URL: u, StatusCode: resp.StatusCode, ContentType: resp.Header.Get("Content-Type")}
	if resp.TLS != nil {
		info.TLSVersion = tls.VersionName(resp.TLS.Version)
		if len(resp.TLS.PeerCertificates) > 0 {
			info.CertificateNotAfter = resp.TLS.PeerCertificates[0].NotAfter
		}
	}
	// RFC 8461 3.3: the certificate must be valid for the policy host and chain to a
	// trusted root.
	if resp.TLS == nil || len(resp.TLS.VerifiedChains) == 0 {
		return nil, info, fmt.Errorf("fetch %s: the server certificate was not verified (RFC 8461 3.3)", u)
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		info.Location = resp.Header.Get("Location")
		return nil, info, fmt.Errorf("fetch %s: redirected (%s) to %q; policies must be served without redirects (RFC 8461 3.3)", u, resp.Status, clip(info.Location))
	case resp.StatusCode == http.StatusNotFound:
		return nil, info, fmt.Errorf("fetch %s: %w (%s)", u, ErrPolicyNotFound, resp.Status)
	case resp.StatusCode != http.StatusOK:
		// RFC 8461 3.3: only "200 OK" counts.
		return nil, info, fmt.Errorf("fetch %s: status %s, want 200 (RFC 8461 3.3)", u, resp.Status)
	}
	// RFC 8461 3.2: the policy is served as "text/plain".
	mt, _, err := mime.ParseMediaType(info.ContentType)
	if err != nil || mt != "text/plain" {
		return nil, info, fmt.Errorf("fetch %s: content type %q, want text/plain (RFC 8461 3.2)", u, clip(info.ContentType))
	}
	if resp.ContentLength > MaxPolicySize {
		return nil, info, fmt.Errorf("fetch %s: the policy is %d bytes, more than %d", u, resp.ContentLength, MaxPolicySize)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicySize+1))
	if err != nil {
		return nil, info, fmt.Errorf("fetch %s: reading the policy: %w", u, err)
	}
	if len(body) > MaxPolicySize {
		return nil, info, fmt.Errorf("fetch %s: the policy is more than %d bytes", u, MaxPolicySize)
	}
	info.Body = string(body)
	p, err := ParsePolicy(body)
	if err != nil {
		return nil, info, fmt.Errorf("fetch %s: %w", u, err)
	}
	return p, info, nil
}

// NewHTTPClient returns a client for policy fetches: it verifies certificates against
// rootCAs (the system roots when nil) with TLS 1.2 or later, ignores proxy settings from
// the environment, never follows redirects (the 3xx response is returned as it is), and
// keeps no idle connections. dial, when not nil, replaces the network dialer: tests map
// mta-sts.example.com:443 to a loopback server with it.
func NewHTTPClient(rootCAs *x509.CertPool, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	if dial == nil {
		d := &net.Dialer{Timeout: 30 * time.Second}
		dial = d.DialContext
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dial,
			TLSClientConfig:        &tls.Config{RootCAs: rootCAs, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    15 * time.Second,
			ResponseHeaderTimeout:  30 * time.Second,
			DisableKeepAlives:      true,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: refuseRedirect,
	}
}

// refuseRedirect makes the client hand back the 3xx response instead of following it.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// isNotFound reports a DNS answer that the name does not exist, from the net package or
// from a resolver error with a NotFound method (as internal/dnsx has).
func isNotFound(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsNotFound
	}
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}
