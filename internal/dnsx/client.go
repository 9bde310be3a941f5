package dnsx

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Defaults for Config's zero values.
const (
	DefaultTimeout  = 2 * time.Second
	DefaultAttempts = 2
	// DefaultUDPSize is the EDNS0 buffer size the DNS flag day 2020
	// settled on: it avoids IP fragmentation on any path.
	DefaultUDPSize = 1232
	// MaxCNAMEs bounds a CNAME chain; longer is treated as a loop. BIND
	// and Unbound stop at a similar depth.
	MaxCNAMEs = 10
)

// Config says which resolvers a Client asks and how.
type Config struct {
	// Servers are resolver addresses, "IP" or "IP:PORT" ("[IPv6]:PORT");
	// the port defaults to 53. Empty: the nameservers of ResolvConf.
	Servers []string
	// ResolvConf is read when Servers is empty; "" means
	// /etc/resolv.conf. Without a usable file, 127.0.0.1:53 is asked, as
	// the C library does.
	ResolvConf string
	// Timeout is how long one query waits for one server; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Attempts is how many rounds over all servers a query makes when
	// they time out or cannot be reached; 0 means DefaultAttempts. A
	// server that answers SERVFAIL or REFUSED is not asked again.
	Attempts int
	// DNSSEC sets the DO bit (RFC 3225) as well as AD (RFC 6840 5.7) so
	// that a validating resolver reports what it validated.
	DNSSEC bool
	// UDPSize is the EDNS0 payload size advertised; 0 means
	// DefaultUDPSize.
	UDPSize uint16
}

// Client is a Resolver that asks recursive resolvers over UDP and TCP. It
// is safe for concurrent use and keeps a few UDP sockets per server for
// reuse (each query has a random ID and every answer is checked against
// its question, so a late answer to an earlier query is never taken for
// a later one).
type Client struct {
	servers  []*server
	timeout  time.Duration
	attempts int
	dnssec   bool
	udpSize  uint16
	trusted  bool
}

// New returns a Client for cfg. It fails when a server address is not an
// IP address with an optional port.
func New(cfg Config) (*Client, error) {
	c := &Client{timeout: cfg.Timeout, attempts: cfg.Attempts, dnssec: cfg.DNSSEC, udpSize: cfg.UDPSize}
	addrs := cfg.Servers
	if len(addrs) == 0 {
		var rc resolvConf
		addrs, rc = readResolvConf(cfg.ResolvConf)
		if c.timeout == 0 {
			c.timeout = rc.timeout
		}
		if c.attempts == 0 {
			c.attempts = rc.attempts
		}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.attempts <= 0 {
		c.attempts = DefaultAttempts
	}
	if c.udpSize == 0 {
		c.udpSize = DefaultUDPSize
	}
	c.trusted = true
	for _, a := range addrs {
		ap, err := ParseServer(a)
		if err != nil {
			return nil, err
		}
		c.servers = append(c.servers, newServer(ap))
		c.trusted = c.trusted && ap.Addr().IsLoopback()
	}
	return c, nil
}

// ParseServer parses a resolver address "IP", "IP:PORT" or "[IPv6]:PORT".
func ParseServer(s string) (netip.AddrPort, error) {
	if ip, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(ip.Unmap(), 53), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("resolver %q: want IP or IP:PORT", s)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("resolver %q: %q is not an IP address", s, host)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return netip.AddrPort{}, fmt.Errorf("resolver %q: bad port %q", s, port)
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)), nil
}

type resolvConf struct {
	timeout  time.Duration
	attempts int
}

// readResolvConf returns the nameservers of path (default
// /etc/resolv.conf) and its timeout and attempts options.
func readResolvConf(path string) ([]string, resolvConf) {
	if path == "" {
		path = "/etc/resolv.conf"
	}
	var rc resolvConf
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil || len(cc.Servers) == 0 {
		return []string{"127.0.0.1:53"}, rc
	}
	rc.timeout = time.Duration(cc.Timeout) * time.Second
	rc.attempts = cc.Attempts
	out := make([]string, 0, len(cc.Servers))
	for _, s := range cc.Servers {
		out = append(out, net.JoinHostPort(s, cc.Port))
	}
	return out, rc
}

// Servers lists the resolvers asked, in order, as host:port.
func (c *Client) Servers() []string {
	out := make([]string, len(c.servers))
	for i, s := range c.servers {
		out[i] = s.addr.String()
	}
	return out
}

// Trusted reports whether every resolver is on loopback, the one path on
// which the AD bit can be believed without TSIG or a secure channel
// (RFC 6840 5.8, RFC 4035 4.9.3).
func (c *Client) Trusted() bool { return c.trusted }

// Close closes the pooled sockets. The Client stays usable.
func (c *Client) Close() error {
	for _, s := range c.servers {
		s.drain()
	}
	return nil
}

