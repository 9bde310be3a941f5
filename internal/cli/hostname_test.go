package cli

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckHostName(t *testing.T) {
	for _, tc := range []struct {
		name, why string
	}{
		{"mx.example.com", ""},
		{"mx.example.com.", ""},
		{"localhost", ""},
		{"host_1-a.example", ""},
		{"[192.0.2.1]", ""},
		{"[IPv6:2001:db8::1]", ""},
		{"", "empty name"},
		{"relay.test\r\nX-Injected: 1", "want a domain name or an address literal"},
		{"a b", "want a domain name or an address literal"},
		{"mx.test (fake)", "want a domain name or an address literal"},
		{"a..b", "empty label"},
		{".a", "empty label"},
		{strings.Repeat("a", 64) + ".test", "label longer than 63 octets"},
		{strings.Repeat("a.", 128) + "a", "longer than 255 octets"},
		{"[192.0.2.1", "unterminated address literal"},
		{"[2001:db8::1]", "want an address literal"},
		{"[IPv6:192.0.2.1]", "want an address literal"},
		{"[IPv6:fe80::1%eth0]", "want an address literal"},
		{"[999.1.1.1]", "want an address literal"},
		{"mx.tést", "want a domain name or an address literal"},
	} {
		err := checkHostName("hostname", tc.name)
		if tc.why == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.name, err)
			}
			continue
		}
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.why) || !strings.HasPrefix(err.Error(), "--hostname ") {
			t.Errorf("%q: %v, want a usage error saying %q", tc.name, err, tc.why)
		}
	}
}

func TestCheckHelo(t *testing.T) {
	// send --ehlo may present names a server ought to refuse (that is what
	// a tester wants to see), but never one that ends the command line.
	for _, ok := range []string{"", "mx.example.com", "bad name", "[300.1.1.1]", "ünï"} {
		if err := checkHelo(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"a\r\nRSET", "a\nb", "a\rb", "a\x00b", "a\tb", "a\x7f"} {
		var ue *UsageError
		if err := checkHelo(bad); !errors.As(err, &ue) || !strings.Contains(err.Error(), "control character") {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
}

func TestHostnameFallsBackToLocalhost(t *testing.T) {
	for name, want := range map[string]string{
		"mail.example.org":      "mail.example.org",
		"":                      "localhost",
		"bad name":              "localhost",
		"x\r\nX-Injected: 1":    "localhost",
		"container_7f3a.local.": "container_7f3a.local.",
	} {
		g := &globals{env: &Env{Hostname: func() (string, error) { return name, nil }}}
		if got := g.hostname(); got != want {
			t.Errorf("host %q: hostname() = %q, want %q", name, got, want)
		}
	}
}
