package message

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAddressValid(t *testing.T) {
	tests := []struct {
		in       string
		want     Address
		str      string
		smtputf8 bool
	}{
		{"user@example.com", Address{"user", "example.com"}, "user@example.com", false},
		{"<user@example.com>", Address{"user", "example.com"}, "user@example.com", false},
		{"  <user@example.com>  ", Address{"user", "example.com"}, "user@example.com", false},
		{"John Doe <john@example.com>", Address{"john", "example.com"}, "john@example.com", false},
		{`"Doe, John <jd>" <john@example.com>`, Address{"john", "example.com"}, "john@example.com", false},
		{"first.last+tag@sub.example.co.uk", Address{"first.last+tag", "sub.example.co.uk"}, "first.last+tag@sub.example.co.uk", false},
		{"!#$%&'*+-/=?^_`{|}~@example.com", Address{"!#$%&'*+-/=?^_`{|}~", "example.com"}, "!#$%&'*+-/=?^_`{|}~@example.com", false},
		{"user@localhost", Address{"user", "localhost"}, "user@localhost", false},
		{"user@xn--bcher-kva.example", Address{"user", "xn--bcher-kva.example"}, "user@xn--bcher-kva.example", false},
		// Quoted local parts are stored decoded and quoted again only when needed.
		{`"john doe"@example.com`, Address{"john doe", "example.com"}, `"john doe"@example.com`, false},
		{`"john"@example.com`, Address{"john", "example.com"}, "john@example.com", false},
		{`"a\"b\\c"@example.com`, Address{`a"b\c`, "example.com"}, `"a\"b\\c"@example.com`, false},
		{`"a\ b"@example.com`, Address{"a b", "example.com"}, `"a b"@example.com`, false},
		{`"a..b"@example.com`, Address{"a..b", "example.com"}, `"a..b"@example.com`, false},
		{`"a@b"@example.com`, Address{"a@b", "example.com"}, `"a@b"@example.com`, false},
		{`""@example.com`, Address{"", "example.com"}, `""@example.com`, false},
		{`<"x,y"@example.com>`, Address{"x,y", "example.com"}, `"x,y"@example.com`, false},
		// Address literals (RFC 5321 4.1.3).
		{"user@[192.0.2.1]", Address{"user", "[192.0.2.1]"}, "user@[192.0.2.1]", false},
		{"user@[IPv6:2001:db8::1]", Address{"user", "[IPv6:2001:db8::1]"}, "user@[IPv6:2001:db8::1]", false},
		{"user@[ipv6:::ffff:192.0.2.1]", Address{"user", "[ipv6:::ffff:192.0.2.1]"}, "user@[ipv6:::ffff:192.0.2.1]", false},
		// Source routes are accepted and ignored (RFC 5321 4.1.2).
		{"<@relay.example,@b.example:user@example.com>", Address{"user", "example.com"}, "user@example.com", false},
		// UTF-8 (RFC 6531).
		{"jöran@example.com", Address{"jöran", "example.com"}, "jöran@example.com", true},
		{"user@bücher.example", Address{"user", "bücher.example"}, "user@bücher.example", true},
		{"用户@例子.广告", Address{"用户", "例子.广告"}, "用户@例子.广告", true},
		{`"jö ran"@example.com`, Address{"jö ran", "example.com"}, `"jö ran"@example.com`, true},
		// Limits, exactly at the edge.
		{strings.Repeat("a", 64) + "@example.com", Address{strings.Repeat("a", 64), "example.com"}, strings.Repeat("a", 64) + "@example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAddress(tt.in)
			if err != nil {
				t.Fatalf("ParseAddress(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseAddress(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			if got.NeedsSMTPUTF8() != tt.smtputf8 {
				t.Errorf("NeedsSMTPUTF8() = %v, want %v", got.NeedsSMTPUTF8(), tt.smtputf8)
			}
			again, err := ParseAddress(got.String())
			if err != nil || again != got {
				t.Errorf("re-parse of %q = %#v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseAddressNull(t *testing.T) {
	for _, in := range []string{"", "  ", "<>", " <> ", "Mailer Daemon <>", "< >"} {
		a, err := ParseAddress(in)
		if err != nil {
			t.Errorf("ParseAddress(%q): %v", in, err)
			continue
		}
		if !a.IsNull() || a.String() != "" || a.Path() != "<>" {
			t.Errorf("ParseAddress(%q) = %#v, want the null sender", in, a)
		}
	}
}

func TestParseAddressInvalid(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	label := long(63)
	tests := []struct {
		in, reason string
	}{
		{"foo@", "empty domain"},
		{"foo", "missing @"},
		{"foo bar", "space outside quotes"},
		{"@example.com", "empty local part"},
		{"foo bar@example.com", "space outside quotes"},
		{"foo@exa mple.com", "space in domain"},
		{"a@b@example.com", "more than one @ (quote the local part)"},
		{".foo@example.com", "local part starts or ends with a dot"},
		{"foo.@example.com", "local part starts or ends with a dot"},
		{"foo..bar@example.com", "consecutive dots in local part"},
		{"fo(o@example.com", "invalid character '(' in local part"},
		{"foo@example..com", "empty label in domain"},
		{"foo@example.com.", "empty label in domain"},
		{"foo@.example.com", "empty label in domain"},
		{"foo@-example.com", "domain label starts or ends with a hyphen"},
		{"foo@exa_mple.com", "invalid character '_' in domain"},
		{"foo@" + long(64) + ".com", "domain label longer than 63 octets"},
		{"foo\r\n@example.com", "contains CR"},
		{"foo@example.com\n", "contains LF"},
		{"fo\x00o@example.com", "contains NUL"},
		{"fo\x1bo@example.com", "contains control character 0x1b"},
		{"fo\x7fo@example.com", "contains control character 0x7f"},
		{"\xff@example.com", "invalid utf-8"},
		{"<foo@example.com", "missing closing >"},
		{"foo@example.com>", "unexpected >"},
		{"<foo@example.com> bar", "unexpected text after >"},
		{`"foo@example.com`, "unterminated quoted local part"},
		{`"foo"bar@example.com`, "unexpected text after quoted local part"},
		{`"foo"`, "missing @"},
		{"\"fo\to\"@example.com", "invalid character in quoted local part"},
		{`"foo\`, "bad backslash escape in quoted local part"},
		{"foo@[192.0.2.1", "unterminated address literal"},
		{"foo@[300.0.2.1]", "invalid IPv4 address literal"},
		{"foo@[IPv6:2001:db8::g]", "invalid IPv6 address literal"},
		{"foo@[IPv6:fe80::1%eth0]", "invalid IPv6 address literal"},
		{"foo@[IPv6:192.0.2.1]", "invalid IPv6 address literal"},
		{"foo@[x400:stuff]", "unsupported address literal"},
		{"<@relay.example>", "source route without colon"},
		{"<@relay.example:>", "empty address after source route"},
		// RFC 5321 4.5.3.1 limits.
		{long(65) + "@example.com", "local part longer than 64 octets"},
		{`"` + long(63) + ` "@example.com`, "local part longer than 64 octets"},
		{"a@" + label + "." + label + "." + label + "." + label + ".com", "domain longer than 255 octets"},
		{long(64) + "@" + label + "." + label + "." + label + "." + long(60), "path longer than 256 octets"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := ParseAddress(tt.in)
			var ae *AddressError
			if !errors.As(err, &ae) {
				t.Fatalf("ParseAddress(%q) = %#v, %v; want *AddressError", tt.in, a, err)
			}
			if ae.Reason != tt.reason {
				t.Errorf("reason = %q, want %q", ae.Reason, tt.reason)
			}
			if ae.Input != tt.in {
				t.Errorf("input = %q, want %q", ae.Input, tt.in)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error %q is not one line", err)
			}
		})
	}
}

func TestAddressErrorMessage(t *testing.T) {
	_, err := ParseAddress("foo@")
	if got, want := err.Error(), `invalid address "foo@": empty domain`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParseList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{"a@example.com", []string{"a@example.com"}, ""},
		{"a@example.com, b@example.com", []string{"a@example.com", "b@example.com"}, ""},
		{" a@example.com ,, ,b@example.com, ", []string{"a@example.com", "b@example.com"}, ""},
		{`"Doe, John" <j@example.com>, "x,y"@example.com`, []string{"j@example.com", `"x,y"@example.com`}, ""},
		{"<a@example.com>,<b@example.com>", []string{"a@example.com", "b@example.com"}, ""},
		{"", nil, ""},
		{" , ", nil, ""},
		{"a@example.com, bad@", nil, `invalid address "bad@": empty domain`},
		{"a@example.com, <>", nil, `invalid address "<>": null address <> is not allowed in a list`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseList(tt.in)
			if tt.err != "" {
				var ae *AddressError
				if !errors.As(err, &ae) || err.Error() != tt.err {
					t.Fatalf("ParseList(%q) error = %v, want %s", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseList(%q): %v", tt.in, err)
			}
			var strs []string
			for _, a := range got {
				strs = append(strs, a.String())
			}
			if strings.Join(strs, "|") != strings.Join(tt.want, "|") {
				t.Errorf("ParseList(%q) = %q, want %q", tt.in, strs, tt.want)
			}
		})
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"user@example.com", "<user@example.com>", "Name <u@example.com>", `"a b"@example.com`,
		`"a\"b"@x`, "user@[192.0.2.1]", "user@[IPv6:::1]", "jöran@bücher.example", "<>", "",
		"<@r:u@x>", `""@x`, "a@b@c", "\"\\\x7f\"@x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			var ae *AddressError
			if !errors.As(err, &ae) {
				t.Fatalf("ParseAddress(%q) error %T, want *AddressError", s, err)
			}
			return
		}
		again, err := ParseAddress(a.String())
		if err != nil {
			t.Fatalf("ParseAddress(%q) = %#v; its String %q does not parse: %v", s, a, a.String(), err)
		}
		if again != a {
			t.Fatalf("ParseAddress(%q) = %#v, re-parsed from %q as %#v", s, a, a.String(), again)
		}
		if len(a.Path()) > maxPathLen {
			t.Fatalf("path %q longer than %d", a.Path(), maxPathLen)
		}
	})
}
