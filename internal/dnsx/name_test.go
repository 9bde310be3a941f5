package dnsx_test

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/dnsx"
)

func strconvItoa(n int) string { return strconv.Itoa(n) }

func TestNormalize(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	for in, want := range map[string]string{
		"Example.COM":         "example.com",
		"example.com.":        "example.com",
		"bücher.test":         "xn--bcher-kva.test",
		"BÜCHER.test":         "xn--bcher-kva.test",
		"xn--bcher-kva.test":  "xn--bcher-kva.test",
		"_dmarc.example.test": "_dmarc.example.test",
		long63 + ".test":      long63 + ".test",
		"例え.jp":               "xn--r8jz45g.jp",
	} {
		got, err := dnsx.Normalize(in)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	tooLong := strings.Repeat("abcdefghi.", 25) + "test" // 254
	for in, reason := range map[string]string{
		"":                      "empty name",
		".":                     "root",
		"a..b":                  "empty label",
		".example.com":          "empty label",
		"exa mple.com":          "space",
		long63 + "a.test":       "64 characters",
		tooLong:                 "254 characters, more than 253",
		"-bad.test":             "hyphen",
		"bad-.test":             "hyphen",
		"a/b.test":              `'/'`,
		"192.0.2.1":             "IP address",
		"xn--zzz-!.test":        "internationalised",
		"\xff.test":             "UTF-8",
		"bücher..test":          "empty label",
		"a\x1b[31m.test":        "character",
		strings.Repeat("ü", 70): "characters, more than 63",
	} {
		got, err := dnsx.Normalize(in)
		if err == nil {
			t.Errorf("Normalize(%q) = %q, want an error about %s", in, got, reason)
			continue
		}
		if dnsx.KindOf(err) != dnsx.KindInvalidName || !strings.Contains(err.Error(), reason) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Normalize(%q): %q, want one line about %q", in, err, reason)
		}
	}
}

func TestReverseName(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":        "1.2.0.192.in-addr.arpa",
		"::ffff:192.0.2.1": "1.2.0.192.in-addr.arpa",
		"2001:db8::1":      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	} {
		if got := dnsx.ReverseName(netip.MustParseAddr(in)); got != want {
			t.Errorf("ReverseName(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestToUnicode(t *testing.T) {
	if got := dnsx.ToUnicode("xn--bcher-kva.test"); got != "bücher.test" {
		t.Errorf("got %q", got)
	}
	if got := dnsx.ToUnicode("example.test"); got != "example.test" {
		t.Errorf("got %q", got)
	}
}
