package deliver

import (
	"net"
	"strconv"
	"testing"
)

// FuzzParseLiteral: an address literal (RFC 5321 4.1.3) that parses is an
// address of the family it names, without a zone, and its canonical
// spelling parses back to it.
func FuzzParseLiteral(f *testing.F) {
	for _, s := range []string{"[192.0.2.1]", "[IPv6:2001:db8::1]", "[ipv6:::1]", "[IPv6:::ffff:192.0.2.1]", "[::1]",
		"[IPv6:fe80::1%eth0]", "[192.0.2.1", "192.0.2.1]", "[]", "[IPv6:]", "[1.2.3.04]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ip, err := parseLiteral(s)
		if err != nil {
			return
		}
		if !ip.IsValid() || ip.Zone() != "" {
			t.Fatalf("parseLiteral(%q) = %v", s, ip)
		}
		lit := "[" + ip.String() + "]"
		if ip.Is6() {
			lit = "[IPv6:" + ip.String() + "]"
		}
		again, err := parseLiteral(lit)
		if err != nil || again != ip {
			t.Fatalf("parseLiteral(%q) = %v; %q parses as %v, %v", s, ip, lit, again, err)
		}
	})
}

// FuzzSplitHostPort: a smarthost or route that parses has a host and a
// port in 1-65535, and written back as host:port it parses the same.
func FuzzSplitHostPort(f *testing.F) {
	for _, s := range []string{"mx.example.com", "mx.example.com:2525", "[2001:db8::1]:25", "2001:db8::1", "[mx]:0",
		":25", "[]:25", "a:b:c", "host:65536", "host:+25", "[[x]]:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, port, err := splitHostPort(s, 25)
		if err != nil {
			return
		}
		if host == "" || port < 1 || port > 65535 {
			t.Fatalf("splitHostPort(%q) = %q, %d", s, host, port)
		}
		joined := net.JoinHostPort(host, strconv.Itoa(port))
		h2, p2, err := splitHostPort(joined, 25)
		if err != nil || h2 != host || p2 != port {
			t.Fatalf("splitHostPort(%q) = %q, %d; %q gives %q, %d, %v", s, host, port, joined, h2, p2, err)
		}
	})
}