// Lookup asks for q and follows CNAMEs (RFC 1034 3.6.2, 5.3.3): records
// of q.Type at the end of the chain are the answer; when a response holds
// the chain but not the target's records, the target is asked in turn. A
// chain that repeats a name or grows beyond MaxCNAMEs is a KindProtocol
// error. NXDOMAIN for any name in the chain is KindNXDomain (RFC 6604 2:
// the RCODE is about the last name). q.Name should come from Normalize
// or from DNS data; it is only checked for length and syntax here.
func (c *Client) Lookup(ctx context.Context, q Question) (*Answer, error) {
	name := strings.ToLower(strings.TrimSuffix(q.Name, "."))
	if _, ok := dns.IsDomainName(name); !ok || name == "" || len(name) > MaxName {
		return nil, &Error{Name: printable(q.Name), Type: q.Type, Kind: KindInvalidName, Detail: "not a valid DNS name"}
	}
	q.Name = name
	ans := &Answer{Question: q, Canonical: name, AD: true}
	seen := map[string]bool{name: true}
	cur := name
	for query := 0; ; query++ {
		resp, ex, err := c.query(ctx, cur, q.Type)
		if err != nil {
			return nil, err
		}
		ans.Server = ex.server
		ans.Truncated = ans.Truncated || ex.truncated
		ans.AD = ans.AD && resp.AuthenticatedData
		advanced := false
		for {
			recs := collect(resp.Answer, cur, q.Type)
			if len(recs) > 0 {
				ans.Canonical, ans.Records = cur, recs
				return ans, nil
			}
			target := cnameAt(resp.Answer, cur)
			if target == "" {
				break
			}
			if seen[target] || len(ans.CNAMEs) >= MaxCNAMEs {
				return nil, &Error{Name: name, Type: q.Type, Kind: KindProtocol, Server: ex.server,
					Detail: fmt.Sprintf("CNAME loop: %s -> %s", strings.Join(append([]string{name}, ans.CNAMEs...), " -> "), target)}
			}
			seen[target] = true
			ans.CNAMEs = append(ans.CNAMEs, target)
			cur, advanced = target, true
		}
		if resp.Rcode == dns.RcodeNameError {
			return nil, &Error{Name: cur, Type: q.Type, Kind: KindNXDomain, Server: ex.server}
		}
		if !advanced {
			ans.Canonical = cur
			return ans, nil
		}
		// The response ended the chain at a target it gave no records
		// for: ask for the target itself (bounded by MaxCNAMEs, since
		// every round adds to the chain or returns).
	}
}

// collect returns the records of type t owned by name in rrs.
func collect(rrs []dns.RR, name string, t Type) []Record {
	var out []Record
	for _, rr := range rrs {
		h := rr.Header()
		if Type(h.Rrtype) != t || h.Class != dns.ClassINET || !sameName(h.Name, name) {
			continue
		}
		if r, ok := toRecord(rr); ok {
			out = append(out, r)
		}
	}
	return out
}

// cnameAt returns the target of the CNAME owned by name in rrs, or "".
func cnameAt(rrs []dns.RR, name string) string {
	for _, rr := range rrs {
		if cn, ok := rr.(*dns.CNAME); ok && cn.Hdr.Class == dns.ClassINET && sameName(cn.Hdr.Name, name) {
			return canon(cn.Target)
		}
	}
	return ""
}

// sameName compares a wire name (with trailing dot) with a normalised
// one, ignoring ASCII case (RFC 4343).
func sameName(fqdn, name string) bool {
	fqdn = strings.TrimSuffix(fqdn, ".")
	return strings.EqualFold(fqdn, name)
}

// canon turns a wire name into smtpkit's form: lower case, no trailing
// dot; the root stays ".".
func canon(fqdn string) string {
	if fqdn == "." {
		return "."
	}
	return strings.ToLower(strings.TrimSuffix(fqdn, "."))
}

// toRecord converts the types smtpkit knows.
func toRecord(rr dns.RR) (Record, bool) {
	h := rr.Header()
	r := Record{Name: canon(h.Name), Type: Type(h.Rrtype), TTL: h.Ttl}
	switch v := rr.(type) {
	case *dns.MX:
		r.Pref, r.Host = v.Preference, canon(v.Mx)
	case *dns.A:
		ip, ok := netip.AddrFromSlice(v.A.To4())
		if !ok {
			return r, false
		}
		r.IP = ip
	case *dns.AAAA:
		ip, ok := netip.AddrFromSlice(v.AAAA.To16())
		if !ok {
			return r, false
		}
		r.IP = ip
	case *dns.TXT:
		r.Text = strings.Join(v.Txt, "")
	case *dns.PTR:
		r.Host = canon(v.Ptr)
	case *dns.CNAME:
		r.Host = canon(v.Target)
	case *dns.TLSA:
		data, err := decodeHex(v.Certificate)
		if err != nil {
			return r, false
		}
		r.TLSA = &TLSA{Usage: v.Usage, Selector: v.Selector, MatchingType: v.MatchingType, Data: data}
	default:
		return r, false
	}
	return r, true
}

// newID is a random query ID (RFC 5452 4.3).
func newID() uint16 { return uint16(rand.Uint32()) }

// errorFor turns a failed exchange into a *Error for the question.
func errorFor(name string, t Type, server string, err error) *Error {
	var de *Error
	if errors.As(err, &de) {
		de.Name, de.Type = name, t
		if de.Server == "" {
			de.Server = server
		}
		return de
	}
	kind := KindNetwork
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		kind = KindTimeout
		err = nil
	} else if errors.Is(err, context.Canceled) {
		kind = KindTimeout
	}
	return &Error{Name: name, Type: t, Kind: kind, Server: server, Err: err}
}
